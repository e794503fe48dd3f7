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
 * Blocks in a bin, in a spare batch (struct heap_spare) and in the
 * slab's remote list count as used.
 */
#ifndef _MM_HEAP_H
#define _MM_HEAP_H

#include <hakmem/atomic.h>
#include "superslab/superslab.h"
#include "stats/stats.h"
#include "guard/guard.h"
#include <hakmem/valgrind.h>
#include "boxes.h"

/* ------------------------------------------------------------------ */
/* Size classes                                                       */
/* ------------------------------------------------------------------ */

/*
 * The class layout comes from the configured boxes (mm/boxes.h):
 * HK_NR_CLASSES, HEAP_MAX_SIZE, HEAP_FIRST_NR_CLASSES, HEAP_FIRST_MAX_SIZE.
 * HK_NR_CLASSES is 0 when no slab box is configured (Large serves every
 * request); per-class arrays then keep one unused entry (HK_CLASS_ARRAY)
 * and loops count to heap_nr_classes(), which the compiler folds without
 * an "always false" warning.
 */
#define HK_CLASS_ARRAY		(HK_NR_CLASSES ? HK_NR_CLASSES : 1)

static inline unsigned int heap_nr_classes(void)
{
	return HK_NR_CLASSES;
}

/*
 * Most bytes one bin grows to when it keeps overflowing, and most blocks:
 * as tcmalloc, which lets one class's list take a thread's whole cache
 * (4 MiB). heap_bin_flush() also keeps a bin to half of the thread's
 * bound (heap_cache_max, CONFIG_HEAP_CACHE_MAX_KB) and the growth of all
 * bins to CONFIG_HEAP_CACHE_GROW_KB. Until branch batch 1 MiB and 4096: a
 * program that frees batches of more than 1 MiB of one class sent the
 * surplus to the slabs and fetched it back on every round
 * (Documentation/architecture.md, "Thread caches"). Until branch batch2
 * 8192 blocks at most (tcmalloc's count): a batch of 16384 blocks of
 * 64 B (1 MiB) outran the bin every round and took 1.9x the CPU time
 * of this bound (bench_batch 64 16384 16384 0, where mimalloc, whose
 * lists have no bound, was 1.8x faster); struct size_class::limit_max
 * holds 65535 at most (tcache_pct= is clamped there).
 */
#define HEAP_BIN_MAX_BYTES	(4UL << 20)
#define HEAP_BIN_MAX_BLOCKS	32768U
/*
 * Bins grow at all (CONFIG_HEAP_CACHE_GROW_KB 0: fixed limits, and the
 * tests of bin::grown and heap_tls::burst_base fold away).
 */
#define HEAP_GROW_ON		(CONFIG_HEAP_CACHE_GROW_KB > 0)
/* Most bytes of blocks a bin holds at first (the classes above 32 KiB). */
#define HEAP_BIN_BYTES		(256UL << 10)
/*
 * Most bytes of a slab's never-used blocks one refill carves (links and
 * keys written, so every page of them faulted in): one page, at least
 * one block. A program that asks once for a 4 KiB block makes 4 KiB
 * resident, not the 64 KiB of a whole refill batch (16 KiB until the
 * thirteenth session: each class a program used kept up to 12 KiB of
 * blocks faulted in ahead, Documentation/benchmarks.md, "thirteenth
 * session: peak RSS"). Refills from freed blocks take whole batches.
 */
#define HEAP_CARVE_BYTES	(4UL << 10)

/*
 * Requests up to SMALL_LOOKUP_MAX map through a 16-byte-step table (every
 * class up to there is a multiple of 16 B): up to 1 KiB, or 2 KiB with
 * Mid's finer classes (MID_FINE_MAX, mid/mid.h).
 */
#define SMALL_LOOKUP_MAX	(HEAP_MAX_SIZE < MID_FINE_MAX ? HEAP_MAX_SIZE : MID_FINE_MAX)
#define SMALL_LOOKUP_SHIFT	4
/* Above it, through a 256-byte-step table; classes there are 256-multiples. */
#define COARSE_LOOKUP_SHIFT	8

struct size_class {
	uint32_t size;			/* block size */
	uint16_t batch;			/* blocks moved to the bin per refill */
	uint16_t limit;			/* bin length that triggers a flush, at first */
	uint16_t limit_max;		/* what a bin that keeps overflowing grows to */
	uint16_t colours;		/* block offsets a slab may start at (HEAP_COLOUR_STEP apart), 1 = none */
	uint8_t span;			/* slots per slab */
	uint8_t stat_idx;		/* enum hk_stat: its box's ALLOC counter (FREE is next) */
	uint8_t pad;			/* stride - size, in 16-byte units (CONFIG_HEAP_STRIDE_PAD) */
	uint8_t rbatch;			/* blocks a remote batch holds at most (CONFIG_HEAP_RBATCH_BYTES) */
	struct ss_pool *pool;		/* where its slabs come from */
	uint64_t start_mul;		/* block-start check: slab_start_mul(class_stride()) */
};

/*
 * The bytes a block of class c counts for in the thread's growth budget
 * (heap_cache_budget) and bound (heap_cache_max): its size up to 32 KiB,
 * a quarter of it above (32 KiB at least). The bins of the big classes
 * hold one to eight blocks at first; charged in full, the few that grow
 * spent the budget and filled the bound (random_mixed 32-256 KiB: nine
 * growths, then a refill and a flush every 11 operations, 17% of the
 * samples). At a quarter they may hold four times the bytes, what the
 * budget and bound four times larger gave them, while the classes up
 * to 32 KiB, whose bins hold hundreds of blocks, keep the bounds as
 * they were (Documentation/mid.md, "The big classes' charge in the
 * bounds").
 */
#define HEAP_CACHE_BIG_SIZE	32768U
#define HEAP_CACHE_BIG_SHARE	4U

static inline size_t class_cache_bytes(const struct size_class *c)
{
	uint32_t q = c->size / HEAP_CACHE_BIG_SHARE;

	if (c->size <= HEAP_CACHE_BIG_SIZE)
		return c->size;
	return q > HEAP_CACHE_BIG_SIZE ? q : HEAP_CACHE_BIG_SIZE;
}

/* CONFIG_HEAP_STRIDE_PAD pads only classes above this size (classes.c). */
#define HEAP_STRIDE_MIN_SIZE	8192U

/* Bytes from one block of class c to the next in a slab (CONFIG_HEAP_STRIDE_PAD). */
static __always_inline uint32_t class_stride(const struct size_class *c)
{
	if (!IS_ENABLED(CONFIG_HEAP_STRIDE_PAD))
		return c->size;
	return c->size + ((uint32_t)c->pad << 4);
}

struct heap;

/*
 * A thread's free blocks of one class (struct heap_tls::bins), in two
 * lists: malloc pops free, free pushes put. Neither fast path reads a
 * word the other writes, so a free never waits for the store of the
 * malloc before it (whose bin is known only when the size is), and a
 * malloc never for the free's: see "Split bins" in
 * Documentation/architecture.md. malloc takes put whole when free is
 * empty (bin_swap()); the other slow paths see one list after
 * bin_join(), but a flush, which gives back put's blocks first.
 *
 * Each list has a counter: malloc adds one to free_at at each pop, free
 * takes one from put_at at each push. With CONFIG_DOUBLE_FREE_CHECK the
 * counter is the key word of the list's head, the next block down
 * holding one more (heap.h, "The double-free key"), and a floor gives
 * the list's budget: room = free_at - free_floor, put_room = put_at -
 * put_floor; without it the floors are 0 and the counters are those
 * budgets. room + put_room = limit - blocks held (both lists): malloc
 * adds to room, free takes from put_room, and a free that finds
 * put_room spent takes room's share (heap_bin_overflow()) before it
 * flushes. The slow paths read and move the budgets through
 * bin_room(), bin_room_add() and the like (heap.c).
 *
 * Without CONFIG_HEAP_SPLIT_BINS (the default since branch onelist),
 * and with it for a class whose bin is short (heap_class_split()), a
 * bin keeps one list: its slabs' bin_tpoff points BIN_LIFO_SHIFT bytes
 * below its bin, so that free's put, put_at, put_floor and tag are the
 * bin's free, free_at, free_floor and tag_lifo, and put stays NULL
 * (its own put_at and put_floor hold the room an outrun bin's pass sets
 * aside, heap_bin_pass_one()). The offsets below are
 * checked at build time (heap.c).
 */
struct bin {
	void *free;			/* blocks malloc pops (LIFO) */
	void *put;			/* blocks free pushed since the last swap or join (LIFO) */
	uintptr_t free_at;		/* malloc's counter: adds one per pop */
	uintptr_t put_at;		/* free's counter: takes one per push */
#ifdef CONFIG_DOUBLE_FREE_CHECK
	uintptr_t free_floor;		/* free_at - free_floor: malloc's share of limit - blocks held */
	uintptr_t put_floor;		/* put_at - put_floor: free's share, frees until it takes room's */
#endif
	uint32_t tag_lifo;		/* tag again: free's owner test of a one-list class */
	uint32_t limit;			/* most blocks held (0 before init) */
	uint32_t tag;			/* the heap's owner tag (0 without one): free's owner test */
	uint16_t grown;			/* limit is above its class's initial limit (bin_limit_set()) */
	uint16_t put_one;		/* low bits of free_at at malloc's last pop of put's only block */
} __aligned(64);

BUILD_BUG_ON(sizeof(struct bin) != 64);

/* A list's floor (0 without the double-free check): the counter's value at a budget of 0. */
#ifdef CONFIG_DOUBLE_FREE_CHECK
#define BIN_FREE_FLOOR(b)	((b)->free_floor)
#define BIN_PUT_FLOOR(b)	((b)->put_floor)
#else
#define BIN_FREE_FLOOR(b)	((uintptr_t)0)
#define BIN_PUT_FLOOR(b)	((uintptr_t)0)
#endif

/* malloc's and free's shares of the bin's room (the slow paths). */
static inline int32_t bin_room(const struct bin *b)
{
	return (int32_t)(b->free_at - BIN_FREE_FLOOR(b));
}

static inline int32_t bin_put_room(const struct bin *b)
{
	return (int32_t)(b->put_at - BIN_PUT_FLOOR(b));
}

/* How far below its bin free sees the bin of a one-list class. */
#define BIN_LIFO_SHIFT	(offsetof(struct bin, put) - offsetof(struct bin, free))

/*
 * With CONFIG_HEAP_SPLIT_BINS, bins of at least this many blocks (a
 * class's initial limit) are split: malloc takes free's list once per
 * list, and the blocks of a list that long are small. Shorter bins
 * (Mid's big blocks: 8 to 51 blocks by default), and every bin without
 * it, keep one list, so that a block freed is the next one handed out
 * while its line is still in the cache.
 */
#define HEAP_SPLIT_MIN_LIMIT	64

/*
 * Pops of a run of mallocs after which heap_bin_burst_end() (heap.c)
 * puts what malloc's list has left under the run being freed.
 */
#define HEAP_BURST_MIN		16

/*
 * Slabs of a class with an unused tail (colours > 1) start their first
 * block at a multiple of HEAP_COLOUR_STEP into it, so that the blocks of
 * different slabs do not all fall on the same cache sets: such blocks are
 * aligned to HEAP_COLOUR_STEP only (heap_align_class() knows).
 */
#define HEAP_COLOUR_STEP	64U

/*
 * CONFIG_HEAP_OFF_PAGE: a class above SMALL_LOOKUP_MAX (its size a
 * multiple of 256) that is not a power of two, has no colours and
 * whose slab spans a power of two of slots (the classes of 1-8 KiB by
 * default; those of 10-28 KiB have colours with CONFIG_HEAP_STRIDE_PAD,
 * and the big ones of 15 slots may fill them whole) starts
 * the first block of each slab HEAP_COLOUR_STEP bytes in, so that every
 * block starts 64 bytes past a multiple of 128 and none on a page
 * boundary. Without it one block in 4 of the 5 KiB class (one in 2 of
 * 6 KiB, one in 16 of 4.25 KiB) starts a page: a program that keeps an
 * 8-byte header there (sqlite's page cache: the size, then the page)
 * and read()s a file page into the rest has the kernel copy to 8 bytes
 * past a page start from a page start, which AMD Zen's copy (rep movsb)
 * runs 3-4 times slower than any other offset from 16 to 4095
 * (Documentation/benchmarks.md, "forty-fifth session"). Such a class
 * always has room for it: its slab (a power of two, 64 KiB or more) is
 * not a multiple of its size, and what is left past the last block is
 * a multiple of 256 bytes (heap_classes_init() asserts it). Its
 * blocks are then aligned to 64 bytes only, like a coloured class's
 * (heap_align_class(), classes.c); the powers of two keep every block aligned to
 * its size.
 */
static inline int class_off_page(const struct size_class *c)
{
	return IS_ENABLED(CONFIG_HEAP_OFF_PAGE) && c->colours <= 1 &&
	       c->size > SMALL_LOOKUP_MAX && (c->size & (c->size - 1)) &&
	       !(c->span & (c->span - 1));
}

/* The most bytes a slab of class c leaves before its first block (its last colour). */
static inline size_t class_colour_room(const struct size_class *c)
{
	if (c->colours > 1)
		return (size_t)(c->colours - 1) * HEAP_COLOUR_STEP;
	return class_off_page(c) ? HEAP_COLOUR_STEP : 0;
}

extern struct size_class hk_classes[HK_CLASS_ARRAY];
extern uint8_t hk_class_small[(SMALL_LOOKUP_MAX >> SMALL_LOOKUP_SHIFT) + 1];
/* Above SMALL_LOOKUP_MAX: the class's bin offset in heap_tls::bins (class * sizeof(struct bin)). */
extern uint16_t hk_bin_coarse[(HEAP_MAX_SIZE >> COARSE_LOOKUP_SHIFT) + 1];

/*
 * memalign's classes (hk_alloc_aligned(), mm/core.h): for an alignment
 * of 2^(HEAP_ALIGN_MIN_SHIFT + k) bytes, up to SLOT_SIZE (a slab's
 * start is aligned to it), and the class c of the request rounded up to
 * the alignment, hk_align_class[k][c] is one more than the first class
 * from c on whose every block is so aligned (heap_align_class(),
 * classes.c), or 0 where none is (the Large box serves it). All 0 until
 * heap_classes_init() fills it: a request then takes the slow path,
 * which initialises.
 */
#define HEAP_ALIGN_MIN_SHIFT	5
#define HEAP_ALIGN_SHIFTS	(SLOT_SHIFT - HEAP_ALIGN_MIN_SHIFT + 1)
extern uint8_t hk_align_class[HEAP_ALIGN_SHIFTS][HK_CLASS_ARRAY];

/*
 * Class of a request of at most HEAP_MAX_SIZE bytes (with at least one
 * class). The first classes (Tiny's) are tested first: with power-of-two
 * classes from 16 B, 1..HEAP_FIRST_MAX_SIZE is computed (a bit scan) and
 * 0 goes through the table; with finer classes 0..HEAP_FIRST_MAX_SIZE is
 * one load from hk_tiny_bin[], a table the compiler fills
 * (mm/tiny/tiny.h), so it is right before initialisation too. The tests on the constants fold
 * away (no first classes without Tiny: size_is_tiny() is then always
 * false).
 */
static __always_inline int size_is_tiny(size_t size)
{
	if (HEAP_FIRST_POW2)
		return HEAP_FIRST_NR_CLASSES && size - 1 < HEAP_FIRST_MAX_SIZE;
	return HEAP_FIRST_NR_CLASSES && size <= HEAP_FIRST_MAX_SIZE;
}

/* Class of a request of 0 .. SMALL_LOOKUP_MAX bytes, from the table. */
static __always_inline unsigned int size_to_small_class(size_t size)
{
	return hk_class_small[(size + (1UL << SMALL_LOOKUP_SHIFT) - 1) >> SMALL_LOOKUP_SHIFT];
}

/*
 * The fast paths address a bin as the front's offset from the thread
 * pointer plus the bin's offset in heap_tls::bins given in units of
 * BIN_UNIT bytes (the largest scale of x86_64's addressing modes), so
 * that malloc's table of Tiny bins fits in bytes (hk_tiny_bin[]).
 */
#define BIN_UNIT		8U

/*
 * Offset in heap_tls::bins, in units of BIN_UNIT bytes, of the bin for a
 * request for which size_is_tiny(), with finer Tiny classes
 * (!HEAP_FIRST_POW2). (A table with one entry per size would save the
 * add and the shift, two instructions, and cost 16 cache lines instead
 * of 2: measured slower, Documentation/benchmarks.md.)
 */
static __always_inline unsigned int size_to_tiny_bin(size_t size)
{
	return hk_tiny_bin[(size + 15) >> 4];
}
BUILD_BUG_ON(HEAP_FIRST_NR_CLASSES && !HEAP_FIRST_POW2 &&
	     (HEAP_FIRST_MAX_SIZE + 15) >> 4 >= TINY_CLASS_TABLE_LEN);

/* Class of a request for which size_is_tiny(). */
static __always_inline unsigned int size_to_tiny_class(size_t size)
{
	if (HEAP_FIRST_POW2)
		return hk_log2((size - 1) | ((1UL << HEAP_FIRST_MIN_SHIFT) - 1)) -
		       (HEAP_FIRST_MIN_SHIFT - 1);
	return size_to_tiny_bin(size) / (sizeof(struct bin) / BIN_UNIT);
}

/*
 * Offset in heap_tls::bins of the bin of a request of at most
 * HEAP_MAX_SIZE bytes that is not Tiny's: above SMALL_LOOKUP_MAX it is
 * read as it is from hk_bin_coarse[] (no shift of a class number).
 */
static __always_inline unsigned int size_to_bin(size_t size)
{
	if (HEAP_MAX_SIZE <= SMALL_LOOKUP_MAX || likely(size <= SMALL_LOOKUP_MAX))
		return size_to_small_class(size) * sizeof(struct bin);
	return hk_bin_coarse[(size - 1) >> COARSE_LOOKUP_SHIFT];
}

static __always_inline unsigned int size_to_class(size_t size)
{
	if (likely(size_is_tiny(size)))
		return size_to_tiny_class(size);
	return size_to_bin(size) / sizeof(struct bin);
}

/* ------------------------------------------------------------------ */
/* Heap record and thread front                                       */
/* ------------------------------------------------------------------ */

struct heap_tls;

/*
 * Lists of a class's remote inbox (struct heap::inbox): the first
 * INBOX_LISTS - 1 hold at most a bin of the class, so that the owner's
 * refill takes one whole and unread; the last one takes what they do
 * not (heap.c, "Remote inbox"). Four: a class's words fill half a line.
 */
#define INBOX_LISTS		4

/*
 * Blocks a bin whose frees outran it holds before they go on to their
 * slabs together (heap_bin_pass()): their lines are still in L1.
 */
#define HEAP_PASS_BATCH		64U
/*
 * The same for a one-list bin (heap_bin_pass_one(), heap.c): malloc's
 * fast path hands out what the last frees of a run leave there.
 */
#define HEAP_PASS_BATCH_ONE	8U
/*
 * Blocks of one slab a run of a one-list bin's pass holds on average
 * for its next batch to be HEAP_PASS_BATCH (heap_pass_batch_one(), heap.c).
 */
#define HEAP_PASS_RUN_LONG	4U

/*
 * Most spare batches a heap keeps per class (CONFIG_HEAP_SPARE_KB bounds
 * their bytes, all classes together). Four until branch bin16k: a class
 * whose batches outgrow its bin could set aside four half-bins (8 MiB
 * of 16 KiB blocks) and sent the rest of every batch to its slabs and
 * back (bench_batch 16384 25 1600 0: 36,315 refills in 400 k pairs,
 * 1.12-1.18x tcmalloc's CPU time); with sixteen (and 32 MiB) one class
 * may use the whole byte bound, as one class may take a tcmalloc
 * thread's whole cache: 4,311 refills, 0.94-1.03x tcmalloc's CPU time
 * (Documentation/mid.md, "Spare batches"). A claim of a new slab sheds
 * other classes' batches down to a quarter of the bound
 * (heap_spare_shed()). 12 bytes a slot and class in the heap record
 * (20 with the double-free check).
 */
#define HEAP_SPARE_SLOTS	16
/*
 * Most spare batches of a class whose bin has not grown to its most
 * (limit_max): beyond them, only a class whose batches outgrow its
 * biggest bin sets more aside. With sixteen for every class, the big
 * classes' batches of one to three blocks (random_mixed 32768 262144
 * 200000 128 1) kept 1.5 MB more at the peak (39.9 against main's
 * 38.3 MB, 11 rounds); with this, 38.4.
 */
#define HEAP_SPARE_FEW		4U

/*
 * Only classes of blocks above 4 KiB (Mid's) set batches aside: their
 * bins hold 4 to 32 blocks and refill and flush every few operations of
 * a working set that misses the cache. Smaller classes' bins are long
 * (up to 128 blocks) and were measured slower with spare batches
 * (bench_batch 1024 25 1600 0: 1.20x the CPU time, the refilled older
 * halves colder than the blocks a slab hands out; bench_band_phases'
 * peak 22.3 to 23.9 MB): Documentation/mid.md, "Spare batches".
 */
#define HEAP_SPARE_MIN_SIZE	4097U

/*
 * Whole batches of free blocks of one class that flushes set aside
 * (struct heap::spare, CONFIG_HEAP_SPARE_KB): each a chain in bin state
 * (the blocks carry the bin's double-free key and count as used by their
 * slabs), ending as the bin's list it was cut from (HEAP_NIL), kept by
 * its head and its count so that neither setting it aside nor taking it
 * back reads its blocks.
 */
struct heap_spare {
	void *head[HEAP_SPARE_SLOTS];		/* chains, the next to take last */
#ifdef CONFIG_DOUBLE_FREE_CHECK
	uintptr_t top[HEAP_SPARE_SLOTS];	/* the key word of each chain's head (dfkey_at()) */
#endif
	uint32_t count[HEAP_SPARE_SLOTS];	/* blocks in each chain */
	uint32_t nr;				/* chains held */
#ifdef CONFIG_HEAP_PURGE
	uint32_t dirty;				/* bit i: chain i's pages may be resident (heap.c, "Purge") */
	uint32_t dirty_old;			/* bit i: and it was so at the heap's last purge pass */
#endif
#ifdef CONFIG_HEAP_SPARE_LIFO
	void *taken;				/* head of the chain taken last (NULL: none since the last look) */
	uint32_t ins;				/* where this free phase's next chain goes (SPARE_INS_NONE) */
	uint16_t lifo;				/* the free phases free the newest blocks first */
	uint16_t skip;				/* free phases left without a look */
#endif
};

/*
 * Words of heap_tls::filled, one bit per class. A bin gets blocks from a
 * refill, or from frees of blocks of this heap's slabs, which a refill of
 * the same class handed out: a class never refilled has an empty bin
 * (a heap taken over from an exited thread sets every bit).
 */
#define HEAP_FILLED_WORDS	((HK_CLASS_ARRAY + 8 * sizeof(long) - 1) / (8 * sizeof(long)))

/* Most empty slabs a heap keeps per class (CONFIG_HEAP_EMPTY_KB). */
#define HEAP_EMPTY_PER_CLASS	4U

/*
 * A refill about to claim a new slab sweeps the parked records after
 * remote frees went to one, at most once per HEAP_SWEEP_MIN_MS, and only
 * those parked at least HEAP_SWEEP_AGE_MS (heap.c, heap_parked_reclaim()).
 */
#define HEAP_SWEEP_MIN_MS	10
#define HEAP_SWEEP_AGE_MS	10

/*
 * The record is laid out by who writes and who reads (Documentation/
 * architecture.md, "Cache lines of a remote free"). Every free of a
 * block of h's slabs by another thread reads h->tag (the owner's
 * block-start test, heap_free_other()): tag sits in a line that only a
 * thread taking or leaving the record writes (under heap_lock), so that
 * the freeing thread keeps it cached. Before, it shared a line with
 * unread_top[0..6], which the owner writes at each remote list it takes
 * unread: a miss of the freer after each such take. notify, which other
 * threads push to and the owner swaps, has a line of its own, and the
 * owner's fields (all the others) are in lines neither of those share
 * (BUILD_BUG_ON()s below).
 */
struct heap {
	struct slab *partial[HK_CLASS_ARRAY];	/* slabs with free blocks, not current */
	struct slab *empty;			/* kept empty slabs (CONFIG_HEAP_EMPTY_KB), newest first, through next/prev */
	struct slab *empty_last;		/* the oldest of them */
	size_t empty_bytes;			/* their slots' bytes */
	uint8_t empty_nr[HK_CLASS_ARRAY];	/* how many of them are of each class */
	struct bin saved[HK_CLASS_ARRAY];	/* bins of the thread that exited, for the next one */
	size_t saved_grown;			/* their cache_grown */
	struct heap_spare spare[HK_CLASS_ARRAY];	/* whole batches set aside by flushes, per class */
	size_t spare_bytes;			/* bytes of blocks in spare[] */
#ifdef CONFIG_HEAP_PURGE
	unsigned long purge_epoch;		/* decay epoch of its last purge pass (heap.c, "Purge") */
#endif
#ifdef CONFIG_DOUBLE_FREE_CHECK
	uintptr_t unread_top[HK_CLASS_ARRAY];	/* per class: the top of the places of the last list taken unread (0: none yet) */
	uint16_t unread[HK_CLASS_ARRAY];	/* per class: how many places below it still take a block of that list (bin_unread_take()) */
#endif
	struct slab *partial_last[HK_CLASS_ARRAY];	/* the last slab of each list of partial[] */
#ifdef CONFIG_HEAP_REMOTE_INBOX
	void *inbox_rest[HK_CLASS_ARRAY];	/* per class: what a refill left of an inbox taken (HEAP_NIL-ended) */
	uint32_t inbox_rest_n[HK_CLASS_ARRAY];	/* per class: its blocks */
#endif
#ifdef CONFIG_HEAP_INBOX_STEAL
	void *stolen[HK_CLASS_ARRAY];		/* per class: an idle owner's inbox list taken for a claim (HEAP_NIL-ended) */
	uint32_t stolen_n[HK_CLASS_ARRAY];	/* per class: its blocks not handed out yet */
	uint32_t stolen_nr;			/* classes whose stolen list holds blocks */
#endif
	/* --- read by every remote free; written at thread start and exit only --- */
	uint32_t tag __aligned(L1_CACHE_BYTES);	/* owner tag of its slabs (SLAB_TAG_NONE: none, superslab.h) */
	int alive;				/* a thread uses this record */
	struct heap_tls *tls;			/* front of the thread using it (NULL if none) */
	struct heap *all_next;			/* list of every heap record */
	struct heap *parked_next;		/* list of records of exited threads */
	struct heap **parked_pprev;		/* the link to it in that list (NULL: not on it) */
	unsigned long parked_ms;		/* os_now_ms() when it was parked (heap_parked_reclaim()) */
	/* --- written by other threads (notify_push()) and by the owner --- */
	struct slab *notify __aligned(L1_CACHE_BYTES);	/* atomic: slabs that got remote frees while full */
#ifdef CONFIG_HEAP_RBATCH_HUNGRY
	/*
	 * atomic, written by the owner only: the classes it carved fresh
	 * memory for since its last flush of their bins (heap.c, "Hungry
	 * owners"); the refill reads notify just before its carve
	 */
	unsigned long hungry[HEAP_FILLED_WORDS];
#endif
#ifdef CONFIG_STATS
	/* (written at thread exit only: any line will do) */
	unsigned long stats[NR_HK_STATS];	/* counters of the threads that exited */
#endif
#ifdef CONFIG_HEAP_REMOTE_INBOX
	/*
	 * atomic, pushed by other threads, swapped by the owner: per class,
	 * INBOX_LISTS lists of the blocks of pushed remote batches (heap.c,
	 * "Remote inbox"), each the newest batch's head in the low 48 bits
	 * and the list's count above; all but the last hold at most the
	 * class's bin limit (inbox_list_max())
	 */
	uintptr_t inbox[HK_CLASS_ARRAY][INBOX_LISTS] __aligned(L1_CACHE_BYTES);
#endif
} __aligned(L1_CACHE_BYTES);

/* An inbox word (struct heap::inbox): the list's head and its count. */
#define INBOX_PTR_BITS		48
#define INBOX_PTR(w)		((void *)((w) & ((1UL << INBOX_PTR_BITS) - 1)))
#define INBOX_COUNT(w)		((uint32_t)((w) >> INBOX_PTR_BITS))
#define INBOX_MAX		((1U << (64 - INBOX_PTR_BITS)) - 1)

/* The most blocks list k of an inbox of class cls holds. */
static inline uint32_t inbox_list_max(unsigned int cls, unsigned int k)
{
	return k + 1 < INBOX_LISTS ? hk_classes[cls].limit : INBOX_MAX;
}

/*
 * tag and notify each start a line, and nothing the owner writes as it
 * allocates and frees lies past tag (meta_alloc() aligns the record):
 * the line of tag holds the read-mostly fields alone, and the one of
 * notify nothing else that changes as often (stats: at thread exit).
 */
BUILD_BUG_ON(offsetof(struct heap, tag) % L1_CACHE_BYTES != 0);
BUILD_BUG_ON(offsetof(struct heap, parked_pprev) + sizeof(struct heap **) >
	     offsetof(struct heap, tag) + L1_CACHE_BYTES);
BUILD_BUG_ON(offsetof(struct heap, notify) != offsetof(struct heap, tag) + L1_CACHE_BYTES);
#ifdef CONFIG_HEAP_RBATCH_HUNGRY
BUILD_BUG_ON(offsetof(struct heap, hungry) + sizeof(((struct heap *)0)->hungry) >
	     offsetof(struct heap, notify) + L1_CACHE_BYTES);
#endif
#ifdef CONFIG_DOUBLE_FREE_CHECK
BUILD_BUG_ON(offsetof(struct heap, unread) + sizeof(((struct heap *)0)->unread) >
	     offsetof(struct heap, tag));
#endif


/*
 * Bytes by which a thread's bins may grow beyond their classes' initial
 * limits, all classes together (see heap_bin_flush()).
 */
extern size_t heap_cache_budget;

/*
 * Most bytes a thread's bins hold, all classes together (0: no bound);
 * checked where a bin refills, grows or flushes (heap_cache_check()).
 */
extern size_t heap_cache_max;

/*
 * Most bytes of slots a heap keeps in empty slabs (CONFIG_HEAP_EMPTY_KB,
 * scaled by tcache_pct=; tests lower it).
 */
extern size_t heap_empty_max;

/*
 * Most bytes of blocks a heap keeps in spare batches (CONFIG_HEAP_SPARE_KB,
 * scaled by tcache_pct=; tests lower it).
 */
extern size_t heap_spare_max;

/* CONFIG_HEAP_PURGE's blocks: from 16 KiB, three whole pages at least past the first. */
#define HEAP_PURGE_MIN_SIZE	16384U
/*
 * The purge pass of h (the caller's own record): the free big blocks
 * that were there at the last pass have their pages returned.
 */
void heap_purge_tick(struct heap *h);

/*
 * A thread's remote frees of one slab not yet pushed on its remote list
 * (heap.c, "Remote batches"): linked through the blocks, which hold the
 * slab's double-free key ^ DFKEY_IN_BATCH until the push gives them the
 * key, and count as used by the slab.
 */
/* Blocks a batch holds at most before its push. */
#define HEAP_RBATCH_MAX		32

/*
 * With the double-free check the push reads every block of the batch
 * (rbatch_seal()): lines this thread wrote up to a thousand frees
 * before, mostly out of its L1 by then. Followed link by link, each
 * load waited for the last (an eighth of bench_xmalloc's consumer's
 * time); the batch notes the newest block of each run of
 * HEAP_RBATCH_SEG blocks (heap_rbatch::seg, below), so that the push
 * follows the runs side by side, HEAP_RBATCH_SEGS loads in flight.
 */
#define HEAP_RBATCH_SEG		8
#define HEAP_RBATCH_SEGS	(HEAP_RBATCH_MAX / HEAP_RBATCH_SEG)

struct heap_rbatch {
	union {
		struct slab *slab;	/* the blocks' slab (NULL: the batch is empty) */
		struct heap *owner;	/* CONFIG_HEAP_REMOTE_INBOX: the blocks' slabs' owner */
	};
	void *head;			/* the block freed last (the list's head) */
	void *tail;			/* the block freed first: linked at the push */
	uint32_t n;			/* blocks in the batch (+ HEAP_RBATCH_MAX - max: rbatch_count()) */
	uint32_t max;			/* pushed at this many (CONFIG_HEAP_RBATCH_BYTES) */
#if defined(CONFIG_DOUBLE_FREE_CHECK) && !defined(CONFIG_DOUBLE_FREE_OWNER_READ)
	void *seg[HEAP_RBATCH_SEGS];	/* the newest block of each run of HEAP_RBATCH_SEG (rbatch_note()) */
#endif
};

/* A thread's stash of other heaps' blocks of one class (heap.c, "Foreign stash"). */
#define HEAP_FSTASH_MAX		16u	/* blocks a class's stash holds at most */
#define HEAP_FSTASH_BYTES	4096u	/* ... and bytes of blocks */

struct heap_fstash {
	void *head;			/* the block stashed last; linked to the older ones, the oldest to HEAP_NIL */
	uint32_t n;			/* blocks on the stash */
};

struct heap_tls {
	struct bin bins[HK_CLASS_ARRAY];	/* per-class front */
	struct slab *cur[HK_CLASS_ARRAY];	/* slab each class refills from */
	struct heap *heap;		/* this thread's record (NULL before first use) */
	struct heap *hint;		/* record to adopt: see heap_adopt_on_free() */
	uintptr_t dfkey;		/* copy of hk_dfkey (set when the heap starts) */
	uintptr_t flkey;		/* copy of hk_flkey (set when the heap starts) */
	size_t cache_grown;		/* bytes the bins grew beyond their classes' limits */
	size_t cache_cap;		/* bytes the filled classes' bins hold at their limits (heap_cache_cap_count()) */
	unsigned long cache_counts;	/* counts of what the bins hold (heap_cache_check()) */
	unsigned long filled[HEAP_FILLED_WORDS];	/* classes whose bin was ever refilled (heap_cache_held() counts these) */
	unsigned int ticks;		/* refills and flushes, for heap_tick() */
	unsigned long outran[HEAP_FILLED_WORDS];	/* classes whose frees outran their grown bin: no growth until the next refill */
#if CONFIG_HEAP_IDLE_TICKS
	unsigned long active[HEAP_FILLED_WORDS];	/* classes refilled or flushed since the last idle look (heap_idle_scan()) */
	uint32_t idle_sig[HK_CLASS_ARRAY];	/* per bin: its counters at the last idle look */
#endif
	int32_t burst_base[HK_CLASS_ARRAY];	/* per bin: 0, or 1 + room at the last swap of a grown bin: heap_bin_overflow() counts malloc's pops since */
	struct boxes_tls boxes;		/* the boxes' own per-thread state (mm/boxes.h) */
	struct heap_rbatch rbatch[HK_CLASS_ARRAY];	/* per class: remote frees not yet pushed */
	unsigned int rbatch_nr;		/* batches not empty */
#ifdef CONFIG_HEAP_FOREIGN_STASH
	struct heap_fstash fstash[HK_CLASS_ARRAY];	/* per class: other heaps' blocks this thread freed, for its mallocs */
	unsigned int fstash_nr;		/* blocks on all stashes */
#endif
#ifdef CONFIG_HEAP_RBATCH_HUNGRY
	unsigned long rbatch_on[HEAP_FILLED_WORDS];	/* classes whose batch was started since a look found it empty */
	void *rbatch_seen[HK_CLASS_ARRAY];	/* per class: its batch's head at the last look (heap_rbatch_hungry_push()) */
#endif
#if defined(CONFIG_MID_LEND) || defined(CONFIG_HEAP_LEND_SMALL)
	int lend_held;			/* nonzero: realloc's new block, borrowed from no larger class (heap_alloc_lend(), heap_alloc_lend_small()) */
#endif
#ifdef CONFIG_MID_LEND
	unsigned long lend_probes;	/* mincore calls of heap_lend_resident() (tests) */
#endif
#ifdef CONFIG_STATS
	unsigned long stats[NR_HK_STATS];	/* this thread's counters */
#endif
};

extern __hk_tls struct heap_tls hk_tls;

/*
 * The fast paths reach the front through its offset from the thread
 * pointer (hk_tp_offset(), hk_tp_ptr(): asm/tls.h), which is the same in
 * every thread: malloc adds the class to it, free reads it from the slab
 * (slab::bin_tpoff), and neither computes an address in TLS.
 *
 * A pointer of the fast paths is aligned to a word, not to the bin's 64
 * bytes: free's view of a one-list class's bin lies BIN_LIFO_SHIFT bytes
 * below it, and a struct bin there would be a misaligned object
 * (undefined behaviour; clang's -fsanitize=alignment aborted the asan
 * suites in every configuration without CONFIG_THREADS, where these are
 * plain pointers, not %fs ones: randconfig KCONFIG_SEED=0x4578e21c). The
 * machine code is the same (x86_64 and aarch64 defconfig, libhakmem.so
 * disassembled before and after).
 */
typedef struct bin __hk_tp_seg __aligned(__alignof__(void *)) tp_bin_t;
typedef struct heap_tls __hk_tp_seg tp_heap_tls_t;

static __always_inline uintptr_t heap_tls_tpoff(void)
{
	return hk_tp_offset(hk_tls);
}

/*
 * Is the bin of class cls split in two lists (struct bin)? Its slabs'
 * bin_tpoff says so to free (slab_new()); a class's initial limit is set
 * before any slab of it.
 */
static inline int heap_class_split(unsigned int cls)
{
	return IS_ENABLED(CONFIG_HEAP_SPLIT_BINS) && hk_classes[cls].limit >= HEAP_SPLIT_MIN_LIMIT;
}

/* The offset of the calling thread's bin of class cls (any thread's). */
static __always_inline uintptr_t heap_bin_tpoff(unsigned int cls)
{
	return heap_tls_tpoff() + offsetof(struct heap_tls, bins) + (uintptr_t)cls * sizeof(struct bin);
}

static __always_inline tp_bin_t *tp_bin(uintptr_t tpoff)
{
	return hk_tp_ptr(struct bin, tpoff);
}

/*
 * The calling thread's remote batch of class cls (heap.c, "Remote
 * batches"), through the thread pointer as the bins are: its address in
 * TLS computed once per use made heap_free_remote() reload the thread
 * pointer three times per free.
 */
typedef struct heap_rbatch __hk_tp_seg tp_rbatch_t;

static __always_inline tp_rbatch_t *tp_rbatch(unsigned int cls)
{
	return hk_tp_ptr(struct heap_rbatch, heap_tls_tpoff() + offsetof(struct heap_tls, rbatch) +
			 (uintptr_t)cls * sizeof(struct heap_rbatch));
}

/*
 * With CONFIG_HEAP_RBATCH_BYTES a batch of a class bounded to max blocks
 * (struct size_class::rbatch, noted in the batch when it starts) counts
 * from HEAP_RBATCH_MAX - max + 1, so that every batch is full at
 * HEAP_RBATCH_MAX and the free's fast test compares with the constant,
 * as without the bound; the blocks it holds are rbatch_count().
 */
static __always_inline uint32_t rbatch_count(const struct heap_rbatch *rb)
{
	return CONFIG_HEAP_RBATCH_BYTES ? rb->n - (HEAP_RBATCH_MAX - rb->max) : rb->n;
}

/* The blocks a remote batch of class cls holds at most. */
static __always_inline unsigned int class_rbatch_max(unsigned int cls)
{
	return CONFIG_HEAP_RBATCH_BYTES ? hk_classes[cls].rbatch : HEAP_RBATCH_MAX;
}

/* Class cls's remote frees are pushed one by one (CONFIG_HEAP_RBATCH_BYTES). */
static __always_inline int rbatch_one(unsigned int cls)
{
	return CONFIG_HEAP_RBATCH_BYTES && hk_classes[cls].rbatch <= 1;
}

/*
 * seg[k] of a batch is the newest of its blocks k * HEAP_RBATCH_SEG ..
 * (k + 1) * HEAP_RBATCH_SEG - 1, read by the push of a full batch only
 * (rbatch_seal()). In the batch's own record: the free's store goes to
 * the line it writes anyway, through the thread pointer (until the
 * forty-first session an array of its own in .tbss, whose address took
 * a load from the GOT and two instructions more per free).
 */
#if defined(CONFIG_DOUBLE_FREE_CHECK) && !defined(CONFIG_DOUBLE_FREE_OWNER_READ)
/* Block p is batch rb's block number i (from 0, the first freed): note it for the push. */
static __always_inline void rbatch_note(tp_rbatch_t *rb, uint32_t i, void *p)
{
	rb->seg[i / HEAP_RBATCH_SEG] = p;
}
#else
static __always_inline void rbatch_note(tp_rbatch_t *rb, uint32_t i, void *p) { }
#endif

#ifdef CONFIG_STATS
#define STAT_INC_TLS(item)	(hk_tls.stats[item]++)
#else
#define STAT_INC_TLS(item)	do { } while (0)
#endif

/* ------------------------------------------------------------------ */
/* Free-list links (CONFIG_FREELIST_HARDENED)                         */
/* ------------------------------------------------------------------ */

/*
 * With CONFIG_VALGRIND a free block is no-access to memcheck: every
 * helper below that reads or writes one of its words opens that word
 * (vg_open) and closes it again (vg_close), so that the allocator's own
 * accesses raise no report and the program's still do. The fast paths
 * (bin_pop, heap_free_local) open both words at once and use the raw
 * helpers. Without the box the hooks are empty.
 */
#define FL_WORD			sizeof(uintptr_t)
#define FL_WORDS		(2 * sizeof(uintptr_t))

/*
 * The first word of a free block links it to the next one. Hardened, it
 * holds next ^ ((its own address >> 12) << 4) ^ a per-process secret, as
 * glibc's safe-linking does with the address alone. The secret's low four
 * bits are all ones and the position term's are zero, so a true link (a
 * 16-byte aligned block) is stored with its low four bits set: a
 * use-after-free write of a plain aligned address decodes to a
 * misaligned one and is reported before it is followed, every time. A
 * forged link must also land on a block carrying the double-free key
 * (with CONFIG_DOUBLE_FREE_CHECK) to be handed out.
 */
extern uintptr_t hk_flkey;

/* A free list holds a block twice (or a corrupted one): report, abort. */
__noreturn __cold void heap_free_list_corrupt(const void *p);
#ifdef CONFIG_DOUBLE_FREE_CHECK
/* p is no block start of a live slab: report a block its slab emptied with (heap.c). */
void heap_check_released(const void *p);
#else
static inline void heap_check_released(const void *p) { }
#endif

#ifdef CONFIG_FREELIST_HARDENED
static __always_inline uintptr_t fl_mask(const void *p, uintptr_t key)
{
	return (((uintptr_t)p >> 12) << 4) ^ key;
}

/* The raw link of p, decoded (check it with fl_bad()). */
static __always_inline uintptr_t fl_raw_next(const void *p, uintptr_t key)
{
	return *(const uintptr_t *)p ^ fl_mask(p, key);
}

/* Nonzero if a decoded link is not 16-byte aligned. */
static __always_inline uintptr_t fl_bad(uintptr_t next)
{
	return next & 15;
}

static __always_inline void fl_put(void *p, const void *next, uintptr_t key)
{
	*(uintptr_t *)p = (uintptr_t)next ^ fl_mask(p, key);
}
#else
static __always_inline uintptr_t fl_raw_next(const void *p, uintptr_t key)
{
	return *(const uintptr_t *)p;
}

static __always_inline uintptr_t fl_bad(uintptr_t next)
{
	return 0;
}

static __always_inline void fl_put(void *p, const void *next, uintptr_t key)
{
	*(const void **)p = next;
}
#endif

/* ------------------------------------------------------------------ */
/* The end of a bin's list (CONFIG_DOUBLE_FREE_CHECK)                 */
/* ------------------------------------------------------------------ */

/*
 * With the double-free check, an empty list of a bin (struct bin's free
 * and put) is not NULL but HEAP_NIL, a static block whose two words are
 * all ones, and every list in a bin ends in a link to it. malloc's pop
 * reads the head's link and key word and compares the key word with
 * free_at (DFKEY_POP_BAD()) before anything else: HEAP_NIL's word is
 * never a counter (the bins' words lie in [2^61, 2^63), a bin before its
 * thread's first malloc has 0) and its link is misaligned (fl_bad()), so
 * the compare that checks the key sends an empty list to the slow
 * branch too, and the pop needs no test of the head for NULL
 * (heap_alloc_at()). The front's bins are initialised data (hk_tls,
 * heap.c) so that they hold HEAP_NIL before the thread's first malloc.
 *
 * The slow paths see lists as before, NULL-terminated: fl_next() gives
 * NULL for a link to HEAP_NIL, bin_list() gives NULL for an empty list,
 * and every store of an empty list or a list's last link into a bin
 * writes HEAP_NIL (bin_end(), fl_set_next(p, HEAP_NIL)). Chains that
 * may go into a bin without being read end in it too: a slab's remote
 * list (taken whole unread, slab_remote_to_bin()) and spare batches
 * (cut from a bin's list). A slab's local list may end in either.
 *
 * Without the check there is no compare to reuse: HEAP_NIL is NULL, the
 * pop tests the head, and all of this folds away.
 */
#ifdef CONFIG_DOUBLE_FREE_CHECK
struct heap_nil {
	uintptr_t link;			/* ~0: a misaligned link (fl_bad()) */
	uintptr_t key;			/* ~0: never a bin's counter */
};
extern const struct heap_nil hk_heap_nil;
#define HEAP_NIL		((void *)&hk_heap_nil)
#else
#define HEAP_NIL		NULL
#endif

/* A bin's list head as the slow paths see it: NULL if the list is empty. */
static inline void *bin_list(const void *head)
{
	return head == HEAP_NIL ? NULL : (void *)head;
}

/* What a bin stores for the list p (NULL: empty). */
static inline void *bin_end(const void *p)
{
	return p ? (void *)p : HEAP_NIL;
}

/*
 * Slow paths: the link of p, checked (aborts on a bad one); NULL at the
 * end of a list, whether it ends in NULL or in HEAP_NIL.
 */
static inline void *fl_next(const void *p)
{
	uintptr_t next;

	vg_open(p, FL_WORD);
	next = fl_raw_next(p, hk_flkey);
	vg_close(p, FL_WORD);

	if (next == (uintptr_t)HEAP_NIL)
		return NULL;
	if (unlikely(fl_bad(next)))
		heap_free_list_corrupt(p);
	return (void *)next;
}

static inline void fl_set_next(void *p, const void *next)
{
	vg_open(p, FL_WORD);
	fl_put(p, next, hk_flkey);
	vg_close(p, FL_WORD);
}

/* ------------------------------------------------------------------ */
/* The double-free key (CONFIG_DOUBLE_FREE_CHECK)                     */
/* ------------------------------------------------------------------ */

/*
 * Every free block carries a key word in its second word. On its slab's
 * local list it holds the slabs' per-process random key hk_dfkey ^
 * DFKEY_ON_SLAB; on a slab's remote list or an UltraHot stack, hk_dfkey.
 * In a bin its word is positional: each of a bin's lists (struct bin) has
 * a counter, the word of its head (free_at, put_at), and the block below
 * a head holds one more than the head. free() pushes with the word one
 * below put's head (put_at - 1, then put_at moves there: one load, one
 * subtraction, two stores, no read of the block); malloc's pop compares
 * the block's word with free_at and adds one to free_at, and writes
 * nothing into the block, which leaves it with its word: a block handed
 * out and not written since still holds it. hk_dfkey has its top bit set
 * and the bins' words lie below 2^63 (dfkey_bin_base()), so no word of a
 * bin is ever the slabs' key or its mark.
 *
 * A block freed twice is linked at two places (of the bin's lists, or of
 * a bin and a spare batch, a remote list or an UltraHot stack) and holds
 * the word of the place it was put at last. Places that are linked at
 * the same time never expect the same word: free's pushes go below put's
 * head, which after a swap is below everything on malloc's list; a
 * refill, a join and a burst's reorder (heap.c) only fill an empty list
 * or put blocks on top of malloc's, writing the words of their places;
 * spare batches keep the words they were cut with, above every place the
 * bin fills until the batch is taken back (heap.c, "Bins' counters").
 * So the pop (or the flush, drain or trim, which check the same words)
 * that reaches the other place finds a word that is not its own and
 * aborts, before the block is handed out a second time: A, A (the block
 * links to itself: the second pop expects one more than the first), A,
 * B, A (two more), A freed while on malloc's list (free's word is below
 * malloc's list). A copy in a spare batch is checked when the batch is
 * popped or given back to its slabs (malloc_trim(), a batch too long for
 * its bin), so later than a flush to the slabs would find it, still
 * before the block is handed out twice.
 *
 * The word stays in a block handed out from a bin, so the word alone no
 * longer tells a free block from a used one that the program has not
 * written: a remote free (of another thread's block) still reads the
 * word and reports a block on a slab's list or a remote list (hk_dfkey
 * or its mark) at once, and one its slab has not carved (at or past the
 * bump: its slab emptied and was set up anew); one that is still in its
 * owner's bin gets hk_dfkey and is found by the owner's pop or flush
 * instead, which expect the word of its place. A block in a bin holds
 * hk_dfkey only at a place of a remote list taken into it unread
 * (slab_remote_to_bin()), whose words are of a band of their own
 * (dfkey_range_top()): the pop takes the key there only
 * (heap_pop_slow_at(), heap_pop_slow()). Until branch dfuzz the pop took any block holding
 * hk_dfkey, the remote double free of a block in its owner's bin
 * included: handed out twice (tests/dfuzz); from branch dfuzz to branch
 * xrekey every list was walked and rekeyed instead.
 *
 * Not detected (tests/dfuzz, about 1 case in 1500 of the owner's second
 * frees): the owner's second free of a block whose slab emptied, went
 * back to its pool and was set up again by the same thread for the same
 * class before the free, the block not carved yet. free stores a word
 * and reads nothing, so the block enters the bin as if carved; the
 * carve hands it out again later. A check would cost free a load of the
 * slab's bump pointer on its fast path.
 *
 * The owner's second free of a block already back on its slab's list
 * puts it in the bin too, and the pop hands it out: the slab counts it
 * as free, so it can empty with the block live. Every block an emptied
 * slab carved is read (its word must be the list's mark) before the
 * block is carved again or its bytes go to another use; until branch
 * dfmid the slab, set up anew, carved the live block again (tests/dfuzz,
 * about 1 case in 1000, mostly Mid blocks). Where (heap.c,
 * dfkey_slab_all_free()): a slab carved again from its start (a kept
 * slab, slab_recarve(); a slot claimed back by the same class) reads
 * each such block as the carve reaches it, below slab::check_end
 * (dfkey_carve_check()); a slab of one slot given back to its pool is
 * read by whatever uses the slot next (SLAB_UNSWEPT: another class's
 * claim, a decommit, an unmap: ss_slot_sweep()), and a free, a
 * malloc_usable_size() or a realloc() of a block start in such a slot
 * is reported (heap_check_released(); until the thirty-third session
 * the last two answered 0, a foreign pointer, and the program went on
 * with a block of size 0: tests/dfuzz seed 33880); a slab of several
 * slots is read when it goes back. Until branch treefree every slab was
 * read whole when it went back or was carved again. A block so found is
 * reported when the slot is used again or the program hands the block
 * back, not when its slab empties: the live block is never handed out
 * twice, and a program that exits first is not told.
 */
#define DFKEY_ON_SLAB		1UL

/*
 * A block in a thread's remote batch (heap.c, "Remote batches"), not yet
 * on its slab's remote list, holds the key ^ DFKEY_IN_BATCH; the push
 * gives it the key (rbatch_seal()). The owner takes no block holding it.
 */
#define DFKEY_IN_BATCH		2UL

/* (w ^ the key) at most this: a free block of a slab's or a remote list, or of a batch. */
#define DFKEY_MARKS		(DFKEY_ON_SLAB | DFKEY_IN_BATCH)

/*
 * Per-process key written into freed blocks, drawn by the double-free
 * check's box (mm/guard/double_free.c); without it no slab has a key.
 */
#ifdef CONFIG_DOUBLE_FREE_CHECK
extern uintptr_t hk_dfkey;
#else
#define hk_dfkey		((uintptr_t)0)
#endif

/*
 * malloc's pop of p, the head of its bin, failed the fast checks (a bad
 * link, a key word out of place): reports it (heap_free_list_corrupt()).
 * Reached with a tail call: malloc needs no stack frame of its own.
 */
__cold void *heap_pop_slow(void *p);
/*
 * The same from heap_alloc_at()'s pop, which read p from the head of the
 * bin at thread-pointer offset off: no lookup of p's slab to find its
 * bin (heap.c).
 */
__cold void *heap_pop_slow_at(void *p, uintptr_t off);

#ifdef CONFIG_DOUBLE_FREE_CHECK
/* The key of a new slab. */
static inline uintptr_t dfkey_of_slab(void)
{
	return hk_dfkey;
}

static __always_inline uintptr_t *dfkey_word(void *p)
{
	return &((uintptr_t *)p)[1];
}

/*
 * Leaving a bin or UltraHot stack for the program: the key (the thread's
 * copy, hk_tls.dfkey) is subtracted from the block's key word, which is
 * then 0 if it held the key (forgotten) and nonzero otherwise: the caller
 * reports that. On x86_64 that is one subtraction into memory and a
 * branch on its flags (hk_sub_nz()), where a load, a compare and a store
 * of 0 took three instructions.
 */
static __always_inline int dfkey_take(void *p, uintptr_t key)
{
	return hk_sub_nz(dfkey_word(p), key);
}

/*
 * The slabs' key has its top bit set (mm/guard/double_free.c); the words
 * a bin gives its blocks start at dfkey_bin_base(), in [2^62 + 2^60,
 * 2^62 + 2^61), and move by one per free or malloc: in [2^62, 2^63) for
 * longer than any process lives (2^60 frees of one class), so a block in
 * a bin, or handed out from one and not written since, never holds the
 * slab's key or its marks (DFKEY_ON_SLAB), the floors' signed compare on
 * free's fast path never wraps, and no such word is ever one of the
 * places of a remote list taken unread (below 2^62, dfkey_range_top()).
 */
#define DFKEY_SLAB_BIT		(1UL << 63)

/*
 * The bands' words take their low bits from the key, flipped in every
 * other bit from bit 57 down (DFKEY_BAND_FLIP), not as they are: a block
 * handed out keeps its word, and a program that writes only the top byte
 * of its block's second word (the last byte of a 16-byte request) made
 * the word of a band's first place, whose low 60 bits were the key's,
 * into the key itself once in 256 such writes: its remote free then
 * reported a double free (tools/bench/remote_cost SAME=1: 13 runs of
 * 1000, blocks at the end of a carve batch). Flipped, a band's start
 * differs from the key in its low 56 bits by 2^54 or more either way
 * (the flips from bit 55 down sum to at least 2^55 - 2^55 / 3), farther
 * than any word of the band moves: a program's store into the top byte
 * cannot make one of them the key.
 */
#define DFKEY_BAND_FLIP		0x02aaaaaaaaaaaaaaUL

static inline uintptr_t dfkey_bin_base(void)
{
	return (1UL << 62) | (1UL << 60) | ((hk_dfkey ^ DFKEY_BAND_FLIP) & ((1UL << 60) - 1));
}

/*
 * A remote list taken whole into a bin goes in unread
 * (slab_remote_to_bin()): its blocks keep the slabs' key, and its places
 * get the words just below a top in [2^61, 2^62), the band of such
 * lists: dfkey_range_top() for a heap's first list of a class, then
 * DFKEY_UNREAD_STEP lower for each next one (heap::unread_top, heap.c,
 * bin_free_top_unread()). The places of the list that still hold its
 * blocks take a block holding the key (bin_unread_take(), heap.c);
 * every other place only its own word, as before. No block's word is
 * ever that of a place of a later list: a split bin gives no block a
 * word of the band (the pop of such a place writes 0, heap_pop_slow_at();
 * the slow paths give the list words of the bins' own band before they
 * put blocks above it, bin_unrange() in heap.c), and a one-list bin's
 * frees on top of such a list take words less than a step below its
 * top (its places and the bin's room: at most 2 * 65535). After 2^43
 * lists of a class a heap's top starts again at dfkey_range_top().
 * Documentation/architecture.md, "The remote list goes to the bin
 * whole".
 */
static inline uintptr_t dfkey_range_top(void)
{
	return (1UL << 61) | (1UL << 60) | ((hk_dfkey ^ DFKEY_BAND_FLIP) & ((1UL << 59) - 1));
}

#define DFKEY_UNREAD_STEP	(1UL << 17)

/* Is a counter at w in the band of such lists (one taken unread, or just used up)? */
static inline int dfkey_ranged(uintptr_t w)
{
	return w < (1UL << 62);
}

/* Is the key word of p, the head of b's free list, not the one its place calls for? */
#define DFKEY_POP_BAD(b, p)	(*dfkey_word(p) != (b)->free_at)
/* The same for p, the head of b's put list. */
#define DFKEY_POP_BAD_PUT(b, p)	(*dfkey_word(p) != (b)->put_at)

/*
 * Free's push of p onto b's put list: its word is one less than the
 * head's, and put_at moves there; nonzero if free's share of the room
 * is spent (put_at below put_floor). p's words are open (vg_open()).
 */
#define BIN_PUSH_SPENT(b, p)	({						\
	uintptr_t __n = (b)->put_at - 1;					\
										\
	*dfkey_word(p) = __n;							\
	vg_close((p), FL_WORDS);						\
	(b)->put_at = __n;							\
	(intptr_t)__n < (intptr_t)(b)->put_floor;				\
})

/*
 * malloc takes put whole (heap_alloc_at(), bin_swap()): put's head is
 * free's head now, and free's next push goes on below it; free gets
 * malloc's share of the room with it (what the pops gave back: the next
 * frees may use it all), as without the check.
 */
#define BIN_SWAP_COUNTS(b)	do {						\
	uintptr_t __at = (b)->put_at;						\
										\
	(b)->put_floor -= (b)->free_at - (b)->free_floor;			\
	/* (two stores, not one 16-byte store built in vector registers) */	\
	__asm__ __volatile__("" ::: "memory");					\
	(b)->free_at = __at;							\
	(b)->free_floor = __at;							\
} while (0)

/* Freed by the owner into an UltraHot stack: store only. */
static __always_inline void dfkey_put(const struct slab *s, void *p)
{
	*dfkey_word(p) = s->dfkey;
}

/*
 * Has s carved p since its bump was set (slab_new(), slab_recarve())?
 * The owner's checks of a block given back to its slab. The bump lies on
 * the slab record's second line, which the owner's free and the splice
 * onto the slab's list (heap_free_local_run()) do not read: a slab
 * carved to its end says so in its first line (SLAB_CARVED, set by
 * slab_carve(), cleared where the bump is set again), and only a slab
 * still carving reads the bump. Without it, each block a flush or a pass
 * (heap_bin_pass()) gave back read that line: in a churn of 70 MB of
 * blocks never touched, 0.17 D1 read misses per operation
 * (Documentation/benchmarks.md, "thirteenth session"). A remote free
 * reads the bump itself (dfkey_remote_free(): the owner may be carving).
 */
static __always_inline int slab_carved(const struct slab *s, const void *p)
{
	return (s->flags & SLAB_CARVED) || (const char *)p < s->bump;
}

/* From a bin, an UltraHot stack or the remote list to the slab's list. */
static inline void dfkey_to_slab(const struct slab *s, void *p)
{
	vg_open(dfkey_word(p), FL_WORD);
	/*
	 * Not carved (at or past the bump): freed after its slab emptied
	 * and was set up anew, it would count as a used block given back
	 * (tests/dfuzz: a live block handed out again once the count ran
	 * out early).
	 */
	if (unlikely(*dfkey_word(p) != s->dfkey || !slab_carved(s, p)))
		heap_free_list_corrupt(p);
	*dfkey_word(p) = s->dfkey ^ DFKEY_ON_SLAB;
	vg_close(dfkey_word(p), FL_WORD);
}

/* From the slab's list to a bin. */
static inline void dfkey_to_bin(const struct slab *s, void *p)
{
	vg_open(dfkey_word(p), FL_WORD);
	if (unlikely(*dfkey_word(p) != (s->dfkey ^ DFKEY_ON_SLAB)))
		heap_free_list_corrupt(p);
	*dfkey_word(p) = s->dfkey;
	vg_close(dfkey_word(p), FL_WORD);
}

/* A new block carved for a bin, at the place whose word is w. */
static inline void dfkey_carve(const struct slab *s, void *p, uintptr_t w)
{
	vg_open(dfkey_word(p), FL_WORD);
	*dfkey_word(p) = w;
	vg_close(dfkey_word(p), FL_WORD);
}

/* Is block p of s free (in a bin, a stack, a remote or local list)? */
static inline int dfkey_is_free(const struct slab *s, void *p)
{
	const struct bin *b = &hk_tls.bins[s->class_idx];
	uintptr_t w;
	int ret;

	vg_open(dfkey_word(p), FL_WORD);
	w = *dfkey_word(p);
	vg_close(dfkey_word(p), FL_WORD);
	if ((w ^ s->dfkey) <= DFKEY_MARKS)
		return 1;
	/*
	 * A bin's word: at or below the places of the calling thread's
	 * bin of the class (a block of another thread's bin is not
	 * recognised, nor one handed out and not written since).
	 */
	ret = w - b->free_at < 2 * HEAP_BIN_MAX_BLOCKS ||
	      w - b->put_at < 2 * HEAP_BIN_MAX_BLOCKS;
	return ret;
}

/*
 * p lies at or past s's bump pointer: not carved since s was set up, so
 * not a block the program can hold (the remote free's tests below).
 */
static __always_inline int dfkey_uncarved(const struct slab *s, const void *p)
{
	return (const char *)p >= a_load(&s->bump, A_RELAXED);
}

/*
 * A remote free: the block must not be on any free list already (the
 * slabs' key or its mark), and must have been carved (below the slab's
 * bump pointer): a block freed again after its slab emptied, went back
 * to its pool and was set up anew (slab_new(): the bump back at the
 * start) holds anything, 0 after a decommit, and went on the remote
 * list while the owner carved it too, handed out twice (tests/dfuzz,
 * before branch dfuzz; test_dfkey_remote_uncarved). The owner carved p
 * before the program had it: a thread that frees it sees the bump past.
 */
static __always_inline int dfkey_remote_bad(const struct slab *s, void *p)
{
	int bad;

	vg_open(dfkey_word(p), FL_WORD);
	/*
	 * Two tests, two branches: written as one (an OR of both), GCC
	 * kept the two branches and added a SETcc and a TEST.
	 */
	bad = (*dfkey_word(p) ^ s->dfkey) <= DFKEY_MARKS || dfkey_uncarved(s, p);
	vg_close(dfkey_word(p), FL_WORD);
	return bad;
}

/*
 * The add of a remote free to its thread's batch (heap_free_nonlocal()):
 * the bump only, not the block's word. The block is the line another
 * CPU wrote last (its owner's program): a load of it waited for that
 * line on every remote free, where the free's own stores into it do
 * not wait (churn/shared-2t: 0.92 of the CPU time without the load,
 * Documentation/benchmarks.md, "forty-fourth session"). What the word
 * would have told is found later, before a block is handed out twice:
 * the batch's push reads every block (rbatch_seal(): a block freed
 * twice onto the batch is on it twice, a block of another thread's
 * batch leads the walk astray), and the list that held the first copy
 * finds the mark that replaced its word where it reads the block (a
 * slab's list at its refill, a list taken unread at its pops, a bin at
 * its pops and flushes). With CONFIG_DOUBLE_FREE_OWNER_READ the push
 * reads no block, so the add reads the word as the batch's start does.
 */
#ifndef CONFIG_DOUBLE_FREE_OWNER_READ
static __always_inline int dfkey_batch_add_bad(const struct slab *s, void *p)
{
	return dfkey_uncarved(s, p);
}
#else
static __always_inline int dfkey_batch_add_bad(const struct slab *s, void *p)
{
	return dfkey_remote_bad(s, p);
}
#endif

/* After dfkey_remote_bad() said no: p takes the slabs' key ^ mark. */
static __always_inline void dfkey_remote_mark(const struct slab *s, void *p, uintptr_t mark)
{
	vg_open(dfkey_word(p), FL_WORD);
	*dfkey_word(p) = s->dfkey ^ mark;
	vg_close(dfkey_word(p), FL_WORD);
}

static inline void dfkey_remote_free(const struct slab *s, void *p, uintptr_t mark)
{
	if (unlikely(dfkey_remote_bad(s, p)))
		guard_double_free(p);
	dfkey_remote_mark(s, p, mark);
}
#else
#define DFKEY_POP_BAD(b, p)	0
#define DFKEY_POP_BAD_PUT(b, p)	0
#define BIN_PUSH_SPENT(b, p)	({ vg_close((p), FL_WORDS); (intptr_t)--(b)->put_at < 0; })
#define BIN_SWAP_COUNTS(b)	do {						\
	(b)->put_at += (b)->free_at;						\
	(b)->free_at = 0;							\
} while (0)
static inline uintptr_t dfkey_of_slab(void) { return 0; }
static inline int dfkey_take(void *p, uintptr_t key) { return 0; }
static inline void dfkey_put(const struct slab *s, void *p) { }
static inline void dfkey_to_slab(const struct slab *s, void *p) { }
static inline void dfkey_to_bin(const struct slab *s, void *p) { }
static inline void dfkey_carve(const struct slab *s, void *p, uintptr_t w) { }
static inline int dfkey_remote_bad(const struct slab *s, void *p) { return 0; }
static inline int dfkey_batch_add_bad(const struct slab *s, void *p) { return 0; }
static inline void dfkey_remote_mark(const struct slab *s, void *p, uintptr_t mark) { }
static inline void dfkey_remote_free(const struct slab *s, void *p, uintptr_t mark) { }
static inline int dfkey_is_free(const struct slab *s, void *p) { return 0; }
static inline int dfkey_ranged(uintptr_t w) { return 0; }
#endif

#ifdef CONFIG_DOUBLE_FREE_OWNER_READ
/*
 * CONFIG_DOUBLE_FREE_OWNER_READ: the owner's free of p (a block start of
 * its slab s) reads p's key word first and reports a block that is free
 * already: the slabs' key (on a slab's remote list, on another thread's
 * remote batch, at a place of a remote list the owner took unread, on an
 * UltraHot stack) or its mark (on the slab's list). p's words are open.
 * A block handed out holds its bin's word (or 0 after the pop of a
 * place of a list taken unread), or the program's bytes.
 *
 * This is what lets a remote batch hold the key from the free and be
 * pushed unread (DFKEY_BATCH_MARK 0, no rbatch_seal()): the push read
 * every block again to find one its owner had freed meanwhile; the
 * owner's free now finds it, before the block can be handed out from
 * the bin, its other copy still on the batch (Documentation/
 * architecture.md, "The double-free check").
 */
#define DFKEY_BATCH_MARK	0UL

static __always_inline void dfkey_owner_free(const struct slab *s, void *p)
{
	if (unlikely((*dfkey_word(p) ^ s->dfkey) <= DFKEY_MARKS))
		guard_double_free(p);
}
#else
/* A block on a remote batch holds the key ^ DFKEY_IN_BATCH (rbatch_seal()). */
#define DFKEY_BATCH_MARK	DFKEY_IN_BATCH

static __always_inline void dfkey_owner_free(const struct slab *s, void *p) { }
#endif

/*
 * realloc's growth asks for its new block between heap_lend_hold(1) and
 * heap_lend_hold(0): a larger class's block (CONFIG_MID_LEND) would grow
 * in place into pages nobody checked were resident, and growth borrowing
 * small blocks (CONFIG_HEAP_LEND_SMALL) raised bench_realloc's peak RSS
 * from 30.6 to 34-36.6 MB.
 */
#if defined(CONFIG_MID_LEND) || defined(CONFIG_HEAP_LEND_SMALL)
static inline void heap_lend_hold(int on)
{
	hk_tls.lend_held = on;
}
#else
static inline void heap_lend_hold(int on) { }
#endif

#ifdef CONFIG_MID_LEND
/* Pages of the first n bytes of free block p (of whole bytes) all resident (heap.c)? */
int heap_lend_resident(const void *p, size_t n, size_t whole);
#endif

/*
 * malloc's slow path for a request of size bytes: the bin's lists are
 * empty or it grew (heap_alloc_at()); ENOMEM and NULL if no block.
 */
void *heap_alloc_slow(size_t size);
/* The same for the bin at thread-pointer offset off (heap_bin_tpoff()). */
void *heap_alloc_slow_bin(uintptr_t off);
/* Allocate from class cls (after initialisation). */
void *heap_alloc_class(unsigned int cls);
/* Bin b (one of hk_tls.bins) grew past its limit. */
void heap_bin_flush(struct bin *b);
/* The bin of the class of block p grew past its limit (free's tail call). */
void heap_bin_overflow(const void *p);
size_t heap_cache_held(void);
size_t heap_cache_cap_count(void);
void heap_cache_check(struct bin *busy);
void heap_free_local_slow(struct slab *s, void *p);
/* n blocks of slab s chained head .. tail back on its list at once (bin flushes). */
void heap_free_local_run(struct slab *s, void *head, void *tail, uint32_t n);
/*
 * What free's fast test refused (slab_owner_block_start()): a remote
 * free (heap_free_other(), inlined), a bad pointer, or the owner's free
 * of a heap without a tag; s is slab_of(p), which free found. Tail-called
 * by free: the return address is the program's.
 */
void heap_free_nonlocal(void *p, struct slab *s);
void heap_rbatch_flush(void);
#ifdef CONFIG_HEAP_INBOX_STEAL
/* Blocks the calling thread took from idle owners' inboxes and has not handed out (tests). */
uint32_t heap_stolen_count(void);
#endif
#ifdef CONFIG_HEAP_RBATCH_HUNGRY
/*
 * Push those of the calling thread's remote batches whose slab's owner
 * carved fresh memory for their class since its last flush of the
 * class's bin (heap.c, "Hungry owners"); at each refill.
 */
void heap_rbatch_hungry_push(void);
#else
static inline void heap_rbatch_hungry_push(void)
{
}
#endif
/* Owner tags given to heap records so far, and how many may be (tests lower it). */
extern unsigned int heap_tags_used;
extern unsigned int heap_tags_max;
void heap_bad_pointer(void *p);

void heap_classes_init(void);
/* Run every registered box's self-check (CONFIG_DEBUG_ASSERT, tests). */
void heap_boxes_check(void);
int heap_init(void);

/* ------------------------------------------------------------------ */
/* Self-checks (CONFIG_DEBUG_ASSERT)                                  */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_DEBUG_ASSERT
/*
 * p, about to leave a bin of class cls: a block start of a slab of class
 * cls owned by the calling thread's heap. Aborts otherwise.
 */
void heap_check_block(const void *p, unsigned int cls);
/*
 * Walk h's partial lists (links, flags, owner, class, the count of used
 * blocks against the local list and the uncarved blocks) and, if h is
 * the caller's heap, its current slabs and bins. h must be the caller's
 * heap or a parked one the caller holds. Aborts on the first violation.
 */
void heap_check(struct heap *h);
#else
static inline void heap_check_block(const void *p, unsigned int cls)
{
}

static inline void heap_check(struct heap *h)
{
}
#endif
unsigned long heap_trim(void);
/* A mapping failed: the caller's kept empty slabs back to their pools (1 if any). */
int heap_reclaim(void);
void heap_stats_sum(unsigned long out[NR_HK_STATS]);
/*
 * Blocks held in the thread caches (bins, UltraHot) of every live
 * thread, per class (CONFIG_MALLOC_INFO).
 */
void heap_cached_blocks(unsigned long out[HK_CLASS_ARRAY]);
void heap_fork_child(void);

/* ------------------------------------------------------------------ */
/* Fast paths                                                         */
/* ------------------------------------------------------------------ */

/*
 * The block below a popped head, next (decoded and checked: a block of
 * the bin, or HEAP_NIL), becomes the head: fetch its line now
 * (CONFIG_HEAP_POP_PREFETCH), so that the next pop of the class, whose
 * first load is next's link, does not wait for it. A prefetch does not
 * fault, and costs little when the line is cached (a block freed a
 * moment ago); a block freed long ago would miss there otherwise. It
 * hides an L2 hit (batches inside the L2: 0.76 of the CPU time); a miss
 * to memory outlasts the one or two operations before the next pop
 * (past the L2: level, Documentation/ab.md).
 * Without the double-free check a list ends in NULL, prefetched too
 * (tcmalloc's list pop tests for it, as a DTLB miss): on this machine
 * the loop of one block at a time (cg_tiny) pays the same +5% with the
 * check (HEAP_NIL, a cached line) and without, so no test is added.
 */
static __always_inline void bin_prefetch_next(uintptr_t next)
{
	if (IS_ENABLED(CONFIG_HEAP_POP_PREFETCH))
		__builtin_prefetch((const void *)next);
}

/*
 * Take block p, the head of bin b, for the program. A macro, for the fast
 * path's bin (reached through the thread pointer, tp_bin_t) and the slow
 * path's (struct bin) alike: the compiler may assume that the two kinds
 * of pointer never alias, so a function never mixes them for one bin.
 * With the double-free check, p's key word must be the one its place
 * calls for (free_at); it is read, not written.
 */
#define BIN_POP(b, p, cls)	({						\
	void *__p = (p);							\
	uintptr_t __next;							\
										\
	vg_open(__p, FL_WORDS);							\
	__next = fl_raw_next(__p, hk_tls.flkey);				\
	if (unlikely(fl_bad(__next) | DFKEY_POP_BAD(b, __p))) {		\
		__p = heap_pop_slow(__p);					\
	} else {								\
		heap_check_block(__p, (cls));					\
		/* The front announces the block (vg_alloc) for the bytes asked. */ \
		vg_close(__p, FL_WORDS);					\
		(b)->free = (void *)__next;					\
		(b)->free_at++;							\
		bin_prefetch_next(__next);					\
	}									\
	__p;									\
})

/*
 * The bin at thread-pointer offset base + disp + j * unit: base is the
 * front's offset (heap_tls_tpoff()), disp a constant, j the bin's index
 * in units of unit bytes. j is hidden from the compiler at each use
 * (hk_addr_index(), asm/bitops.h), so that x86_64 reaches the bin with
 * the addressing mode %fs:disp(base, j, unit) at every access and no
 * register holds the sum.
 */
#define TP_BIN_AT(base, disp, j, unit)	\
	tp_bin((base) + (disp) + hk_addr_index(j) * (unit))

/*
 * malloc's list of bin b is empty and free's is p: take it whole
 * (bin_swap(), inline), through one pointer to the bin.
 */
static __always_inline void heap_bin_swap_at(tp_bin_t *b, void *p)
{
	b->free = p;
	b->put = HEAP_NIL;
	BIN_SWAP_COUNTS(b);
}

/* Which slow path heap_alloc_at() takes, and what it passes on. */
enum heap_slow_by {
	HEAP_SLOW_BY_BIN,	/* heap_alloc_slow_bin(): the bin's offset */
	HEAP_SLOW_BY_SIZE,	/* heap_alloc_slow(): the request's size */
	HEAP_SLOW_BY_CLASS,	/* heap_alloc_class(): the class, no lending (memalign) */
};

/*
 * Pop the head of the bin at TP_BIN_AT(base, disp, j, unit) (class
 * cls), or take the slow path that slow_by (a constant) names: with the
 * request's size, for a lookup in the tables that are all zero before
 * the first initialisation (every request then misses into it); the
 * bin's offset (Tiny's lookups are right before initialisation); or the
 * class itself, whose blocks a lending slow path could not stand in for
 * (memalign: a larger class's blocks may be aligned less).
 */
static __fastpath_inline void *heap_alloc_at(uintptr_t base, uintptr_t disp, uintptr_t j,
					     unsigned int unit, unsigned int cls,
					     enum heap_slow_by slow_by, size_t size)
{
	void *p = TP_BIN_AT(base, disp, j, unit)->free;
	uintptr_t next;

	/* Without the double-free check an empty list is NULL: tested here. */
	if (!IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK) && unlikely(!p))
		goto empty;
	/*
	 * The pop (BIN_POP(), written out): with the check, the compare of
	 * the key word also finds an empty list (HEAP_NIL), on the slow
	 * branch.
	 */
	vg_open(p, FL_WORDS);
	next = fl_raw_next(p, hk_tls.flkey);
	if (unlikely(fl_bad(next) | DFKEY_POP_BAD(TP_BIN_AT(base, disp, j, unit), p))) {
		if (p == HEAP_NIL)
			goto empty;
		STAT_INC_TLS(hk_classes[cls].stat_idx);
		return heap_pop_slow_at(p, base + disp + hk_addr_index(j) * unit);
	}
	STAT_INC_TLS(hk_classes[cls].stat_idx);
	heap_check_block(p, cls);
	vg_close(p, FL_WORDS);
	TP_BIN_AT(base, disp, j, unit)->free = (void *)next;
	TP_BIN_AT(base, disp, j, unit)->free_at++;
	bin_prefetch_next(next);
	return p;

empty:
	/*
	 * malloc's list is empty: pop put's only block, else take
	 * put whole (bin_swap(), inline), unless the bin grew
	 * (bin_swap_grown()'s count).
	 */
	p = TP_BIN_AT(base, disp, j, unit)->put;
	if (unlikely(p == HEAP_NIL))
		goto slow;
	vg_open(p, FL_WORDS);
	if (fl_raw_next(p, hk_tls.flkey) == (uintptr_t)HEAP_NIL) {
		uint16_t at = (uint16_t)TP_BIN_AT(base, disp, j, unit)->free_at;

		/*
		 * put holds one block (a free, then a malloc of
		 * its class): pop it there, no swap, and so no
		 * test of grown (a grown bin's count is armed at
		 * a swap, and a run of pops needs more than one
		 * block). put's next push takes the same word
		 * again. The second time in a row with malloc's
		 * list untouched (free_at as at the last such
		 * pop: a free and a malloc in turn, malloc's list
		 * empty), the slow path pops it and refills
		 * malloc's list, so that the loop goes on with
		 * the lists apart (heap_put_one_refill()).
		 */
		if (unlikely(TP_BIN_AT(base, disp, j, unit)->put_one == at)) {
			vg_close(p, FL_WORDS);
			goto slow;
		}
		TP_BIN_AT(base, disp, j, unit)->put_one = at;
		STAT_INC_TLS(hk_classes[cls].stat_idx);
		if (unlikely(DFKEY_POP_BAD_PUT(TP_BIN_AT(base, disp, j, unit), p)))
			return heap_pop_slow(p);
		heap_check_block(p, cls);
		vg_close(p, FL_WORDS);
		TP_BIN_AT(base, disp, j, unit)->put = HEAP_NIL;
		TP_BIN_AT(base, disp, j, unit)->put_at++;
		return p;
	}
	vg_close(p, FL_WORDS);
	if (unlikely(HEAP_GROW_ON && TP_BIN_AT(base, disp, j, unit)->grown))
		goto slow;
	heap_bin_swap_at(tp_bin(base + disp + hk_addr_index(j) * unit), p);
	/*
	 * The pop again, not a jump back to the one above: the
	 * swap's path and the fast path each keep the bin's index
	 * in the register they hid it in (hk_addr_index()), where
	 * one pop for both made the compiler copy it into a second
	 * register on the fast path (one instruction per malloc).
	 */
	STAT_INC_TLS(hk_classes[cls].stat_idx);
	return BIN_POP(TP_BIN_AT(base, disp, j, unit), p, cls);
slow:
	if (slow_by == HEAP_SLOW_BY_CLASS)
		return heap_alloc_class(cls);
	if (slow_by == HEAP_SLOW_BY_SIZE)
		return heap_alloc_slow(size);
	return heap_alloc_slow_bin(base + disp + hk_addr_index(j) * unit);
}

/*
 * Allocate a block for a request of size <= HEAP_MAX_SIZE from the bin at
 * binoff in heap_tls::bins (size_to_bin(), bytes).
 */
static __fastpath_inline void *heap_alloc_bin(unsigned int binoff, size_t size)
{
	uintptr_t base = heap_tls_tpoff(), j = binoff;

	return heap_alloc_at(base, offsetof(struct heap_tls, bins), j, 1,
			     binoff / sizeof(struct bin), HEAP_SLOW_BY_SIZE, size);
}

/*
 * The same for a class computed without the tables (size_is_tiny() with
 * power-of-two Tiny classes, HEAP_FIRST_POW2), valid before
 * initialisation: the slow path takes the bin's offset,
 * which the fast path has in a register anyway, so that neither the
 * request's size nor the class has to be kept.
 */
static __fastpath_inline void *heap_alloc_tiny(unsigned int cls)
{
	/*
	 * j = cls * sizeof(struct bin) / BIN_UNIT, written so that the
	 * subtraction that ends size_to_tiny_class() (a bit index minus
	 * HEAP_FIRST_MIN_SHIFT - 1) cancels in 32 bits and the bit index
	 * is scaled and offset in 64 bits: one lea. The same value for any
	 * cls.
	 */
	uintptr_t base = heap_tls_tpoff();
	uintptr_t j = (uintptr_t)(cls + (HEAP_FIRST_MIN_SHIFT - 1)) * (sizeof(struct bin) / BIN_UNIT) -
		      (HEAP_FIRST_MIN_SHIFT - 1) * (sizeof(struct bin) / BIN_UNIT);

	return heap_alloc_at(base, offsetof(struct heap_tls, bins), j, BIN_UNIT, cls,
			     HEAP_SLOW_BY_BIN, 0);
}

/*
 * The same for finer Tiny classes (!HEAP_FIRST_POW2): bin is the bin's
 * offset in heap_tls::bins in units of BIN_UNIT bytes, read from
 * hk_tiny_bin[] (a table the compiler filled, so valid before
 * initialisation too), and scaled by the addressing mode.
 */
static __fastpath_inline void *heap_alloc_tiny_bin(unsigned int bin)
{
	uintptr_t base = heap_tls_tpoff(), j = bin;

	return heap_alloc_at(base, offsetof(struct heap_tls, bins), j, BIN_UNIT,
			     bin / (sizeof(struct bin) / BIN_UNIT), HEAP_SLOW_BY_BIN, 0);
}

/*
 * A block of class cls, popped inline; if its bin is empty,
 * heap_alloc_class() (which starts the thread's heap), never a block of
 * another class: memalign's fast path (hk_alloc_aligned(), mm/core.h).
 */
static __fastpath_inline void *heap_alloc_exact(unsigned int cls)
{
	uintptr_t base = heap_tls_tpoff(), j = (uintptr_t)cls * sizeof(struct bin);

	return heap_alloc_at(base, offsetof(struct heap_tls, bins), j, 1, cls,
			     HEAP_SLOW_BY_CLASS, 0);
}

/*
 * The block-start test: one multiply and one compare, the same for every
 * class (Documentation/architecture.md, "The block-start check").
 *
 * With m = slab_start_mul(d) = floor(2^64 / d) + 2 for a block size d,
 * and e = m * d - 2^64 (d < e <= 2 * d), an offset n = q * d + r below
 * 2^32 gives
 *
 *   n * m mod 2^64 = q * e + r * m
 *
 * without wrapping (as long as (q + 1) * e < m, true for every d below
 * 2^30 and n below 2^32): q * e (below 2 * n) for a multiple of d, and at
 * least m (above 2^34) for anything else. The multiples map in order, so
 * one unsigned compare with (capacity - 1) * e accepts exactly the block
 * starts of the slab and rejects the rest: a pointer inside a block, the
 * unused tail beyond the last block, and (the offset wraps to near 2^32)
 * anything below the slab's start. And whatever the constants (any
 * class's m with any slab's limit, below 2 * SS_SIZE), no offset of
 * SLAB_TAG_UNIT or more passes: that makes it the owner test as well
 * (superslab.h, "Owner tags"). tests/unit/check_classes.c checks it for
 * every class at every byte offset of a slab, and with every other tag.
 *
 * The offset is taken in 32 bits: a slab never crosses a 4 GiB boundary
 * (a SuperSlab does not).
 */
BUILD_BUG_ON(SS_SHIFT > 32);

static __always_inline int slab_block_start_off(const struct slab *s, uint32_t off)
{
	return (uint64_t)off * s->start_mul <= s->start_limit;
}

/*
 * The same test as a macro, for free's fast path: s, an expression for
 * the slab, is evaluated at each of the three field reads, in the order
 * written (free gives SLAB_AT(), which reads each field through its own
 * addressing: superslab.h), and the offset is the 32-bit one of
 * slab_block_start_off().
 */
#define SLAB_OWNER_BLOCK_START(s, p, tag)	({				\
	uint64_t __o = (uint32_t)((uint32_t)(uintptr_t)(p) - (s)->tbase + (tag)); \
										\
	__o *= (s)->start_mul;							\
	__o <= (s)->start_limit;						\
})

/*
 * free's test: p is a block start of s (p lies in one of the slots of s;
 * s is the head slot or a tail slot that mirrors it) and tag, the
 * calling thread's, is its owner's.
 */
static __always_inline int slab_owner_block_start(const struct slab *s, const void *p, uint32_t tag)
{
	return SLAB_OWNER_BLOCK_START(s, p, tag);
}

/*
 * The block-start test whoever owns s, for a p that lies in s's slot or
 * span (a remote free: the owner was tested apart). tbase is the first
 * block's low 32 bits plus the owner's tag, a multiple of SLAB_TAG_UNIT
 * (2 * SS_SIZE): its bits below SS_SHIFT are the first block's, and p
 * lies in the same SuperSlab, so the offset from the first block, taken
 * modulo SS_SIZE, is the true one for every p at or past the first
 * block. A p before it (in the colour of the head slot) wraps to within
 * a colour of SS_SIZE, past the end of any slab (a slab is at most the
 * SuperSlab less its header slot, colour included): refused, as are
 * the offsets that are not block starts. So one AND replaces the load
 * of the owner's tag and its add, and no load waits for the owner's
 * record (tests/unit/check_heap.c checks every byte of a slab of every
 * class).
 */
static __always_inline int slab_block_start_untagged(const struct slab *s, const void *p)
{
	return slab_block_start_off(s, ((uint32_t)(uintptr_t)p - s->tbase) & (uint32_t)(SS_SIZE - 1));
}

/*
 * Where the first block of slab s starts, past its first byte: 0 (or
 * HEAP_COLOUR_STEP for a class kept off page boundaries,
 * class_off_page()), or for a class with colours one of them, picked from the slab's
 * address (any slot of any SuperSlab: successive slabs differ). The
 * slot number is hashed (Fibonacci hashing): slabs of a class mostly
 * start on the same few slots of their SuperSlabs (1 and 16 for Mid's
 * big classes), and a multiple of the slot number (37 before) took only
 * 32 of 1024 colours there, 4 of the 128 line offsets.
 */
static inline size_t slab_colour(struct slab *s, const struct size_class *c)
{
	uint64_t slot = (uintptr_t)slab_start(s) >> SLOT_SHIFT;

	if (c->colours <= 1)
		return class_off_page(c) ? HEAP_COLOUR_STEP : 0;
	return (size_t)(((slot * 0x9e3779b97f4a7c15ULL) >> 40) % c->colours) * HEAP_COLOUR_STEP;
}

/* The first block of slab s (a head slot): its start plus its colour. */
static inline char *slab_first_block(struct slab *s)
{
	return slab_start(s) + slab_colour(s, &hk_classes[s->class_idx]);
}

/*
 * Is p the start of a block of s, whoever owns it? (The slow paths: s is
 * a slab's head slot, or a tail slot.)
 */
static inline int slab_is_block_start(const struct slab *s, const void *p)
{
	struct slab *head = (struct slab *)(s->kind == SLAB_TAIL ? s - s->head_off : s);

	return slab_block_start_off(s, (uint32_t)(uintptr_t)p - (uint32_t)(uintptr_t)slab_first_block(head));
}

/*
 * Free by the slab's owner thread into the class's bin b (the bin at
 * s->bin_tpoff: the owner is this thread), of a block start of s: onto
 * the bin's put list, with no load of a word that malloc stores (but
 * the block's key word with CONFIG_DOUBLE_FREE_OWNER_READ:
 * dfkey_owner_free()).
 */
static __fastpath_inline void heap_free_local(struct slab *s, tp_bin_t *b, void *p)
{
	vg_open(p, FL_WORDS);
	dfkey_owner_free(s, p);
	STAT_INC_TLS(hk_classes[s->class_idx].stat_idx + 1);
	fl_put(p, b->put, hk_tls.flkey);
	b->put = p;
	if (unlikely(BIN_PUSH_SPENT(b, p)))
		heap_bin_overflow(p);
}

#endif /* _MM_HEAP_H */
