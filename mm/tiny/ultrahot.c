// SPDX-License-Identifier: MIT
/*
 * mm/tiny/ultrahot.c - the UltraHot box (CONFIG_TINY_ULTRAHOT): its
 * registration: the thread_flush hook that
 * gives the stacked blocks back to their slabs (thread exit, trim) and
 * its row of the statistics. The fast paths are in ultrahot.h, inlined
 * into malloc and free by mm/core.h.
 */
#include <unistd.h>
#include <hakmem/print.h>
#include "box.h"
#include "ultrahot.h"

static void ultrahot_thread_flush(void)
{
	struct ultrahot *u = &hk_tls.boxes.ultrahot;
	unsigned int i;

	for (i = 0; i < 2; i++)
		while (u->count[i]) {
			void *p = u->slot[i][--u->count[i]];

			heap_free_local_slow(slab_of(p), p);
		}
}

static void ultrahot_stats_report(const unsigned long *s)
{
	hk_dprintf(STDERR_FILENO, "hakmem: stats: %s\n", "UltraHot");
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu\n", "hits", s[STAT_ULTRAHOT_HIT]);
}

HK_BOX(ultrahot) = {
	.name		= "UltraHot",
	.stat_alloc	= -1,
	.thread_flush	= ultrahot_thread_flush,
	.stats_report	= IS_ENABLED(CONFIG_STATS) ? ultrahot_stats_report : NULL,
};
