/* SPDX-License-Identifier: MIT */
/*
 * The OS memory interface of the mmap backend. Nothing else in mm/ calls
 * mmap, munmap, madvise or mremap directly.
 */
#ifndef _MM_OS_H
#define _MM_OS_H

#include <hakmem/compiler.h>
#include <asm/page.h>

/* Largest mapping we ever ask for. */
#define HK_OS_MAX_MAP	(1UL << (ARCH_VA_BITS - 1))

/* Run-time page size (4K, 16K or 64K on aarch64). */
extern size_t os_page_size;

void os_init(void);

/*
 * Reserve size bytes (read-write, not yet touched) whose start is a
 * multiple of align (a power of two >= the page size). NULL on failure.
 * Successive mappings are placed downwards next to each other when that
 * range is free, which usually takes one mmap. When the address space is
 * short, no more than size bytes are ever mapped at a time (the aligned
 * ranges next to a misaligned one are tried instead), and core_reclaim()
 * is given one chance. The registry tables of the range exist on return.
 */
void *os_map_aligned(size_t size, size_t align);

/*
 * os_map_aligned() and os_map_at() for the memory of a program's block
 * (the Large box): charged by the kernel's overcommit accounting as the
 * C library's mappings are (no MAP_NORESERVE), so that a request the
 * kernel would refuse glibc fails here too (ENOMEM) instead of being
 * mapped and failing at its first touch past what the machine holds.
 */
void *os_map_aligned_charged(size_t size, size_t align);
int os_map_at_charged(void *addr, size_t size);

/*
 * Map size bytes (rounded up to pages) anywhere, for the allocator's own
 * tables: never registered, no retry. NULL on failure.
 */
void *os_map_pages(size_t size);

/* Map size bytes at exactly addr if that range is free; 0, or -1. */
int os_map_at(void *addr, size_t size);

/*
 * Give back address space that is mapped but holds no live block (the
 * Large box's cache and reserve, free SuperSlab slots). Called by os_map_aligned() when the
 * kernel refuses a mapping with ENOMEM, before it tries once more: under
 * an address-space limit (RLIMIT_AS) or strict overcommit, what hakmem
 * keeps for later must give way before an allocation fails. Returns
 * nonzero if anything was unmapped. Defined in mm/core.c; must not be
 * called with a lock of the Large box held.
 */
int core_reclaim(void);
void os_unmap(void *addr, size_t size);

/*
 * Address space is short: RLIMIT_AS is finite (read at each call: a
 * program may set it at any time), or vm.overcommit_memory is 2 (read at
 * os_init()), where every writable mapping counts against the commit
 * limit. Mappings should then be no larger than what they hold.
 */
int os_vm_tight(void);

/* Never back this range with transparent huge pages. */
void os_nohugepage(void *addr, size_t size);

/* Back this range with transparent huge pages where the kernel can. */
void os_hugepage(void *addr, size_t size);

/* The size of a transparent huge page: what one page-table page maps. */
static inline size_t os_thp_size(void)
{
	return os_page_size * (os_page_size / sizeof(void *));
}

/* How many pages of [addr, addr + size) are resident (os_mincore(), a call per OS_MINCORE_MAX small pages), or -1. */
long os_resident(void *addr, size_t size);

/*
 * mincore(): vec[i] & 1 says whether page i of [addr, addr + size) is
 * resident; 0, or -1. At most OS_MINCORE_MAX pages of the smallest
 * size (ARCH_PAGE_SIZE_MIN) a call.
 */
#define OS_MINCORE_MAX	64
int os_mincore(void *addr, size_t size, unsigned char *vec);

/* Give the pages back to the kernel; they read as zero afterwards. */
void os_decommit(void *addr, size_t size);

/* Make the pages read-only (page-aligned range); best effort. */
void os_protect_ro(void *addr, size_t size);

/*
 * Grow or shrink a mapping without moving it. Returns 0 on success.
 */
int os_remap_inplace(void *addr, size_t old_size, size_t new_size);

/*
 * Move a mapping to a new place aligned to align, resizing it; the pages
 * move without copying. Returns the new address or NULL (old one intact).
 */
void *os_remap_move(void *addr, size_t old_size, size_t new_size, size_t align);

/*
 * Move the size bytes at addr (one mapping) to dst, replacing whatever
 * is mapped there; the pages move without copying. 0, or -1 (nothing
 * moved: the range spans several mappings, or dst is out of reach).
 */
int os_remap_fixed(void *addr, size_t size, void *dst);

/* Milliseconds of a monotonic clock with tick resolution (cheap). */
unsigned long os_now_ms(void);

/* Per-process random secret (for double-free keys). */
uintptr_t os_random_word(void);

#endif /* _MM_OS_H */
