/* SPDX-License-Identifier: MIT */
/*
 * Tiny's share of the class table (mm/boxes.h): power-of-two classes
 * C0 (16 B) to C(TINY_NR_CLASSES - 1), the first classes of the table.
 */
#ifndef _MM_TINY_H
#define _MM_TINY_H

#include <hakmem/compiler.h>

/*
 * The smallest class is 16 B: every block is 16-byte aligned, as glibc's
 * are (MALLOC_ALIGNMENT), and every block has room for the double-free
 * key beside its next pointer.
 */
#define TINY_MIN_SHIFT		4

#ifdef CONFIG_TINY
/* Kconfig fixes TINY_MAX_CLASS at 4 (256 B) when Small-Mid is on. */
#define TINY_NR_CLASSES		(CONFIG_TINY_MAX_CLASS + 1)
#define TINY_MAX_SIZE		(1UL << (TINY_MIN_SHIFT + CONFIG_TINY_MAX_CLASS))
#else
#define TINY_NR_CLASSES		0
#define TINY_MAX_SIZE		0UL
#endif

#ifdef CONFIG_TINY_ULTRAHOT
#define ULTRAHOT_CAP	32

/* UltraHot's per-thread L0 stacks for C0 (16 B) and C1 (32 B) (ultrahot.h). */
struct ultrahot {
	uint32_t count[2];		/* blocks held per class */
	void *slot[2][ULTRAHOT_CAP];	/* the blocks */
};
#endif

#endif /* _MM_TINY_H */
