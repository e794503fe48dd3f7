// SPDX-License-Identifier: MIT
/*
 * mm/stats/stats.c - statistics counters (CONFIG_STATS).
 *
 * Hot-path counters are per thread (struct heap_tls, folded into the
 * thread's heap record when it exits); slow paths count process-wide in
 * hk_stats_global with relaxed atomics. At exit, with HAKMEM_STATS=1, the
 * sum of both is printed to stderr, without allocating: the slab boxes'
 * counters and the rows each registered box prints (struct hk_box).
 * See Documentation/stats.md.
 */
#include <unistd.h>
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"
#include "stats.h"

unsigned long hk_stats_global[NR_HK_STATS];

/* -1 until HAKMEM_STATS was read, then 0 or 1. */
static int stats_enabled = -1;

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

/* Read HAKMEM_STATS early: the program may change its environment later. */
void stats_init(void)
{
	if (stats_enabled < 0)
		stats_enabled = hk_env_long("HAKMEM_STATS", 0) > 0;
}

/* ------------------------------------------------------------------ */
/* Report                                                             */
/* ------------------------------------------------------------------ */

static void stats_title(const char *box)
{
	hk_dprintf(STDERR_FILENO, "hakmem: stats: %s\n", box);
}

static void stats_row(const char *what, unsigned long v)
{
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu\n", what, v);
}

static void stats_print(const unsigned long *s)
{
	const struct hk_box *b;

	hk_dprintf(STDERR_FILENO, "hakmem: stats: ---- hakmem statistics (pid %d) ----\n",
		   (int)getpid());

	/* The slab boxes' counters, then each box's own rows. */
	hk_dprintf(STDERR_FILENO, "hakmem: stats: %-26s %14s %14s\n", "Slab boxes", "allocs",
		   "owner frees");
	for_each_box(b)
		if (b->stat_alloc >= 0)
			hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu %14lu\n", b->name,
				   s[b->stat_alloc], s[b->stat_alloc + 1]);
	stats_row("refills", s[STAT_REFILL]);
	stats_row("remote frees", s[STAT_REMOTE_FREE]);

	stats_title("SuperSlab");
	stats_row("slabs claimed", s[STAT_SLAB_NEW]);
	stats_row("slabs retired", s[STAT_SLAB_RETIRE]);
	stats_row("SuperSlabs mapped", s[STAT_SS_MAPPED]);
	stats_row("slots decommitted", s[STAT_SLOTS_DECOMMIT]);

	for_each_box(b)
		if (b->stats_report)
			b->stats_report(s);

	stats_title("Threads");
	stats_row("heaps created", s[STAT_THREADS]);
	stats_row("heaps adopted", s[STAT_HEAPS_ADOPTED]);
}

__attribute__((destructor)) static void stats_exit(void)
{
	unsigned long sum[NR_HK_STATS];
	unsigned int i;

	stats_init();
	if (!stats_enabled)
		return;
	for (i = 0; i < NR_HK_STATS; i++)
		sum[i] = a_load(&hk_stats_global[i], A_RELAXED);
	heap_stats_sum(sum);
	stats_print(sum);
}

/* Registered so that HAKMEM_STATS is read at initialisation. */
HK_BOX(stats) = {
	.name		= "statistics",
	.stat_alloc	= -1,
	.init		= stats_init,
};
