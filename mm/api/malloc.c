// SPDX-License-Identifier: MIT
/*
 * mm/api/malloc.c - malloc, free, calloc, malloc_usable_size, free_sized.
 */
#include <string.h>
#include "api.h"

/*
 * malloc and free each start a cache line (HK_ENTRY_ALIGN): where the
 * rest of the library's code lies does not move them within a line. On
 * the reference host the same fast path ran up to 1.5x slower in some
 * spells for where the two lay (Documentation/benchmarks.md,
 * "thirty-fourth session"); a change elsewhere then measured its
 * layout, not itself.
 */
#define HK_ENTRY_ALIGN	64

__export __aligned(HK_ENTRY_ALIGN) void *hak_malloc(size_t size)
{
	return api_alloc(size);
}
HK_EXPORT_AS(malloc, hak_malloc);
HK_EXPORT_AS(__libc_malloc, hak_malloc);

/* free(NULL) is outside the SuperSlab region and ends in the slow path. */
__export __aligned(HK_ENTRY_ALIGN) void hak_free(void *ptr)
{
	api_free(ptr);
}
HK_EXPORT_AS(free, hak_free);
HK_EXPORT_AS(__libc_free, hak_free);
HK_EXPORT_AS(cfree, hak_free);

__export void *hak_calloc(size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (unlikely(__builtin_mul_overflow(nmemb, size, &total) ||
		     total > HK_MAX_REQUEST)) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	if (prof_tick(total))
		p = prof_alloc(total, 0, 1, __builtin_return_address(0));
	else
		p = hk_alloc_zeroed(total);
	vg_alloc(p, total, 1);
	return p;
}
HK_EXPORT_AS(calloc, hak_calloc);
HK_EXPORT_AS(__libc_calloc, hak_calloc);

/*
 * A block of this thread's slab in the SuperSlab region is answered
 * inline, by realloc's first question (hk_own_size(): free's two tests,
 * no registry lookup, no call): programs that keep their own count of
 * the heap ask for the usable size of every block they allocate and
 * free (redis's zmalloc). Anything else, NULL included (outside the
 * region), goes to hk_usable_size().
 */
__export size_t hak_malloc_usable_size(void *ptr)
{
	size_t n = hk_own_size(ptr);

	if (likely(n))
		return n;
	return ptr ? hk_usable_size(ptr) : 0;
}
HK_EXPORT_AS(malloc_usable_size, hak_malloc_usable_size);

__export void hak_free_sized(void *ptr, size_t size)
{
	hak_free(ptr);
}
HK_EXPORT_AS(free_sized, hak_free_sized);

__export void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size)
{
	hak_free(ptr);
}
HK_EXPORT_AS(free_aligned_sized, hak_free_aligned_sized);
