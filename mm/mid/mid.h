/* SPDX-License-Identifier: MIT */
/*
 * Mid's share of the class table (mm/boxes.h): geometric classes from
 * above the box below it (Tiny or Small-Mid; 16 B if there is none) up
 * to CONFIG_MID_MAX_KB (32 KiB .. 1 MiB), which is the last class.
 * MID_BASE_SHIFT must be set before this header is included.
 *
 * Per power of two 2^d .. 2^(d+1): CONFIG_MID_CLASSES_PER_DOUBLING
 * classes while they are at least 16 B apart, else one per 16 B (at least
 * one); without a box below, a 16 B class first (the smallest class of
 * every configuration: 16-byte alignment, room for the double-free key).
 * Above 32 KiB at most MID_BIG_PER_DOUBLING_MAX per power of two: finer
 * spacing (5 to 8) is for the classes up to 32 KiB only.
 */
#ifndef _MM_MID_H
#define _MM_MID_H

/* Classes up to this size (32 KiB) are "small": one to four slots per slab. */
#define MID_SMALL_MAX_SHIFT	15
/* The largest power of two a class may be (CONFIG_MID_MAX_KB <= 1024). */
#define MID_TOP_SHIFT		20

#ifdef CONFIG_MID
#define MID_PER_DOUBLING	CONFIG_MID_CLASSES_PER_DOUBLING
/*
 * Classes per power of two above 32 KiB: at most 4 (25% apart). Each of
 * them has slabs of MID_BIG_SPAN slots (960 KiB); more of them would
 * leave more such slabs partly used for a few percent of block waste.
 */
#define MID_BIG_PER_DOUBLING_MAX	4
/* Classes per power of two in the doubling 2^d .. 2^(d+1). */
#define MID_PER_AT(d)		((d) >= MID_SMALL_MAX_SHIFT && MID_PER_DOUBLING > MID_BIG_PER_DOUBLING_MAX ? \
				 MID_BIG_PER_DOUBLING_MAX : MID_PER_DOUBLING)
/* The last class: the largest request Mid serves (Large above it). */
#define MID_MAX_SIZE		(CONFIG_MID_MAX_KB * 1024UL)
#define MID_STEPS(d)		(((1U << (d)) / MID_PER_AT(d) >= 16) ? MID_PER_AT(d) : \
				 ((1U << (d)) >= 32 ? (1U << (d)) / 16 : 1))
/*
 * Classes up to this size are multiples of 16 B (hk_class_small[]'s
 * steps), those above it multiples of 256 B: 2 KiB with more than four
 * classes per power of two, whose classes between 1 and 2 KiB are 1024 /
 * MID_PER_DOUBLING B apart (less than 256 B); 1 KiB otherwise.
 */
#define MID_FINE_MAX		(MID_PER_DOUBLING > 4 ? 2048UL : 1024UL)
#define MID_PER(d)		((d) < MID_BASE_SHIFT ? 0 : MID_STEPS(d))
/*
 * From 16 KiB up, the classes 2^d + j * (2^d / MID_PER_AT(d)) (rounded
 * up to 256 B) below MID_MAX_SIZE: those with 2^d + j * step <=
 * MID_MAX_SIZE - 256. MID_MAX_SIZE itself is the last class.
 */
#define MID_BIG_STEP(d)		((1UL << (d)) / MID_PER_AT(d))
#define MID_BIG_FIT(d)		((MID_MAX_SIZE - 256 - (1UL << (d))) / MID_BIG_STEP(d))
#define MID_BIG(d)		((d) < MID_BASE_SHIFT || MID_MAX_SIZE < (1UL << (d)) + 256 + MID_BIG_STEP(d) ? 0 : \
				 MID_BIG_FIT(d) > MID_PER_AT(d) ? MID_PER_AT(d) : MID_BIG_FIT(d))
#define MID_NR_CLASSES		((MID_BASE_SHIFT == TINY_MIN_SHIFT) + \
				 MID_PER(4) + MID_PER(5) + MID_PER(6) + \
				 MID_PER(7) + MID_PER(8) + MID_PER(9) + MID_PER(10) + \
				 MID_PER(11) + MID_PER(12) + MID_PER(13) + \
				 MID_BIG(14) + MID_BIG(15) + MID_BIG(16) + MID_BIG(17) + \
				 MID_BIG(18) + MID_BIG(19) + 1)
#else
#define MID_MAX_SIZE		0UL
#define MID_FINE_MAX		1024UL
#define MID_NR_CLASSES		0
#endif

#endif /* _MM_MID_H */
