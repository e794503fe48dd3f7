/* SPDX-License-Identifier: MIT */
/*
 * The Valgrind box (CONFIG_VALGRIND): tell Valgrind's memcheck about every
 * block with the client requests of <valgrind/memcheck.h>, so that a
 * program linked statically against libhakmem.a (whose allocator Valgrind
 * cannot replace) still gets leak reports, invalid reads and writes after
 * free, and invalid frees. See Documentation/valgrind.md.
 *
 * The rules:
 *  - the API front announces each block it hands out (vg_alloc: a
 *    malloc-like block of the requested size) and each block it takes
 *    back (vg_free: a free-like block, which memcheck makes no-access);
 *  - the engine keeps free blocks no-access: the helpers that read or
 *    write a word of a free block (the free-list link, the double-free
 *    key) open exactly that word (vg_open) and close it again
 *    (vg_close); a new slab's blocks start no-access (vg_noaccess);
 *  - engine code that writes a block it hands out before the front has
 *    announced it (calloc's memset) makes it addressable first
 *    (vg_undefined).
 *
 * A client request is a magic sequence of instructions that does nothing
 * on a real CPU and is recognised by Valgrind's JIT. Every helper below
 * compiles to nothing when the box is off.
 */
#ifndef _HAKMEM_VALGRIND_H
#define _HAKMEM_VALGRIND_H

#include <hakmem/compiler.h>

#ifdef CONFIG_VALGRIND
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>

/* p (NULL: nothing) was handed to the program for size bytes. */
static __always_inline void vg_alloc(const void *p, size_t size, int zeroed)
{
	if (p)
		VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed);
}

/* The program gave p back (NULL: nothing); memcheck checks it is a block. */
static __always_inline void vg_free(const void *p)
{
	if (p)
		VALGRIND_FREELIKE_BLOCK(p, 0);
}

/* Nonzero when the program runs under Valgrind. */
static __always_inline int vg_running(void)
{
	return (int)RUNNING_ON_VALGRIND;
}

/* The allocator is about to read or write n bytes of a no-access area. */
static __always_inline void vg_open(const void *p, size_t n)
{
	(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
}

/* ... and is done with them. */
static __always_inline void vg_close(const void *p, size_t n)
{
	(void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
}

/* Free memory or metadata the program must not touch. */
static __always_inline void vg_noaccess(const void *p, size_t n)
{
	(void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
}

/* Addressable, contents undefined (a block about to be handed out). */
static __always_inline void vg_undefined(const void *p, size_t n)
{
	(void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}

/* Addressable and defined (allocator metadata written in place). */
static __always_inline void vg_defined(const void *p, size_t n)
{
	(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
}

/*
 * No reports from this thread until vg_quiet_end() (they nest): for code
 * that reads memory it does not own on purpose, such as the heap
 * profiler's walk of the program's stack.
 */
static __always_inline void vg_quiet_begin(void)
{
	VALGRIND_DISABLE_ERROR_REPORTING;
}

static __always_inline void vg_quiet_end(void)
{
	VALGRIND_ENABLE_ERROR_REPORTING;
}

/*
 * How many of the n bytes at p the program may read: up to the first
 * byte memcheck holds no-access, asked without a report. A block's
 * usable size can run past the size it was asked for into bytes of a
 * block freed there before (a Large block taken from the cache, a slab's
 * next block): realloc copies no more than this.
 */
static __always_inline size_t vg_readable(const void *p, size_t n)
{
	uintptr_t bad;

	VALGRIND_DISABLE_ERROR_REPORTING;
	bad = (uintptr_t)VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, n);
	VALGRIND_ENABLE_ERROR_REPORTING;
	return bad ? bad - (uintptr_t)p : n;
}
#else
static __always_inline void vg_alloc(const void *p, size_t size, int zeroed) { }
static __always_inline void vg_free(const void *p) { }
static __always_inline int vg_running(void) { return 0; }
static __always_inline void vg_open(const void *p, size_t n) { }
static __always_inline void vg_close(const void *p, size_t n) { }
static __always_inline void vg_noaccess(const void *p, size_t n) { }
static __always_inline void vg_undefined(const void *p, size_t n) { }
static __always_inline void vg_defined(const void *p, size_t n) { }
static __always_inline void vg_quiet_begin(void) { }
static __always_inline void vg_quiet_end(void) { }
static __always_inline size_t vg_readable(const void *p, size_t n) { return n; }
#endif

#endif /* _HAKMEM_VALGRIND_H */
