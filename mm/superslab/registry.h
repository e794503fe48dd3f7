/* SPDX-License-Identifier: MIT */
/*
 * The ownership registry: one byte per SuperSlab-sized chunk of the user
 * address space, saying whether hakmem owns that chunk and what lives
 * there. free() consults it before it reads any metadata through a
 * pointer, so a foreign pointer is never dereferenced.
 *
 * The map is a zero-initialised array in .bss: untouched pages cost no
 * memory, and its address is a link-time constant (no load on free).
 */
#ifndef _MM_SUPERSLAB_REGISTRY_H
#define _MM_SUPERSLAB_REGISTRY_H

#include <hakmem/atomic.h>
#include <asm/page.h>

#define SS_SHIFT	CONFIG_SUPERSLAB_SHIFT
#define SS_SIZE		(1UL << SS_SHIFT)
#define SS_MASK		(SS_SIZE - 1)

#define REG_ENTRIES	(1UL << (ARCH_VA_BITS - SS_SHIFT))

/* Registry values */
#define REG_FOREIGN	0	/* not ours */
#define REG_SUPERSLAB	1	/* a SuperSlab starts at this chunk */
#define REG_LARGE	2	/* a large block's mapping starts in this chunk */
/* 2 + k: a large block's user pointer, its header k chunks below. */
#define REG_LARGE_BACK_MAX	253

extern unsigned char hk_registry[REG_ENTRIES];

static __always_inline unsigned int registry_lookup(uintptr_t addr)
{
	if (unlikely(addr >> ARCH_VA_BITS))
		return REG_FOREIGN;
	return a_load(&hk_registry[addr >> SS_SHIFT], A_RELAXED);
}

static inline void registry_set(uintptr_t addr, unsigned int value)
{
	a_store(&hk_registry[addr >> SS_SHIFT], (unsigned char)value, A_RELEASE);
}

#endif /* _MM_SUPERSLAB_REGISTRY_H */
