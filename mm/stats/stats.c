// SPDX-License-Identifier: MIT
/*
 * mm/stats/stats.c - statistics counters (CONFIG_STATS).
 *
 * Hot-path counters are per thread (struct heap_tls, folded into the
 * thread's heap record when it exits); slow paths count process-wide in
 * hk_stats_global with relaxed atomics. At exit, with HAKMEM_STATS=1, the
 * sum of both is printed to stderr, one table per box, without allocating.
 * See Documentation/stats.md.
 */
#include <unistd.h>
#include <hakmem/print.h>
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
	hk_dprintf(STDERR_FILENO, "hakmem: stats: ---- hakmem statistics (pid %d) ----\n",
		   (int)getpid());

	hk_dprintf(STDERR_FILENO, "hakmem: stats: %-26s %14s %14s\n", "Slab boxes", "allocs",
		   "owner frees");
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu %14lu\n", "Tiny",
		   s[STAT_TINY_ALLOC], s[STAT_TINY_FREE]);
#ifdef CONFIG_SMALLMID
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu %14lu\n", "Small-Mid",
		   s[STAT_SMALLMID_ALLOC], s[STAT_SMALLMID_FREE]);
#endif
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu %14lu\n", "Mid",
		   s[STAT_MID_ALLOC], s[STAT_MID_FREE]);
	stats_row("refills", s[STAT_REFILL]);
	stats_row("bin growths", s[STAT_BIN_GROW]);
	stats_row("remote frees", s[STAT_REMOTE_FREE]);
#ifdef CONFIG_TINY_ULTRAHOT
	stats_row("UltraHot hits", s[STAT_ULTRAHOT_HIT]);
#endif

	stats_title("SuperSlab");
	stats_row("slabs claimed", s[STAT_SLAB_NEW]);
	stats_row("slabs retired", s[STAT_SLAB_RETIRE]);
	stats_row("SuperSlabs mapped", s[STAT_SS_MAPPED]);
	stats_row("slots decommitted", s[STAT_SLOTS_DECOMMIT]);

	stats_title("Large");
	stats_row("allocs", s[STAT_LARGE_ALLOC]);
	stats_row("frees", s[STAT_LARGE_FREE]);
	stats_row("cache hits", s[STAT_LARGE_CACHE_HIT]);
	stats_row("mremaps", s[STAT_LARGE_MREMAP]);

	stats_title("Guard");
	stats_row("foreign pointers", s[STAT_GUARD_EVENTS]);

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
