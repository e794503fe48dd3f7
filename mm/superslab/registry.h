/* SPDX-License-Identifier: MIT */
/*
 * The ownership registry: one byte per SuperSlab-sized chunk of the user
 * address space, saying whether hakmem owns that chunk and what lives
 * there. free() consults it for a pointer outside the SuperSlab region
 * (ss_in_region(), superslab.h) before it reads any metadata through it,
 * so a foreign pointer is never dereferenced.
 *
 * It is a two-level map. The directory (hk_registry_dir, a few KiB of
 * .data) has one pointer per REG_L2_ENTRIES chunks (128 GiB of address
 * space with 2 MiB chunks) to that range's table of bytes, biased so that
 * it is indexed by the whole chunk number: dir[i] = table - i *
 * REG_L2_ENTRIES (less the zero table's address, registry_table()), and
 * the lookup is two loads and an add with no masking. A range
 * where hakmem never mapped anything points to the zero table, a
 * read-only array of zeros (REG_FOREIGN), so the lookup needs no test
 * for a missing table. A table is mapped (64 KiB of address space, its
 * pages touched only where chunks are registered) by registry_prepare()
 * the first time a mapping of ours lands in its range, before any byte
 * of it is set, and never goes away. A flat byte array for the whole 47-
 * or 48-bit address space would cost 64-128 MiB of address space (and,
 * under vm.overcommit_memory=2, of commit charge) in every process.
 */
#ifndef _MM_SUPERSLAB_REGISTRY_H
#define _MM_SUPERSLAB_REGISTRY_H

#include <hakmem/atomic.h>
#include <hakmem/print.h>
#include <asm/page.h>

#define SS_SHIFT	CONFIG_SUPERSLAB_SHIFT
#define SS_SIZE		(1UL << SS_SHIFT)
#define SS_MASK		(SS_SIZE - 1)

/* Bits of a chunk number, of a table index, of a directory index. */
#define REG_CHUNK_BITS	(ARCH_VA_BITS - SS_SHIFT)
#define REG_L2_BITS	16
#define REG_L2_ENTRIES	(1UL << REG_L2_BITS)
#define REG_L1_ENTRIES	(1UL << (REG_CHUNK_BITS - REG_L2_BITS))
/* Address space one table covers. */
#define REG_L2_SPAN	(REG_L2_ENTRIES << SS_SHIFT)

/* Registry values */
#define REG_FOREIGN	0	/* not ours */
#define REG_SUPERSLAB	1	/* a SuperSlab starts at this chunk */
#define REG_LARGE	2	/* a large block's header is right below the pointer (chunk mapped in full) */
/*
 * REG_LARGE_OFF(j): a large block's header is at this chunk's start plus
 * j colour steps (REG_LARGE_STEP bytes each); only the pages from the
 * header's on are mapped (mm/large/large.c, Documentation/large.md).
 * j = 0 is the header at the chunk start.
 */
#define REG_LARGE_OFF_NR	240
#define REG_LARGE_STEP		(4096 + 64)
#define REG_LARGE_OFF(j)	(3U + (unsigned int)(j))
/*
 * REG_LARGE_BACK(i): a large block's header starts 2^i chunks below this
 * chunk's start (a block aligned to 2^i chunks, i <= REG_LARGE_BACK_LG).
 */
#define REG_LARGE_BACK_LG	7
#define REG_LARGE_BACK(i)	(REG_LARGE_OFF(REG_LARGE_OFF_NR) + (unsigned int)(i))
/* The largest alignment in chunks such a block may have. */
#define REG_LARGE_BACK_MAX	(1U << REG_LARGE_BACK_LG)

/* Bits of a directory index. */
#define REG_L1_BITS	(REG_CHUNK_BITS - REG_L2_BITS)

/* Zeros: the table of every range where nothing of ours was ever mapped. */
extern unsigned char hk_registry_zero[REG_L2_ENTRIES];
/*
 * Per range i: its table - i * REG_L2_ENTRIES, as an integer (atomic),
 * less the address of hk_registry_zero: a range without a table holds a
 * constant, so that the directory's static initializer needs no
 * relocation (1024 of them, 24 KiB of .rela.dyn that the dynamic linker
 * read and 8 KiB of .data it wrote in every process, before).
 */
extern uintptr_t hk_registry_dir[REG_L1_ENTRIES];

/* The directory entry of range i while it has no table. */
static __always_inline uintptr_t registry_unmapped(uintptr_t i)
{
	return (uintptr_t)0 - (i << REG_L2_BITS);
}

/*
 * Directory entry t (of range i): the table's byte of chunk 0 (biased by
 * i). Added as integers: the biased address lies outside any object.
 */
static __always_inline unsigned char *registry_table(uintptr_t t)
{
	return (unsigned char *)((uintptr_t)hk_registry_zero + t);
}

/*
 * The directory index is tested against the directory's size: one test
 * for an address above the user address space (non-canonical, or the
 * kernel's) and for the range check, no separate shift for each.
 */
static __always_inline unsigned int registry_lookup(uintptr_t addr)
{
	uintptr_t i = addr >> (SS_SHIFT + REG_L2_BITS);
	uintptr_t t;

	if (unlikely(i >= REG_L1_ENTRIES))
		return REG_FOREIGN;
	t = a_load(&hk_registry_dir[i], A_RELAXED);
	return a_load(registry_table(t) + (addr >> SS_SHIFT), A_RELAXED);
}

/*
 * Make sure every chunk of [addr, addr + len) has a table, so that
 * registry_set() can store into it. 0, or -1 if a table could not be
 * mapped (out of address space or memory). Called for every mapping that
 * may be registered (os_map_aligned()).
 */
int registry_prepare(uintptr_t addr, size_t len);

/* addr's chunk was prepared (or value is REG_FOREIGN and it never was). */
static inline void registry_set(uintptr_t addr, unsigned int value)
{
	uintptr_t chunk = addr >> SS_SHIFT, i = chunk >> REG_L2_BITS;
	uintptr_t t = a_load(&hk_registry_dir[i], A_ACQUIRE);

	HK_ASSERT(t != registry_unmapped(i) || value == REG_FOREIGN);
	if (t == registry_unmapped(i))
		return;		/* REG_FOREIGN already: never prepared, never set */
	a_store(registry_table(t) + chunk, (unsigned char)value, A_RELEASE);
}

/*
 * Register addr's chunk as value if it is REG_FOREIGN (prepared): 1, or 0
 * if something of ours is registered there already. For mappings that do
 * not cover the whole chunk (REG_LARGE_OFF(j), j > 0), where another such
 * block may have claimed the same chunk with a mapping elsewhere in it.
 */
static inline int registry_claim(uintptr_t addr, unsigned int value)
{
	uintptr_t chunk = addr >> SS_SHIFT, i = chunk >> REG_L2_BITS;
	uintptr_t t = a_load(&hk_registry_dir[i], A_ACQUIRE);
	unsigned char expect = REG_FOREIGN;

	if (t == registry_unmapped(i))
		return 0;
	return a_cas(registry_table(t) + chunk, &expect, (unsigned char)value, A_ACQ_REL);
}

#endif /* _MM_SUPERSLAB_REGISTRY_H */
