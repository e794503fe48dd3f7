// SPDX-License-Identifier: MIT
/*
 * mm/smallmid/smallmid.c - the Small-Mid box: requests above 256 B up to
 * 4 KiB in five classes, from a SuperSlab pool of its own.
 *
 * The memo's Phase 17-2 design: a dedicated backend (no churn in the pool
 * Tiny and Mid share) and thread-local batch refill
 * (CONFIG_SMALLMID_REFILL_BATCH blocks per refill), not a pass-through
 * front. With the box on, Tiny keeps C0-C5 and Mid starts above 4 KiB.
 */
#include "heap/heap.h"

static const uint32_t smallmid_sizes[SMALLMID_NR_CLASSES] = {
	512, 1024, 2048, 3072, 4096,
};

unsigned int smallmid_classes_init(struct size_class *c)
{
	unsigned int i;

	for (i = 0; i < SMALLMID_NR_CLASSES; i++) {
		c[i].size = smallmid_sizes[i];
		c[i].batch = CONFIG_SMALLMID_REFILL_BATCH;
		c[i].span = 1;
		c[i].box = STAT_SMALLMID_ALLOC;
		c[i].pool = &ss_pool_smallmid;
	}
	return SMALLMID_NR_CLASSES;
}
