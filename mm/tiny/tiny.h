/* SPDX-License-Identifier: MIT */
/*
 * Tiny's share of the class table (mm/boxes.h): classes C0 (16 B) to
 * C(TINY_NR_CLASSES - 1) (TINY_MAX_SIZE), the first classes of the table.
 *
 * Per power of two 2^d .. 2^(d+1): CONFIG_TINY_CLASSES_PER_DOUBLING
 * classes (1, 2 or 4) while they are at least 16 B apart, else one per
 * 16 B. C0 is 16 B and C1 32 B with every spacing (UltraHot's classes).
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
#define TINY_MAX_SHIFT		(TINY_MIN_SHIFT + CONFIG_TINY_MAX_CLASS)
#define TINY_MAX_SIZE		(1UL << TINY_MAX_SHIFT)
#define TINY_PER_DOUBLING	CONFIG_TINY_CLASSES_PER_DOUBLING
/* Classes in 2^d + 1 .. 2^(d+1), all multiples of 16 B. */
#define TINY_STEPS(d)		((1U << (d)) / TINY_PER_DOUBLING >= 16 ? TINY_PER_DOUBLING : \
				 (1U << (d)) / 16)
#define TINY_PER(d)		((d) < TINY_MAX_SHIFT ? TINY_STEPS(d) : 0)
#define TINY_NR_CLASSES		(1 + TINY_PER(4) + TINY_PER(5) + TINY_PER(6) + \
				 TINY_PER(7) + TINY_PER(8) + TINY_PER(9))

/*
 * Tiny's class for a request of s bytes, s a multiple of 16 up to
 * TINY_MAX_SIZE, as a constant expression: the number of classes below
 * s, counted per doubling (the 16 B class, then those of each 2^d+1 ..
 * 2^(d+1) that are smaller than s). hk_tiny_bin[] is built from it at
 * compile time, so that malloc's lookup is right before any
 * initialisation (the slow path then needs only the bin).
 */
#define TINY_STEP(d)		((1U << (d)) / TINY_STEPS(d))
#define TINY_BELOW_IN(d, s)	((d) >= TINY_MAX_SHIFT || (s) <= (1U << (d)) ? 0 :		\
				 (s) > (2U << (d)) ? TINY_STEPS(d) :				\
				 ((s) - (1U << (d)) + TINY_STEP(d) - 1) / TINY_STEP(d) - 1)
#define TINY_CLASS_OF(s)	((s) > 16 ? 1 + TINY_BELOW_IN(4, s) + TINY_BELOW_IN(5, s) +	\
				 TINY_BELOW_IN(6, s) + TINY_BELOW_IN(7, s) +			\
				 TINY_BELOW_IN(8, s) + TINY_BELOW_IN(9, s) : 0)
#else
#define TINY_PER_DOUBLING	1
#define TINY_NR_CLASSES		0
#define TINY_MAX_SIZE		0UL
#endif

/* One entry per 16 B up to 1 KiB (Tiny's largest possible class). */
#define TINY_CLASS_TABLE_LEN	65

/*
 * hk_tiny_bin[(size + 15) >> 4]: the offset in struct heap_tls::bins of
 * the bin of Tiny's class of size (<= TINY_MAX_SIZE), in units of
 * BIN_UNIT bytes (mm/heap/heap.h), that is the class times
 * sizeof(struct bin) / BIN_UNIT: a byte, which the addressing mode of the
 * bin's accesses scales (x86_64: disp(base, index, 8)), so that malloc
 * adds nothing. 65 bytes, filled by the compiler. Defined by the Tiny
 * box only; without it no code reads it.
 */
extern const uint8_t hk_tiny_bin[TINY_CLASS_TABLE_LEN];

#ifdef CONFIG_TINY_ULTRAHOT
#define ULTRAHOT_CAP	32

/* UltraHot's per-thread L0 stacks for C0 (16 B) and C1 (32 B) (ultrahot.h). */
struct ultrahot {
	uint32_t count[2];		/* blocks held per class */
	void *slot[2][ULTRAHOT_CAP];	/* the blocks */
};
#endif

#endif /* _MM_TINY_H */
