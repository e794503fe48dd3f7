/* SPDX-License-Identifier: MIT */
/*
 * The malloc API front: C library semantics on top of <hakmem/alloc.h>.
 */
#ifndef _MM_API_H
#define _MM_API_H

#include <hakmem.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>
#include "prof/prof.h"
#include <hakmem/valgrind.h>

/*
 * With CONFIG_EXPORT_MALLOC, export hak_NAME under the C library's name
 * too. An alias must sit in the file that defines its target.
 *
 * glibc also exports its allocator as __libc_malloc, __libc_free,
 * __libc_calloc, __libc_realloc, __libc_memalign, __libc_valloc and
 * __libc_pvalloc (GLIBC_2.2.5), and free as cfree (a compat symbol for
 * old binaries): a program or library that calls one of them directly
 * would otherwise get glibc's allocator beside hakmem's, and hand a
 * block of one to the other. Each is an alias too, as in tcmalloc and
 * mimalloc.
 */
#ifdef CONFIG_EXPORT_MALLOC
#define HK_EXPORT_AS(libc_name, hak_name) \
	extern __typeof__(hak_name) libc_name \
		__attribute__((alias(#hak_name), visibility("default")))
#else
#define HK_EXPORT_AS(libc_name, hak_name)
#endif

size_t api_page_size(void);

/*
 * Every block the front hands out or takes back goes through these, so
 * that Valgrind hears of it (CONFIG_VALGRIND; nothing without the box).
 */
/*
 * malloc's work for every entry point that allocates size bytes: the
 * heap profiler's sample (CONFIG_HEAP_PROFILE; the return address is the
 * caller's of the entry point this is inlined into), the allocation, and
 * the block announced to Valgrind (CONFIG_VALGRIND).
 */
static __fastpath_inline void *api_alloc(size_t size)
{
	void *p;

	if (prof_tick(size))
		p = prof_alloc(size, 0, 0, __builtin_return_address(0));
	else
		p = hk_alloc(size);
	vg_alloc(p, size, 0);
	return p;
}

/*
 * The same for an alignment align, a power of two (the entry points
 * check their own rules first): posix_memalign() and its kind, and
 * C++'s aligned operator new. An alignment up to HK_MIN_ALIGN is every
 * block's: it asks for at least align bytes.
 */
static __fastpath_inline void *api_alloc_aligned(size_t align, size_t size)
{
	void *p;

	if (unlikely(size > HK_MAX_REQUEST || align > HK_MAX_REQUEST)) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	if (prof_tick(size))
		p = prof_alloc(size < align ? align : size, align, 0, __builtin_return_address(0));
	else if (align <= HK_MIN_ALIGN)
		p = hk_alloc(size < align ? align : size);
	else {
		p = hk_alloc_aligned(align, size);
		if (unlikely(!p))
			hk_set_errno(ENOMEM);
	}
	vg_alloc(p, size, 0);
	return p;
}

static __fastpath_inline void api_free(void *ptr)
{
	vg_free(ptr);
	hk_free(ptr);
}

/* Sum of the boxes of u (mm/api/info.c). */
void info_totals(const struct hk_usage *u, struct hk_box_usage *t);

#endif /* _MM_API_H */
