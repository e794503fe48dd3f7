// SPDX-License-Identifier: MIT
/*
 * mm/large/large_box.c - the Large box's registration: its trim (drop
 * the cache), reclaim (unmap it when the kernel refuses a mapping) and
 * statistics rows; its locks are registered in large.c. Large is the last box and always built: it serves every request above
 * HEAP_MAX_SIZE (mm/core.c routes there directly), all of them when no
 * slab box is configured.
 */
#include <unistd.h>
#include <hakmem/print.h>
#include "box.h"
#include "stats/stats.h"
#include "large.h"

static void large_stats_report(int fd, const unsigned long *s)
{
	hk_dprintf(fd, "hakmem: stats: %s\n", "Large");
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "allocs", s[STAT_LARGE_ALLOC]);
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "frees", s[STAT_LARGE_FREE]);
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "cache hits",
		   s[STAT_LARGE_CACHE_HIT]);
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "mremaps", s[STAT_LARGE_MREMAP]);
}

HK_BOX(large) = {
	.name		= "Large",
	.id		= "large",
	.stat_alloc	= -1,
	.trim		= large_trim,
	.reclaim	= large_reclaim,
	.slabs_grew	= IS_ENABLED(CONFIG_LARGE_CACHE) ? large_slabs_grew : NULL,
	.epoch		= IS_ENABLED(CONFIG_LARGE_CACHE) ? large_epoch : NULL,
	.stats_report	= IS_ENABLED(CONFIG_STATS) ? large_stats_report : NULL,
};
