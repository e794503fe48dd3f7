// SPDX-License-Identifier: MIT
/*
 * mm/stats/stats.c - statistics counters (CONFIG_STATS).
 *
 * Hot-path counters are per thread (struct heap_tls, folded into the
 * thread's heap record when it exits); slow paths count process-wide in
 * hk_stats_global with relaxed atomics. At exit, with HAKMEM_STATS=1 (or
 * HAKMEM_OPTIONS=stats=1), the sum of both is printed to stderr, or to
 * the file of stats_file=, without allocating: the slab boxes' counters
 * and the rows each registered box prints (struct hk_box).
 * See Documentation/stats.md.
 */
#include <fcntl.h>
#include <unistd.h>
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"
#include "options/options.h"
#include "stats.h"

unsigned long hk_stats_global[NR_HK_STATS];

/* -1 until the option was read, then 0 or 1. */
static int stats_enabled = -1;

/* Where the report goes. */
static int stats_fd = STDERR_FILENO;

/* The counters by name, for hak_option_get("stat.<name>"). */
static const char *const stats_names[NR_HK_STATS] = {
	[STAT_TINY_ALLOC] = "tiny_alloc",
	[STAT_TINY_FREE] = "tiny_free",
	[STAT_SMALLMID_ALLOC] = "smallmid_alloc",
	[STAT_SMALLMID_FREE] = "smallmid_free",
	[STAT_MID_ALLOC] = "mid_alloc",
	[STAT_MID_FREE] = "mid_free",
	[STAT_ULTRAHOT_HIT] = "ultrahot_hit",
	[STAT_REFILL] = "refill",
	[STAT_BIN_GROW] = "bin_grow",
	[STAT_BIN_OUTRUN] = "bin_outrun",
	[STAT_SPARE_PUT] = "spare_put",
	[STAT_SPARE_TAKE] = "spare_take",
	[STAT_SPARE_SHED] = "spare_shed",
	[STAT_EMPTY_KEEP] = "empty_keep",
	[STAT_EMPTY_TAKE] = "empty_take",
	[STAT_IDLE_RELEASE] = "idle_release",
	[STAT_REMOTE_FREE] = "remote_free",
	[STAT_REMOTE_TAKE] = "remote_take",
	[STAT_RBATCH_HUNGRY] = "rbatch_hungry",
	[STAT_PARTIAL_FIRST] = "partial_first",
	[STAT_COLD_ASIDE] = "cold_aside",
	[STAT_MID_LEND] = "mid_lend",
	[STAT_MID_LEND_INBOX] = "mid_lend_inbox",
	[STAT_MID_LEND_PROBE] = "mid_lend_probe",
	[STAT_SMALL_LEND] = "small_lend",
	[STAT_INBOX_STEAL] = "inbox_steal",
	[STAT_SLAB_NEW] = "slab_new",
	[STAT_SLAB_RETIRE] = "slab_retire",
	[STAT_LARGE_ALLOC] = "large_alloc",
	[STAT_LARGE_FREE] = "large_free",
	[STAT_LARGE_CACHE_HIT] = "large_cache_hit",
	[STAT_LARGE_MREMAP] = "large_mremap",
	[STAT_SS_MAPPED] = "ss_mapped",
	[STAT_SLOTS_DECOMMIT] = "slots_decommit",
	[STAT_BLOCKS_PURGED] = "blocks_purged",
	[STAT_GUARD_EVENTS] = "guard_events",
	[STAT_THREADS] = "threads",
	[STAT_HEAPS_ADOPTED] = "heaps_adopted",
	[STAT_PARKED_SWEEP] = "parked_sweep",
};

int stats_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_HK_STATS; i++) {
		const char *a = stats_names[i], *b = name;

		if (!a)
			continue;	/* a counter without a name is never matched */
		while (*a && *a == *b)
			a++, b++;
		if (!*a && !*b)
			return (int)i;
	}
	return -1;
}

void stats_sum(unsigned long out[NR_HK_STATS])
{
	unsigned int i;

	for (i = 0; i < NR_HK_STATS; i++)
		out[i] += a_load(&hk_stats_global[i], A_RELAXED);
	heap_stats_sum(out);
}

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

/* Read the option early: the program may change its environment later. */
void stats_init(void)
{
	if (stats_enabled < 0)
		stats_enabled = hk_opt(OPT_STATS) != 0;
}

/* ------------------------------------------------------------------ */
/* Report                                                             */
/* ------------------------------------------------------------------ */

static void stats_title(const char *box)
{
	hk_dprintf(stats_fd, "hakmem: stats: %s\n", box);
}

static void stats_row(const char *what, unsigned long v)
{
	hk_dprintf(stats_fd, "hakmem: stats:   %-24s %14lu\n", what, v);
}

static void stats_print(const unsigned long *s)
{
	const struct hk_box *b;

	hk_dprintf(stats_fd, "hakmem: stats: ---- hakmem statistics (pid %d) ----\n",
		   (int)getpid());

	/* The slab boxes' counters, then each box's own rows. */
	hk_dprintf(stats_fd, "hakmem: stats: %-26s %14s %14s\n", "Slab boxes", "allocs",
		   "owner frees");
	for_each_box(b)
		if (b->stat_alloc >= 0)
			hk_dprintf(stats_fd, "hakmem: stats:   %-24s %14lu %14lu\n", b->name,
				   s[b->stat_alloc], s[b->stat_alloc + 1]);
	stats_row("refills", s[STAT_REFILL]);
	stats_row("bin growths", s[STAT_BIN_GROW]);
	stats_row("bins outrun", s[STAT_BIN_OUTRUN]);
	stats_row("spare batches set aside", s[STAT_SPARE_PUT]);
	stats_row("refills from spare batches", s[STAT_SPARE_TAKE]);
	stats_row("spare batches shed for claims", s[STAT_SPARE_SHED]);
	stats_row("empty slabs kept", s[STAT_EMPTY_KEEP]);
	stats_row("empty slabs reused", s[STAT_EMPTY_TAKE]);
	stats_row("idle classes given back", s[STAT_IDLE_RELEASE]);
	stats_row("remote frees", s[STAT_REMOTE_FREE]);
	stats_row("refills from remote lists", s[STAT_REMOTE_TAKE]);
	stats_row("remote batches pushed for hungry owners", s[STAT_RBATCH_HUNGRY]);
	stats_row("refills from partial slabs first", s[STAT_PARTIAL_FIRST]);
	stats_row("fresh tails set aside", s[STAT_COLD_ASIDE]);
	stats_row("blocks lent to smaller classes", s[STAT_MID_LEND]);
	stats_row("  of them from the inbox of a class", s[STAT_MID_LEND_INBOX]);
	stats_row("lend checks that asked mincore", s[STAT_MID_LEND_PROBE]);
	stats_row("small blocks lent instead of a carve", s[STAT_SMALL_LEND]);
	stats_row("idle owners' inbox lists taken for a claim", s[STAT_INBOX_STEAL]);

	stats_title("SuperSlab");
	stats_row("slabs claimed", s[STAT_SLAB_NEW]);
	stats_row("slabs retired", s[STAT_SLAB_RETIRE]);
	stats_row("SuperSlabs mapped", s[STAT_SS_MAPPED]);
	stats_row("slots decommitted", s[STAT_SLOTS_DECOMMIT]);
	stats_row("free blocks purged", s[STAT_BLOCKS_PURGED]);

	for_each_box(b)
		if (b->stats_report)
			b->stats_report(stats_fd, s);

	stats_title("Threads");
	stats_row("heaps created", s[STAT_THREADS]);
	stats_row("heaps adopted", s[STAT_HEAPS_ADOPTED]);
	stats_row("parked heaps swept", s[STAT_PARKED_SWEEP]);
}

__attribute__((destructor)) static void stats_exit(void)
{
	unsigned long sum[NR_HK_STATS] = { 0 };
	char buf[256];
	const char *path;

	stats_init();
	/* With CONFIG_OPTIONS, hak_option_set("stats", ...) may have changed it since. */
	if (!(IS_ENABLED(CONFIG_OPTIONS) ? hk_opt(OPT_STATS) : (unsigned long)stats_enabled))
		return;
	path = hk_opt_stats_file(buf, sizeof(buf));
	if (*path) {
		stats_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (stats_fd < 0) {
			hk_dprintf(STDERR_FILENO, "hakmem: stats: cannot open %s; to stderr\n", path);
			stats_fd = STDERR_FILENO;
		}
	}
	stats_sum(sum);
	stats_print(sum);
	if (stats_fd != STDERR_FILENO)
		close(stats_fd);
}

/* Registered so that HAKMEM_STATS is read at initialisation. */
HK_BOX(stats) = {
	.name		= "statistics",
	.stat_alloc	= -1,
	.init		= stats_init,
};
