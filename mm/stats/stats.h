/* SPDX-License-Identifier: MIT */
/*
 * Statistics counters (CONFIG_STATS). Per-thread counters live in each
 * heap record and are summed at exit; process-wide ones are atomics.
 * Without CONFIG_STATS every macro is empty: no code, no branch.
 */
#ifndef _MM_STATS_H
#define _MM_STATS_H

#include <hakmem/atomic.h>

enum hk_stat {
	STAT_TINY_ALLOC,	/* Tiny allocations (fast and slow) */
	STAT_TINY_FREE,		/* Tiny frees by the owner thread */
	STAT_SMALLMID_ALLOC,	/* Small-Mid allocations */
	STAT_SMALLMID_FREE,	/* Small-Mid frees by the owner */
	STAT_MID_ALLOC,		/* Mid allocations */
	STAT_MID_FREE,		/* Mid frees by the owner */
	STAT_ULTRAHOT_HIT,	/* UltraHot L0 hits */
	STAT_REFILL,		/* thread cache refills */
	STAT_BIN_GROW,		/* bins that overflowed and grew instead of flushing */
	STAT_BIN_OUTRUN,	/* grown bins that overflowed at their most and went back to their first limit */
	STAT_SPARE_PUT,		/* flushes that set a whole batch aside (struct heap_spare) */
	STAT_SPARE_TAKE,	/* refills that took a whole spare batch */
	STAT_SPARE_SHED,	/* spare batches given back to their slabs for a claim of another class */
	STAT_EMPTY_KEEP,	/* emptied slabs kept by their heap (CONFIG_HEAP_EMPTY_KB) */
	STAT_EMPTY_TAKE,	/* refills that took a kept empty slab instead of claiming one */
	STAT_IDLE_RELEASE,	/* idle classes whose caches went back (CONFIG_HEAP_IDLE_TICKS) */
	STAT_REMOTE_FREE,	/* frees of another thread's block */
	STAT_REMOTE_TAKE,	/* refills that took a slab's remote list */
	STAT_RBATCH_HUNGRY,	/* remote batches pushed early: their owner carved for their class (CONFIG_HEAP_RBATCH_HUNGRY) */
	STAT_PARTIAL_FIRST,	/* refills from a partial slab while the current one had only fresh blocks */
	STAT_COLD_ASIDE,	/* current slabs with only never-touched blocks left set aside for a resident slab */
	STAT_MID_LEND,		/* big-class mallocs served by a larger class's free block (CONFIG_MID_LEND) */
	STAT_MID_LEND_INBOX,	/* of them, lent from a bin filled from the inbox for it (CONFIG_MID_LEND) */
	STAT_MID_LEND_PROBE,	/* lend checks that asked mincore: a page not in the map (CONFIG_MID_LEND) */
	STAT_SMALL_LEND,	/* small-class mallocs that would carve, served by the next class's free block (CONFIG_HEAP_LEND_SMALL) */
	STAT_INBOX_STEAL,	/* claims of a slab avoided by taking an idle owner's inbox list (CONFIG_HEAP_INBOX_STEAL) */
	STAT_SLAB_NEW,		/* slabs claimed from a pool */
	STAT_SLAB_RETIRE,	/* slabs given back to a pool */
	STAT_LARGE_ALLOC,	/* large blocks allocated */
	STAT_LARGE_FREE,	/* large blocks freed */
	STAT_LARGE_CACHE_HIT,	/* large allocations served by the cache */
	STAT_LARGE_MREMAP,	/* large reallocs done with mremap */
	STAT_SS_MAPPED,		/* SuperSlabs mapped */
	STAT_SLOTS_DECOMMIT,	/* slots whose memory went back to the kernel */
	STAT_BLOCKS_PURGED,	/* free big blocks whose pages went back (CONFIG_HEAP_PURGE) */
	STAT_GUARD_EVENTS,	/* foreign pointers seen by ExternalGuard */
	STAT_THREADS,		/* heaps created */
	STAT_HEAPS_ADOPTED,	/* heaps of exited threads taken over */
	STAT_PARKED_SWEEP,	/* sweeps of the parked heaps for memory (heap_parked_reclaim) */
	NR_HK_STATS
};

#ifdef CONFIG_STATS
extern unsigned long hk_stats_global[NR_HK_STATS];

/* Count a process-wide event (atomic, slow paths only). */
#define STAT_INC(item)			a_fetch_add(&hk_stats_global[item], 1UL, A_RELAXED)
#define STAT_ADD(item, n)		a_fetch_add(&hk_stats_global[item], (unsigned long)(n), A_RELAXED)

void stats_init(void);
/* Index of the counter called name ("tiny_alloc", ...), or -1. */
int stats_index(const char *name);
/* Add the counters of every exited thread and of the caller to out. */
void stats_sum(unsigned long out[NR_HK_STATS]);
#else
#define STAT_INC(item)			do { } while (0)
#define STAT_ADD(item, n)		do { } while (0)

static inline void stats_init(void)
{
}

static inline int stats_index(const char *name)
{
	return -1;
}

static inline void stats_sum(unsigned long out[NR_HK_STATS])
{
}
#endif

#endif /* _MM_STATS_H */
