// SPDX-License-Identifier: MIT
/*
 * mm/os/os.c - the mmap backend's interface to the kernel.
 */
#include <sys/auxv.h>
#include <sys/mman.h>
#include <asm/page.h>
#include "os.h"

size_t os_page_size = ARCH_PAGE_SIZE_MIN;

void os_init(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);

	if (ps >= ARCH_PAGE_SIZE_MIN && ps <= ARCH_PAGE_SIZE_MAX && IS_POWER_OF_2(ps))
		os_page_size = ps;
}

/* ------------------------------------------------------------------ */
/* Mapping                                                            */
/* ------------------------------------------------------------------ */

static void *os_mmap(void *hint, size_t size, int flags)
{
	void *p = mmap(hint, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *os_map_aligned(size_t size, size_t align)
{
	uintptr_t p, aligned;
	size_t over;

	if (size > HK_OS_MAX_MAP || align > HK_OS_MAX_MAP)
		return NULL;

	/* Often the kernel hands out an aligned range by itself. */
	p = (uintptr_t)os_mmap(NULL, size, 0);
	if (!p)
		return NULL;
	if ((p & (align - 1)) == 0)
		return (void *)p;
	os_unmap((void *)p, size);

	/* Map more than needed and cut both ends off. */
	over = size + align - os_page_size;
	p = (uintptr_t)os_mmap(NULL, over, 0);
	if (!p)
		return NULL;
	aligned = ALIGN_UP(p, align);
	if (aligned > p)
		os_unmap((void *)p, aligned - p);
	if (p + over > aligned + size)
		os_unmap((void *)(aligned + size), p + over - (aligned + size));
	return (void *)aligned;
}

void os_unmap(void *addr, size_t size)
{
	munmap(addr, size);
}

void os_decommit(void *addr, size_t size)
{
	madvise(addr, size, MADV_DONTNEED);
}

int os_remap_inplace(void *addr, size_t old_size, size_t new_size)
{
	void *p = mremap(addr, old_size, new_size, 0);

	return p == MAP_FAILED ? -1 : 0;
}

void *os_remap_move(void *addr, size_t old_size, size_t new_size, size_t align)
{
	void *dst = os_map_aligned(new_size, align);
	void *p;

	if (!dst)
		return NULL;
	/* The reserved range is replaced by the moved pages. */
	p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p == MAP_FAILED) {
		os_unmap(dst, new_size);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Randomness                                                         */
/* ------------------------------------------------------------------ */

uintptr_t os_random_word(void)
{
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
	uintptr_t w = (uintptr_t)&os_page_size;
	size_t i;

	if (r)
		for (i = 0; i < sizeof(w); i++)
			w = (w << 8 | (w >> 56)) ^ r[i + 8];
	/* Make sure it can never look like a pointer or small integer. */
	return w | 0x8000000000000001UL;
}
