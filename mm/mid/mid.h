/* SPDX-License-Identifier: MIT */
/*
 * Mid's share of the class table (mm/boxes.h): geometric classes from
 * above the box below it (Tiny or Small-Mid; 16 B if there is none) up
 * to 32 KiB. MID_BASE_SHIFT must be set before this header is included.
 *
 * Per power of two 2^d .. 2^(d+1): CONFIG_MID_CLASSES_PER_DOUBLING
 * classes while they are at least 16 B apart, else one per 16 B (at least
 * one); without a box below, a 16 B class first (the smallest class of
 * every configuration: 16-byte alignment, room for the double-free key).
 */
#ifndef _MM_MID_H
#define _MM_MID_H

#define MID_MAX_SHIFT		15

#ifdef CONFIG_MID
#define MID_PER_DOUBLING	CONFIG_MID_CLASSES_PER_DOUBLING
#define MID_MAX_SIZE		(1UL << MID_MAX_SHIFT)	/* 32 KiB */
#define MID_STEPS(d)		(((1U << (d)) / MID_PER_DOUBLING >= 16) ? MID_PER_DOUBLING : \
				 ((1U << (d)) >= 32 ? (1U << (d)) / 16 : 1))
#define MID_PER(d)		((d) < MID_BASE_SHIFT ? 0 : MID_STEPS(d))
#define MID_NR_CLASSES		((MID_BASE_SHIFT == TINY_MIN_SHIFT) + \
				 MID_PER(4) + MID_PER(5) + MID_PER(6) + \
				 MID_PER(7) + MID_PER(8) + MID_PER(9) + MID_PER(10) + \
				 MID_PER(11) + MID_PER(12) + MID_PER(13) + MID_PER(14))
#else
#define MID_MAX_SIZE		0UL
#define MID_NR_CLASSES		0
#endif

#endif /* _MM_MID_H */
