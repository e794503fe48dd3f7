/* SPDX-License-Identifier: MIT */
/*
 * The sampling heap profiler (CONFIG_HEAP_PROFILE): the hooks that the
 * API front and the routing call. Without the box they are empty static
 * inline functions and compile to nothing.
 *
 * Each thread counts down the bytes it may still allocate before its next
 * sample (prof_left); an allocation that crosses zero takes the slow path
 * (prof_alloc), which records the call stack of a block served by the box
 * of its size. The free of a sampled block always reaches a slow path,
 * which asks the profiler: a Large block's core_free_slow()
 * (prof_free_block()); a slab block is handed out 16 bytes into a block of
 * a class 16 bytes larger, which is not a block start, so its free goes
 * where a bad pointer's does (prof_free_bad()). The fast path of free
 * never looks at the profiler.
 */
#ifndef _MM_PROF_H
#define _MM_PROF_H

#include <errno.h>
#include <hakmem/atomic.h>

struct slab;

#ifdef CONFIG_HEAP_PROFILE

#include "heap/heap.h"

/*
 * Bytes this thread may allocate before the next sample (0: not set up):
 * in the heap's thread-local block (mm/boxes.h), so that the countdown
 * reaches it from the TLS base that the bins' fast path loads anyway (a
 * variable of its own costs libhakmem.so one more GOT load per malloc).
 * Through heap_tls_tpoff(), the asm load of the block's offset that the
 * bins use too, so that the compiler merges the two (as hk_tls.boxes.
 * prof_left it loaded the same GOT entry twice: one instruction more per
 * malloc, 65.0 against 62.0 instructions per malloc+free with `make
 * callgrind SIZE=32`, where this gives 64.0).
 */
#define prof_left	(*hk_tp_ptr(unsigned long, heap_tls_tpoff() +				\
				    offsetof(struct heap_tls, boxes.prof_left)))
/*
 * Live Large samples by a hash of their address (PROF_FILTER counts),
 * while there is one (else NULL): prof_forget() looks for a block's
 * sample only if its count is not zero. Written under the profiler's
 * lock, read without it: a block's free comes after its malloc returned,
 * which came after the count went up (and the pointer was set, if it was
 * the only Large sample). One load where the count of Large samples and
 * the filter's pointer took two, each tested.
 */
#define PROF_FILTER_SHIFT	14
extern uint16_t *prof_live_filter;
/*
 * Profiling is on: a block may be sampled (set by the constructor before
 * the first sample; read without the lock by prof_free_bad()).
 */
extern int prof_any;

/*
 * The slow path of an allocation that crossed its thread's sample point
 * (or the thread's first one). Allocates like the entry point would
 * (align > 16: aligned; zero: calloc) and samples the block if profiling
 * is on. caller: the entry point's return address (the program's call).
 */
void *prof_alloc(size_t size, size_t align, int zero, const void *caller);
/*
 * realloc of ptr (ours, old usable bytes) to size, after the countdown
 * crossed: resized in place if its box can, else moved; the block that
 * results is recorded if the allocation is sampled.
 */
void *prof_realloc(void *ptr, size_t size, size_t old, const void *caller);
/* ptr is freed or resized in place: drop its sample if it has one. */
void prof_forget(const void *ptr);

/*
 * ptr, in a slab but not a block start, is a sampled block (16 bytes into
 * its block): drop the sample and free the block; 1 if it was one, 0 if
 * ptr is a bad pointer after all.
 */
int prof_free_inner(void *ptr);
/*
 * The same for ptr in slab s (slab_of(ptr), a slab of the caller's heap):
 * the block is freed into the caller's bin without finding s again, and
 * a ptr that is no sample is reported as the free of a bad pointer
 * (caller: the program's call of free).
 */
void prof_free_local_inner(void *ptr, struct slab *s, const void *caller);
/* The same for malloc_usable_size and realloc: its usable bytes, or 0. */
size_t prof_usable_inner(const void *ptr);
/*
 * The same for a realloc to size bytes that the sample's block holds (as
 * hk_resize() keeps a block start): ptr, its sample dropped, or NULL.
 */
void *prof_resize_inner(void *ptr, size_t size);
/*
 * The same for an unsampled realloc (hk_realloc_usable_size() said
 * HK_REALLOC_SAMPLE): the sample goes and its bytes move to the block
 * start, which is returned (a plain block again), or NULL.
 */
void *prof_unsample_inner(void *ptr, size_t size);

/*
 * hak_option_get("stat.prof_<name>"): the profiler's counts (samples,
 * libgcc_unwinds, free_lookups). 0, or -ENOENT for another name.
 */
int prof_stat(const char *name, unsigned long *value);

void prof_fork_prepare(void);
void prof_fork_parent(void);
void prof_fork_child(void);

/*
 * Count size bytes down; true if this allocation must take the slow path:
 * the count went below zero. (The sign of the result, rather than the
 * borrow, lets the compiler subtract in memory and branch on the flags:
 * three instructions with the TLS offset's load.) The count is below
 * 2^63 when it is set, and LONG_MAX while profiling is off.
 */
static __always_inline int prof_tick(size_t size)
{
	return unlikely((long)(prof_left -= size) < 0);
}

/* The count of address ptr in filter f. */
static __always_inline uint16_t *prof_filter_at(uint16_t *f, uintptr_t ptr)
{
	return &f[(ptr * 0x9e3779b97f4a7c15ULL) >> (64 - PROF_FILTER_SHIFT)];
}

/*
 * A block that may be a sample is freed (a Large block), or realloc
 * resized a block in place. The filter is read here, inline: with Large
 * samples alive, the free of every other Large block called
 * prof_forget() only to read it (some 20 instructions a free).
 */
static __always_inline void prof_free_block(const void *ptr)
{
	uint16_t *f = a_load(&prof_live_filter, A_ACQUIRE);

	if (unlikely(f != NULL) && a_load(prof_filter_at(f, (uintptr_t)ptr), A_RELAXED))
		prof_forget(ptr);
}

/*
 * A free of ptr, in a slab, found that it is not a block start: 1 if it
 * was a sampled block (then freed), 0 for the bad pointer's report (a
 * sampled block freed twice is reported as a double free: it aborts).
 */
static __always_inline int prof_free_bad(void *ptr)
{
	return a_load(&prof_any, A_RELAXED) && prof_free_inner(ptr);
}

/*
 * The same for ptr in slab s of the caller's heap (heap_free_nonlocal()):
 * 1 if the profiler took the free (a sample, freed, or a bad pointer,
 * reported), 0 if profiling is off (the caller reports it).
 */
static __always_inline int prof_free_bad_local(void *ptr, struct slab *s, const void *caller)
{
	if (!a_load(&prof_any, A_RELAXED))
		return 0;
	prof_free_local_inner(ptr, s, caller);
	return 1;
}

/* The same for the usable size (0: a bad pointer). */
static __always_inline size_t prof_usable_bad(const void *ptr)
{
	return a_load(&prof_any, A_RELAXED) ? prof_usable_inner(ptr) : 0;
}

/* The same for a resize in place (NULL: not a sample, or it must move). */
static __always_inline void *prof_resize_bad(void *ptr, size_t size)
{
	return a_load(&prof_any, A_RELAXED) ? prof_resize_inner(ptr, size) : NULL;
}

/* The same for an unsampled realloc: the block start, a plain block (NULL: not a sample). */
static __always_inline void *prof_unsample_bad(void *ptr, size_t size)
{
	return a_load(&prof_any, A_RELAXED) ? prof_unsample_inner(ptr, size) : NULL;
}

#else /* !CONFIG_HEAP_PROFILE */

static __always_inline int prof_tick(size_t size)
{
	return 0;
}

static inline void *prof_alloc(size_t size, size_t align, int zero, const void *caller)
{
	return NULL;
}

static inline void *prof_realloc(void *ptr, size_t size, size_t old, const void *caller)
{
	return NULL;
}

static __always_inline void prof_free_block(const void *ptr)
{
}

static __always_inline int prof_free_bad(void *ptr)
{
	return 0;
}

static __always_inline int prof_free_bad_local(void *ptr, struct slab *s, const void *caller)
{
	return 0;
}

static __always_inline size_t prof_usable_bad(const void *ptr)
{
	return 0;
}

static __always_inline void *prof_resize_bad(void *ptr, size_t size)
{
	return NULL;
}

static __always_inline void *prof_unsample_bad(void *ptr, size_t size)
{
	return NULL;
}

static inline int prof_stat(const char *name, unsigned long *value)
{
	return -ENOENT;
}

static inline void prof_fork_prepare(void)
{
}

static inline void prof_fork_parent(void)
{
}

static inline void prof_fork_child(void)
{
}

#endif /* CONFIG_HEAP_PROFILE */

#endif /* _MM_PROF_H */
