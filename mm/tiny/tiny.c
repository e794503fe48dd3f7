// SPDX-License-Identifier: MIT
/*
 * mm/tiny/tiny.c - the Tiny box (CONFIG_TINY): classes C0 (16 B) up to
 * TINY_MAX_SIZE (16 B << CONFIG_TINY_MAX_CLASS, 1 KiB by default),
 * CONFIG_TINY_CLASSES_PER_DOUBLING per power of two (mm/tiny/tiny.h),
 * served by the thread heaps from the shared SuperSlab pool.
 *
 * Every class is a multiple of 16 B and every power of two from 16 B to
 * TINY_MAX_SIZE is a class, so the aligned allocation paths (which take
 * the first class whose size is a multiple of the alignment) always find
 * one within the doubling. The block-start check of free works for any
 * size (the slab's start_mul/start_limit).
 */
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"

BUILD_BUG_ON(TINY_NR_CLASSES < 5 || TINY_NR_CLASSES > 1 + 1 + 2 + 4 * 4);
BUILD_BUG_ON(TINY_MAX_SIZE / 16 >= TINY_CLASS_TABLE_LEN);
BUILD_BUG_ON(TINY_CLASS_OF(TINY_MAX_SIZE) != TINY_NR_CLASSES - 1);
BUILD_BUG_ON(sizeof(struct bin) % BIN_UNIT);
BUILD_BUG_ON(TINY_NR_CLASSES * (sizeof(struct bin) / BIN_UNIT) > UINT8_MAX);

/* Size to bin for the finer spacings (tiny.h), filled by the compiler. */
#define TC(i)	(TINY_CLASS_OF((i) * 16U) * (sizeof(struct bin) / BIN_UNIT))
#define TC4(i)	TC(i), TC((i) + 1), TC((i) + 2), TC((i) + 3)
#define TC16(i)	TC4(i), TC4((i) + 4), TC4((i) + 8), TC4((i) + 12)
const uint8_t hk_tiny_bin[TINY_CLASS_TABLE_LEN] = {
	TC16(0), TC16(16), TC16(32), TC16(48), TC(64)
};

/* Size of Tiny's class i (i < TINY_NR_CLASSES). */
static uint32_t tiny_class_size(unsigned int i)
{
	unsigned int d;

	if (!i)
		return 1u << TINY_MIN_SHIFT;
	/* The j-th class above 2^d is 2^d + j * 2^d / steps, j = 1..steps. */
	i--;
	for (d = TINY_MIN_SHIFT; d < TINY_MAX_SHIFT; d++) {
		if (i < TINY_STEPS(d))
			return (1u << d) + (i + 1) * ((1u << d) / TINY_STEPS(d));
		i -= TINY_STEPS(d);
	}
	hk_fatal("tiny: no class %u", i);
}

static void tiny_classes_init(struct size_class *c)
{
	unsigned int i;

	for (i = 0; i < TINY_NR_CLASSES; i++) {
		uint32_t size = tiny_class_size(i);
		uint32_t batch = 4096 / size;

		c[i].size = size;
		/* About a page of blocks per refill, 8 to 64 of them. */
		c[i].batch = (uint16_t)(batch < 8 ? 8 : batch > 64 ? 64 : batch);
		c[i].span = 1;
	}
}

/* Tiny's classes are the first ones, 16 B and 32 B first, from the shared pool. */
static void tiny_check(void)
{
	unsigned int i;

	for (i = 0; i < TINY_NR_CLASSES; i++)
		if (hk_classes[i].size != tiny_class_size(i) ||
		    hk_classes[i].pool != &ss_pool_main)
			hk_fatal("tiny: class %u is %u B", i, hk_classes[i].size);
	/* malloc's compile-time lookup agrees with the tables (classes.c), at every size. */
	for (i = 0; i <= TINY_MAX_SIZE; i++)
		if (size_to_tiny_bin(i) * BIN_UNIT != size_to_small_class(i) * sizeof(struct bin))
			hk_fatal("tiny: %u B maps to bin offset %u, expected class %u", i,
				 size_to_tiny_bin(i) * BIN_UNIT, size_to_small_class(i));
	/* UltraHot's two stacks are C0 and C1. */
	if (hk_classes[0].size != 16 || hk_classes[1].size != 32 ||
	    hk_classes[TINY_NR_CLASSES - 1].size != TINY_MAX_SIZE)
		hk_fatal("tiny: classes 16 B, 32 B .. %lu B expected", TINY_MAX_SIZE);
}

HK_BOX(tiny) = {
	.name		= "Tiny",
	.id		= "tiny",
	.nr_classes	= TINY_NR_CLASSES,
	.classes_init	= tiny_classes_init,
	.stat_alloc	= STAT_TINY_ALLOC,
	.check		= tiny_check,
};
