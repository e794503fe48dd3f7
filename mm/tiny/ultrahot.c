// SPDX-License-Identifier: MIT
/*
 * mm/tiny/ultrahot.c - the UltraHot box (CONFIG_TINY_ULTRAHOT): its
 * registration: the thread_flush hook that gives the stacked blocks back
 * to their slabs (thread exit, trim), their count for mallinfo, and its
 * row of the statistics. The fast paths are in ultrahot.h, inlined
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

/* Blocks on t's stacks, for mallinfo: C0 and C1 are the 16 B and 32 B classes. */
static void ultrahot_tls_cached(const struct heap_tls *t, unsigned long *out)
{
	unsigned int i, n;

	for (i = 0; i < 2; i++) {
		n = a_load(&t->boxes.ultrahot.count[i], A_RELAXED);
		out[i] += n < ULTRAHOT_CAP ? n : ULTRAHOT_CAP;
	}
}

static void ultrahot_stats_report(int fd, const unsigned long *s)
{
	hk_dprintf(fd, "hakmem: stats: %s\n", "UltraHot");
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "hits", s[STAT_ULTRAHOT_HIT]);
}

HK_BOX(ultrahot) = {
	.name		= "UltraHot",
	.stat_alloc	= -1,
	.thread_flush	= ultrahot_thread_flush,
	.tls_cached	= IS_ENABLED(CONFIG_MALLOC_INFO) ? ultrahot_tls_cached : NULL,
	.stats_report	= IS_ENABLED(CONFIG_STATS) ? ultrahot_stats_report : NULL,
};
