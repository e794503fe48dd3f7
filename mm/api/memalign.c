// SPDX-License-Identifier: MIT
/*
 * mm/api/memalign.c - posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, with glibc's rules for odd alignments.
 */
#include "api.h"

#ifdef CONFIG_BACKEND_MMAP
#include <sys/auxv.h>

size_t api_page_size(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);

	return ps ? ps : 4096;
}
#else
#include <asm/page.h>

size_t api_page_size(void)
{
	return ARCH_PAGE_SIZE_MIN;
}
#endif

__export int hak_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	void *p;

	if (alignment % sizeof(void *) || !IS_POWER_OF_2(alignment))
		return EINVAL;
	p = api_alloc_aligned(alignment, size);
	if (!p)
		return ENOMEM;
	*memptr = p;
	return 0;
}
HK_EXPORT_AS(posix_memalign, hak_posix_memalign);

__export void *hak_aligned_alloc(size_t alignment, size_t size)
{
	if (!IS_POWER_OF_2(alignment)) {
		hk_set_errno(EINVAL);
		return NULL;
	}
	return api_alloc_aligned(alignment, size);
}
HK_EXPORT_AS(aligned_alloc, hak_aligned_alloc);

__export void *hak_memalign(size_t alignment, size_t size)
{
	/* glibc: too large is EINVAL, not a power of two is rounded up. */
	if (alignment > SIZE_MAX / 2 + 1) {
		hk_set_errno(EINVAL);
		return NULL;
	}
	if (!IS_POWER_OF_2(alignment))
		alignment = alignment < 2 ? 1 : 2UL << hk_log2(alignment - 1);
	return api_alloc_aligned(alignment, size);
}
HK_EXPORT_AS(memalign, hak_memalign);
HK_EXPORT_AS(__libc_memalign, hak_memalign);

__export void *hak_valloc(size_t size)
{
	return api_alloc_aligned(api_page_size(), size);
}
HK_EXPORT_AS(valloc, hak_valloc);
HK_EXPORT_AS(__libc_valloc, hak_valloc);

__export void *hak_pvalloc(size_t size)
{
	size_t ps = api_page_size();

	if (unlikely(size > HK_MAX_REQUEST)) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	return api_alloc_aligned(ps, ALIGN_UP(size ? size : 1, ps));
}
HK_EXPORT_AS(pvalloc, hak_pvalloc);
HK_EXPORT_AS(__libc_pvalloc, hak_pvalloc);
