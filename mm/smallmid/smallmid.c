// SPDX-License-Identifier: MIT
/*
 * mm/smallmid/smallmid.c - the Small-Mid box (CONFIG_SMALLMID): requests
 * above 256 B up to 4 KiB in five classes, from a SuperSlab pool of its
 * own.
 *
 * The memo's Phase 17-2 design: a dedicated backend (no churn in the pool
 * Tiny and Mid share) and thread-local batch refill
 * (CONFIG_SMALLMID_REFILL_BATCH blocks per refill), not a pass-through
 * front. With the box on, Tiny keeps up to 256 B (Kconfig fixes
 * CONFIG_TINY_MAX_CLASS at 4) and Mid starts above 4 KiB.
 */
#include <hakmem/lock.h>
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"

BUILD_BUG_ON(TINY_MAX_SIZE != 256);

/*
 * The pool of Small-Mid's slabs; the SuperSlab backend finds it through
 * the box's registration, fork through its lock's.
 */
struct ss_pool ss_pool_smallmid = SS_POOL_INIT;
HK_LOCK_REGISTER(&ss_pool_smallmid.lock, HK_LOCK_SS_POOL);

static const uint32_t smallmid_sizes[SMALLMID_NR_CLASSES] = {
	512, 1024, 2048, 3072, 4096,
};

static void smallmid_classes_init(struct size_class *c)
{
	unsigned int i;

	for (i = 0; i < SMALLMID_NR_CLASSES; i++) {
		c[i].size = smallmid_sizes[i];
		c[i].batch = CONFIG_SMALLMID_REFILL_BATCH;
		c[i].span = 1;
	}
}

static void smallmid_check(void)
{
	unsigned int i;

	for (i = 0; i < SMALLMID_NR_CLASSES; i++)
		if (hk_classes[SMALLMID_FIRST_CLASS + i].size != smallmid_sizes[i] ||
		    hk_classes[SMALLMID_FIRST_CLASS + i].pool != &ss_pool_smallmid)
			hk_fatal("smallmid: class %u misplaced", SMALLMID_FIRST_CLASS + i);
}

HK_BOX(smallmid) = {
	.name		= "Small-Mid",
	.id		= "smallmid",
	.nr_classes	= SMALLMID_NR_CLASSES,
	.classes_init	= smallmid_classes_init,
	.pool		= &ss_pool_smallmid,
	.stat_alloc	= STAT_SMALLMID_ALLOC,
	.check		= smallmid_check,
};
