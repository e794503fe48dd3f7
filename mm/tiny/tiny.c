// SPDX-License-Identifier: MIT
/*
 * mm/tiny/tiny.c - the Tiny box (CONFIG_TINY): classes C0 (16 B) up to
 * C(CONFIG_TINY_MAX_CLASS) (1 KiB by default), powers of two, served by
 * the thread heaps from the shared SuperSlab pool.
 *
 * Power-of-two sizes make every Tiny block naturally aligned to its size
 * (slabs start on 64 KiB boundaries), which the aligned allocation paths
 * rely on, and let size_to_class() find the class with a bit scan.
 */
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"

BUILD_BUG_ON(TINY_NR_CLASSES < 5 || TINY_NR_CLASSES > 7);

static void tiny_classes_init(struct size_class *c)
{
	unsigned int i;

	for (i = 0; i < TINY_NR_CLASSES; i++) {
		uint32_t size = 1u << (TINY_MIN_SHIFT + i);
		uint32_t batch = 4096 / size;

		c[i].size = size;
		/* About a page of blocks per refill, 8 to 64 of them. */
		c[i].batch = (uint16_t)(batch < 8 ? 8 : batch > 64 ? 64 : batch);
		c[i].span = 1;
	}
}

/* Tiny's classes are the first ones, powers of two, from the shared pool. */
static void tiny_check(void)
{
	unsigned int i;

	for (i = 0; i < TINY_NR_CLASSES; i++)
		if (hk_classes[i].size != 1u << (TINY_MIN_SHIFT + i) ||
		    hk_classes[i].pool != &ss_pool_main)
			hk_fatal("tiny: class %u is %u B", i, hk_classes[i].size);
}

HK_BOX(tiny) = {
	.name		= "Tiny",
	.id		= "tiny",
	.nr_classes	= TINY_NR_CLASSES,
	.classes_init	= tiny_classes_init,
	.stat_alloc	= STAT_TINY_ALLOC,
	.check		= tiny_check,
};
