// SPDX-License-Identifier: MIT
/*
 * mm/mid/mid.c - the Mid box (CONFIG_MID): from above Tiny (or
 * Small-Mid, or 16 B without either) up to 32 KiB,
 * CONFIG_MID_CLASSES_PER_DOUBLING geometric classes per power of two.
 *
 * Fine classes are the point (the memo's Phase 16 lesson): a 1-8 KiB
 * request never takes a page or more for itself. Classes up to 8 KiB use
 * one 64 KiB slot per slab; larger ones four slots (256 KiB), so that even
 * the 32 KiB class has eight blocks per slab and wastes nothing at the end.
 * The number of classes per power of two is MID_STEPS() of mid/mid.h.
 */
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"

static void mid_classes_init(struct size_class *c)
{
	unsigned int n = 0, d, j;

	/* Without a box below, Mid starts with the 16-byte class. */
	if (MID_BASE_SHIFT == TINY_MIN_SHIFT)
		c[n++].size = 1u << TINY_MIN_SHIFT;
	for (d = MID_BASE_SHIFT; d < MID_MAX_SHIFT; d++) {
		unsigned int steps = MID_STEPS(d);
		uint32_t step = (1u << d) / steps;

		for (j = 1; j <= steps; j++) {
			uint32_t size = (1u << d) + j * step;

			/* Above 1 KiB every class is a multiple of 256 B. */
			size = size > 1024 ? ALIGN_UP(size, 256u) : ALIGN_UP(size, 16u);
			c[n++].size = size;
		}
	}
	for (j = 0; j < n; j++) {
		uint32_t batch = 65536 / c[j].size;

		c[j].batch = (uint16_t)(batch < 2 ? 2 : batch > 16 ? 16 : batch);
		c[j].span = c[j].size <= 8192 ? 1 : 4;
	}
	if (n != MID_NR_CLASSES)
		hk_fatal("mid: %u classes, expected %u", n, (unsigned int)MID_NR_CLASSES);
}

/* Mid's classes end the table at 32 KiB, from the shared pool. */
static void mid_check(void)
{
	unsigned int i;

	for (i = MID_FIRST_CLASS; i < MID_FIRST_CLASS + MID_NR_CLASSES; i++)
		if (hk_classes[i].pool != &ss_pool_main || hk_classes[i].size > MID_MAX_SIZE)
			hk_fatal("mid: class %u misplaced", i);
}

HK_BOX(mid) = {
	.name		= "Mid",
	.id		= "mid",
	.nr_classes	= MID_NR_CLASSES,
	.classes_init	= mid_classes_init,
	.stat_alloc	= STAT_MID_ALLOC,
	.check		= mid_check,
};
