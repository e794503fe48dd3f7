// SPDX-License-Identifier: MIT
/*
 * mm/tiny/tiny.c - the Tiny box: classes C0 (16 B) to C6 (1 KiB), powers
 * of two, served by the thread heaps from the shared SuperSlab pool.
 *
 * Power-of-two sizes make every Tiny block naturally aligned to its size
 * (slabs start on 64 KiB boundaries), which the aligned allocation paths
 * rely on.
 */
#include "heap/heap.h"

unsigned int tiny_classes_init(struct size_class *c)
{
	unsigned int i;

	for (i = 0; i < TINY_NR_CLASSES; i++) {
		uint32_t size = 1u << (TINY_MIN_SHIFT + i);
		uint32_t batch = 4096 / size;

		c[i].size = size;
		/* About a page of blocks per refill, 8 to 64 of them. */
		c[i].batch = (uint16_t)(batch < 8 ? 8 : batch > 64 ? 64 : batch);
		c[i].span = 1;
		c[i].box = STAT_TINY_ALLOC;
		c[i].pool = &ss_pool_main;
	}
	return TINY_NR_CLASSES;
}
