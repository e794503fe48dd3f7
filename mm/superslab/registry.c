// SPDX-License-Identifier: MIT
/*
 * mm/superslab/registry.c - the chunk ownership map (see registry.h).
 */
#include <hakmem/print.h>
#include "os/os.h"
#include "registry.h"

/*
 * In .bss, not .rodata: pages of it that lookups read are the kernel's
 * shared zero page and count nothing in the resident set, where a
 * .rodata table is page cache that a read maps, with its neighbours
 * (fault-around), 64 KiB per process. Made read-only at start-up, so
 * that a stray store through a missing table faults instead of
 * registering something everywhere; nothing writes it before that.
 */
unsigned char hk_registry_zero[REG_L2_ENTRIES] __aligned(4096);

__attribute__((constructor)) static void registry_zero_protect(void)
{
	os_protect_ro(hk_registry_zero, sizeof(hk_registry_zero));
}

/*
 * Every range starts without a table: entry i is registry_unmapped(i).
 * A static initializer (not a constructor), so that a lookup is valid
 * before any code of ours ran: free() may be called first. Constants,
 * not addresses: the dynamic linker has nothing to relocate here.
 */
#define R1(i)		(uintptr_t)0 - ((uintptr_t)(i) << REG_L2_BITS),
#define R4(i)		R1(i) R1((i) + 1) R1((i) + 2) R1((i) + 3)
#define R16(i)		R4(i) R4((i) + 4) R4((i) + 8) R4((i) + 12)
#define R64(i)		R16(i) R16((i) + 16) R16((i) + 32) R16((i) + 48)
#define R256(i)		R64(i) R64((i) + 64) R64((i) + 128) R64((i) + 192)
#define R512(i)		R256(i) R256((i) + 256)
#define R1024(i)	R512(i) R512((i) + 512)
#define R2048(i)	R1024(i) R1024((i) + 1024)
#define R4096(i)	R2048(i) R2048((i) + 2048)

uintptr_t hk_registry_dir[REG_L1_ENTRIES] = {
#if REG_L1_BITS == 9
	R512(0)
#elif REG_L1_BITS == 10
	R1024(0)
#elif REG_L1_BITS == 11
	R2048(0)
#elif REG_L1_BITS == 12
	R4096(0)
#else
#error "registry: no directory initializer for this REG_L1_BITS"
#endif
};

BUILD_BUG_ON(REG_CHUNK_BITS <= REG_L2_BITS);
/* Every registry value fits in its byte. */
BUILD_BUG_ON(REG_LARGE_BACK(REG_LARGE_BACK_LG) > 255);
/* A table is a whole number of pages of every page size. */
BUILD_BUG_ON(REG_L2_ENTRIES % ARCH_PAGE_SIZE_MAX);

/*
 * Map the table of directory slot i. Two threads may race here: the
 * first to publish wins and the other unmaps its copy. No lock, so fork
 * needs no handler. Tables are never freed: they are zero where nothing
 * is registered, and a lookup may be reading any of them at any time.
 */
static __slowpath int registry_add_table(uintptr_t i)
{
	unsigned char *t = os_map_pages(REG_L2_ENTRIES);
	uintptr_t expect = registry_unmapped(i);

	if (!t)
		return -1;
	if (!a_cas(&hk_registry_dir[i], &expect,
		   (uintptr_t)t - (i << REG_L2_BITS) - (uintptr_t)hk_registry_zero, A_RELEASE))
		os_unmap(t, REG_L2_ENTRIES);
	return 0;
}

int registry_prepare(uintptr_t addr, size_t len)
{
	uintptr_t i, last;

	if (!len || (addr >> ARCH_VA_BITS) || ((addr + len - 1) >> ARCH_VA_BITS))
		return -1;
	last = (addr + len - 1) >> SS_SHIFT >> REG_L2_BITS;
	for (i = addr >> SS_SHIFT >> REG_L2_BITS; i <= last; i++) {
		if (a_load(&hk_registry_dir[i], A_ACQUIRE) != registry_unmapped(i))
			continue;
		if (registry_add_table(i))
			return -1;
	}
	return 0;
}
