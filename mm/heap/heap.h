/* SPDX-License-Identifier: MIT */
/*
 * Thread heaps: the engine under the Tiny, Small-Mid and Mid boxes.
 *
 * Each thread has a front in initial-exec TLS (struct heap_tls): per size
 * class a list of free blocks taken from the class's current slab. The
 * rest of a thread's state lives in a heap record (struct heap) that
 * outlives the thread: partial slabs per class, and the notify stack
 * through which other threads announce remote frees to slabs that were
 * full. When a thread exits its record is parked; the next new thread
 * adopts it, slabs and all, so nothing is stranded.
 *
 * The front is a bin per class: a LIFO of free blocks from any of the
 * thread's slabs, with a count. malloc pops, free by the owner pushes;
 * only when a bin runs dry (refill a batch from the class's current slab)
 * or grows past its limit (flush half back to the slabs) does the slow
 * path run.
 *
 * Block accounting per slab (owner-only, no atomics):
 *   used = capacity - |local_free| - |uncarved|
 * Blocks in a bin and blocks in the slab's remote list count as used.
 */
#ifndef _MM_HEAP_H
#define _MM_HEAP_H

#include <hakmem/atomic.h>
#include "superslab/superslab.h"
#include "stats/stats.h"
#include "guard/guard.h"

/* ------------------------------------------------------------------ */
/* Size classes                                                       */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_SMALLMID
#define TINY_NR_CLASSES		6		/* C0-C5: 8 B - 256 B */
#define SMALLMID_NR_CLASSES	5		/* 512 B, 1, 2, 3, 4 KiB */
#define MID_BASE_SHIFT		12		/* Mid starts above 4 KiB */
#else
#define TINY_NR_CLASSES		(CONFIG_TINY_MAX_CLASS + 1)
#define SMALLMID_NR_CLASSES	0
#define MID_BASE_SHIFT		(CONFIG_TINY_MAX_CLASS + 3)
#endif
#define TINY_MAX_SIZE		(8UL << (TINY_NR_CLASSES - 1))
#define MID_MAX_SHIFT		15
#define MID_MAX_SIZE		(1UL << MID_MAX_SHIFT)	/* 32 KiB */
#define MID_NR_CLASSES		((MID_MAX_SHIFT - MID_BASE_SHIFT) * CONFIG_MID_CLASSES_PER_DOUBLING)

#define SMALLMID_FIRST_CLASS	TINY_NR_CLASSES
#define MID_FIRST_CLASS		(TINY_NR_CLASSES + SMALLMID_NR_CLASSES)
#define HK_NR_CLASSES		(MID_FIRST_CLASS + MID_NR_CLASSES)

/* Largest request served by a slab class (above: the Large box). */
#define HEAP_MAX_SIZE		MID_MAX_SIZE

/* Requests up to SMALL_LOOKUP_MAX map through an 8-byte-step table. */
#define SMALL_LOOKUP_MAX	1024
/* Above it, through a 256-byte-step table; classes there are 256-multiples. */
#define MID_LOOKUP_SHIFT	8

struct size_class {
	uint32_t size;			/* block size */
	uint16_t batch;			/* blocks moved to the bin per refill */
	uint16_t limit;			/* bin length that triggers a flush */
	uint8_t span;			/* slots per slab */
	uint8_t box;			/* enum hk_stat of the box's ALLOC counter */
	struct ss_pool *pool;		/* where its slabs come from */
	uint32_t div_mul;		/* block-start check: inverse of the odd part */
	uint8_t div_shift;		/* block-start check: power-of-two part */
};

extern struct size_class hk_classes[HK_NR_CLASSES];
extern uint8_t hk_class_small[SMALL_LOOKUP_MAX / 8 + 1];
extern uint8_t hk_class_mid[MID_MAX_SIZE >> MID_LOOKUP_SHIFT];

/*
 * Class of a request of at most HEAP_MAX_SIZE bytes. Tiny classes are
 * powers of two from 8 B, so 1..TINY_MAX_SIZE is computed (bit scan, no
 * memory load on malloc's critical path); 0 and the sizes above Tiny go
 * through the tables.
 */
static __always_inline unsigned int size_to_class(size_t size)
{
	if (likely(size - 1 < TINY_MAX_SIZE))
		return hk_log2((size - 1) | 7) - 2;
	if (likely(size <= SMALL_LOOKUP_MAX))
		return hk_class_small[(size + 7) >> 3];
	return hk_class_mid[(size - 1) >> MID_LOOKUP_SHIFT];
}

/* Box-specific class setup, called once by heap_classes_init(). */
unsigned int tiny_classes_init(struct size_class *c);
unsigned int smallmid_classes_init(struct size_class *c);
unsigned int mid_classes_init(struct size_class *c);

/* ------------------------------------------------------------------ */
/* Heap record and thread front                                       */
/* ------------------------------------------------------------------ */

struct heap {
	struct slab *partial[HK_NR_CLASSES];	/* slabs with free blocks, not current */
	struct slab *notify;			/* atomic: slabs that got remote frees while full */
	struct heap *all_next;			/* list of every heap record */
	struct heap *parked_next;		/* list of records of exited threads */
	int alive;				/* a thread uses this record */
#ifdef CONFIG_STATS
	unsigned long stats[NR_HK_STATS];	/* counters of the threads that exited */
#endif
};

struct bin {
	void *free;			/* free blocks of this heap's slabs (LIFO) */
	int32_t room;			/* frees until a flush: limit - blocks held */
	uint32_t limit;			/* most blocks held (0 before init) */
};

#ifdef CONFIG_TINY_ULTRAHOT
#define ULTRAHOT_CAP	32
/* L0 stacks for the 16 B and 32 B classes (see mm/tiny/ultrahot.h). */
struct ultrahot {
	uint32_t count[2];		/* blocks held per class */
	void *slot[2][ULTRAHOT_CAP];	/* the blocks */
};
#endif

struct heap_tls {
	struct bin bins[HK_NR_CLASSES];	/* per-class front */
	struct slab *cur[HK_NR_CLASSES];	/* slab each class refills from */
	struct heap *heap;		/* this thread's record (NULL before first use) */
#ifdef CONFIG_TINY_ULTRAHOT
	struct ultrahot uh;		/* UltraHot L0 */
#endif
#ifdef CONFIG_STATS
	unsigned long stats[NR_HK_STATS];	/* this thread's counters */
#endif
};

extern __hk_tls struct heap_tls hk_tls;

#ifdef CONFIG_STATS
#define STAT_INC_TLS(item)	(hk_tls.stats[item]++)
#else
#define STAT_INC_TLS(item)	do { } while (0)
#endif

/* Per-process key written into freed blocks. */
extern uintptr_t hk_dfkey;

void *heap_alloc_slow(size_t size);
/* Allocate from class cls (after initialisation). */
void *heap_alloc_class(unsigned int cls);
void heap_bin_flush(unsigned int cls);
void heap_free_local_slow(struct slab *s, void *p);
/* Tail-called by free: the return address is the program's. */
void heap_free_other(struct slab *s, void *p);
void heap_bad_pointer(void *p);

void heap_classes_init(void);
int heap_init(void);
unsigned long heap_trim(void);
void heap_stats_sum(unsigned long out[NR_HK_STATS]);
void heap_fork_prepare(void);
void heap_fork_parent(void);
void heap_fork_child(void);

/* ------------------------------------------------------------------ */
/* Fast paths                                                         */
/* ------------------------------------------------------------------ */

static __always_inline void *bin_pop(struct bin *b, void *p, unsigned int cls)
{
	b->free = *(void **)p;
	b->room++;
#ifdef CONFIG_DOUBLE_FREE_CHECK
	if (cls != 0)
		((uintptr_t *)p)[1] = 0;	/* forget the double-free key */
#endif
	return p;
}

/*
 * Allocate a block for a request of size <= HEAP_MAX_SIZE. The slow path
 * takes the size, not the class: before the first initialisation the
 * class tables are all zero and every request misses into it.
 */
static __fastpath_inline void *heap_alloc(size_t size)
{
	unsigned int cls = size_to_class(size);
	struct bin *b = &hk_tls.bins[cls];
	void *p = b->free;

	if (unlikely(!p))
		return heap_alloc_slow(size);
	STAT_INC_TLS(hk_classes[cls].box);
	return bin_pop(b, p, cls);
}

static inline uint32_t ror32(uint32_t x, unsigned int k)
{
	return (x >> k) | (x << ((32 - k) & 31));
}

/*
 * Is p the start of a block of s? (p lies in one of the slots of s; s is
 * the head slot or a tail slot that mirrors it)
 */
static __always_inline int slab_is_block_start(const struct slab *s, const void *p)
{
	uint32_t off = (uint32_t)(uintptr_t)p - s->base;

	return ror32(off * s->div_mul, s->div_shift) <= s->div_limit;
}

/* Free by the slab's owner thread: into the class's bin. */
static __fastpath_inline void heap_free_local(struct slab *s, void *p)
{
	unsigned int cls = s->class_idx;
	struct bin *b = &hk_tls.bins[cls];

	/* Not a block of s (an interior or stray pointer): the guard. */
	if (unlikely(!slab_is_block_start(s, p))) {
		heap_bad_pointer(p);
		return;
	}
#ifdef CONFIG_DOUBLE_FREE_CHECK
	if (s->dfkey) {
		if (unlikely(((uintptr_t *)p)[1] == s->dfkey))
			guard_double_free(p);
		((uintptr_t *)p)[1] = s->dfkey;
	}
#endif
	STAT_INC_TLS(hk_classes[cls].box + 1);
	*(void **)p = b->free;
	b->free = p;
	if (unlikely(--b->room < 0))
		heap_bin_flush(cls);
}

#endif /* _MM_HEAP_H */
