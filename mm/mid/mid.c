// SPDX-License-Identifier: MIT
/*
 * mm/mid/mid.c - the Mid box: from above Tiny (or Small-Mid) up to 32 KiB,
 * CONFIG_MID_CLASSES_PER_DOUBLING geometric classes per power of two.
 *
 * Fine classes are the point (the memo's Phase 16 lesson): a 1-8 KiB
 * request never takes a page or more for itself. Classes up to 8 KiB use
 * one 64 KiB slot per slab; larger ones four slots (256 KiB), so that even
 * the 32 KiB class has eight blocks per slab and wastes nothing at the end.
 */
#include "heap/heap.h"

#define MID_PER_DOUBLING	CONFIG_MID_CLASSES_PER_DOUBLING

unsigned int mid_classes_init(struct size_class *c)
{
	unsigned int n = 0, d, j;

	for (d = MID_BASE_SHIFT; d < MID_MAX_SHIFT; d++) {
		for (j = 1; j <= MID_PER_DOUBLING; j++) {
			uint32_t size = (1u << d) + j * ((1u << d) / MID_PER_DOUBLING);
			uint32_t batch;

			/* Above 1 KiB every class is a multiple of 256 B. */
			size = size > 1024 ? ALIGN_UP(size, 256u) : ALIGN_UP(size, 16u);
			batch = 65536 / size;
			c[n].size = size;
			c[n].batch = (uint16_t)(batch < 2 ? 2 : batch > 16 ? 16 : batch);
			c[n].span = size <= 8192 ? 1 : 4;
			c[n].box = STAT_MID_ALLOC;
			c[n].pool = &ss_pool_main;
			n++;
		}
	}
	return n;
}
