// SPDX-License-Identifier: MIT
/*
 * mm/heap/heap.c - slow paths of the thread heaps: refill, slab lists,
 * remote frees, thread start and exit, fork.
 */
#include <hakmem/errno.h>
#include <hakmem/lock.h>
#include <hakmem/print.h>
#include "os/os.h"
#include "box.h"
#include "options/options.h"
#include "heap.h"
#include "prof/prof.h"

#ifdef CONFIG_THREADS
#include <pthread.h>
#endif

/*
 * The front is initialised data (.tdata), not .tbss, in two cases. With
 * CONFIG_DOUBLE_FREE_CHECK the bins' lists are empty at HEAP_NIL, not
 * NULL (heap.h, "The end of a bin's list"), before the thread's first
 * malloc too. With CONFIG_VALGRIND: a static program's first thread has
 * its TLS in the brk segment, which memcheck takes as undefined although
 * the kernel zeroed it (glibc relies on that for .tbss), so the first
 * malloc would branch on "uninitialised" bin heads; glibc copies the
 * .tdata image, which memcheck follows. The key is a placeholder:
 * heap_thread_start() sets it before any use.
 */
#ifdef CONFIG_DOUBLE_FREE_CHECK
const struct heap_nil hk_heap_nil __aligned(16) = { .link = ~0UL, .key = ~0UL };
#define HEAP_TLS_BINS_INIT						\
	.bins = { [0 ... HK_CLASS_ARRAY - 1] = { .free = HEAP_NIL, .put = HEAP_NIL } },
#else
#define HEAP_TLS_BINS_INIT
#endif
#if defined(CONFIG_VALGRIND) || defined(CONFIG_DOUBLE_FREE_CHECK)
__hk_tls struct heap_tls hk_tls = { HEAP_TLS_BINS_INIT .dfkey = 1 };
#else
__hk_tls struct heap_tls hk_tls;
#endif
uintptr_t hk_flkey;

/* A class's bit in one of heap_tls's per-class bitmaps. */
static inline int cls_bit_test(const unsigned long *map, unsigned int cls)
{
	return !!(map[cls / (8 * sizeof(long))] & (1UL << (cls % (8 * sizeof(long)))));
}

static inline void cls_bit_set(unsigned long *map, unsigned int cls)
{
	map[cls / (8 * sizeof(long))] |= 1UL << (cls % (8 * sizeof(long)));
}

static inline void cls_bit_clear(unsigned long *map, unsigned int cls)
{
	map[cls / (8 * sizeof(long))] &= ~(1UL << (cls % (8 * sizeof(long))));
}

static inline int heap_filled_test(unsigned int cls)
{
	return cls_bit_test(hk_tls.filled, cls);
}

/*
 * Mark class cls as one whose bin may hold blocks; its limit now counts
 * in what the filled bins may hold (heap_tls::cache_cap).
 */
static inline void heap_filled_set(unsigned int cls)
{
	if (unlikely(!cls_bit_test(hk_tls.filled, cls))) {
		cls_bit_set(hk_tls.filled, cls);
		hk_tls.cache_cap += (size_t)hk_tls.bins[cls].limit * class_cache_bytes(&hk_classes[cls]);
	}
}

/*
 * Each class whose bin may hold blocks (heap_tls::filled), lowest first:
 * a program that uses a dozen classes counts a dozen bins, not all of
 * them (fifty with Mid up to 256 KiB).
 */
#define for_each_filled_class(cls, w, m)					\
	for ((w) = 0; (w) < HEAP_FILLED_WORDS; (w)++)				\
		for ((m) = hk_tls.filled[w]; (m) && ((cls) = (w) * 8 * sizeof(long) + \
						      hk_ctz(m), 1); (m) &= (m) - 1)

/*
 * Held through a sweep of the parked records (heap_parked_collect():
 * malloc_trim, heap_parked_reclaim()), which takes records off the
 * parked list and collects them without heap_lock: one sweep at a time,
 * a thread that starts while every parked record is in one waits on it
 * rather than make a record of its own, and fork waits for the sweep to
 * end (its records are back on the list in the child).
 */
static struct hk_lock heap_sweep_lock = HK_LOCK_INIT;
HK_LOCK_REGISTER(&heap_sweep_lock, HK_LOCK_HEAP_SWEEP);
static struct hk_lock heap_lock = HK_LOCK_INIT;	/* records, lists, metadata */
HK_LOCK_REGISTER(&heap_lock, HK_LOCK_HEAP);
static int heap_sweeping;			/* records off the parked list in a sweep (heap_lock) */
static struct heap *heap_all;			/* every record ever made */
static struct heap *heap_parked;		/* records of exited threads, oldest first */
static struct heap **heap_parked_tail = &heap_parked;	/* the last one's parked_next */
static char *meta_cur, *meta_end;		/* bump area for records */

static void heap_thread_exit(void *arg);
static void heap_stats_fold(struct heap *h);

/*
 * The thread-exit hook is a pthread key, with CONFIG_THREADS only (no
 * libpthread otherwise): one block of stubs rather than #ifdefs in the
 * functions below.
 */
#ifdef CONFIG_THREADS
#include <pthread.h>

static pthread_key_t heap_key;

static inline int heap_key_create(void)
{
	return pthread_key_create(&heap_key, heap_thread_exit);
}

/* Our key is made before anything else, so this cannot allocate. */
static inline void heap_key_set(struct heap *h)
{
	pthread_setspecific(heap_key, h);
}
#else
static inline int heap_key_create(void)
{
	return 0;
}

static inline void heap_key_set(struct heap *h)
{
}
#endif

/* ------------------------------------------------------------------ */
/* Bins' counters and the double-free key                             */
/* ------------------------------------------------------------------ */

/*
 * With CONFIG_DOUBLE_FREE_CHECK a bin's list from its head holds the key
 * words w, w + 1, w + 2, ... where w is the list's counter (free_at or
 * put_at). The slow paths move the budgets (room, put_room) by moving
 * the floors, so the words stay with the blocks, and whatever puts
 * blocks on a list or takes them off keeps the words in that order
 * (heap.h, "The double-free key"). Without the check the counters are
 * the budgets.
 */
#ifdef CONFIG_DOUBLE_FREE_CHECK
static inline void bin_room_add(struct bin *b, int32_t d)
{
	b->free_floor -= (uintptr_t)(intptr_t)d;
}

static inline void bin_put_room_add(struct bin *b, int32_t d)
{
	b->put_floor -= (uintptr_t)(intptr_t)d;
}

/* The key word of malloc's head. */
static inline uintptr_t bin_free_top(const struct bin *b)
{
	return b->free_at;
}

/* malloc's list starts at word w now; its room stays. */
static inline void bin_free_top_set(struct bin *b, uintptr_t w)
{
	b->free_floor += w - b->free_at;
	b->free_at = w;
}

static inline uintptr_t bin_put_top(const struct bin *b)
{
	return b->put_at;
}

static inline void bin_put_top_set(struct bin *b, uintptr_t w)
{
	b->put_floor += w - b->put_at;
	b->put_at = w;
}

static inline uintptr_t bin_floors_peek(const struct bin *b)
{
	return a_load(&b->free_floor, A_RELAXED) + a_load(&b->put_floor, A_RELAXED);
}

/* An empty bin with room for room blocks, all of it malloc's. */
static inline void bin_counts_init(struct bin *b, int32_t room)
{
	uintptr_t w = dfkey_bin_base();

	b->free_at = w;
	b->free_floor = w - (uintptr_t)(intptr_t)room;
	b->put_at = w;
	b->put_floor = w;
}

/*
 * malloc's list was just filled with put empty (heap_alloc_class()): a
 * refill's words go down from malloc's old head, which may take them to
 * put's head or below it, where free's next pushes would go. Put's head
 * moves below them (its room stays): otherwise the bottom block of a
 * batch, freed again while still on malloc's list, took the word it
 * already held, and both copies passed their pops (a refill right after
 * malloc popped put's one block, or after a batch used up with no free).
 */
static inline void bin_put_below_free(struct bin *b)
{
	/* (A remote list taken unread has words of another band: put stays.) */
	if (dfkey_ranged(b->free_at))
		return;
	if ((intptr_t)(b->put_at - b->free_at) > 0)
		bin_put_top_set(b, b->free_at);
}

/* Whether p's key word is w (checks of a list's order). */
static inline int dfkey_word_is(const void *p, uintptr_t w)
{
	int ret;

	vg_open(dfkey_word((void *)p), FL_WORD);
	ret = *dfkey_word((void *)p) == w;
	vg_close(dfkey_word((void *)p), FL_WORD);
	return ret;
}

/*
 * p, of slab s, leaves a bin's list at the place whose word is w, for
 * its slab's list: the word must be w, or the slabs' key at a place of a
 * remote list taken unread (bin_unread_take(), slab_remote_to_bin()),
 * and the block must have been carved (below the slab's bump, as
 * dfkey_to_slab() checks); the word becomes the slab's list's (the key ^
 * DFKEY_ON_SLAB) in one check and one store (it was the slab's key,
 * checked again by dfkey_to_slab(), until the flushes went by runs of
 * one slab, slab_run_add()).
 */
/*
 * The places of a remote list taken unread (slab_remote_to_bin()) that
 * still hold its blocks: the heap::unread[cls] words just below
 * heap::unread_top[cls] (bin_free_top_unread()). Every block leaves a bin's list from its head, so
 * the place of the one that leaves is the lowest one left: a block of
 * the list taken there (it holds the slabs' key) leaves the places
 * above. A one-list bin's frees push on top of that list, at the places
 * below its head, which no longer take the key: a block freed by its
 * owner there and freed again by another thread (which writes the key)
 * is reported when it is popped, as in a split bin, whose frees go to
 * put, in the bins' own band.
 */
static inline uintptr_t bin_unread_left(const struct heap *h, unsigned int cls, uintptr_t w)
{
	return h->unread_top[cls] - 1 - w;
}

/* left (bin_unread_left() of a place): among the places that hold the list's blocks? */
static inline int bin_unread_within(const struct heap *h, unsigned int cls, uintptr_t left)
{
	return left < h->unread[cls];
}

static inline int bin_unread_accepts(const struct heap *h, unsigned int cls, uintptr_t w)
{
	return bin_unread_within(h, cls, bin_unread_left(h, cls, w));
}

/*
 * Does place w of h's bin of cls take a block holding the key? If so it
 * leaves the list. (h: the caller's heap, or for a block going to its
 * slab the slab's owner, whose bin held it: a parked heap's saved bins
 * are drained by another thread, heap_saved_drain().)
 */
static inline int bin_unread_take(struct heap *h, unsigned int cls, uintptr_t w)
{
	/* (bin_unread_accepts()'s test, the difference computed once.) */
	uintptr_t left = bin_unread_left(h, cls, w);

	if (!bin_unread_within(h, cls, left))
		return 0;
	h->unread[cls] = (uint16_t)left;
	return 1;
}

static inline void bin_unread_set(unsigned int cls, uint32_t n)
{
	hk_tls.heap->unread[cls] = (uint16_t)n;
}

/*
 * dfkey_bin_to_slab()'s check and store, for a block of slab s known to
 * lie below its bump: s carved its last block (slab_run_carved(),
 * heap_pass_runs()), or dfkey_bin_to_slab_mark() tested the bump. mark:
 * the word of a block on s's list (dfkey_slab_mark(s)), which the pass
 * keeps in a register for a run of s.
 */
static __always_inline void dfkey_bin_to_carved_mark(const struct slab *s, uintptr_t mark, void *p,
						     uintptr_t w)
{
	vg_open(dfkey_word(p), FL_WORD);
	if (unlikely(*dfkey_word(p) != w) &&
	    (*dfkey_word(p) != (mark ^ DFKEY_ON_SLAB) || !bin_unread_take(s->owner, s->class_idx, w)))
		heap_free_list_corrupt(p);
	*dfkey_word(p) = mark;
	vg_close(dfkey_word(p), FL_WORD);
}

/* The word of a block on s's list: the key ^ DFKEY_ON_SLAB. */
static __always_inline uintptr_t dfkey_slab_mark(const struct slab *s)
{
	return s->dfkey ^ DFKEY_ON_SLAB;
}

/* The same for any block of s: it must lie below the bump (mark: dfkey_slab_mark(s)). */
static __always_inline void dfkey_bin_to_slab_mark(const struct slab *s, uintptr_t mark, void *p,
						   uintptr_t w)
{
	if (unlikely(!slab_carved(s, p)))
		heap_free_list_corrupt(p);
	dfkey_bin_to_carved_mark(s, mark, p, w);
}

static inline void dfkey_bin_to_slab(const struct slab *s, void *p, uintptr_t w)
{
	dfkey_bin_to_slab_mark(s, dfkey_slab_mark(s), p, w);
}

/* Whether dfkey_bin_to_carved_mark() may check the blocks of s: s carved its last block. */
static inline int slab_run_carved(const struct slab *s)
{
	return s->flags & SLAB_CARVED;
}

/* SLAB_CARVED (slab_carved()): s carved its last block (slab_carve()); cleared: its bump was set again. */
static inline void slab_carved_set(struct slab *s)
{
	s->flags |= SLAB_CARVED;
}

static inline void slab_carved_clear(struct slab *s)
{
	s->flags &= (uint8_t)~SLAB_CARVED;
}

/* The n blocks of the chain from p (already checked) take the words w, w + 1, ... */
static void dfkey_enter_chain(void *p, uint32_t n, uintptr_t w)
{
	uint32_t i = 0;

	for (;;) {
		vg_open(dfkey_word(p), FL_WORD);
		*dfkey_word(p) = w + i;
		vg_close(dfkey_word(p), FL_WORD);
		if (++i == n)
			break;
		p = fl_next(p);
	}
}

/* A block of a remote list into a bin at word w: it must hold the slab's key. */
static inline void dfkey_rekey(void *p, uintptr_t w)
{
	vg_open(dfkey_word(p), FL_WORD);
	if (unlikely(*dfkey_word(p) != dfkey_of_slab()))
		heap_free_list_corrupt(p);
	*dfkey_word(p) = w;
	vg_close(dfkey_word(p), FL_WORD);
}

/*
 * Does a whole remote list of s go into its bin unread? Split and
 * one-list bins alike (a one-list bin's frees push on top of the list,
 * at places that no longer take the key: bin_unread_take()). Not the
 * classes of spare batches (above 4 KiB), whose cuts check every kept
 * word (heap_spare_put()).
 */
static inline int bin_takes_unread(unsigned int cls)
{
	return hk_classes[cls].size < HEAP_SPARE_MIN_SIZE;
}

/*
 * malloc's (empty) list of b, of class cls, starts at the next top of
 * the band of unread lists (heap.h, dfkey_range_top()): a step below
 * the last list's, so that no word given to a block while that list was
 * the bin's (a one-list bin's frees) is a place of this one.
 */
static inline void bin_free_top_unread(struct bin *b, unsigned int cls)
{
	struct heap *h = hk_tls.heap;
	uintptr_t top = h->unread_top[cls] - DFKEY_UNREAD_STEP;

	if (!h->unread_top[cls] || top < (1UL << 61) + DFKEY_UNREAD_STEP)
		top = dfkey_range_top();
	h->unread_top[cls] = top;
	bin_free_top_set(b, top);
}

/*
 * If malloc's list of b is a remote list taken unread (its counter in the
 * band of such lists), its blocks take the words w, w + 1, ... of the
 * bins' own band, checked as slab_remote_to_bin() once did (each must
 * hold the slabs' key at a place of the list: a block on it twice holds
 * its new word when the walk meets it again, and the walk stops there);
 * an empty list only moves its counter to w. Before a slow path puts
 * blocks on top of malloc's list (bin_join()) or fills it
 * (heap_bin_fill()): no block ever gets a word of the unread band.
 */
static __noinline void bin_unrange_walk(struct bin *b, uintptr_t w)
{
	unsigned int cls = (unsigned int)(b - hk_tls.bins);
	uintptr_t at = bin_free_top(b), i = 0;
	void *p;

	/* (A one-list bin's frees on top of it hold the words of their places.) */
	for (p = bin_list(b->free); p; p = fl_next(p), i++) {
		vg_open(dfkey_word(p), FL_WORD);
		if (unlikely(*dfkey_word(p) != at + i &&
			     (*dfkey_word(p) != hk_tls.dfkey ||
			      !bin_unread_take(hk_tls.heap, cls, at + i))))
			heap_free_list_corrupt(p);
		*dfkey_word(p) = w + i;
		vg_close(dfkey_word(p), FL_WORD);
	}
	bin_unread_set(cls, 0);
	bin_free_top_set(b, w);
}

static inline void bin_unrange(struct bin *b, uintptr_t w)
{
	if (unlikely(dfkey_ranged(bin_free_top(b))))
		bin_unrange_walk(b, w);
}

/* Does p hold the slabs' key (a block of a remote list taken unread)? */
static inline int dfkey_is_key(const void *p)
{
	return *dfkey_word((void *)p) == hk_tls.dfkey;
}

/* p, taken at a place of such a list, is handed out: its word becomes 0. */
static inline void dfkey_hand_out(void *p)
{
	*dfkey_word(p) = 0;
}

#else
static inline void bin_room_add(struct bin *b, int32_t d)
{
	b->free_at += (uintptr_t)(intptr_t)d;
}

static inline void bin_put_room_add(struct bin *b, int32_t d)
{
	b->put_at += (uintptr_t)(intptr_t)d;
}

static inline void bin_counts_init(struct bin *b, int32_t room)
{
	b->free_at = (uintptr_t)(intptr_t)room;
	b->put_at = 0;
}

static inline uintptr_t bin_floors_peek(const struct bin *b)
{
	return 0;
}

static inline uintptr_t bin_free_top(const struct bin *b) { return 0; }
static inline void bin_free_top_set(struct bin *b, uintptr_t w) { }
static inline uintptr_t bin_put_top(const struct bin *b) { return 0; }
static inline void bin_put_top_set(struct bin *b, uintptr_t w) { }
static inline void bin_put_below_free(struct bin *b) { }
static inline int dfkey_word_is(const void *p, uintptr_t w) { return 1; }
static inline int bin_unread_accepts(const struct heap *h, unsigned int cls, uintptr_t w) { return 0; }
static inline int bin_unread_take(struct heap *h, unsigned int cls, uintptr_t w) { return 0; }
static inline void bin_unread_set(unsigned int cls, uint32_t n) { }
static inline void dfkey_bin_to_slab(const struct slab *s, void *p, uintptr_t w) { }
static inline void dfkey_bin_to_carved_mark(const struct slab *s, uintptr_t mark, void *p,
					    uintptr_t w) { }
static inline void dfkey_bin_to_slab_mark(const struct slab *s, uintptr_t mark, void *p,
					  uintptr_t w) { }
static inline uintptr_t dfkey_slab_mark(const struct slab *s) { return 0; }
/* Nothing to check: no block's run needs its slab's bump. */
static inline int slab_run_carved(const struct slab *s) { return 1; }
static inline void slab_carved_set(struct slab *s) { }
static inline void slab_carved_clear(struct slab *s) { }
static inline void dfkey_enter_chain(void *p, uint32_t n, uintptr_t w) { }
static inline void dfkey_rekey(void *p, uintptr_t w) { }
static inline int bin_takes_unread(unsigned int cls) { return 0; }
static inline void bin_free_top_unread(struct bin *b, unsigned int cls) { }
static inline void bin_unrange(struct bin *b, uintptr_t w) { }
static inline int dfkey_is_key(const void *p) { return 0; }
static inline void dfkey_hand_out(void *p) { }
#endif

/*
 * room + put_room of a bin another thread may be changing (mallinfo):
 * each word read once, the sum a snapshot at best.
 */
static inline int32_t bin_rooms_peek(const struct bin *b)
{
	int32_t room = (int32_t)(a_load(&b->free_at, A_RELAXED) + a_load(&b->put_at, A_RELAXED) -
				 bin_floors_peek(b));

	/*
	 * At least -1 (a bin one block over its limit, before the flush):
	 * a counter read before a move of its list to another band of words
	 * (bin_free_top_set(), 2^61 away) and its floor after it would give
	 * a count of any size.
	 */
	return room < -1 ? -1 : room;
}

static inline void bin_room_set(struct bin *b, int32_t room)
{
	bin_room_add(b, room - bin_room(b));
}

/* free's share of the room goes to malloc's (the words stay where they are). */
static inline void bin_room_take_put(struct bin *b)
{
	int32_t d = bin_put_room(b);

	bin_room_add(b, d);
	bin_put_room_add(b, -d);
}

/* malloc's share of the room goes to free's. */
static inline void bin_room_give_put(struct bin *b)
{
	int32_t d = bin_room(b);

	bin_put_room_add(b, d);
	bin_room_add(b, -d);
}

/* n blocks go on top of malloc's list (a refill): room n less, the head n words up. */
static inline void bin_free_grow(struct bin *b, uint32_t n)
{
	b->free_at -= n;
}

/* The slab a thread allocates class cls from, if h is the caller's heap. */
static inline struct slab *heap_current(struct heap *h, unsigned int cls)
{
	return hk_tls.heap == h ? hk_tls.cur[cls] : NULL;
}

/* ------------------------------------------------------------------ */
/* The remote word's state machine                                    */
/* ------------------------------------------------------------------ */

/*
 * slab::remote is a list of blocks (remote frees) and two bits. The bits
 * move only along these edges:
 *
 *   state       event                                  by      next
 *   ---------   ------------------------------------   ------  ---------
 *   0           slab exhausted, list empty             owner   FULL
 *               (slab_set_full)
 *   FULL        remote free (heap_free_other): the     other   QUEUED
 *               slab goes on the owner's notify stack
 *   FULL        owner frees a block back to the slab   owner   0
 *               (heap_free_local_slow)
 *   QUEUED      notify stack drained                   owner   0
 *               (heap_drain_notify)
 *   any         remote free: push a block              other   same, or
 *                                                              QUEUED
 *   any         owner takes the list (slab_take_remote) owner  same
 *   any, list   owner puts back the rest of a list it   owner   same
 *   empty       cut (slab_untake_remote)
 *
 * The high 16 bits count the blocks on the list (REMOTE_COUNT()).
 *
 * So FULL and QUEUED are never set together, FULL implies an empty list
 * (the first remote free turns it into QUEUED), only the owner sets FULL
 * and only from 0, and only the drain clears QUEUED, which it finds set.
 * A slab is released to its pool (slab_retire) with the word 0: no block
 * in the list (used is 0), not queued (else SLAB_RETIRE_PENDING), not
 * FULL (an owner free cleared it). With CONFIG_DEBUG_ASSERT every
 * transition checks the word it starts from.
 */
static inline void remote_check(uintptr_t w)
{
	HK_ASSERT((w & REMOTE_BITS) != REMOTE_BITS);
	HK_ASSERT(!(w & REMOTE_FULL) || w == REMOTE_FULL);
	/* The count is 0 exactly when the list is empty. */
	HK_ASSERT(!REMOTE_PTR(w) == !REMOTE_COUNT(w));
}

/* ------------------------------------------------------------------ */
/* Slab lists                                                         */
/* ------------------------------------------------------------------ */

/*
 * A slab is on its owner's partial list of its class (SLAB_IN_PARTIAL,
 * linked through next and prev) when it got free blocks back and is not
 * the class's current slab (it may sit on the notify stack as well); off
 * the list its links are NULL. With CONFIG_DEBUG_ASSERT every push and
 * removal checks the flag and the links of the slab and its neighbours.
 */
static void partial_push(struct heap *h, struct slab *s)
{
	struct slab **head = &h->partial[s->class_idx];

	HK_ASSERT(s->kind == SLAB_BLOCKS && s->owner == h);
	HK_ASSERT(!(s->flags & SLAB_IN_PARTIAL));
	HK_ASSERT(!s->next && !s->prev && *head != s);
	HK_ASSERT(!*head || !(*head)->prev);
	HK_ASSERT(s != heap_current(h, s->class_idx));
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	else
		h->partial_last[s->class_idx] = s;
	*head = s;
	s->flags |= SLAB_IN_PARTIAL;
}

/* List s last: taken after every other partial slab of its class. */
static void partial_push_last(struct heap *h, struct slab *s)
{
	struct slab **last = &h->partial_last[s->class_idx];

	if (!*last) {
		partial_push(h, s);
		return;
	}
	HK_ASSERT(s->kind == SLAB_BLOCKS && s->owner == h);
	HK_ASSERT(!(s->flags & SLAB_IN_PARTIAL));
	HK_ASSERT(!s->next && !s->prev && !(*last)->next);
	HK_ASSERT(s != heap_current(h, s->class_idx));
	s->next = NULL;
	s->prev = *last;
	(*last)->next = s;
	*last = s;
	s->flags |= SLAB_IN_PARTIAL;
}

static void partial_remove(struct heap *h, struct slab *s)
{
	HK_ASSERT(s->flags & SLAB_IN_PARTIAL);
	HK_ASSERT(s->prev ? s->prev->next == s : h->partial[s->class_idx] == s);
	HK_ASSERT(!s->next || s->next->prev == s);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->partial[s->class_idx] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		h->partial_last[s->class_idx] = s->prev;
	s->next = s->prev = NULL;
	s->flags &= ~SLAB_IN_PARTIAL;
}

static struct slab *partial_pop(struct heap *h, unsigned int cls)
{
	struct slab *s = h->partial[cls];

	if (s)
		partial_remove(h, s);
	return s;
}

/* ------------------------------------------------------------------ */
/* Purge: the pages of free big blocks (CONFIG_HEAP_PURGE)            */
/* ------------------------------------------------------------------ */

/*
 * A free block of at least HEAP_PURGE_MIN_SIZE bytes in a slab's local
 * list or in a spare batch holds what the allocator needs in its first
 * two words (the link, the double-free key); the whole pages after the
 * page holding them are the program's old data. A block that has stayed
 * on such a list for a whole epoch of the SuperSlab decay clock
 * (dirty_decay_ms= / SS_DECAY_HOLD: 125 ms by default) has those pages
 * returned (MADV_DONTNEED): they read as zero and fault in again when
 * the program writes the block. The first page keeps the link and the
 * key word, so the lists, the double-free check and the block-start
 * test see what they saw; a block's pages are returned only while it is
 * on a free list of its owner's (no other thread writes it then: a
 * remote free of it is a double free, which reads the key word in the
 * first page and reports).
 *
 * Nothing on the fast paths: blocks come and go from the slabs' lists
 * and the spare batches in slow paths only. slab::dirty counts the
 * blocks atop a slab's local list whose pages may be resident: a push
 * adds to it, a pop takes from it (the list is LIFO: the blocks popped
 * are the ones pushed last); the blocks below them have had their pages
 * returned. slab::dirty_old counts the lowest of those that were already
 * there at the heap's last pass. Every 16th refill or flush (heap_tick())
 * looks at the decay clock; the first one in a new epoch runs the pass
 * (heap_purge_tick()): over the heap's slabs of big classes (current,
 * partial, kept empty) and its spare batches, the pages of the old
 * blocks go back and the rest become old. A block freed and reused
 * within an epoch (a program's working set churning) never pays a system
 * call or a page fault; one that stays free for one to two epochs costs
 * an madvise and, when reused, its page faults.
 */
#ifdef CONFIG_HEAP_PURGE
static inline size_t slab_bytes(const struct slab *s);
static inline uintptr_t spare_top(const struct heap_spare *sp, uint32_t i);

static inline int heap_purge_class(unsigned int cls)
{
	return hk_classes[cls].size >= HEAP_PURGE_MIN_SIZE;
}

/* The whole pages of free block p of class cls past its list words. */
static void block_purge(void *p, unsigned int cls)
{
	uintptr_t from = ALIGN_UP((uintptr_t)p + FL_WORDS, os_page_size);
	uintptr_t to = ((uintptr_t)p + hk_classes[cls].size) & ~(uintptr_t)(os_page_size - 1);

	if (to > from)
		ss_decommit((void *)from, to - from);
}

/*
 * Block p of s's local list is about to lose its pages: it must lie in
 * s and hold the slab's key (a list corrupted by a write after free must
 * not send the madvise elsewhere).
 */
static inline void slab_purge_check(struct slab *s, void *p)
{
	if (unlikely((uintptr_t)p - (uintptr_t)slab_start(s) >= slab_bytes(s) ||
		     !dfkey_word_is(p, s->dfkey ^ DFKEY_ON_SLAB)))
		heap_free_list_corrupt(p);
}

/* Return the pages of the old dirty blocks of s; the young ones become old. */
static void slab_purge_old(struct slab *s)
{
	uint32_t young = s->dirty - s->dirty_old, i;
	void *p = s->local_free;

	if (!s->dirty)
		return;
	/* Each link followed is checked first: a double free can rewrite it. */
	for (i = 0; i < young && p; i++) {
		slab_purge_check(s, p);
		p = fl_next(p);
	}
	for (i = 0; i < s->dirty_old && p; i++) {
		slab_purge_check(s, p);
		block_purge(p, s->class_idx);
		p = fl_next(p);
	}
	STAT_ADD(STAT_BLOCKS_PURGED, i);
	s->dirty = young;
	s->dirty_old = young;
}

/*
 * n blocks pushed on s's list. Counted for the classes the purge visits
 * only (heap_purge_tick()): the count lives in the slab's second line,
 * which a free to a slab of a smaller class does not touch otherwise (a
 * miss per block where a container's frees pass on to their slabs,
 * heap_bin_pass(): 24% of heap_free_local_run()'s samples on a C++ map
 * cleared, perf).
 */
static inline void slab_dirty_add(struct slab *s, uint32_t n)
{
	if (heap_purge_class(s->class_idx))
		s->dirty += n;
}

/* n blocks popped off s's list. */
static inline void slab_dirty_take(struct slab *s, uint32_t n)
{
	if (!heap_purge_class(s->class_idx))
		return;
	s->dirty = n < s->dirty ? s->dirty - n : 0;
	if (s->dirty_old > s->dirty)
		s->dirty_old = s->dirty;
}

/* s is set up anew, or leaves the heap (back to its pool). */
static inline void slab_dirty_drop(struct slab *s)
{
	s->dirty = 0;
	s->dirty_old = 0;
}

/* Chain i of spare batches sp set aside. */
static inline void spare_dirty_add(struct heap_spare *sp, uint32_t i)
{
	BUILD_BUG_ON(HEAP_SPARE_SLOTS > 32);
	sp->dirty |= 1U << i;
	sp->dirty_old &= ~(1U << i);
}

/* Chain i of sp taken back. */
static inline void spare_dirty_take(struct heap_spare *sp, uint32_t i)
{
	sp->dirty &= ~(1U << i);
	sp->dirty_old &= ~(1U << i);
}

/* The spare batches of class cls: the old chains' pages back, the others old. */
static void spare_purge_old(struct heap_spare *sp, unsigned int cls)
{
	uint32_t i, k;

	for (i = 0; i < sp->nr; i++) {
		uintptr_t w = spare_top(sp, i);
		void *p;

		if (!(sp->dirty_old & (1U << i)))
			continue;
		/*
		 * count blocks (a block freed twice may link the chain into a
		 * loop), each with the word of its place (heap_spare_put()).
		 */
		for (p = sp->head[i], k = 0; p && k < sp->count[i]; p = fl_next(p), k++) {
			if (unlikely(!dfkey_word_is(p, w++)))
				heap_free_list_corrupt(p);
			block_purge(p, cls);
		}
		STAT_ADD(STAT_BLOCKS_PURGED, k);
		sp->dirty &= ~(1U << i);
	}
	sp->dirty_old = sp->dirty;
}

void heap_purge_tick(struct heap *h)
{
	unsigned int cls;
	struct slab *s;

	h->purge_epoch = ss_epoch_now();
	for (cls = 0; cls < heap_nr_classes(); cls++) {
		if (!heap_purge_class(cls))
			continue;
		if (hk_tls.heap == h && hk_tls.cur[cls])
			slab_purge_old(hk_tls.cur[cls]);
		for (s = h->partial[cls]; s; s = s->next)
			slab_purge_old(s);
		spare_purge_old(&h->spare[cls], cls);
	}
	for (s = h->empty; s; s = s->next)
		if (heap_purge_class(s->class_idx))
			slab_purge_old(s);
}

/* heap_tick()'s look at the decay clock: a new epoch, a pass. */
static inline void heap_purge_check(struct heap *h)
{
	if (h && ss_epoch_now() != h->purge_epoch)
		heap_purge_tick(h);
}
#else
static inline void slab_dirty_add(struct slab *s, uint32_t n) { }
static inline void slab_dirty_take(struct slab *s, uint32_t n) { }
static inline void slab_dirty_drop(struct slab *s) { }
static inline void spare_dirty_add(struct heap_spare *sp, uint32_t i) { }
static inline void spare_dirty_take(struct heap_spare *sp, uint32_t i) { }
static inline void heap_purge_check(struct heap *h) { }
#endif

/* ------------------------------------------------------------------ */
/* Slabs                                                              */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_DOUBLE_FREE_CHECK
/*
 * s is empty (used 0): every block it carved must be on its list,
 * holding the list's mark (dfkey ^ DFKEY_ON_SLAB). A block the owner
 * freed again while it was on that list went into the bin as well (free
 * reads nothing), and its pop handed it out (its word is the bin's); the
 * slab counted it as free all along, so it emptied with the block live
 * and a slab set up anew would carve it out again (tests/dfuzz: Mid
 * blocks handed out twice, or live in a released slab;
 * test_dfkey_refree_on_slab_list). The blocks are read in address
 * order, a word each, not through the list (whose link the second free
 * rewrote).
 *
 * When (branch treefree): a slab carved again from its start (a kept
 * slab, slab_recarve(); a slot claimed back by its class, slab_new())
 * reads each such block's word as the carve reaches it, just before it
 * writes the block's link and word (dfkey_carve_check()): the lines are
 * written then anyway. s->check_end marks where the blocks of earlier
 * lives end. A slab of one slot given back to its pool is not read at
 * once either (dfkey_retire(): SLAB_UNSWEPT); the next claim of the
 * slot, a decommit or an unmap reads it first (ss_slot_sweep()). Until
 * then every block of a slab that emptied was read when it emptied: in
 * a container destroyed whole (bench_tree) a read of lines the frees
 * had left cold, one per block (1.55 simulated L2 read misses per key,
 * Documentation/benchmarks.md, "twenty-second session: ... tree").
 * A slab of several slots (Mid) is read when it goes back, as before:
 * another claim may take part of its slots.
 */
static void dfkey_slab_all_free(struct slab *s)
{
	uintptr_t mark = s->dfkey ^ DFKEY_ON_SLAB;
	char *p = slab_first_block(s), *end = s->bump;
	size_t bs = s->block_size;

	if (slab_start(s) + s->check_end > end)
		end = slab_start(s) + s->check_end;
	for (; p < end; p += bs)
		if (unlikely(!dfkey_word_is(p, mark)))
			heap_free_list_corrupt(p);
	s->check_end = 0;
}

/* s, empty, is set to carve again from its start: its carved blocks are read as the carve reaches them. */
static inline void dfkey_defer(struct slab *s)
{
	uint32_t end = (uint32_t)(s->bump - slab_start(s));

	if (end > s->check_end)
		s->check_end = end;
}

/*
 * The carve of n blocks from p (s's bump): those of an earlier life
 * (below check_end) must still hold the list's mark.
 */
static inline void dfkey_carve_check(struct slab *s, char *p, unsigned int n)
{
	char *end = slab_start(s) + s->check_end;
	size_t bs = s->block_size;
	uintptr_t mark;

	if (likely(p >= end))
		return;
	mark = s->dfkey ^ DFKEY_ON_SLAB;
	for (; n && p < end; n--, p += bs)
		if (unlikely(!dfkey_word_is(p, mark)))
			heap_free_list_corrupt(p);
}

/* Empty s goes back to its pool: a slab of one slot unread (SLAB_UNSWEPT), any other read now. */
static void dfkey_retire(struct slab *s)
{
	if (s->span != 1) {
		dfkey_slab_all_free(s);
		return;
	}
	dfkey_defer(s);
	s->flags |= SLAB_UNSWEPT;
}

/* The slot s, given back unread, is about to be used (ss_slot_sweep()). */
void heap_released_sweep(struct slab *s)
{
	dfkey_slab_all_free(s);
	s->flags &= (uint8_t)~SLAB_UNSWEPT;
}

/*
 * The span slots from s, just claimed for class cls, before slab_new()
 * sets them up: a slot given back unread by a slab of cls (the same
 * blocks at the same addresses) is read by the carves
 * (dfkey_carve_check()); any other is read now. Returns the new slab's
 * check_end.
 */
static uint32_t dfkey_claim(struct slab *s, unsigned int cls, unsigned int span)
{
	unsigned int i;

	if ((s->flags & SLAB_UNSWEPT) && span == 1 && s->class_idx == cls)
		return s->check_end;
	for (i = 0; i < span; i++)
		ss_slot_sweep(&s[i]);
	return 0;
}

static inline void dfkey_check_end_set(struct slab *s, uint32_t end)
{
	s->check_end = end;
}

/*
 * A free of p in a slot given back unread: a block start of the slab
 * that left it, below its end, is a block freed twice (its slab emptied
 * with it live).
 */
static inline int dfkey_free_released(struct slab *s, const void *p)
{
	if (s->kind != SLAB_FREE || !(s->flags & SLAB_UNSWEPT))
		return 0;
	return (const char *)p < slab_start(s) + s->check_end &&
	       slab_block_start_off(s, (uint32_t)(uintptr_t)p -
					(uint32_t)(uintptr_t)slab_first_block(s));
}

/*
 * p, a pointer into a SuperSlab slot that no live slab's block starts
 * at (free(), malloc_usable_size(), realloc(), the debug pop's
 * self-check): report p if it is a block the slot's last slab emptied
 * with, live (the program holds a block freed twice and handed out once
 * more from a bin before its slab went back unread). Until the
 * thirty-third session malloc_usable_size() and realloc() answered 0
 * for a foreign pointer instead (tests/dfuzz seed 33880).
 */
void heap_check_released(const void *p)
{
	if (unlikely(dfkey_free_released(slab_of(p), p)))
		heap_free_list_corrupt(p);
}
#else
static inline void dfkey_slab_all_free(struct slab *s) { }
static inline void dfkey_defer(struct slab *s) { }
static inline void dfkey_carve_check(struct slab *s, char *p, unsigned int n) { }
static inline void dfkey_retire(struct slab *s) { }
static inline uint32_t dfkey_claim(struct slab *s, unsigned int cls, unsigned int span) { return 0; }
static inline void dfkey_check_end_set(struct slab *s, uint32_t end) { }
#endif

static struct slab *slab_new(struct heap *h, unsigned int cls, int committed)
{
	const struct size_class *c = &hk_classes[cls];
	unsigned int fresh = 0;
	struct slab *s = committed ? ss_claim_committed(c->pool, c->span) :
				     ss_claim_run(c->pool, c->span, &fresh);
	uint32_t check_end;
	uintptr_t end;
	unsigned int i;
	int warm;

	if (!s)
		return NULL;
	/* Before the fields are set: what the slot's last slab left. */
	warm = !fresh && (s->flags & SLAB_WARM) && s->class_idx == cls &&
	       s->span == c->span;
	check_end = dfkey_claim(s, cls, c->span);
	s->kind = SLAB_BLOCKS;
	s->class_idx = (uint8_t)cls;
	s->span = c->span;
	s->block_size = class_stride(c);
	/* The blocks leave room for the class's colours. */
	s->capacity = (uint32_t)((((size_t)c->span << SLOT_SHIFT) - class_colour_room(c)) /
				 s->block_size);
	/* Atomic: a remote free reads it (dfkey_remote_free()). */
	a_store(&s->bump, slab_start(s) + slab_colour(s, c), A_RELAXED);
	s->uncarved = s->capacity;
	s->local_free = NULL;
	slab_dirty_drop(s);
	s->used = 0;
	s->flags = warm ? SLAB_WARM : fresh ? SLAB_COLD : 0;
	dfkey_check_end_set(s, check_end);
	s->next = s->prev = NULL;
	/*
	 * The block-start test computes a multiple of the block index for
	 * a block start: bounding it by the last block's also rejects the
	 * unused bytes at the end of the slab.
	 */
	s->start_mul = c->start_mul;
	s->start_limit = slab_start_limit(s->block_size, s->capacity);
	s->dfkey = dfkey_of_slab();
	s->bin_tpoff = heap_bin_tpoff(cls) - (heap_class_split(cls) ? 0 : BIN_LIFO_SHIFT);
	/*
	 * free's owner test: the thread's tag added to p - tbase cancels
	 * this one. The offsets are from the first block (past the colour).
	 */
	s->tbase = (uint32_t)(uintptr_t)s->bump + h->tag;
	/* The remote word holds a block's address and a count of blocks. */
	end = (uintptr_t)slab_start(s) + ((size_t)c->span << SLOT_SHIFT);
	if (unlikely(end >> REMOTE_COUNT_SHIFT || s->capacity >= (1U << (64 - REMOTE_COUNT_SHIFT))))
		hk_fatal("heap: slab at %p of %u blocks does not fit the remote word",
			 slab_start(s), s->capacity);
	a_store(&s->remote, 0UL, A_RELAXED);
	/* Memcheck: no block of a new slab may be touched until handed out. */
	vg_noaccess(slab_start(s), (size_t)c->span << SLOT_SHIFT);
	for (i = 1; i < c->span; i++) {
		s[i].kind = SLAB_TAIL;
		s[i].flags = 0;		/* no longer a head whose blocks were carved */
		s[i].head_off = (uint8_t)i;
		s[i].class_idx = s->class_idx;
		s[i].dfkey = s->dfkey;
		s[i].bin_tpoff = s->bin_tpoff;
		s[i].start_mul = s->start_mul;
		s[i].start_limit = s->start_limit;
		s[i].tbase = s->tbase;
		a_store(&s[i].owner, h, A_RELEASE);
	}
	a_store(&s->owner, h, A_RELEASE);
	STAT_INC_TLS(STAT_SLAB_NEW);
	return s;
}

/*
 * Warm slabs (slab_refill_bin()): a carve of fresh memory stops at
 * HEAP_CARVE_BYTES so that a class does not fault in pages ahead of its
 * use; a slab carved anew over blocks it carved before (a kept empty
 * slab, slab_recarve(); slots claimed back committed by the class and
 * span that left them, slab_new()) has their first pages resident
 * already, and carves its whole batch: one refill per batch instead of
 * one per block for the classes of 4 KiB and more. SLAB_WARM on a slab
 * being released or recarved says that every block was carved; the
 * slots' fields stay as they are until the next claim reads them.
 */
static inline void slab_warm_mark(struct slab *s)
{
	if (s->uncarved)
		s->flags &= (uint8_t)~SLAB_WARM;
	else
		s->flags |= SLAB_WARM;
}

static void heap_inbox_retire_check(struct heap *h, const struct slab *s);

/* Give an all-free slab back to its pool. */
static void slab_retire(struct heap *h, struct slab *s)
{
	uintptr_t full = REMOTE_FULL;

	if (s->flags & SLAB_IN_PARTIAL)
		partial_remove(h, s);
	/*
	 * A slab of one block (a big class in a small SuperSlab: 256 KiB
	 * blocks, 448 KiB slabs with 1 MiB SuperSlabs) goes from full to
	 * empty in one free, which leaves its FULL mark: nobody needs to
	 * tell us about it any more (randconfig KCONFIG_SEED=0x76b5d30b).
	 * No remote free can be pending: every block is back.
	 */
	a_cas(&s->remote, &full, 0UL, A_RELAXED);
	if (a_load(&s->remote, A_ACQUIRE) & REMOTE_QUEUED) {
		/* Still linked in the notify stack: release once drained. */
		s->flags |= SLAB_RETIRE_PENDING;
		return;
	}
	HK_ASSERT(s->used == 0);
	HK_ASSERT(!(s->flags & SLAB_IN_PARTIAL) && !s->next && !s->prev);
	HK_ASSERT(a_load(&s->remote, A_RELAXED) == 0);
	heap_inbox_retire_check(h, s);
	dfkey_retire(s);
	STAT_INC_TLS(STAT_SLAB_RETIRE);
	slab_dirty_drop(s);
	slab_warm_mark(s);
	ss_release(s, s->span);
}

static void *slab_carve(struct slab *s, unsigned int n, uintptr_t w)
{
	size_t bs = s->block_size;
	char *first = s->bump, *q = first;
	unsigned int i;

	if (n > s->uncarved)
		n = s->uncarved;
	dfkey_carve_check(s, first, n);
	for (i = 1; i < n; i++, q += bs) {
		fl_set_next(q, q + bs);
		dfkey_carve(s, q, w++);
	}
	fl_set_next(q, NULL);
	dfkey_carve(s, q, w);
	HK_ASSERT(s->used + n <= s->capacity);
	a_store(&s->bump, q + bs, A_RELAXED);	/* dfkey_remote_free() reads it */
	s->uncarved -= n;
	s->used += n;
	if (!s->uncarved)
		slab_carved_set(s);
	return first;
}

/* Take the remote-free list and its count (*n), keeping the QUEUED bit. */
static void *slab_take_remote(struct slab *s, uint32_t *n)
{
	uintptr_t old = a_load(&s->remote, A_RELAXED);

	while (!a_cas(&s->remote, &old, old & REMOTE_QUEUED, A_ACQUIRE))
		;
	remote_check(old);
	*n = REMOTE_COUNT(old);
	return REMOTE_PTR(old);
}

/* Move up to n blocks of s's local list to the bin. */
static void slab_to_bin(struct slab *s, struct bin *b, unsigned int n)
{
	void *first = s->local_free, *last = first;
	unsigned int i = 1;

	for (;;) {
		dfkey_to_bin(s, last);
		if (i == n || !fl_next(last))
			break;
		last = fl_next(last);
		i++;
	}
	s->local_free = fl_next(last);
	slab_dirty_take(s, i);
	bin_free_grow(b, i);
	dfkey_enter_chain(first, i, bin_free_top(b));
	fl_set_next(last, b->free);
	b->free = first;
	HK_ASSERT(s->used + i <= s->capacity);
	s->used += i;
}

/* Put a list of n blocks counted as used back on s's local list. */
static void slab_give_back(struct slab *s, void *list, uint32_t n)
{
	uint32_t pushed = n;

	HK_ASSERT(n <= s->used);
	while (list) {
		void *next = fl_next(list);

		dfkey_to_slab(s, list);
		fl_set_next(list, s->local_free);
		s->local_free = list;
		HK_ASSERT(s->used > 0 && n-- > 0);
		s->used--;
		list = next;
	}
	HK_ASSERT(n == 0);
	slab_dirty_add(s, pushed);
}

/*
 * Put back rest, n blocks that slab_take_remote() took from s, as its
 * remote list if no remote free came since (the list is still empty);
 * 0 if one came.
 */
static int slab_untake_remote(struct slab *s, void *rest, uint32_t n)
{
	uintptr_t old = a_load(&s->remote, A_RELAXED);

	do {
		remote_check(old);
		if (REMOTE_PTR(old))
			return 0;
		HK_ASSERT(!(old & REMOTE_FULL));
	} while (!a_cas(&s->remote, &old,
			(uintptr_t)rest | (uintptr_t)n << REMOTE_COUNT_SHIFT | (old & REMOTE_QUEUED),
			A_RELEASE));
	return 1;
}

static void bin_limit_set(struct bin *b, uint32_t limit);

/*
 * Whether the bins may hold more than the bound: only if the limits of the
 * filled bins (heap_tls::cache_cap) add up to more than it. Else a count
 * would find them under it. Asked only where every bin holds at most its
 * limit (after a refill, a growth or a flush; the bin being flushed held
 * one block more before).
 */
static inline int heap_cache_may_exceed(void)
{
	return hk_tls.cache_cap > heap_cache_max;
}

/*
 * May bin b of class cls grow to limit? Within the class's limit_max,
 * the thread's growth budget and half of its cache bound (one bin), and
 * not for a class whose frees outran its grown bin (hk_tls.outran): the
 * bounds of every growth, a flush's (heap_bin_flush()) and a remote
 * list's (bin_grow_for_remote()).
 */
static int bin_may_grow_to(const struct bin *b, unsigned int cls, uint32_t limit)
{
	const struct size_class *c = &hk_classes[cls];

	return HEAP_GROW_ON && limit <= c->limit_max && !cls_bit_test(hk_tls.outran, cls) &&
	       hk_tls.cache_grown + (size_t)(limit - b->limit) * class_cache_bytes(c) <= heap_cache_budget &&
	       (size_t)limit * class_cache_bytes(c) <= heap_cache_max / 2;
}

/*
 * A remote list of n blocks of s is longer than the room of its (empty)
 * bin b: grow b so that the list goes in whole and unread, within the
 * bounds a flush grows a bin by (heap_bin_flush(): the class's
 * limit_max, the thread's growth budget, half of its cache bound, not a
 * class that outran its grown bin); not for the classes of spare
 * batches, whose lists are read whole when taken whole
 * (bin_takes_unread()). 0 if the bin may not grow so far. Cut, the list
 * is read up to the cut one block after the other (each link is the
 * address of the next load): lines the freeing thread wrote last, so
 * with two threads running at once a cross-core miss per block, with
 * nothing to overlap them. The blocks left the slab's count when the
 * owner handed them out: they hold no memory more in the bin than on
 * the remote list.
 */
static int bin_grow_for_remote(struct bin *b, unsigned int cls, uint32_t n)
{
	uint32_t limit = b->limit + (n - (uint32_t)bin_room(b));

	if (hk_classes[cls].size >= HEAP_SPARE_MIN_SIZE || !bin_may_grow_to(b, cls, limit))
		return 0;
	bin_limit_set(b, limit);
	STAT_INC_TLS(STAT_BIN_GROW);
	return 1;
}

/*
 * Fill empty bin b of class cls from a list of n blocks taken whole: a
 * slab's remote list (slab_remote_to_bin()) or an owner's inbox
 * (heap_inbox_to_bin()). The blocks hold the slabs' key
 * (heap_free_remote()) and count as used. A list that fits the bin, or
 * the bin grown for it (grow, bin_grow_for_remote()), becomes its list;
 * a longer one is cut after batch blocks and the rest is returned
 * (*rest_n blocks, unread, ending in HEAP_NIL): a slab's goes back as
 * its remote list (the next refill from s takes it), or to the slab's
 * list if a remote free came meanwhile; an inbox's waits for the next
 * refill.
 *
 * A whole list goes in unread (bin_takes_unread(): split and one-list
 * bins, since branch onelist): its places get the words below the next
 * top of a band of their own (bin_free_top_unread()), and malloc's pop
 * takes a block holding the slabs' key at those places only, while they
 * hold the list's blocks (heap_pop_slow_at(), bin_unread_take()). Anywhere else the key is a double free: until branch
 * dfuzz the pop took it at any place, so a block in its owner's bin freed
 * again by another thread (which found a positional word, wrote the key
 * and put it on the slab's remote list) was popped as if taken whole
 * while its other copy stayed on the remote list: handed out twice
 * (tests/dfuzz, test_dfkey_remote_in_bin). From branch dfuzz to branch
 * xrekey every list was walked and its blocks took the words of their
 * places (dfkey_rekey(), which checks the key): a chain of misses on
 * lines the freeing thread wrote (bench_xthread 1.2x the CPU time). A cut
 * list (read anyway, up to the cut) and one of a class of spare batches
 * still are.
 * Without the check there is no word to write and the list goes in
 * unread.
 */
static void *bin_take_list(struct bin *b, unsigned int cls, void *list, uint32_t n,
			   unsigned int batch, int grow, uint32_t *rest_n)
{
	void *last = list, *rest = NULL;
	uint32_t i, take = n;
	int grew = 0;
	uintptr_t w;

	HK_ASSERT(!bin_list(b->free) && !bin_list(b->put) && n > 0);
	if (unlikely((int32_t)n > bin_room(b))) {
		grew = grow && bin_grow_for_remote(b, cls, n);
		if (!grew) {
			HK_ASSERT(batch < n);
			take = batch;
		}
	}
	if (take == n && bin_takes_unread(cls)) {
		bin_free_top_unread(b, cls);
		bin_free_grow(b, n);
		bin_unread_set(cls, n);
	} else {
		bin_free_grow(b, take);
		if (take < n || hk_dfkey) {
			w = bin_free_top(b);
			dfkey_rekey(last, w);
			for (i = 1; i < take; i++) {
				void *next = fl_next(last);

				/* Shorter than its count: a block's link rewritten by a double free. */
				if (unlikely(!next))
					heap_free_list_corrupt(last);
				last = next;
				dfkey_rekey(last, w + i);
			}
		}
	}
	if (take < n) {
		rest = fl_next(last);
		if (unlikely(!rest))
			heap_free_list_corrupt(last);
		fl_set_next(last, HEAP_NIL);
	}
	*rest_n = n - take;
	b->free = list;
	STAT_INC_TLS(STAT_REMOTE_TAKE);
	/* The bin grew for the list: the thread's bins as a whole stay bounded. */
	if (grew && heap_cache_may_exceed())
		heap_cache_check(b);
	return rest;
}

/* ... a list slab_take_remote() took from s; what the bin did not take goes back. */
static void slab_remote_to_bin(struct slab *s, struct bin *b, void *list, uint32_t n,
			       unsigned int batch)
{
	uint32_t left;
	void *rest = bin_take_list(b, s->class_idx, list, n, batch, 1, &left);

	if (rest && !slab_untake_remote(s, rest, left))
		slab_give_back(s, rest, left);
}

static void heap_rbatch_push_all(void);

/* Foreign stash (below, CONFIG_HEAP_FOREIGN_STASH): does the thread hold blocks of class cls, of any? */
#ifdef CONFIG_HEAP_FOREIGN_STASH
static inline int fstash_held(unsigned int cls)
{
	return hk_tls.fstash[cls].n != 0;
}

static inline int fstash_any(void)
{
	return hk_tls.fstash_nr != 0;
}

static __noinline void *fstash_pop(unsigned int cls);
#else
static inline int fstash_held(unsigned int cls)
{
	return 0;
}

static inline int fstash_any(void)
{
	return 0;
}

static inline void *fstash_pop(unsigned int cls)
{
	return NULL;
}
#endif
/* Idle owners' inboxes (below, CONFIG_HEAP_INBOX_STEAL): does h hold another heap's blocks of cls? */
#ifdef CONFIG_HEAP_INBOX_STEAL
static inline int heap_stolen_held(const struct heap *h, unsigned int cls)
{
	return h->stolen_n[cls] != 0;
}

static inline uint32_t heap_stolen_nr(const struct heap *h)
{
	return h->stolen_nr;
}

static __noinline void *heap_stolen_pop(struct heap *h, unsigned int cls);
static int heap_inbox_steal(struct heap *h, unsigned int cls);
static inline void heap_inbox_glut_note(struct heap *h, unsigned int cls);
#else
static inline uint32_t heap_stolen_nr(const struct heap *h)
{
	return 0;
}

static inline int heap_stolen_held(const struct heap *h, unsigned int cls)
{
	return 0;
}

static inline void *heap_stolen_pop(struct heap *h, unsigned int cls)
{
	return NULL;
}

static inline int heap_inbox_steal(struct heap *h, unsigned int cls)
{
	return 0;
}

static inline void heap_inbox_glut_note(struct heap *h, unsigned int cls) { }
#endif

/*
 * Hungry owners (CONFIG_HEAP_RBATCH_HUNGRY). A thread that frees another
 * thread's blocks holds up to 32 of a class on its remote batch (below,
 * "Remote batches") until the batch is full or a free of the class goes
 * to another slab; a class it frees rarely waits long, and its owner,
 * which cannot see the batch, carves fresh memory meanwhile (bench_pool:
 * 0.4-0.6 MB of its 4.3 MB; Documentation/benchmarks.md, "twenty-third
 * session: pool's peak RSS"). So the owner notes, per class, that it
 * carved fresh memory (struct heap::hungry: set by a carve, cleared by
 * a flush of the class's bin, where the owner has more than it uses;
 * written only when the bit changes, in the line of notify, which the
 * refill reads anyway), and a thread that holds batches, at each refill
 * of its own (heap_bin_fill()), pushes those whose owner is hungry for
 * their class (heap_rbatch_hungry_push()). The free itself reads
 * nothing new, and a thread that only frees (bench_xmalloc's consumer)
 * keeps its batches of 32.
 */
#ifdef CONFIG_HEAP_RBATCH_HUNGRY
static inline void heap_hungry_note(struct heap *h, unsigned int cls, int on)
{
	unsigned long *w = &h->hungry[cls / (8 * sizeof(long))];
	unsigned long bit = 1UL << (cls % (8 * sizeof(long)));
	unsigned long old = a_load(w, A_RELAXED);

	if (!(old & bit) != !on)
		a_store(w, old ^ bit, A_RELAXED);
}
#else
static inline void heap_hungry_note(struct heap *h, unsigned int cls, int on) { }
#endif

/*
 * Fill the bin from slab s with up to batch blocks (a remote list that
 * fits the bin whole); 0 if s has nothing left.
 */
static int slab_refill_bin(struct slab *s, struct bin *b, unsigned int batch)
{
	if (!s->local_free && (a_load(&s->remote, A_RELAXED) & REMOTE_PTR_MASK)) {
		uint32_t n;
		void *list = slab_take_remote(s, &n);

		slab_remote_to_bin(s, b, list, n, batch);
		return 1;
	}
	if (s->local_free) {
		slab_to_bin(s, b, batch);
		return 1;
	}
	if (s->uncarved) {
		unsigned int n = batch < s->uncarved ? batch : s->uncarved;
		char *first;

		/* Fresh memory: no more than HEAP_CARVE_BYTES of it touched ahead. */
		if ((size_t)n * s->block_size > HEAP_CARVE_BYTES && !(s->flags & SLAB_WARM))
			n = s->block_size >= HEAP_CARVE_BYTES ? 1 :
			    (unsigned int)(HEAP_CARVE_BYTES / s->block_size);
		heap_hungry_note(s->owner, s->class_idx, 1);
		bin_free_grow(b, n);
		first = slab_carve(s, n, bin_free_top(b));

		/* slab_carve ends its list with NULL: splice it before the bin. */
		fl_set_next(first + (size_t)(n - 1) * s->block_size, b->free);
		b->free = first;
		return 1;
	}
	return 0;
}

/*
 * s has no free block left: ask the next remote freer to tell us. Fails
 * (returns 0) if a remote free arrived meanwhile.
 */
static int slab_set_full(struct slab *s)
{
	uintptr_t old = a_load(&s->remote, A_RELAXED);

	for (;;) {
		remote_check(old);
		if (REMOTE_PTR(old))
			return 0;
		if (old & (REMOTE_QUEUED | REMOTE_FULL))
			return 1;
		if (a_cas(&s->remote, &old, REMOTE_FULL, A_ACQ_REL))
			return 1;
	}
}

/*
 * Fresh memory last. Once its own lists are empty, the current slab of a
 * class carves blocks never used (slab_refill_bin(): their first pages
 * fault in), while the heap's partial slabs of the class may hold freed
 * blocks, resident, that waited until the current slab was used up: in
 * a class whose blocks come back in another order than they were carved
 * (remote frees, flushes of a bin that mixes slabs) every slab's pages
 * were touched before its freed blocks went back into use. So when the
 * current slab has nothing left but uncarved blocks and a partial slab
 * exists, the refill takes the partial slab's blocks and the current
 * slab stays, its fresh blocks kept for when no slab of the class has a
 * free one.
 */
static inline int slab_only_uncarved(struct slab *s)
{
	return s->uncarved && !s->local_free &&
	       !(a_load(&s->remote, A_RELAXED) & REMOTE_PTR_MASK);
}

/*
 * Resident memory before a fresh tail. A slab claimed with slots that
 * were not committed (SLAB_COLD) has its uncarved blocks on pages never
 * touched: each carve of them faults pages in. When its class's current
 * slab has nothing left but such a tail while the pool holds committed
 * free slots (a container built and freed whole, then built again: its
 * slabs emptied and went back, but the current slab of each class stays
 * with the tail it never reached), carving the tail makes the program's
 * peak the old one plus the tails, the committed slots idle meanwhile
 * (bench_tree's later rounds: Documentation/benchmarks.md, "thirty-fourth
 * session"). So the refill sets such a slab aside, last on its class's
 * partial list, and takes a kept empty slab of the class or claims
 * committed slots instead (heap_bin_fill()). The slab's carved blocks
 * still come back to it and are taken as any partial slab's are
 * (heap_fill_partial() lists it last again once they are used); its
 * tail is carved once no resident slab is left to take: when it is
 * popped as the current slab again and the pool has no committed run.
 * A claim of committed slots never maps or faults anything, so a
 * refill that finds none does what it did before; at most one slab is
 * set aside per refill.
 */
static inline int slab_cold_only(struct slab *s)
{
	return (s->flags & SLAB_COLD) && slab_only_uncarved(s);
}

/* A resident slab of cls for a refill instead of a cold tail; NULL if none. */
static struct slab *heap_resident_slab(struct heap *h, unsigned int cls);

/*
 * Fill b from h's newest partial slab of cls, which does not become the
 * current one: listed again while it holds free or uncarved blocks (or a
 * remote free came meanwhile), else marked FULL for the next remote free
 * to report, as a current slab used up is. 0 if it had nothing.
 */
static int heap_fill_partial(struct heap *h, struct bin *b, unsigned int cls,
			     unsigned int batch)
{
	struct slab *p = partial_pop(h, cls);
	int filled = slab_refill_bin(p, b, batch);

	if (slab_cold_only(p))
		partial_push_last(h, p);
	else if (p->local_free || p->uncarved || !slab_set_full(p))
		partial_push(h, p);
	if (filled)
		STAT_INC_TLS(STAT_PARTIAL_FIRST);
	return filled;
}

/* Move the slabs other threads told us about back to the partial lists. */
static __slowpath void heap_drain_notify(struct heap *h)
{
	struct slab *s = a_swap(&h->notify, NULL, A_ACQUIRE);

	while (s) {
		struct slab *next = s->notify_next;
		uintptr_t old;

		HK_ASSERT(s->kind == SLAB_BLOCKS && s->owner == h);
		old = a_fetch_and(&s->remote, ~REMOTE_QUEUED, A_ACQ_REL);
		remote_check(old);
		HK_ASSERT(old & REMOTE_QUEUED);
		if (s->flags & SLAB_RETIRE_PENDING) {
			s->flags &= ~SLAB_RETIRE_PENDING;
			slab_retire(h, s);
		} else if (!(s->flags & SLAB_IN_PARTIAL) &&
			   s != heap_current(h, s->class_idx)) {
			partial_push(h, s);
		}
		s = next;
	}
}

/* ------------------------------------------------------------------ */
/* Empty slabs kept (CONFIG_HEAP_EMPTY_KB)                            */
/* ------------------------------------------------------------------ */

/*
 * A slab of the heap whose blocks have all come back (used 0, not the
 * current slab of its class) is kept rather than given back to its pool:
 * the next refill of its class that finds no partial slab takes it
 * whole, with the blocks, addresses and pages the class used last,
 * instead of claiming a run of slots and carving blocks at addresses
 * the program has not written for this class. Kept slabs are on no
 * partial list; they are linked in h->empty (newest first, through
 * next and prev, which only the partial lists use otherwise), at most
 * HEAP_EMPTY_PER_CLASS of a class and heap_empty_max bytes of slots in
 * all; their remote word is 0 (no block is out, so no remote free can
 * come). Bounds and claims give back the oldest first.
 */

/* Most bytes of slots of kept empty slabs per heap record (tcache_pct= scales it). */
size_t heap_empty_max;

static inline int heap_empty_on(void)
{
	return CONFIG_HEAP_EMPTY_KB != 0;
}

static inline size_t slab_bytes(const struct slab *s)
{
	return (size_t)s->span << SLOT_SHIFT;
}

/* Take kept slab s off h's list. */
static void heap_empty_remove(struct heap *h, struct slab *s)
{
	HK_ASSERT(h->empty_nr[s->class_idx] > 0 && h->empty_bytes >= slab_bytes(s));
	if (s->prev)
		s->prev->next = s->next;
	else
		h->empty = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		h->empty_last = s->prev;
	s->next = s->prev = NULL;
	h->empty_nr[s->class_idx]--;
	h->empty_bytes -= slab_bytes(s);
}

/*
 * A kept empty slab taken back into use is carved again from its start,
 * as a slab set up anew is: its list is not followed. That list is in
 * the order the blocks were freed (a container destroyed in key order,
 * a flush's runs), so each refill from it was a chain of dependent
 * misses, one per block, all over the slab, and handed the blocks out in
 * that scattered order; the carve takes them in address order without
 * reading them (bench_tree, a C++ map cleared: Documentation/
 * benchmarks.md, "twelfth session: frees that outrun the thread
 * cache"). Every carved block must hold the list's mark, as for a
 * slab given back to its pool: read as the carve reaches it
 * (dfkey_carve_check(), below s->check_end; until branch treefree the
 * whole slab here, dfkey_slab_all_free()); a block freed again after the
 * reset lies at or past the bump, which the flush and a remote free
 * refuse (dfkey_to_slab(), dfkey_remote_free()).
 */
static void slab_recarve(struct slab *s)
{
	HK_ASSERT(s->used == 0 && !(a_load(&s->remote, A_RELAXED) & REMOTE_PTR_MASK));
	slab_warm_mark(s);
	/* Its first blocks are resident: no longer cold from its start. */
	s->flags &= (uint8_t)~SLAB_COLD;
	dfkey_defer(s);
	s->local_free = NULL;
	s->uncarved = s->capacity;
	slab_dirty_drop(s);
	/* Atomic: a remote free reads it (dfkey_remote_free()). */
	a_store(&s->bump, slab_first_block(s), A_RELAXED);
	slab_carved_clear(s);
}

/* The newest kept slab of class cls, off the list, to be carved again; NULL if none. */
static struct slab *heap_empty_take(struct heap *h, unsigned int cls)
{
	struct slab *s;

	if (!heap_empty_on() || !h->empty_nr[cls])
		return NULL;
	for (s = h->empty; s->class_idx != cls; s = s->next)
		;
	heap_empty_remove(h, s);
	slab_recarve(s);
	STAT_INC_TLS(STAT_EMPTY_TAKE);
	return s;
}

static struct slab *heap_resident_slab(struct heap *h, unsigned int cls)
{
	struct slab *s = heap_empty_take(h, cls);

	return s ? s : slab_new(h, cls, 1);
}

/* Give h's oldest kept slab (of class cls, or of any class if cls < 0) back to its pool. */
static void heap_empty_shed(struct heap *h, int cls)
{
	struct slab *s = h->empty_last;

	while (cls >= 0 && s && s->class_idx != (unsigned int)cls)
		s = s->prev;
	if (!s)
		return;
	heap_empty_remove(h, s);
	slab_retire(h, s);
}

/* Every kept slab of h back to its pool (trim, thread exit). */
static void heap_empty_drain(struct heap *h)
{
	while (heap_empty_on() && h->empty_last)
		heap_empty_shed(h, -1);
}

/*
 * A mapping failed (core_reclaim()): the calling thread's kept slabs go
 * back to their pools first, where ss_unmap_free() can unmap them (a
 * program that freed its small blocks and now maps large ones under an
 * address-space limit). slab_retire() takes a pool's lock, which
 * another thread may hold (ss_claim() without CONFIG_SUPERSLAB_LOCKFREE
 * calls core_reclaim() without it): a slab whose pool's lock is busy is
 * left kept (a try, let go at once). Returns 1 if any went back.
 */
int heap_reclaim(void)
{
	struct heap *h = hk_tls.heap;
	struct slab *s, *prev;
	int done = 0;

	if (!heap_empty_on() || !h)
		return 0;
	for (s = h->empty_last; s; s = prev) {
		struct ss_pool *pool = ss_of(s)->pool;

		prev = s->prev;
		if (!hk_trylock(&pool->lock))
			continue;
		hk_unlock(&pool->lock);
		heap_empty_remove(h, s);
		slab_retire(h, s);
		done = 1;
	}
	return done;
}

/*
 * Slab s of h, not current, has all its blocks back: keep it if the
 * bounds allow, else give it back to its pool.
 */
static void heap_slab_emptied(struct heap *h, struct slab *s)
{
	uintptr_t full = REMOTE_FULL;
	unsigned int cls = s->class_idx;

	/* A one-block slab goes from FULL to empty in one free. */
	a_cas(&s->remote, &full, 0UL, A_RELAXED);
	if (!heap_empty_on() || slab_bytes(s) > heap_empty_max ||
	    a_load(&s->remote, A_ACQUIRE)) {
		slab_retire(h, s);
		return;
	}
	if (h->empty_nr[cls] >= HEAP_EMPTY_PER_CLASS)
		heap_empty_shed(h, (int)cls);
	while (h->empty_bytes + slab_bytes(s) > heap_empty_max)
		heap_empty_shed(h, -1);
	if (s->flags & SLAB_IN_PARTIAL)
		partial_remove(h, s);
	s->prev = NULL;
	s->next = h->empty;
	if (h->empty)
		h->empty->prev = s;
	else
		h->empty_last = s;
	h->empty = s;
	h->empty_nr[cls]++;
	h->empty_bytes += slab_bytes(s);
	STAT_INC_TLS(STAT_EMPTY_KEEP);
}

/* ------------------------------------------------------------------ */
/* Spare batches (CONFIG_HEAP_SPARE_KB)                               */
/* ------------------------------------------------------------------ */

/*
 * A flush that may not grow its bin keeps the bin's most recently freed
 * half and sets the older half aside whole (struct heap_spare): one
 * chain, kept by its head and its count, whose blocks are not read; a
 * refill of an empty bin takes the newest chain back whole. Neither
 * touches a slab or a block of the chain, where the flush to the slabs
 * reads and writes every block and its slab's metadata and the refill
 * from a slab walks its free list (one dependent miss per block). Spare
 * blocks stay in bin state: they carry the bin's double-free key and
 * count as used by their slabs, as blocks in a bin do, so that no slab
 * is retired under them; their key is checked by the malloc that pops
 * them or by the pass that gives them back to their slabs
 * (heap_chain_to_slabs()), as for a bin's blocks.
 */

#ifdef CONFIG_DOUBLE_FREE_CHECK
/* The key word of the head of chain i of sp. */
static inline uintptr_t spare_top(const struct heap_spare *sp, uint32_t i)
{
	return sp->top[i];
}

static inline void spare_top_set(struct heap_spare *sp, uint32_t i, uintptr_t w)
{
	sp->top[i] = w;
}
#else
static inline uintptr_t spare_top(const struct heap_spare *sp, uint32_t i) { return 0; }
static inline void spare_top_set(struct heap_spare *sp, uint32_t i, uintptr_t w) { }
#endif

/* Most bytes of spare batches per heap record (tcache_pct= scales it). */
size_t heap_spare_max;

static inline int heap_spare_on(void)
{
	return CONFIG_HEAP_SPARE_KB != 0;
}

#ifdef CONFIG_HEAP_PURGE
/* A chain goes in at index i of sp: the dirty bits of i and above move up. */
static inline void spare_dirty_insert(struct heap_spare *sp, uint32_t i)
{
	uint32_t low = (1U << i) - 1;

	sp->dirty = (sp->dirty & low) | ((sp->dirty & ~low) << 1);
	sp->dirty_old = (sp->dirty_old & low) | ((sp->dirty_old & ~low) << 1);
}
#else
static inline void spare_dirty_insert(struct heap_spare *sp, uint32_t i) { }
#endif

#ifdef CONFIG_HEAP_SPARE_LIFO
/*
 * Spare batches of a batch freed newest first (CONFIG_HEAP_SPARE_LIFO).
 * A bin is a stack: frees in the order of the mallocs (FIFO) give the
 * block malloc handed out last, the one the program wrote last, back
 * first; frees newest first (LIFO) give the oldest first, and a batch
 * about as large as the last-level cache comes back from memory
 * (Documentation/mid.md, "Spare batches"). The head of the chain a
 * refill took last was handed out late in the allocations: if the
 * first batch a free phase sets aside finds it among the bin's blocks,
 * the program frees the newest first, and the phase's batches go in
 * under the first one, each under the one before, so that the refills
 * take them in the order they were set aside.
 */

/*
 * The look walks a bin's links, each a miss where the blocks' first lines
 * share the caches' sets (16 KiB blocks: one L1 set); a program keeps
 * its order, so a look that agrees with the last one skips this many
 * free phases.
 */
#define SPARE_LIFO_SKIP		7U

/* Refill of sp's class: a new allocation phase; head: the chain it took (NULL: none). */
static inline void spare_lifo_refill(struct heap_spare *sp, void *head)
{
	if (head)
		sp->taken = head;
	sp->ins = 0;
}

/* Does bin b (one list, n blocks, the key words checked) hold block p? */
static int bin_holds(const struct bin *b, const void *p, uint32_t n)
{
	uintptr_t w = bin_free_top(b);
	const void *q = bin_list(b->free);
	uint32_t i;

	for (i = 0; i < n && q; i++) {
		if (unlikely(!dfkey_word_is(q, w++)))
			heap_free_list_corrupt(q);
		if (q == p)
			return 1;
		q = fl_next(q);
	}
	return 0;
}

/* Where the chain that bin b (n blocks) sets aside goes in sp: index 0..nr. */
static uint32_t spare_lifo_slot(struct heap_spare *sp, const struct bin *b, uint32_t n)
{
	if (!sp->ins) {
		/* A look that agrees with the last skips the next SPARE_LIFO_SKIP. */
		if (sp->skip) {
			sp->skip--;
		} else if (sp->taken) {
			uint16_t lifo = (uint16_t)bin_holds(b, sp->taken, n);

			sp->skip = lifo == sp->lifo ? SPARE_LIFO_SKIP : 0;
			sp->lifo = lifo;
		}
		sp->taken = NULL;
		sp->ins = sp->nr + 1;
		return sp->nr;
	}
	/* (A shed or a drain since may have taken chains from the top.) */
	return sp->lifo && sp->ins - 1 < sp->nr ? sp->ins - 1 : sp->nr;
}
#else
static inline void spare_lifo_refill(struct heap_spare *sp, void *head) { }
static inline uint32_t spare_lifo_slot(struct heap_spare *sp, const struct bin *b, uint32_t n)
{
	return sp->nr;
}
#endif

/*
 * Blocks going back to their slabs' local lists from a bin (a flush, a
 * trim): consecutive blocks of one slab are chained here and spliced onto
 * its list at once (heap_free_local_run()), one owner and count update per
 * run rather than per block. A bin's blocks come back mostly in runs of
 * one slab (a program frees what it allocated together), and a flush
 * gives back hundreds of them (bench_real.sh python: 869,000 blocks in
 * 363 flushes, 27 instructions each in heap_free_local_slow()).
 */
struct slab_run {
	struct slab *s;
	void *head;
	void *tail;
	uint32_t n;
};

static inline void slab_run_end(struct slab_run *r)
{
	if (r->s)
		heap_free_local_run(r->s, r->head, r->tail, r->n);
	r->s = NULL;
}

/* p, of slab s, out of its bin at the place whose key word is w, for its slab. */
static inline void slab_run_add(struct slab_run *r, struct slab *s, void *p, uintptr_t w)
{
	if (s != r->s) {
		slab_run_end(r);
		r->s = s;
		r->head = NULL;
		r->tail = p;
		r->n = 0;
	}
	dfkey_bin_to_slab(s, p, w);
	fl_set_next(p, r->head);
	r->head = p;
	r->n++;
}

/*
 * Give a chain of blocks in bin state (ending in NULL or HEAP_NIL:
 * fl_next()), whose head has the key word w, back to their slabs;
 * returns the word one past its last block.
 */
static uintptr_t heap_chain_to_slabs(void *p, uintptr_t w)
{
	struct slab_run r = { .s = NULL };

	while (p) {
		void *next = fl_next(p);
		struct slab *s = slab_block_head(p);

		slab_run_add(&r, s, p, w++);
		p = next;
	}
	slab_run_end(&r);
	return w;
}

/*
 * Flush bin b of class cls of heap h down to room: keep its first
 * limit - room blocks and set the others aside as one spare batch, if
 * it fits (a free slot, HEAP_SPARE_FEW of them while the bin has not
 * grown to its class's limit_max, the heap's byte bound). Reads the
 * links of the kept blocks only, the most recently freed. 0 if it does
 * not fit.
 */
static int heap_spare_put(struct heap *h, struct bin *b, unsigned int cls, int32_t room)
{
	struct heap_spare *sp = &h->spare[cls];
	uint32_t keep = b->limit - (uint32_t)room, n, i, at;
	void *last, *tail;
	size_t bytes;

	if (hk_classes[cls].size < HEAP_SPARE_MIN_SIZE ||
	    (int32_t)b->limit - bin_room(b) <= (int32_t)keep || sp->nr == HEAP_SPARE_SLOTS ||
	    (sp->nr >= HEAP_SPARE_FEW && b->limit < hk_classes[cls].limit_max))
		return 0;
	n = (uint32_t)((int32_t)b->limit - bin_room(b)) - keep;
	bytes = (size_t)n * hk_classes[cls].size;
	if (h->spare_bytes + bytes > heap_spare_max)
		return 0;
	at = spare_lifo_slot(sp, b, n + keep);
	if (!keep) {
		tail = b->free;
		b->free = HEAP_NIL;
	} else {
		/*
		 * The kept blocks are read (their links): their words too, on
		 * the same line. A block on the list twice holds the word of
		 * one place only, and the walk meets the other before it
		 * follows a link the second free rewrote, which could end the
		 * list early (tests/dfuzz: SIGSEGV here before branch dfuzz).
		 */
		uintptr_t w = bin_free_top(b);

		last = b->free;
		for (i = 1; ; i++) {
			if (unlikely(!last || !dfkey_word_is(last, w++)))
				heap_free_list_corrupt(last);
			if (i == keep)
				break;
			last = fl_next(last);
		}
		tail = fl_next(last);
		if (unlikely(!tail))
			heap_free_list_corrupt(last);
		fl_set_next(last, HEAP_NIL);
	}
	for (i = sp->nr; i > at; i--) {
		sp->head[i] = sp->head[i - 1];
		sp->count[i] = sp->count[i - 1];
		spare_top_set(sp, i, spare_top(sp, i - 1));
	}
	if (at < sp->nr)
		spare_dirty_insert(sp, at);
	sp->head[at] = tail;
	sp->count[at] = n;
	spare_top_set(sp, at, bin_free_top(b) + keep);
	spare_dirty_add(sp, at);
	sp->nr++;
	h->spare_bytes += bytes;
	bin_room_set(b, room);
	STAT_INC_TLS(STAT_SPARE_PUT);
	return 1;
}

/*
 * Fill empty bin b of class cls with h's top spare batch (the newest, or
 * with CONFIG_HEAP_SPARE_LIFO the first of a LIFO free phase's), whole (no
 * block is read); 0 if h has none. A batch longer than the bin's limit
 * (set aside before a trim shrank the bin) goes back to its slabs.
 */
static int heap_spare_take(struct heap *h, struct bin *b, unsigned int cls)
{
	struct heap_spare *sp = &h->spare[cls];

	while (sp->nr) {
		void *head;
		uint32_t n;

		sp->nr--;
		head = sp->head[sp->nr];
		n = sp->count[sp->nr];
		spare_dirty_take(sp, sp->nr);
		h->spare_bytes -= (size_t)n * hk_classes[cls].size;
		if (unlikely((int32_t)n > bin_room(b))) {
			heap_chain_to_slabs(head, spare_top(sp, sp->nr));
			continue;
		}
		b->free = head;
		bin_free_grow(b, n);
		bin_free_top_set(b, spare_top(sp, sp->nr));
		spare_lifo_refill(sp, head);
		STAT_INC_TLS(STAT_SPARE_TAKE);
		return 1;
	}
	return 0;
}

/*
 * h claims a new slab (heap_bin_fill()): the class holding the most bytes
 * of spare batches gives its newest batch back to its slabs, where their
 * slots can empty and go back to the pool for the claim. 0 if h has none.
 * The claiming class has taken its own batches by then (a refill takes
 * them before any slab): these are another class's, which the program
 * may have moved on from (Documentation/mid.md, "Spare batches").
 */
static int heap_spare_shed(struct heap *h)
{
	struct heap_spare *sp, *most = NULL;
	size_t bytes, max = 0;
	unsigned int cls, mcls = 0;
	uint32_t i;

	for (cls = 0; cls < heap_nr_classes(); cls++) {
		sp = &h->spare[cls];
		for (i = 0, bytes = 0; i < sp->nr; i++)
			bytes += (size_t)sp->count[i] * hk_classes[cls].size;
		if (bytes > max) {
			max = bytes;
			most = sp;
			mcls = cls;
		}
	}
	if (!most)
		return 0;
	most->nr--;
	spare_dirty_take(most, most->nr);
	h->spare_bytes -= (size_t)most->count[most->nr] * hk_classes[mcls].size;
	heap_chain_to_slabs(most->head[most->nr], spare_top(most, most->nr));
	STAT_INC_TLS(STAT_SPARE_SHED);
	return 1;
}

/* Every spare batch of class cls of h back to its slabs. */
static void heap_spare_drain_class(struct heap *h, unsigned int cls)
{
	struct heap_spare *sp = &h->spare[cls];

	while (sp->nr) {
		sp->nr--;
		spare_dirty_take(sp, sp->nr);
		h->spare_bytes -= (size_t)sp->count[sp->nr] * hk_classes[cls].size;
		heap_chain_to_slabs(sp->head[sp->nr], spare_top(sp, sp->nr));
	}
}

/*
 * Every spare batch of h back to its slabs (malloc_trim(), the caller's
 * own record or a parked one it holds).
 */
static void heap_spare_drain(struct heap *h)
{
	unsigned int cls;

	for (cls = 0; cls < heap_nr_classes(); cls++)
		heap_spare_drain_class(h, cls);
	h->spare_bytes = 0;
}

/* ------------------------------------------------------------------ */
/* Thread start and exit                                              */
/* ------------------------------------------------------------------ */

static void *meta_alloc(size_t size)
{
	void *p;

	size = ALIGN_UP(size, L1_CACHE_BYTES);
	if ((size_t)(meta_end - meta_cur) < size) {
		size_t chunk = ALIGN_UP(size > 65536 ? size : 65536, os_page_size);

		meta_cur = os_map_aligned(chunk, os_page_size);
		if (!meta_cur)
			return NULL;
		meta_end = meta_cur + chunk;
	}
	p = meta_cur;
	meta_cur += size;
	return p;
}

/*
 * Owner tags (superslab.h): the heap records made so far that have one.
 * Records are never freed (an exited thread's is adopted by the next), so
 * the tags run out only with more live threads than SLAB_NR_TAGS - 2
 * (1022 with 2 MiB SuperSlabs); a record made after that gets none, and
 * its thread's frees take heap_free_nonlocal(). Under heap_lock.
 */
unsigned int heap_tags_used;
unsigned int heap_tags_max = SLAB_NR_TAGS - 2;

static uint32_t heap_new_tag(void)
{
	if (heap_tags_used >= heap_tags_max)
		return SLAB_TAG_NONE;
	return ++heap_tags_used << SLAB_TAG_SHIFT;
}

/*
 * The parked list: records of exited threads in the order they were
 * parked, oldest first (heap_parked), with the link to fill after the
 * last (heap_parked_tail). A thread without a hint adopts the oldest
 * (heap_thread_start()); parked_pprev lets a hinted record be taken from
 * anywhere. With CONFIG_DEBUG_ASSERT every change walks the whole list.
 */
#ifdef CONFIG_DEBUG_ASSERT
static void parked_check(void)
{
	struct heap **pp = &heap_parked;
	struct heap *h;

	for (h = heap_parked; h; h = h->parked_next) {
		if (unlikely(h->parked_pprev != pp || h->alive))
			hk_fatal("heap: parked record %p: pprev %p (expected %p), alive %d",
				 (void *)h, (void *)h->parked_pprev, (void *)pp, h->alive);
		pp = &h->parked_next;
	}
	if (unlikely(heap_parked_tail != pp))
		hk_fatal("heap: parked list tail %p, its last link is %p",
			 (void *)heap_parked_tail, (void *)pp);
}
#else
static inline void parked_check(void)
{
}
#endif

/* Put record h at the tail of the parked list (heap_lock held). */
static void parked_push(struct heap *h)
{
	HK_ASSERT(!h->parked_pprev && !h->alive && *heap_parked_tail == NULL);
	h->parked_next = NULL;
	h->parked_pprev = heap_parked_tail;
	*heap_parked_tail = h;
	heap_parked_tail = &h->parked_next;
	parked_check();
}

/* Take record h, on the parked list, off it (heap_lock held). */
static void parked_remove(struct heap *h)
{
	HK_ASSERT(h->parked_pprev && *h->parked_pprev == h && !h->alive);
	*h->parked_pprev = h->parked_next;
	if (h->parked_next)
		h->parked_next->parked_pprev = h->parked_pprev;
	else
		heap_parked_tail = h->parked_pprev;
	h->parked_next = NULL;
	h->parked_pprev = NULL;
	parked_check();
}

static inline void heap_parked_note(const struct heap *owner);
static void heap_parked_reclaim(void);

/*
 * The calling thread's first use of the heap: adopt a parked record (the
 * one of hk_tls.hint if it is parked, else the one parked longest ago),
 * with the bins its last thread left, or make a new one.
 */
static __slowpath struct heap *heap_thread_start(void)
{
	struct heap *h;
	int adopted = 0;
	unsigned int i;

	if (unlikely(heap_init()))
		return NULL;
	hk_lock(&heap_lock);
	h = hk_tls.hint;
	if (!h || !h->parked_pprev)
		h = heap_parked;
	while (!h && heap_sweeping) {
		/* Every parked record is in a sweep: wait for it to end. */
		hk_unlock(&heap_lock);
		hk_lock(&heap_sweep_lock);
		hk_unlock(&heap_sweep_lock);
		hk_lock(&heap_lock);
		h = heap_parked;
	}
	if (h) {
		parked_remove(h);
		adopted = 1;
	} else {
		h = meta_alloc(sizeof(*h));
		if (h) {
			h->all_next = heap_all;
			heap_all = h;
			h->tag = heap_new_tag();
		}
	}
	if (h) {
		a_store(&h->alive, 1, A_RELAXED);	/* (read unlocked: heap_parked_note()) */
		/* For mallinfo(): the front whose bins it may read. */
		if (IS_ENABLED(CONFIG_MALLOC_INFO))
			h->tls = &hk_tls;
	}
	hk_unlock(&heap_lock);
	if (!h)
		return NULL;
	for (i = 0; i < heap_nr_classes(); i++) {
		struct bin *saved = &h->saved[i];

		if (saved->limit) {
			/* The exited thread's bin, warm. */
			hk_tls.bins[i] = *saved;
			saved->free = HEAP_NIL;
			bin_room_set(saved, 0);
			saved->limit = 0;
			/* (A parked bin was joined: put is empty, all room malloc's.) */
			HK_ASSERT(!bin_list(hk_tls.bins[i].put) && bin_put_room(&hk_tls.bins[i]) == 0);
		} else {
			hk_tls.bins[i].free = HEAP_NIL;
			hk_tls.bins[i].put = HEAP_NIL;
			hk_tls.bins[i].limit = hk_classes[i].limit;
			bin_counts_init(&hk_tls.bins[i], (int32_t)hk_classes[i].limit);
			hk_tls.bins[i].grown = 0;
		}
		hk_tls.burst_base[i] = 0;
		/* free's owner test: the tag of h's slabs, or 0 if it has none. */
		hk_tls.bins[i].tag = h->tag == SLAB_TAG_NONE ? 0 : h->tag;
		hk_tls.bins[i].tag_lifo = hk_tls.bins[i].tag;
	}
	/*
	 * An exited thread's slabs and bins: any class may hold blocks. What
	 * the filled bins may hold is counted again from their limits (the
	 * bits of a thread that had a heap before stay set).
	 */
	if (adopted)
		for (i = 0; i < heap_nr_classes(); i++)
			hk_tls.filled[i / (8 * sizeof(long))] |= 1UL << (i % (8 * sizeof(long)));
	hk_tls.cache_cap = heap_cache_cap_count();
	hk_tls.cache_grown = h->saved_grown;
	h->saved_grown = 0;
	hk_tls.heap = h;
	hk_tls.hint = h;
	hk_tls.dfkey = hk_dfkey;
	heap_key_set(h);
	hk_tls.flkey = hk_flkey;
	if (adopted) {
		STAT_INC_TLS(STAT_HEAPS_ADOPTED);
		heap_drain_notify(h);
	} else {
		STAT_INC_TLS(STAT_THREADS);
	}
	return h;
}

/*
 * Collect remote frees of every partial slab and release the empty ones.
 * Runs on h's own thread, or on a parked h held by the caller.
 *
 * With all 0 (a thread parking its record, heap_park_front()) a remote
 * list is taken only if it holds every block the slab handed out (the
 * slab is released); the others stay as they are, for the thread that
 * adopts h to take whole and unread (slab_refill_bin()). Walking them
 * here read every block freed by another thread since, one miss after
 * the other on lines written elsewhere or long evicted: with more
 * threads than CPUs, bench_larson 16 lineages spent 14% of its CPU time
 * in this walk at thread exits (Documentation/benchmarks.md, twentieth
 * session, branch oversub).
 */
static void heap_inbox_give_back(struct heap *h);

static void heap_collect(struct heap *h, int all)
{
	unsigned int cls;

	heap_drain_notify(h);
	if (all)
		heap_inbox_give_back(h);
	heap_empty_drain(h);
	for (cls = 0; cls < heap_nr_classes(); cls++) {
		struct slab *s = h->partial[cls], *next;

		for (; s; s = next) {
			uintptr_t r = a_load(&s->remote, A_RELAXED);

			next = s->next;
			if ((r & REMOTE_PTR_MASK) && (all || REMOTE_COUNT(r) >= s->used)) {
				uint32_t n;
				void *list = slab_take_remote(s, &n);

				slab_give_back(s, list, n);
			}
			if (s->used == 0)
				slab_retire(h, s);
		}
	}
	heap_check(h);
}


/* free's view of a one-list bin, BIN_LIFO_SHIFT below it (struct bin). */
BUILD_BUG_ON(offsetof(struct bin, put_at) - offsetof(struct bin, free_at) != BIN_LIFO_SHIFT);
BUILD_BUG_ON(offsetof(struct bin, tag) - offsetof(struct bin, tag_lifo) != BIN_LIFO_SHIFT);
#ifdef CONFIG_DOUBLE_FREE_CHECK
BUILD_BUG_ON(offsetof(struct bin, put_floor) - offsetof(struct bin, free_floor) != BIN_LIFO_SHIFT);
#endif

/*
 * A grown bin (one that overflowed: a program that frees runs of blocks)
 * was swapped: malloc's share gets the whole room, so that the first
 * free after it reaches heap_bin_overflow(), which counts the pops since
 * (burst_base) and, after a run of them, puts the blocks left on
 * malloc's list under the block just freed (heap_bin_burst_end()).
 */
static inline void bin_swap_grown(struct bin *b)
{
	HK_ASSERT(bin_room(b) == 0);
	bin_room_take_put(b);
	hk_tls.burst_base[b - hk_tls.bins] = bin_room(b) + 1;
}

/*
 * Split bins (struct bin): malloc found its list empty and free's is not:
 * take free's whole, and with it free's share of the room (malloc's is
 * what the pops gave back; the next frees may use it all).
 */
static void bin_swap(struct bin *b)
{
	b->free = b->put;
	b->put = HEAP_NIL;
	BIN_SWAP_COUNTS(b);
}

/*
 * One list and one count for the slow paths: free's list in front of
 * malloc's (so the most recently freed blocks come first), room the
 * whole room. The walk to the end of free's list is bounded by the
 * blocks the bin holds: a block freed twice in a row links to itself,
 * which is reported here as the free-list corruption it is.
 */
static void bin_join(struct bin *b)
{
	void *p = bin_list(b->put), *last, *next;
	uintptr_t w = bin_put_top(b);
	int32_t n = 1, held;

	bin_room_take_put(b);
	if (!p) {
		/* A list taken unread: the words of the bins' band (bin_unrange()). */
		bin_unrange(b, w);
		return;
	}
	held = (int32_t)b->limit - bin_room(b);
	for (last = p; (next = fl_next(last)); last = next) {
		if (unlikely(!dfkey_word_is(last, w++)))
			heap_free_list_corrupt(last);
		if (unlikely(++n > held))
			heap_free_list_corrupt(last);
	}
	if (unlikely(!dfkey_word_is(last, w)))
		heap_free_list_corrupt(last);
	/* A list taken unread goes right above put's places, in the bins' band. */
	bin_unrange(b, w + 1);
	/* put's blocks go on top of malloc's, in order: their words follow. */
	w = bin_free_top(b) - (uintptr_t)n;
	dfkey_enter_chain(p, (uint32_t)n, w);
	fl_set_next(last, b->free);
	b->free = p;
	b->put = HEAP_NIL;
	bin_free_top_set(b, w);
	bin_put_top_set(b, w);
}

/*
 * Set the limit of bin b, one of the calling thread's, to limit (at least
 * its class's initial limit): room follows (still limit - blocks held),
 * and so do the bytes the bins grew by and what the filled ones may hold.
 */
static void bin_limit_set(struct bin *b, uint32_t limit)
{
	unsigned int cls = (unsigned int)(b - hk_tls.bins);
	const struct size_class *c = &hk_classes[cls];
	size_t old = (size_t)b->limit * class_cache_bytes(c), new = (size_t)limit * class_cache_bytes(c);

	HK_ASSERT(limit >= c->limit && b->limit >= c->limit);
	hk_tls.cache_grown += new - old;
	if (heap_filled_test(cls))
		hk_tls.cache_cap += new - old;
	bin_room_add(b, (int32_t)(limit - b->limit));
	b->limit = limit;
	b->grown = limit > c->limit;
}

/* An emptied bin (heap_bin_drain()) back to its class's initial limit. */
static void cls_limit_reset(struct bin *b)
{
	bin_limit_set(b, hk_classes[b - hk_tls.bins].limit);
	bin_room_set(b, (int32_t)b->limit);
}

/* What the boxes keep per thread (UltraHot's stacks) back to the slabs. */
static void heap_boxes_thread_flush(void)
{
	const struct hk_box *b;

	for_each_box(b)
		if (b->thread_flush)
			b->thread_flush();
}

/* Return every block of a bin to its slab. */
static void heap_bin_drain(struct bin *b)
{
	void *p;

	bin_join(b);
	p = bin_list(b->free);
	b->free = HEAP_NIL;
	bin_free_top_set(b, heap_chain_to_slabs(p, bin_free_top(b)));
	/* Back to the class's initial limit. */
	cls_limit_reset(b);
}

/*
 * Hand everything the calling thread's front holds (what the boxes keep
 * per thread, bins, current slabs) back to the slabs of h, its heap, and
 * release empty slabs. With park (thread exit) the bins are not drained
 * but kept in h->saved as they are: the next thread to adopt h starts
 * with them warm instead of refilling from the slabs.
 */
static void heap_hand_back_front(struct heap *h, int park)
{
	struct heap_tls *t = &hk_tls;
	unsigned int cls;

	heap_boxes_thread_flush();
	for (cls = 0; cls < heap_nr_classes(); cls++) {
		struct slab *s = t->cur[cls];

		t->cur[cls] = NULL;
		if (s && !(s->flags & SLAB_IN_PARTIAL)) {
			if (slab_cold_only(s))
				partial_push_last(h, s);
			else
				partial_push(h, s);
		}
		if (!park) {
			heap_bin_drain(&t->bins[cls]);
			continue;
		}
		bin_join(&t->bins[cls]);
		h->saved[cls] = t->bins[cls];
		t->bins[cls].free = HEAP_NIL;
		bin_room_set(&t->bins[cls], 0);
		t->bins[cls].limit = 0;
		/* No slab is this thread's any more: frees go the remote way. */
		t->bins[cls].tag = 0;
		t->bins[cls].tag_lifo = 0;
	}
	if (park) {
		/* The spare batches stay with h, for the thread that adopts it. */
		h->saved_grown = t->cache_grown;
		t->cache_grown = 0;
		/* Every limit is 0 now. */
		t->cache_cap = 0;
	} else if (heap_spare_on()) {
		heap_spare_drain(h);
	}
	heap_collect(h, !park);
}

static void heap_release_front(struct heap *h)
{
	heap_hand_back_front(h, 0);
}

static void heap_park_front(struct heap *h)
{
	heap_hand_back_front(h, 1);
}

/* Give the saved bins of parked heap h back to their slabs. */
static void heap_saved_drain(struct heap *h)
{
	unsigned int cls;

	for (cls = 0; cls < heap_nr_classes(); cls++) {
		struct bin *b = &h->saved[cls];
		void *p = bin_list(b->free);

		b->free = HEAP_NIL;
		heap_chain_to_slabs(p, bin_free_top(b));
		bin_room_set(b, 0);
		b->limit = 0;
	}
	h->saved_grown = 0;
	if (heap_spare_on())
		heap_spare_drain(h);
}

/* Park h, the calling thread's record: the thread has no heap after it. */
static void heap_park(struct heap *h)
{
	heap_rbatch_flush();
	heap_park_front(h);
	heap_stats_fold(h);
	hk_tls.heap = NULL;
	h->parked_ms = os_now_ms();
	hk_lock(&heap_lock);
	a_store(&h->alive, 0, A_RELAXED);
	h->tls = NULL;
	parked_push(h);
	hk_unlock(&heap_lock);
}

/* The pthread key's destructor (CONFIG_THREADS). */
static __maybe_unused void heap_thread_exit(void *arg)
{
	struct heap *h = hk_tls.heap;

	if (!h)
		return;
	heap_park(h);
	hk_tls.hint = h;
}

/* ------------------------------------------------------------------ */
/* Allocation slow path                                               */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* The thread's bound on what its bins hold                           */
/* ------------------------------------------------------------------ */

/* Bytes the calling thread's filled bins may hold at their limits (class_cache_bytes()). */
size_t heap_cache_cap_count(void)
{
	size_t n = 0;
	unsigned int cls, w;
	unsigned long m;

	for_each_filled_class(cls, w, m)
		n += (size_t)hk_tls.bins[cls].limit * class_cache_bytes(&hk_classes[cls]);
	return n;
}

/* Bytes the calling thread's bins hold, all classes together (class_cache_bytes()). */
size_t heap_cache_held(void)
{
	size_t n = 0;
	unsigned int cls, w;
	unsigned long m;

	for_each_filled_class(cls, w, m) {
		const struct bin *b = &hk_tls.bins[cls];
		/* room + put_room = limit - blocks held (below 0 just before a flush) */
		int32_t held = (int32_t)b->limit - bin_room(b) - bin_put_room(b);

		if (held > 0)
			n += (size_t)held * class_cache_bytes(&hk_classes[cls]);
	}
	return n;
}

/*
 * Give blocks of bin b back to their slabs until it holds at most keep of
 * them (at most its class's initial limit), and take a grown bin back to
 * that limit. Returns the bytes given back, as the bounds count them
 * (class_cache_bytes()).
 */
static size_t bin_trim(struct bin *b, uint32_t keep)
{
	const struct size_class *c = &hk_classes[b - hk_tls.bins];
	struct slab_run r = { .s = NULL };
	size_t n = 0;

	if (keep > c->limit)
		keep = c->limit;
	bin_join(b);
	while ((int32_t)b->limit - bin_room(b) > (int32_t)keep) {
		void *p = b->free;
		struct slab *s = slab_block_head(p);

		b->free = bin_end(fl_next(p));
		slab_run_add(&r, s, p, bin_free_top(b));
		b->free_at++;	/* the next head, one word on; room one more */
		n++;
	}
	slab_run_end(&r);
	if (b->limit > c->limit)
		bin_limit_set(b, c->limit);
	return n * class_cache_bytes(c);
}

/*
 * Count what the thread's bins hold; over heap_cache_max, halve the bins
 * that hold the most bytes (never busy, the bin the caller is refilling
 * or flushing) until they hold 3/4 of it. Runs where a bin grows or
 * flushes and at every 16th refill or flush, once the bins may be over
 * the bound (heap_cache_may_exceed()); never on malloc's or free's fast
 * path.
 */
void heap_cache_check(struct bin *busy)
{
	struct heap_tls *t = &hk_tls;
	size_t held = heap_cache_held(), low = heap_cache_max / 4 * 3;

	HK_ASSERT(t->cache_cap == heap_cache_cap_count());
	t->cache_counts++;
	if (held <= heap_cache_max)
		return;
	while (held > low) {
		struct bin *victim = NULL;
		size_t most = 0, got;
		unsigned int cls, w;
		unsigned long m;

		for_each_filled_class(cls, w, m) {
			struct bin *b = &t->bins[cls];
			int32_t n = (int32_t)b->limit - bin_room(b) - bin_put_room(b);
			size_t bytes;

			if (b == busy || n <= 0)
				continue;
			bytes = (size_t)n * class_cache_bytes(&hk_classes[cls]);
			if (bytes > most) {
				most = bytes;
				victim = b;
			}
		}
		if (!victim)
			break;
		got = bin_trim(victim, (uint32_t)((int32_t)victim->limit - bin_room(victim) -
						  bin_put_room(victim)) / 2);
		if (!got)
			break;
		held -= got;
	}
}

/* ------------------------------------------------------------------ */
/* Idle classes give their caches back (CONFIG_HEAP_IDLE_TICKS)       */
/* ------------------------------------------------------------------ */
#if CONFIG_HEAP_IDLE_TICKS

/* Only classes of blocks above 4 KiB (Mid's, those with spare batches). */
#define HEAP_IDLE_MIN_SIZE	HEAP_SPARE_MIN_SIZE

/* Ticks between two looks. */
#define HEAP_IDLE_PERIOD	CONFIG_HEAP_IDLE_TICKS

static inline int heap_idle_on(void)
{
	return 1;
}

/*
 * What moves when bin b is used: malloc's pop adds one to free_at, free's
 * push takes one from put_at (from free_at in a one-list bin), refills and
 * flushes move them by their blocks. Malloc-free pairs of a one-list bin
 * (Mid's big classes) leave them as they were: a class whose blocks are
 * allocated and freed in equal numbers between two looks is seen used by
 * its refills and flushes (heap_idle_touch()) instead.
 */
static inline uint32_t bin_idle_sig(const struct bin *b)
{
	return (uint32_t)b->free_at + 2 * (uint32_t)b->put_at;
}

/* Class cls was refilled or flushed: it is not idle (the slow paths only). */
static inline void heap_idle_touch(unsigned int cls)
{
	cls_bit_set(hk_tls.active, cls);
}

/*
 * Everything the calling thread keeps of class cls, which it has not used
 * for a while, back to the slabs and the pool: its bin (to its class's
 * initial limit), its spare batches, its kept empty slabs (the bin's
 * blocks may have just emptied some), and its current slab if no block
 * of it is out. Partly used slabs stay on the partial list.
 */
static void heap_idle_release(struct heap *h, unsigned int cls)
{
	struct heap_tls *t = &hk_tls;
	struct slab *s;

	heap_bin_drain(&t->bins[cls]);
	t->burst_base[cls] = 0;
	heap_spare_drain_class(h, cls);
	while (heap_empty_on() && h->empty_nr[cls])
		heap_empty_shed(h, (int)cls);
	s = t->cur[cls];
	if (s && s->used == 0) {
		t->cur[cls] = NULL;
		slab_retire(h, s);
	}
	STAT_INC_TLS(STAT_IDLE_RELEASE);
}

/*
 * Every CONFIG_HEAP_IDLE_TICKS ticks: a class above HEAP_IDLE_MIN_SIZE
 * (never busy, the bin being refilled or flushed) that was neither
 * refilled nor flushed since the last look, whose bin's counters did not
 * move either, and that holds anything gives it back
 * (heap_idle_release()).
 */
static __slowpath void heap_idle_scan(struct bin *busy)
{
	struct heap_tls *t = &hk_tls;
	struct heap *h = t->heap;
	unsigned int cls, w;
	unsigned long m;

	for_each_filled_class(cls, w, m) {
		struct bin *b = &t->bins[cls];
		uint32_t sig;

		if (hk_classes[cls].size < HEAP_IDLE_MIN_SIZE || b == busy)
			continue;
		sig = bin_idle_sig(b);
		if (sig != t->idle_sig[cls] || cls_bit_test(t->active, cls)) {
			t->idle_sig[cls] = sig;
			continue;
		}
		if ((int32_t)b->limit - bin_room(b) - bin_put_room(b) <= 0 &&
		    !h->spare[cls].nr && !h->empty_nr[cls] &&
		    !(t->cur[cls] && t->cur[cls]->used == 0))
			continue;
		heap_idle_release(h, cls);
		t->idle_sig[cls] = bin_idle_sig(b);
	}
	for (w = 0; w < HEAP_FILLED_WORDS; w++)
		t->active[w] = 0;
}
#else
static inline int heap_idle_on(void) { return 0; }
static inline void heap_idle_touch(unsigned int cls) { }
static inline void heap_idle_scan(struct bin *busy) { }
#define HEAP_IDLE_PERIOD	1
#endif /* CONFIG_HEAP_IDLE_TICKS */

/*
 * Every 16th refill or flush looks at the SuperSlab decay clock and
 * counts what the bins hold (busy: the bin being refilled or flushed);
 * every CONFIG_HEAP_IDLE_TICKS ticks it looks for idle classes.
 */
static inline void heap_tick(struct bin *busy)
{
	if (unlikely(!(++hk_tls.ticks & 15))) {
		ss_tick();
		heap_purge_check(hk_tls.heap);
		if (heap_idle_on() && !((hk_tls.ticks >> 4) % HEAP_IDLE_PERIOD))
			heap_idle_scan(busy);
		if (heap_cache_may_exceed())
			heap_cache_check(busy);
	}
}

static void heap_bin_pass(struct bin *b);
static void heap_bin_pass_one(struct bin *b);
static void heap_slab_freed(struct slab *s, const void *old);

/*
 * Fill b, whose lists are empty, from the spare batches or the slabs (a
 * refill) with up to batch blocks (a spare batch or a remote list
 * whole); 0 if there is no memory.
 */
static inline int heap_inbox_any(struct heap *h, unsigned int cls);
static int heap_inbox_to_bin(struct heap *h, struct bin *b, unsigned int cls, unsigned int batch);

static int heap_bin_fill(struct heap *h, struct bin *b, unsigned int cls, unsigned int batch)
{
	struct heap_tls *t = &hk_tls;
	int set_aside = 0;

	/* After a list taken unread: the refill's words go down from put's head. */
	bin_unrange(b, bin_put_top(b));
	if (a_load(&h->notify, A_RELAXED))
		heap_drain_notify(h);
	spare_lifo_refill(&h->spare[cls], NULL);
	if (heap_spare_on() && h->spare[cls].nr && heap_spare_take(h, b, cls))
		goto filled;
	if (heap_inbox_any(h, cls) && heap_inbox_to_bin(h, b, cls, batch))
		goto filled;
	for (;;) {
		struct slab *s = t->cur[cls];

		if (s && h->partial[cls] && slab_only_uncarved(s) &&
		    !slab_cold_only(h->partial[cls])) {
			if (heap_fill_partial(h, b, cls, batch))
				break;
			continue;
		}
		if (s && !set_aside && slab_cold_only(s)) {
			struct slab *r = heap_resident_slab(h, cls);

			set_aside = 1;
			if (r) {
				t->cur[cls] = NULL;
				partial_push_last(h, s);
				t->cur[cls] = r;
				STAT_INC_TLS(STAT_COLD_ASIDE);
				continue;
			}
		}
		if (s) {
			if (slab_refill_bin(s, b, batch))
				break;
			if (!slab_set_full(s))
				continue;
			t->cur[cls] = NULL;
		}
		s = partial_pop(h, cls);
		if (!s)
			s = heap_empty_take(h, cls);
		if (!s) {
			/*
			 * An idle owner's remote frees of the class, taken
			 * instead of a new slab: handed out by the caller
			 * (heap_alloc_class()), never put in the bin.
			 */
			if (heap_inbox_steal(h, cls))
				return 0;
			/*
			 * Claiming: other classes' spare batches, then the
			 * oldest kept slabs go back first, each down to half
			 * of its bound (a program that moved on to other sizes
			 * does not keep the old ones).
			 */
			while (heap_spare_on() && h->spare_bytes > heap_spare_max / 4 &&
			       heap_spare_shed(h))
				;
			while (heap_empty_on() && h->empty_bytes > heap_empty_max / 2)
				heap_empty_shed(h, -1);
			heap_parked_reclaim();
			s = slab_new(h, cls, 0);
			if (unlikely(!s))
				return 0;
		}
		t->cur[cls] = s;
	}
filled:
	heap_rbatch_hungry_push();
	bin_put_below_free(b);
	heap_filled_set(cls);
	cls_bit_clear(hk_tls.outran, cls);
	heap_idle_touch(cls);
	STAT_INC_TLS(STAT_REFILL);
	heap_tick(b);
	return 1;
}

/*
 * How many blocks heap_put_one_refill() puts on malloc's list: the
 * class's batch, but at most half of the bin's limit less one. With a
 * free and a malloc in turn, the list that each swap takes is what the
 * refill gave malloc's list plus the free just before the swap, and
 * free's share after the swap is the limit less that list: a refill of
 * limit / 2 blocks or more (64 against 128 for the classes of 16-64 B)
 * made every later list one push longer than free's share, and each
 * list ended in heap_bin_overflow() (a mispredicted branch and about 60
 * instructions per list: bench_fixed_size 16, 30,775 calls per 2 M
 * pairs; Documentation/benchmarks.md, "thirteenth session").
 */
static inline unsigned int heap_turn_batch(const struct bin *b, unsigned int cls)
{
	unsigned int batch = hk_classes[cls].batch, most = b->limit / 2 - 1;

	if (!most)
		most = 1;
	return batch < most ? batch : most;
}

/*
 * malloc popped put's only block twice in a row with its own list empty
 * (heap_alloc_at(): a free and a malloc of the class in turn): pop it
 * again, and fill malloc's list (when there is memory; with
 * heap_turn_batch() blocks), so that the next pairs pop malloc's list
 * while free pushes put's, with the lists apart (struct bin), until a
 * swap.
 */
static void *heap_put_one_refill(struct heap *h, struct bin *b, unsigned int cls)
{
	void *p = b->put;

	vg_open(p, FL_WORDS);
	if (unlikely(DFKEY_POP_BAD_PUT(b, p)))
		return heap_pop_slow(p);
	heap_check_block(p, cls);
	vg_close(p, FL_WORDS);
	b->put = HEAP_NIL;
	b->put_at++;
	bin_join(b);		/* both lists empty: the whole room malloc's */
	(void)heap_bin_fill(h, b, cls, heap_turn_batch(b, cls));
	return p;
}

void *heap_alloc_class(unsigned int cls)
{
	struct heap_tls *t = &hk_tls;
	struct bin *b = &t->bins[cls];
	struct heap *h = t->heap;

	if (unlikely(!h)) {
		h = heap_thread_start();
		if (!h)
			return NULL;
	}
	/* Allocations that miss the fast path count here. */
	STAT_INC_TLS(hk_classes[cls].stat_idx);
	if (!bin_list(b->free)) {
		/* The last batch of frees that outran the bin: to their slabs. */
		if (HEAP_GROW_ON && unlikely(cls_bit_test(t->outran, cls)) && b->grown) {
			if (bin_list(b->put))
				heap_bin_pass(b);
			b->grown = b->limit > hk_classes[cls].limit;
		}
		if (bin_list(b->put) && !fl_next(b->put))
			return heap_put_one_refill(h, b, cls);
		if (bin_list(b->put)) {
			bin_swap(b);
			if (HEAP_GROW_ON && b->grown)
				bin_swap_grown(b);
		} else {
			bin_join(b);	/* the refills below count the whole room */
		}
	}
	if (bin_list(b->free))
		return BIN_POP(b, b->free, cls);
	/* Another heap's block this thread freed, before a refill. */
	if (fstash_held(cls))
		return fstash_pop(cls);
	/* An idle owner's blocks taken instead of a claim, before a refill. */
	if (heap_stolen_held(h, cls))
		return heap_stolen_pop(h, cls);
	if (!heap_bin_fill(h, b, cls, hk_classes[cls].batch))
		return heap_stolen_held(h, cls) ? heap_stolen_pop(h, cls) : NULL;
	return BIN_POP(b, b->free, cls);
}

/* ------------------------------------------------------------------ */
/* Blocks lent to smaller classes (CONFIG_MID_LEND, HEAP_LEND_SMALL)  */
/* ------------------------------------------------------------------ */

#if defined(CONFIG_MID_LEND) || defined(CONFIG_HEAP_LEND_SMALL)
/* Does slab s (if any) hold blocks freed on its local or remote list? */
static inline int slab_holds_freed(struct slab *s)
{
	return s && (s->local_free || (a_load(&s->remote, A_RELAXED) & REMOTE_PTR_MASK));
}

/*
 * Does class cls of h hold a free block of its own that a fill would
 * hand out (a spare batch, a kept empty slab, a block on the current or
 * the newest partial slab's lists, a slab reported by a remote free)?
 * If not, its fill would carve blocks not yet touched, or claim a slab.
 */
static int heap_class_holds_free(struct heap *h, unsigned int cls)
{
	struct slab *s = hk_tls.cur[cls];

	if (a_load(&h->notify, A_RELAXED))
		return 1;
	if (heap_inbox_any(h, cls))
		return 1;
	if (heap_spare_on() && h->spare[cls].nr)
		return 1;
	if (heap_empty_on() && h->empty_nr[cls])
		return 1;
	if (slab_holds_freed(s))
		return 1;
	return slab_holds_freed(h->partial[cls]);
}
#endif

#ifdef CONFIG_HEAP_LEND_SMALL
/* The largest class that borrows (Mid's big classes have CONFIG_MID_LEND). */
#define HEAP_LEND_SMALL_MAX	8192u
/*
 * The smallest: below 1 KiB a slab holds 64 blocks or more and a carve
 * touches a page at a time, and lending saved no peak RSS on
 * random_mixed 16-1024 while its slow paths cost 5% more instructions
 * (Documentation/benchmarks.md, "twenty-sixth session").
 */
#define HEAP_LEND_SMALL_MIN	1024u

/*
 * malloc of class cls (1 to 8 KiB) finds both lists of its bin empty:
 * if the class holds no free block of its own either, its refill would
 * carve blocks never touched (or claim a slab), pages and lines the
 * program has not used. If the next class up is at most a quarter
 * larger and its bin's malloc list holds a block, that block (the
 * list's head) serves the request instead: memory the larger class
 * already carved or got back, no slab metadata read, no lock, and the
 * smaller class's slabs do not grow while a neighbour's blocks sit
 * free. The block stays of its class (its slab says so to free,
 * malloc_usable_size, realloc and the double-free key) and goes back to
 * that class's bin when freed. No residency check as Mid's lending
 * makes (heap_lend_resident()): the larger class would hand out the
 * same block next. The class's own bin stays empty, so each of its
 * mallocs takes this path until the larger bin runs dry; then the class
 * carves as before. Not for memalign (hk_alloc_aligned() calls
 * heap_alloc_class(): a larger class's blocks may be aligned less), nor
 * for realloc's growth (heap_lend_hold(): bench_realloc's peak RSS
 * 1.19x when it borrowed).
 */
static void *heap_alloc_lend_small(unsigned int cls)
{
	struct heap_tls *t = &hk_tls;
	struct bin *b = &t->bins[cls], *lb;
	unsigned int up = cls + 1;
	size_t size = hk_classes[cls].size;

	if (size > HEAP_LEND_SMALL_MAX || size < HEAP_LEND_SMALL_MIN || up >= HK_NR_CLASSES ||
	    !t->heap || t->lend_held || bin_list(b->free) || bin_list(b->put))
		return heap_alloc_class(cls);
	lb = &t->bins[up];
	if (!bin_list(lb->free) || hk_classes[up].size * 4 > size * 5 ||
	    heap_class_holds_free(t->heap, cls))
		return heap_alloc_class(cls);
	/* heap_alloc_class(up)'s pop of a list that holds a block. */
	STAT_INC_TLS(STAT_SMALL_LEND);
	STAT_INC_TLS(hk_classes[up].stat_idx);
	return BIN_POP(lb, lb->free, up);
}
#else
static inline void *heap_alloc_lend_small(unsigned int cls)
{
	return heap_alloc_class(cls);
}
#endif

#ifdef CONFIG_MID_LEND
/*
 * The lowest class from cls up whose bin may hold blocks
 * (heap_tls::filled), or HK_NR_CLASSES: the classes above a borrower
 * that a program never used cost no look at their bins.
 */
static unsigned int heap_filled_from(unsigned int cls)
{
	unsigned int w = cls / (8 * sizeof(long));
	unsigned long m;

	if (cls >= HK_NR_CLASSES)
		return HK_NR_CLASSES;
	m = hk_tls.filled[w] & (~0UL << (cls % (8 * sizeof(long))));
	while (!m) {
		if (++w >= HEAP_FILLED_WORDS)
			return HK_NR_CLASSES;
		m = hk_tls.filled[w];
	}
	return w * 8 * sizeof(long) + hk_ctz(m);
}

/*
 * Are the pages of the first n bytes of free block p (of whole bytes)
 * all resident? A block whose earlier occupants wrote it (to n bytes at
 * least) is lent without a page fault, or a page more for the process;
 * one whose pages were never touched (or purged) is not lent: a smaller
 * block there would touch pages that none of its own class's blocks
 * would. The slots' map of pages known resident (slab::resident,
 * superslab.h) answers without a system call; where it does not know a
 * page, one mincore over the whole block's pages (a call costs about
 * the same for 1 page or 64) notes what is resident for this and later
 * lends. Pages the map does not know stay unknown until asked: the
 * program's writes make pages resident behind the allocator's back,
 * only hakmem's own returns (ss_decommit()) take them away.
 */
BUILD_BUG_ON(ARCH_PAGE_SIZE_MAX > OS_MINCORE_MAX * ARCH_PAGE_SIZE_MIN);	/* a call covers a page at least */

int heap_lend_resident(const void *p, size_t n, size_t whole)
{
	uintptr_t from = ALIGN_DOWN((uintptr_t)p, os_page_size);
	uintptr_t to = ALIGN_UP((uintptr_t)p + n, os_page_size);
	uintptr_t end = ALIGN_UP((uintptr_t)p + whole, os_page_size), a;
	unsigned char vec[OS_MINCORE_MAX];
	/* os_mincore()'s most (in pages of the smallest size). */
	size_t most = OS_MINCORE_MAX * ARCH_PAGE_SIZE_MIN / os_page_size, k, i;

	if (ss_resident_known(from, to))
		return 1;
	hk_tls.lend_probes++;
	STAT_INC_TLS(STAT_MID_LEND_PROBE);
	for (a = from; a < end; a += k * os_page_size) {
		k = (end - a) / os_page_size;
		if (k > most)
			k = most;
		if (os_mincore((void *)a, k * os_page_size, vec))
			return 0;
		for (i = 0; i < k; i++)
			if (vec[i] & 1)
				ss_resident_note(a + i * os_page_size);
	}
	return ss_resident_known(from, to);
}

/*
 * No bin of the classes above cls (to top) has a block to lend: the
 * first of them whose bin is empty while h's inbox of it holds blocks
 * (this heap's blocks that other threads freed, which wait there until
 * a refill of their class) has its bin filled from the inbox, as its
 * own malloc would, and its first block is lent if resident. Returns
 * that class, 0 if none. Where threads free each other's big blocks
 * and each heap allocates a given big class now and then, those waiting
 * blocks were the memory that grew: bench_stress's peak RSS (threads
 * that come and go, big buffers freed by whichever thread draws them)
 * 37.0 MB RssAnon before this, 25.0 after (Documentation/mid.md, "Lending
 * big blocks").
 */
static unsigned int heap_lend_inbox(struct heap *h, unsigned int cls, unsigned int top, size_t need)
{
	struct bin *lb;
	unsigned int b;

	if (!IS_ENABLED(CONFIG_HEAP_REMOTE_INBOX))
		return 0;
	for (b = cls + 1; b <= top; b++) {
		lb = &hk_tls.bins[b];
		if (bin_list(lb->free) || bin_list(lb->put) || !heap_inbox_any(h, b))
			continue;
		bin_join(lb);		/* both lists empty: the whole room the refill's */
		if (heap_bin_fill(h, lb, b, hk_classes[b].batch) && bin_list(lb->free) &&
		    heap_lend_resident(lb->free, need, hk_classes[b].size))
			return b;
	}
	return 0;
}

/*
 * malloc of big class cls finds its bin empty: if the class has no free
 * block of its own, a free block of one of the MID_LEND_REACH classes
 * above it, from the thread's bins, serves the request whole (its pages
 * resident already, no lock): the block stays of its class (its slab
 * says so to free, malloc_usable_size and realloc) and goes back to
 * that class's bin when freed. Else, or if those bins are empty too,
 * class cls's own path. Not for memalign (hk_alloc_aligned() calls
 * heap_alloc_class(): a larger class's blocks may be aligned less), nor
 * for realloc's growth (heap_lend_hold()).
 */
static void *heap_alloc_lend(unsigned int cls)
{
	struct heap_tls *t = &hk_tls;
	unsigned int b, top = cls + CONFIG_MID_LEND_REACH;
	size_t need = hk_classes[cls].size;

	if (need <= (1u << MID_SMALL_MAX_SHIFT))
		return heap_alloc_lend_small(cls);
	if (!t->heap || t->lend_held)
		return heap_alloc_class(cls);
	if (top >= HK_NR_CLASSES)
		top = HK_NR_CLASSES - 1;
	b = heap_filled_from(cls + 1);
	/* Nothing above to lend (without the inbox, none of whose lists heap_lend_inbox() reads). */
	if ((!IS_ENABLED(CONFIG_HEAP_REMOTE_INBOX) && b > top) ||
	    bin_list(t->bins[cls].free) || bin_list(t->bins[cls].put) ||
	    heap_class_holds_free(t->heap, cls))
		return heap_alloc_class(cls);
	for (; b <= top; b = heap_filled_from(b + 1))
		if (bin_list(t->bins[b].free) &&
		    heap_lend_resident(t->bins[b].free, need, hk_classes[b].size)) {
			STAT_INC_TLS(STAT_MID_LEND);
			return heap_alloc_class(b);
		}
	b = heap_lend_inbox(t->heap, cls, top, need);
	if (b) {
		STAT_INC_TLS(STAT_MID_LEND);
		STAT_INC_TLS(STAT_MID_LEND_INBOX);
		return heap_alloc_class(b);
	}
	return heap_alloc_class(cls);
}
#else
static inline void *heap_alloc_lend(unsigned int cls)
{
	return heap_alloc_lend_small(cls);
}
#endif

/*
 * malloc's slow paths: its list of the bin is empty, and free's is too
 * or the bin grew (heap_alloc_at() swaps the lists of a bin that did not
 * grow inline). heap_alloc_class() swaps (arming a grown bin's count,
 * bin_swap_grown()) or refills, and starts the thread's heap first.
 */
void *heap_alloc_slow(size_t size)
{
	void *p = NULL;

	/* (Without a heap the class tables may not be set up yet.) */
	if (likely(hk_tls.heap) || likely(heap_thread_start() != NULL))
		p = heap_alloc_lend(size_to_class(size));
	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	return p;
}

void *heap_alloc_slow_bin(uintptr_t off)
{
	unsigned int cls = (unsigned int)((off - heap_bin_tpoff(0)) / sizeof(struct bin));
	void *p = heap_alloc_lend(cls);

	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	return p;
}

/*
 * A bin grew past its limit. If the class may cache more and the thread's
 * budget allows, double the limit instead (a program that frees a batch
 * of blocks it will allocate again); else give half of the bin back to
 * the slabs.
 */
void heap_bin_flush(struct bin *b)
{
	const struct size_class *c = &hk_classes[b - hk_tls.bins];
	unsigned int cls = (unsigned int)(c - hk_classes);
	int32_t room;
	int outrun = 0;

	heap_idle_touch(cls);
	heap_hungry_note(hk_tls.heap, cls, 0);
	/* (Not the stashes: a few blocks a class, each pushed alone.) */
	if (hk_tls.rbatch_nr)
		heap_rbatch_push_all();
	/*
	 * One count; the lists stay apart (a join walks the put list): the
	 * pops below take put's blocks first, the most recently freed, as
	 * from the head of one list. A spare batch is cut from one list.
	 */
	bin_room_take_put(b);
	if (bin_list(b->put) && c->size >= HEAP_SPARE_MIN_SIZE)
		bin_join(b);
	if (HEAP_GROW_ON && b->limit < c->limit_max) {
		uint32_t grow = b->limit < c->limit_max - b->limit ?
				b->limit : c->limit_max - b->limit;

		if (bin_may_grow_to(b, cls, b->limit + grow)) {
			bin_limit_set(b, b->limit + grow);
			STAT_INC_TLS(STAT_BIN_GROW);
			/* The thread's bins as a whole stay bounded. */
			if (heap_cache_may_exceed())
				heap_cache_check(b);
			return;
		}
	}
	/*
	 * A grown bin of a small class that may grow no more and still
	 * overflows: the program frees more of the class than the cache can
	 * hold (a container destroyed whole), not a batch it allocates
	 * again. Back to the class's initial limit, and no growth until the
	 * next refill: the flush below sends the blocks to the slabs, where the next allocations
	 * find them slab by slab, instead of the cache handing out thousands
	 * of them in the order they were freed, spread over every slab of
	 * the class; and the frees that follow pass on to their slabs
	 * (heap_bin_pass()) instead of flushing half of a bin of thousands
	 * whose oldest lines are long gone from the cache.
	 * (Documentation/architecture.md, "Thread caches".)
	 */
	room = (int32_t)(b->limit / 2);
	if (HEAP_GROW_ON && b->grown && c->size < HEAP_SPARE_MIN_SIZE) {
		cls_bit_set(hk_tls.outran, cls);
		bin_limit_set(b, c->limit);
		/* The bin keeps nothing: its next frees pass in batches (heap_bin_pass()). */
		room = (int32_t)b->limit;
		outrun = 1;
		STAT_INC_TLS(STAT_BIN_OUTRUN);
	}
	heap_tick(b);

	/* The older half aside whole if it fits, else to the slabs. */
	if (!heap_spare_on() || !heap_spare_put(hk_tls.heap, b, (unsigned int)(c - hk_classes), room)) {
		struct slab_run r = { .s = NULL };

		while (bin_room(b) < room) {
			uintptr_t w;
			void *p;

			if (bin_list(b->put)) {
				p = b->put;
				b->put = bin_end(fl_next(p));
				/* put's next block is its head, one word on; the room is malloc's. */
				w = bin_put_top(b);
				b->put_at++;
				bin_put_room_add(b, -1);
				bin_room_add(b, 1);
			} else {
				p = b->free;
				b->free = bin_end(fl_next(p));
				w = bin_free_top(b);
				b->free_at++;
			}
			slab_run_add(&r, slab_block_head(p), p, w);
		}
		slab_run_end(&r);
	}
	/* A one-list bin's frees pass from the first batch on. */
	if (outrun && !heap_class_split(cls))
		heap_bin_pass_one(b);
	/* Frees filled the bins unseen: count them, and bound them. */
	if (heap_cache_may_exceed())
		heap_cache_check(b);
}

/*
 * The first free after the swap of a grown bin (bin_swap_grown()): if
 * malloc popped a run of at least HEAP_BURST_MIN blocks since, and left
 * some on its list, and the block just freed is alone on free's list,
 * those older blocks go under it, so that the run the program is
 * freeing now comes back first, in the order it is freed (last freed
 * first), and the older blocks after it: otherwise the next run of
 * mallocs would take the older blocks first and a batch that a program
 * allocates, fills and frees over and over would come back in an order
 * that no longer follows the addresses (Documentation/architecture.md,
 * "Bins that grow"). Only the lists' order changes, not the counts.
 */
static void heap_bin_burst_end(struct bin *b)
{
	int32_t *base = &hk_tls.burst_base[b - hk_tls.bins];
	int32_t pops = bin_room(b) - (*base - 1);

	*base = 0;
	/* (Not on a remote list taken unread: only words of its band go above it.) */
	if (pops >= HEAP_BURST_MIN && bin_list(b->free) && bin_list(b->put) && !fl_next(b->put) &&
	    !dfkey_ranged(bin_free_top(b))) {
		uintptr_t w = bin_free_top(b) - 1;

		/* The block just freed is malloc's list's new head: its word follows. */
		dfkey_enter_chain(b->put, 1, w);
		bin_put_top_set(b, w);
		fl_set_next(b->put, b->free);
		b->free = HEAP_NIL;
	}
}

/*
 * The n blocks head .. tail, linked already and of slab s, onto its
 * local list (heap_bin_pass()): heap_free_local_run() without the purge
 * count, inline for the runs of one block of a container's frees.
 */
static inline void heap_slab_splice(struct slab *s, void *head, void *tail, uint32_t n)
{
	void *old = s->local_free;

	fl_set_next(tail, old);
	s->local_free = head;
	HK_ASSERT(s->kind == SLAB_BLOCKS && s->used >= n);
	s->used -= n;
	if (unlikely(!old || !s->used))
		heap_slab_freed(s, old);
}

/*
 * The frees of a class whose grown bin they outran (heap_bin_flush(),
 * heap_tls::outran) go on to their slabs until the next refill, in
 * batches: free's list gets room for HEAP_PASS_BATCH blocks, and the
 * free that finds it spent sends the batch to the slabs (the most
 * recently freed first) and gives the room again; the next malloc of
 * the class sends what is left to the slabs before it refills
 * (heap_alloc_class()). A bin that kept blocks would pin their slabs at
 * the end of the run (a container destroyed whole): each of them then
 * partly free, its list in the order of the frees, which the next
 * refills would follow block by block, a miss each. Passed on, the
 * blocks empty their slabs, which are kept or given back and carved
 * again in address order (slab_recarve()).
 *
 * Why batches (thirteenth session): one block at a time, each free
 * wrote the block twice (free's push, then the slab's link and mark)
 * and its slab's head and count, ten stores behind the store that
 * misses on the freed block's cold line, so that a few frees filled the
 * store buffer and the program's own loads (the next node of the
 * container) waited: bench_tree's frees took 1.8-2x mimalloc's time.
 * A batch leaves free's fast path its four stores; the pass writes lines
 * that are back in L1 by then (Documentation/benchmarks.md,
 * "thirteenth session: containers freed whole").
 */
/*
 * The list from p, out of its bin at the places w, w + 1, ... (its
 * head's word first), onto its slabs' lists in runs of one slab, as they
 * come: the list is linked already, so a run goes onto its slab's list
 * whole, its last link rewritten, with one update of the slab's head and
 * count (heap_slab_splice()). A list freed in address order (built, read
 * and freed in the order it was made) comes in runs of the whole batch;
 * a container's frees follow its keys, not the addresses (runs of 2
 * blocks on average in a C++ map's flushes, Documentation/benchmarks.md,
 * eleventh session), and a run of one costs a compare more than a block
 * did. The list is followed in a register: a bin's head stored and
 * loaded again at each block put a store forwarding on the chain of
 * loads of the links.
 *
 * A block in the same slot (SLOT_SIZE, aligned) as the block before it
 * is of that block's slab: a slab is made of whole slots (one or more;
 * SLOT_SHIFT does not follow the SuperSlab's size), and every block of
 * a bin is of a live slab, so a slot's record names one slab while the
 * list passes. Such a block of a slab that carved its last block skips
 * the lookup (slab_block_head(): the slot's record, its kind, a tail's
 * head) and the bump (slab_run_carved()): a list freed in address order
 * costs a compare a block where it read the slot's record, and the run's
 * count comes from the words' (bench_list's free path: 67.7 instructions
 * a block, 48.7 with the batches of heap_pass_batch_one();
 * Documentation/benchmarks.md, "twenty-sixth session"). A slab still
 * carving, or a block of another slot, is looked up as before; a run
 * may span the slots of a slab of several, and the first block's tail,
 * NULL, is in no block's slot (slot 0 of a SuperSlab is its header).
 *
 * Returns the number of blocks; *runs, the number of runs.
 */
static uint32_t heap_pass_runs(void *p, uintptr_t w, uint32_t *runs)
{
	struct slab *rs = NULL, *s;
	void *next, *head = NULL, *tail = NULL;
	uintptr_t w0 = w, rw = w;	/* the list's first word, the run's */
	uintptr_t rslot = ~0UL;		/* the slot (p >> SLOT_SHIFT) whose blocks skip the lookup, or none */
	uintptr_t rmark = 0;		/* rs's list's mark */
	uint32_t nr = 0;

	for (; p; p = next) {
		next = fl_next(p);
		if (((uintptr_t)p >> SLOT_SHIFT) == rslot) {
			dfkey_bin_to_carved_mark(rs, rmark, p, w);
		} else {
			s = slab_block_head(p);
			if (s != rs) {
				if (rs)
					heap_slab_splice(rs, head, tail, (uint32_t)(w - rw));
				rs = s;
				rmark = dfkey_slab_mark(s);
				head = p;
				rw = w;
				nr++;
			}
			/*
			 * The next blocks of p's slot are of rs, and skip the
			 * lookup if rs carved its last block. The slot and
			 * the mark stay in registers: a field of rs read at
			 * each block is loaded again after every store into a
			 * block, which might alias rs's record (bench_list's
			 * frees: 21.5 instructions a block in the pass, 17.8
			 * so; Documentation/benchmarks.md, "fortieth
			 * session"). (Before the check: one load of rs's flags
			 * for both.)
			 */
			rslot = slab_run_carved(rs) ? (uintptr_t)p >> SLOT_SHIFT : ~0UL;
			dfkey_bin_to_slab_mark(rs, rmark, p, w);
		}
		tail = p;
		w++;
	}
	if (rs)
		heap_slab_splice(rs, head, tail, (uint32_t)(w - rw));
	*runs = nr;
	return (uint32_t)(w - w0);
}

/*
 * The batch of a one-list bin's next pass (heap_bin_pass_one()), from the
 * pass of n blocks in runs of one slab just made: HEAP_PASS_BATCH_ONE,
 * or HEAP_PASS_BATCH after runs of HEAP_PASS_RUN_LONG blocks or more on
 * average. A list freed in the order it was made (bench_list) comes in
 * runs of whole batches: the last frees of the container leave at most
 * a batch on malloc's list, one partly used slab or two, and 64 blocks a
 * pass take fewer trips through the slow path. A container freed in the
 * order of its keys comes in runs of about 2 (bench_tree), where what
 * the last batch leaves pins a slab a block (below), and keeps 8. Only
 * the last pass decides: no state, and a container that changes its
 * order changes the batch at the next pass. The pass right after the
 * flush has no blocks and takes HEAP_PASS_BATCH_ONE.
 */
static inline uint32_t heap_pass_batch_one(uint32_t n, uint32_t runs)
{
	return runs && n >= HEAP_PASS_RUN_LONG * runs ? HEAP_PASS_BATCH : HEAP_PASS_BATCH_ONE;
}

/*
 * The same for a one-list bin (heap_class_split()): its frees push on
 * malloc's list, which the flush of the outrun emptied, so the whole
 * list goes (the frees since, less what mallocs took back), and the room
 * beyond one batch waits in put's share, which a one-list bin does not
 * use otherwise (its room is malloc's, free sees it BIN_LIFO_SHIFT
 * lower): the free that spends the batch comes here again, and the next
 * slow path gives the room back to malloc's share (bin_room_take_put(),
 * in bin_join() and the flush). No mark: a one-list bin's put stays
 * empty, so malloc's fast path goes to the slow path when its list is.
 *
 * With a batch of HEAP_PASS_BATCH_ONE, not HEAP_PASS_BATCH: what the
 * last frees of a run leave in the bin, malloc's fast path hands out
 * first (a split bin keeps them on put, which it does not pop while
 * marked grown), each block keeping its slab partly used for the next
 * refills. With 64, bench_tree took 1.041 [1.006..1.090] of split bins'
 * CPU time, and 3.9x the refills from partial slabs first (6124, 1564);
 * with 8, 0.990 [0.944..1.026] (Documentation/benchmarks.md, "fifteenth
 * session: one list per bin").
 */
static void heap_bin_pass_one(struct bin *b)
{
	uint32_t runs, n = heap_pass_runs(bin_list(b->free), bin_free_top(b), &runs);
	int32_t keep;

	b->free = HEAP_NIL;
	b->free_at += n;	/* room n more */
	keep = bin_room(b) - (int32_t)heap_pass_batch_one(n, runs);
	if (keep > 0) {
		bin_put_room_add(b, keep);
		bin_room_add(b, -keep);
	}
}

static void heap_bin_pass(struct bin *b)
{
	uint32_t n, runs;
	int32_t room;

	/* No purge count: the classes that pass are below the purge's. */
	BUILD_BUG_ON(HEAP_PURGE_MIN_SIZE < HEAP_SPARE_MIN_SIZE);
	bin_room_take_put(b);
	if (!heap_class_split((unsigned int)(b - hk_tls.bins))) {
		heap_bin_pass_one(b);
		return;
	}
	/* As the flush's loop: put's next block is its head, one word on. */
	n = heap_pass_runs(bin_list(b->put), bin_put_top(b), &runs);
	b->put = HEAP_NIL;
	b->put_at += n;
	bin_put_room_add(b, -(int32_t)n);
	bin_room_add(b, (int32_t)n);
	room = bin_room(b) < (int32_t)HEAP_PASS_BATCH ? bin_room(b) : (int32_t)HEAP_PASS_BATCH;
	bin_put_room_add(b, room);
	bin_room_add(b, -room);
	/*
	 * Marked grown until the next malloc's slow path: malloc's fast
	 * path takes a list of a bin that did not grow inline
	 * (heap_alloc_at()), which would hand the batch out.
	 */
	b->grown = 1;
}

void heap_bin_overflow(const void *p)
{
	unsigned int cls = slab_of(p)->class_idx;
	struct bin *b = &hk_tls.bins[cls];

	if (HEAP_GROW_ON && unlikely(cls_bit_test(hk_tls.outran, cls))) {
		heap_bin_pass(b);
		return;
	}
	if (HEAP_GROW_ON && hk_tls.burst_base[b - hk_tls.bins])
		heap_bin_burst_end(b);

	/*
	 * Free's share is spent: take malloc's. Flush if that leaves fewer
	 * than limit / 8 frees: a bin kept nearly full by a malloc and a
	 * free in turn would come here at every free (malloc's pop credits
	 * its own share), so it is flushed a little before its limit instead.
	 */
	bin_room_give_put(b);
	if (bin_put_room(b) >= (int32_t)(b->limit / 8))
		return;
	heap_bin_flush(b);
}

/* ------------------------------------------------------------------ */
/* Free slow paths                                                    */
/* ------------------------------------------------------------------ */

/*
 * The n blocks of the chain head .. tail (tail's link is overwritten), all
 * of slab s, owned and in slab state (dfkey_to_slab()), back on its local
 * list: as n calls of heap_free_local_slow(), with one count update. The
 * slab is emptied (its count reaches 0) only at the last block, so the
 * one test after the splice sees what the last call would have.
 */
/*
 * Blocks went onto s's local list, whose head was old, and s->used
 * counts them: s, unless current, is kept or given back if it emptied,
 * or listed as partial if its list was empty.
 */
static void heap_slab_freed(struct slab *s, const void *old)
{
	struct heap *h = s->owner;
	struct slab *cur = heap_current(h, s->class_idx);

	if (s->used == 0 && s != cur) {
		heap_slab_emptied(h, s);
		return;
	}
	if (!old && !(s->flags & SLAB_IN_PARTIAL) && s != cur) {
		uintptr_t full = REMOTE_FULL;

		/* No notification needed any more. */
		a_cas(&s->remote, &full, 0UL, A_RELAXED);
		partial_push(h, s);
	}
}

void heap_free_local_run(struct slab *s, void *head, void *tail, uint32_t n)
{
	void *old = s->local_free;

	fl_set_next(tail, old);
	s->local_free = head;
	HK_ASSERT(s->kind == SLAB_BLOCKS && s->used >= n && n > 0);
	s->used -= n;
	slab_dirty_add(s, n);
	heap_slab_freed(s, old);
}

/* Put an owned block back on its slab's local list: a run of one. */
void heap_free_local_slow(struct slab *s, void *p)
{
	dfkey_to_slab(s, p);
	heap_free_local_run(s, p, p, 1);
}

void heap_free_list_corrupt(const void *p)
{
	hk_fatal("double free or corruption detected: block %p is on a free list twice or its free-list word was overwritten, aborting",
		 p);
}

/*
 * malloc's pop of p (the head of its bin's list) failed its checks: a
 * bad link, or a key word out of place. A block of a remote list taken
 * unread (slab_remote_to_bin()) holds the slabs' key, and is taken at a
 * place of such a list (bin_unread_take()) only; its word becomes 0 (a
 * block handed out holding the key would be a double free to the next
 * remote free). Any other block in a bin holds the word of its place: a
 * block that does not is on a list twice, or was written after free.
 * So every block of a remote list taken unread leaves through here, and
 * the next one is prefetched. heap_pop_unread() takes p, the head of b
 * (of class cls), whose next block is next, at such a place.
 */
static __always_inline void *heap_pop_unread(tp_bin_t *b, unsigned int cls, void *p,
					     uintptr_t next)
{
	if (unlikely(!bin_unread_take(hk_tls.heap, cls, b->free_at)))
		heap_free_list_corrupt(p);
	heap_check_block(p, cls);
	dfkey_hand_out(p);
	vg_close(p, FL_WORDS);
	b->free = (void *)next;
	b->free_at++;
	/*
	 * The next block of the list, most likely its next one too: its
	 * lines were written last by the thread that freed it, on another
	 * CPU, and the next pop reads its link, a miss nothing overlaps
	 * (each link is the address of the next load). Fetched now, it
	 * comes in while the program uses p (remote_cost across the cores:
	 * the owner's phase 0.67 of the time; benchmarks.md, "seventeenth
	 * session: cross-core remote frees"). Whatever
	 * CONFIG_HEAP_POP_PREFETCH says: the fast path's pop prefetches only
	 * with it (bin_prefetch_next()), where a block of the thread's own
	 * frees is mostly still cached.
	 */
	if (next != (uintptr_t)HEAP_NIL)
		__builtin_prefetch((void *)next);
	return p;
}

/* Through p's slab: the pop after a swap, put's one block (BIN_POP(), heap_alloc_at()). */
void *heap_pop_slow(void *p)
{
	uintptr_t next = fl_raw_next(p, hk_tls.flkey);
	unsigned int cls;
	tp_bin_t *b;

	/*
	 * p may be no block at all (a forged link: its two words were
	 * read); holding the key, it is one, and it must be the head of
	 * its class's bin (not put's one block: no remote list goes there).
	 */
	if (fl_bad(next) || !dfkey_is_key(p))
		heap_free_list_corrupt(p);
	cls = slab_of(p)->class_idx;
	b = tp_bin(heap_bin_tpoff(cls));
	if (unlikely(b->free != p))
		heap_free_list_corrupt(p);
	return heap_pop_unread(b, cls, p, next);
}

/*
 * heap_alloc_at()'s pop: p is the head of malloc's list of the bin at
 * thread-pointer offset off, so the bin and its class come from off,
 * not from p's slab record (a load of another line per block, and ten
 * instructions: twenty-second session, branch xpop). The key at a place
 * of a remote list taken unread is what lets p out, as above.
 */
void *heap_pop_slow_at(void *p, uintptr_t off)
{
	uintptr_t next = fl_raw_next(p, hk_tls.flkey);

	if (fl_bad(next) || !dfkey_is_key(p))
		heap_free_list_corrupt(p);
	/* The bin through the thread pointer, as the fast path reaches it. */
	return heap_pop_unread(tp_bin(off), (unsigned int)((off - heap_bin_tpoff(0)) / sizeof(struct bin)),
			       p, next);
}

#ifdef CONFIG_DEBUG_ASSERT
/* ------------------------------------------------------------------ */
/* Self-checks                                                        */
/* ------------------------------------------------------------------ */

void heap_check_block(const void *p, unsigned int cls)
{
	const struct slab *s;

	if (unlikely((uintptr_t)p & ((1UL << TINY_MIN_SHIFT) - 1) ||
		     registry_lookup((uintptr_t)p) != REG_SUPERSLAB))
		hk_fatal("heap: block %p of a bin of class %u is not in a SuperSlab", p, cls);
	/*
	 * A block freed twice: on its slab's list and in the bin, which
	 * handed it out after the slab emptied and went back unread. The
	 * pop's own checks do not look for it (heap.h, "The double-free
	 * key"); reported as a double free, as its free would be.
	 */
	heap_check_released(p);
	s = slab_block_head(p);
	if (unlikely(s->kind != SLAB_BLOCKS || s->owner != hk_tls.heap ||
		     s->class_idx != cls || !slab_is_block_start(s, p)))
		hk_fatal("heap: block %p of a bin of class %u: slab kind %u, class %u, owner %p (we are %p), block start %d",
			 p, cls, s->kind, s->class_idx, (void *)s->owner, (void *)hk_tls.heap,
			 slab_is_block_start(s, p));
}

/* A slab of h, class cls: its fields and its count of used blocks. */
static void heap_check_slab(struct heap *h, struct slab *s, unsigned int cls)
{
	const void *q;
	uint32_t nfree = 0;

	HK_ASSERT(s->kind == SLAB_BLOCKS && s->owner == h && s->class_idx == cls);
	HK_ASSERT(s->block_size == class_stride(&hk_classes[cls]) && s->span == hk_classes[cls].span);
	HK_ASSERT(s->used <= s->capacity && s->uncarved <= s->capacity - s->used);
	/*
	 * Each block is checked before its link is followed: in the slab,
	 * a block start, with the list's mark (a block freed again while on
	 * the list and handed out from the bin holds the program's bytes
	 * there: tests/dfuzz on debug_defconfig followed them, SIGSEGV).
	 */
	for (q = s->local_free; q; q = fl_next(q)) {
		HK_ASSERT((uintptr_t)q - (uintptr_t)slab_start(s) < slab_bytes(s) &&
			  slab_is_block_start(s, q));
		HK_ASSERT(dfkey_word_is(q, s->dfkey ^ DFKEY_ON_SLAB));
		HK_ASSERT(++nfree <= s->capacity);
	}
	/* used = capacity - |local_free| - |uncarved| */
	HK_ASSERT(s->used + nfree + s->uncarved == s->capacity);
	remote_check(a_load(&s->remote, A_RELAXED));
}

/*
 * The spare batches of h of class cls: blocks of h's slabs of cls, each
 * with the bin's key if slabs have one (CONFIG_DOUBLE_FREE_CHECK; without
 * it dfkey_is_free() cannot tell and says no); their bytes.
 */
static size_t heap_check_spare(struct heap *h, unsigned int cls)
{
	const struct heap_spare *sp = &h->spare[cls];
	size_t bytes = 0;
	uint32_t i, n;
	const void *q;

	HK_ASSERT(sp->nr <= HEAP_SPARE_SLOTS);
	for (i = 0; i < sp->nr; i++) {
		n = 0;
		for (q = sp->head[i]; q; q = fl_next(q)) {
			const struct slab *s = slab_block_head(q);

			HK_ASSERT(s->kind == SLAB_BLOCKS && s->owner == h && s->class_idx == cls);
			HK_ASSERT(slab_is_block_start(s, q));
			HK_ASSERT(dfkey_word_is(q, spare_top(sp, i) + n));
			HK_ASSERT(++n <= sp->count[i]);
		}
		HK_ASSERT(n == sp->count[i]);
		bytes += (size_t)n * hk_classes[cls].size;
	}
	return bytes;
}

/* h's kept empty slabs: linked both ways, all free, counted per class and in bytes. */
static void heap_check_empty(struct heap *h)
{
	unsigned int nr[HK_CLASS_ARRAY] = { 0 }, cls;
	struct slab *s, *prev = NULL;
	size_t bytes = 0;

	for (s = h->empty; s; prev = s, s = s->next) {
		cls = s->class_idx;
		HK_ASSERT(s->prev == prev);
		HK_ASSERT(!(s->flags & SLAB_IN_PARTIAL) && s != heap_current(h, cls));
		HK_ASSERT(a_load(&s->remote, A_RELAXED) == 0);
		heap_check_slab(h, s, cls);
		HK_ASSERT(s->used == 0);
		HK_ASSERT(++nr[cls] <= HEAP_EMPTY_PER_CLASS);
		bytes += slab_bytes(s);
	}
	HK_ASSERT(h->empty_last == prev);
	for (cls = 0; cls < heap_nr_classes(); cls++)
		HK_ASSERT(h->empty_nr[cls] == nr[cls]);
	HK_ASSERT(h->empty_bytes == bytes);
}

void heap_check(struct heap *h)
{
	/* A variable: with no slab box, cls < 0 would be a -Wtype-limits error. */
	unsigned int cls, nr = HK_NR_CLASSES;
	size_t spare = 0;

	heap_check_empty(h);

	for (cls = 0; cls < nr; cls++) {
		struct slab *s, *prev = NULL, *cur = heap_current(h, cls);

		for (s = h->partial[cls]; s; prev = s, s = s->next) {
			HK_ASSERT(s->prev == prev);
			HK_ASSERT(s->flags & SLAB_IN_PARTIAL);
			HK_ASSERT(s != cur);
			heap_check_slab(h, s, cls);
		}
		HK_ASSERT(h->partial_last[cls] == prev);
		if (cur) {
			HK_ASSERT(!(cur->flags & SLAB_IN_PARTIAL) && !cur->next && !cur->prev);
			heap_check_slab(h, cur, cls);
		}
		if (h == hk_tls.heap) {
			const struct bin *b = &hk_tls.bins[cls];
			const void *q;
			int32_t n = 0;

			/* (A thread that parks h has emptied its bins first.) */
			HK_ASSERT(b->limit || (!bin_list(b->free) && !bin_list(b->put)));
			/* With the check an empty list is HEAP_NIL, never NULL. */
			HK_ASSERT(!IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK) || (b->free && b->put));

			uintptr_t w = bin_free_top(b);

			for (q = bin_list(b->free); q; q = fl_next(q), w++) {
				heap_check_block(q, cls);
				HK_ASSERT(dfkey_word_is(q, w) ||
					  (bin_unread_accepts(h, cls, w) && dfkey_word_is(q, hk_tls.dfkey)));
				HK_ASSERT(++n <= (int32_t)b->limit + 1);
			}
			w = bin_put_top(b);
			for (q = bin_list(b->put); q; q = fl_next(q)) {
				heap_check_block(q, cls);
				HK_ASSERT(dfkey_word_is(q, w++));
				HK_ASSERT(++n <= (int32_t)b->limit + 1);
			}
			HK_ASSERT(n == (int32_t)b->limit - bin_room(b) - bin_put_room(b));
		}
		spare += heap_check_spare(h, cls);
	}
	HK_ASSERT(spare == h->spare_bytes);
}
#endif /* CONFIG_DEBUG_ASSERT */

void heap_bad_pointer(void *p)
{
	/* A sampled block is handed out inside its block (mm/prof). */
	if (prof_free_bad(p))
		return;
	guard_foreign(p, GUARD_FREE, __builtin_return_address(0));
}

static void notify_push(struct heap *h, struct slab *s)
{
	struct slab *old = a_load(&h->notify, A_RELAXED);

	do {
		s->notify_next = old;
	} while (!a_cas(&h->notify, &old, s, A_RELEASE));
}

/*
 * hk_tls.hint is the record whose block the calling thread freed first
 * while it had no heap of its own, or the record it has or had (NULL:
 * neither yet, the one test on the remote-free path). A thread that
 * starts by freeing what an exited thread left it (a server handing its
 * live blocks over to a new thread) adopts that thread's record if it is
 * parked, rather than the one parked longest ago: the blocks it
 * inherits are then its own, and their frees local. If the record is
 * still in use (the new thread raced ahead of the exiting one), it is
 * remembered: heap_thread_start() adopts it at the thread's first malloc
 * if it is parked by then. heap_thread_exit() leaves it at the exiting
 * thread's own record: a thread that frees after its heap was parked
 * (other keys' destructors) does not adopt one on free. (A field of the
 * front, not a TLS variable of its own: with CONFIG_VALGRIND the front
 * is .tdata, which memcheck sees initialised.)
 *
 * Here, the first free of a thread without a heap, of a block of slab s:
 * if the record that owns s is parked (its thread exited), adopt it now;
 * the block is then the caller's own (returns 1). Else remember the
 * record.
 */
static __slowpath int heap_adopt_on_free(struct slab *s)
{
	struct heap *owner = a_load(&s->owner, A_ACQUIRE);

	hk_tls.hint = owner;
	if (a_load(&owner->alive, A_RELAXED))
		return 0;
	return heap_thread_start() == owner;
}

/* ------------------------------------------------------------------ */
/* Remote batches                                                     */
/* ------------------------------------------------------------------ */

/*
 * A thread with a heap does not push each remote free on the slab's
 * remote list: it links the block on its batch of the block's class
 * (hk_tls.rbatch[], plain stores, as a local free) and pushes the batch
 * with one compare-exchange when it holds HEAP_RBATCH_MAX blocks or when
 * a free of that class goes to another slab; and all of its batches at
 * its exit (heap_park()), at a flush of one of its bins, at malloc_trim
 * and at fork. The block takes the batch's mark at its free (the slabs'
 * double-free key ^ DFKEY_IN_BATCH; checked as the key was: freed again
 * while in the batch by any thread but its owner, it is reported at
 * once), and the key at the push (rbatch_seal(), which reports a block
 * the owner freed again meanwhile). The owner, which takes a block
 * holding the key where a remote list taken unread lies in its bin and
 * follows its link, takes no block holding the mark, and so never runs
 * into a batch whose tail's link is still unwritten (dfuzz -c 90 on
 * commit d9fcf59, which wrote the key at the free). Its blocks count as
 * used by the slab, as those on its remote list do, so the slab stays
 * until they are pushed: at most one batch per class and thread. A
 * thread without a heap (its frees are all remote) pushes each block: no
 * exit of its own pushes a batch.
 */

/* Push the n blocks head..tail (linked) of slab s on its remote list. */
static __always_inline void slab_push_remote(struct slab *s, void *head, void *tail,
					     uint32_t n)
{
	uintptr_t old, nw;

	/*
	 * The compare-exchange acquires too: having seen FULL, which the
	 * owner set (release) after its last drain read s->notify_next,
	 * notify_push() below writes that field (tsan-stress under
	 * debug_defconfig: a race between notify_push() and
	 * heap_drain_notify() without it).
	 */
	old = a_load(&s->remote, A_RELAXED);
	do {
		remote_check(old);
		/* (Ends in HEAP_NIL: the list may go into a bin unread.) */
		fl_set_next(tail, bin_end(REMOTE_PTR(old)));
		/*
		 * head on top, n more in the count, QUEUED kept; FULL (1,
		 * never with QUEUED, 2) becomes QUEUED by adding it again.
		 */
		nw = (uintptr_t)head |
		     ((old & ~REMOTE_PTR_MASK) + n * REMOTE_COUNT_ONE + (old & REMOTE_FULL));
	} while (!a_cas(&s->remote, &old, nw, A_ACQ_REL));
	if (old & REMOTE_FULL)
		notify_push(s->owner, s);
}

/* ------------------------------------------------------------------ */
/* Remote inbox (CONFIG_HEAP_REMOTE_INBOX)                            */
/* ------------------------------------------------------------------ */

/*
 * A batch holds blocks of one slab, so frees that come in no order (a
 * table shared by threads) push batches of one block, each an atomic on
 * its slab's line and often a notice to the owner, and the owner
 * refills one or two blocks at a time from the slabs' remote lists.
 * With the option a batch holds blocks of any slab of one owner
 * (struct heap_rbatch::owner) and its push goes on the owner's inbox of
 * the class: INBOX_LISTS words, each a list of pushed batches (the
 * newest batch's head in its low INBOX_PTR_BITS bits; user addresses of
 * both architectures lie below 2^48) and their count above. A push goes
 * on the first list it fits: the first INBOX_LISTS - 1 hold at most the
 * class's bin limit, the last at most INBOX_MAX. The owner's refill
 * takes the longest list whole, as it takes a slab's remote list
 * (heap_inbox_to_bin()); its blocks hold the key, end in
 * HEAP_NIL, and count as used by their slabs until a flush gives them
 * back, as a remote list's do. A list longer than the bin's room is cut
 * there, and the cut is a walk down the list, each block a line the
 * freeing thread wrote (xmalloc walked 35% of its blocks so, shared-bigws
 * 13%, when the inbox was one list); a list that fits the bin goes in
 * unread, and the lists bounded by the bin's limit always fit an empty
 * bin of the class's limit. A push that would take the last list past
 * INBOX_MAX (an owner that stopped allocating the class: an idle or
 * parked heap) goes to the blocks' slabs' remote lists instead, block by
 * block. A thread's release and malloc_trim give the inbox back to the
 * slabs (heap_inbox_give_back()); a parked heap keeps it for its next
 * thread.
 */
#ifdef CONFIG_HEAP_REMOTE_INBOX

/* Does batch rb take a block of slab s? */
static __always_inline int rbatch_takes(tp_rbatch_t *rb, const struct slab *s)
{
	return rb->owner == s->owner;
}

static __always_inline void rbatch_start_for(tp_rbatch_t *rb, struct slab *s)
{
	rb->owner = s->owner;
}

static inline struct heap *rbatch_owner(const struct heap_rbatch *rb)
{
	return rb->owner;
}

/*
 * The slot of block q of a batch is still in use (rbatch_seal()); *seen:
 * the last slot found so (its address >> SLOT_SHIFT), not looked at
 * again: a batch's blocks come mostly in runs of one slab.
 */
static __always_inline void rbatch_slot_check(void *q, uintptr_t *seen)
{
	uintptr_t slot = (uintptr_t)q >> SLOT_SHIFT;

	if (slot == *seen)
		return;
	if (unlikely(a_load(&slab_of(q)->state, A_RELAXED) != SLOT_ACTIVE))
		guard_double_free(q);
	*seen = slot;
}

/* An inbox too long: the n blocks head.. to their slabs' remote lists. */
static __noinline void heap_inbox_overflow(void *head, uint32_t n)
{
	while (n--) {
		void *next = fl_next(head);

		slab_push_remote(slab_block_head(head), head, head, 1);
		head = next;
	}
}

/*
 * Push the n blocks head..tail (linked, sealed) on inbox list *word if
 * it stays within max blocks; 0 if it would not.
 */
static int inbox_list_push(uintptr_t *word, uint32_t max, void *head, void *tail, uint32_t n)
{
	uintptr_t old = a_load(word, A_RELAXED), nw;

	do {
		if (INBOX_COUNT(old) + n > max)
			return 0;
		/* (Ends in HEAP_NIL: the list goes into a bin unread.) */
		fl_set_next(tail, bin_end(INBOX_PTR(old)));
		nw = (uintptr_t)head | (uintptr_t)(INBOX_COUNT(old) + n) << INBOX_PTR_BITS;
	} while (!a_cas(word, &old, nw, A_RELEASE));
	return 1;
}

/* Push the n blocks head..tail (linked, sealed) of class cls on h's inbox. */
static void heap_inbox_push(struct heap *h, unsigned int cls, void *head, void *tail, uint32_t n)
{
	unsigned int k;

	HK_ASSERT((uintptr_t)head < (1UL << INBOX_PTR_BITS));
	for (k = 0; k < INBOX_LISTS; k++)
		if (inbox_list_push(&h->inbox[cls][k], inbox_list_max(cls, k), head, tail, n)) {
			/* Three bins' worth the owner has not taken: it is idle. */
			if (k == INBOX_LISTS - 1)
				heap_inbox_glut_note(h, cls);
			return;
		}
	fl_set_next(tail, HEAP_NIL);
	heap_inbox_overflow(head, n);
}

/* Has h's inbox of cls, or the rest of the last list taken, a block? */
static inline int heap_inbox_any(struct heap *h, unsigned int cls)
{
	unsigned int k;

	if (h->inbox_rest_n[cls])
		return 1;
	for (k = 0; k < INBOX_LISTS; k++)
		if (a_load(&h->inbox[cls][k], A_RELAXED))
			return 1;
	return 0;
}

/*
 * The longest list of h's inbox of cls, taken (its word); 0 if none
 * holds blocks.
 */
static uintptr_t heap_inbox_take(struct heap *h, unsigned int cls)
{
	unsigned int k, best = 0;
	uint32_t most = 0;

	for (k = 0; k < INBOX_LISTS; k++) {
		uint32_t n = INBOX_COUNT(a_load(&h->inbox[cls][k], A_RELAXED));

		if (n > most) {
			most = n;
			best = k;
		}
	}
	return most ? a_swap(&h->inbox[cls][best], 0UL, A_ACQUIRE) : 0;
}

/*
 * The inbox's n blocks from list back to their slabs' lists (h's
 * slabs), each checked as a remote list's (the key, carved) before its
 * link is followed.
 */
static void heap_inbox_list_give_back(struct heap *h, void *list, uint32_t n)
{
	while (n--) {
		struct slab *s = slab_block_head(list);
		void *next;

		if (unlikely(s->owner != h || s->kind != SLAB_BLOCKS))
			heap_free_list_corrupt(list);
		dfkey_to_slab(s, list);
		next = fl_next(list);
		if (unlikely(!next && n))
			heap_free_list_corrupt(list);
		heap_free_local_run(s, list, list, 1);
		list = next;
	}
}

/*
 * Fill empty bin b of class cls from h's inbox: the rest of the last list
 * taken first, else the longest list, swapped whole;
 * what the bin does not take (bin_take_list()) is the rest, for the next
 * refill. 0 if the inbox and the rest are empty.
 */
static int heap_inbox_to_bin(struct heap *h, struct bin *b, unsigned int cls, unsigned int batch)
{
	void *list = h->inbox_rest[cls];
	uint32_t n = h->inbox_rest_n[cls];

	if (!n) {
		uintptr_t w = heap_inbox_take(h, cls);

		if (!w)
			return 0;
		list = INBOX_PTR(w);
		n = INBOX_COUNT(w);
	}
	/*
	 * Longer than the room (the last list, or a bin whose room is below
	 * its class's limit): cut there, not grown for it (the last list can
	 * hold hundreds of blocks; bench_xmalloc 0.88 of the throughput
	 * with the bin grown to take it whole, 1.13 cut, thirty-seventh
	 * session; grown bins also held more memory in xthread and larson,
	 * thirty-ninth).
	 */
	if ((int32_t)n > bin_room(b))
		batch = bin_room(b) > 1 ? (unsigned int)bin_room(b) : 1;
	h->inbox_rest[cls] = bin_take_list(b, cls, list, n, batch, 0, &h->inbox_rest_n[cls]);
	return 1;
}

#ifdef CONFIG_DOUBLE_FREE_CHECK
/*
 * The n blocks from q of an inbox: none of slab s, each in a slot in use
 * holding the key; at most HEAP_INBOX_CHECK_MAX of them (returns how many
 * it read).
 */
#define HEAP_INBOX_CHECK_MAX	1024u

static uint32_t heap_inbox_list_check(const struct slab *s, void *q, uint32_t n)
{
	uint32_t read = n < HEAP_INBOX_CHECK_MAX ? n : HEAP_INBOX_CHECK_MAX;

	for (n = read; n--; ) {
		void *next;
		int bad;

		if (unlikely(a_load(&slab_of(q)->state, A_RELAXED) != SLOT_ACTIVE))
			heap_free_list_corrupt(q);
		vg_open(dfkey_word(q), FL_WORD);
		bad = slab_block_head(q) == s || *dfkey_word(q) != dfkey_of_slab();
		vg_close(dfkey_word(q), FL_WORD);
		if (unlikely(bad))
			heap_free_list_corrupt(q);
		next = fl_next(q);
		if (unlikely(!next && n))
			heap_free_list_corrupt(q);
		q = next;
	}
	return read;
}

/*
 * Before slab s of h goes back to its pool (slab_retire()): no block of
 * s may wait in h's inbox of its class or in its rest. Every block of s
 * came back, so one there was freed twice (its owner freed it again
 * while it waited, and the flush of that copy counted it back); once
 * the slot is decommitted or unmapped, the refill that takes the inbox
 * would read it. Reads the inbox's blocks, writes nothing: other
 * threads may push meanwhile, in front of what is read. Bounded: a
 * class whose inbox its owner does not take (it frees the class's
 * blocks but allocates none) would be read whole at each of its slabs'
 * releases, so only its first HEAP_INBOX_CHECK_MAX blocks are; the
 * slots that can be unmapped are those of a pool out of address space
 * (ss_unmap_free()), and a decommitted one reads as zeros, which no
 * reader takes for the key.
 */
static void heap_inbox_retire_check(struct heap *h, const struct slab *s)
{
	unsigned int cls = s->class_idx, k;
	uint32_t read;

	read = heap_inbox_list_check(s, h->inbox_rest[cls], h->inbox_rest_n[cls]);
	for (k = 0; k < INBOX_LISTS && read < HEAP_INBOX_CHECK_MAX; k++) {
		uintptr_t w = a_load(&h->inbox[cls][k], A_ACQUIRE);

		read += heap_inbox_list_check(s, INBOX_PTR(w), INBOX_COUNT(w) < HEAP_INBOX_CHECK_MAX - read ?
					      INBOX_COUNT(w) : HEAP_INBOX_CHECK_MAX - read);
	}
}
#else
static void heap_inbox_retire_check(struct heap *h, const struct slab *s) { }
#endif

/* Give h's inboxes and their rests back to the slabs (release, malloc_trim). */
static void heap_inbox_give_back(struct heap *h)
{
	unsigned int cls;

	for (cls = 0; cls < heap_nr_classes(); cls++) {
		unsigned int k;
		uintptr_t w;

		if (h->inbox_rest_n[cls]) {
			void *rest = h->inbox_rest[cls];
			uint32_t n = h->inbox_rest_n[cls];

			/* (Off the record first: a release on the way checks it.) */
			h->inbox_rest_n[cls] = 0;
			h->inbox_rest[cls] = NULL;
			heap_inbox_list_give_back(h, rest, n);
		}
		for (k = 0; k < INBOX_LISTS; k++) {
			w = a_swap(&h->inbox[cls][k], 0UL, A_ACQUIRE);
			if (w)
				heap_inbox_list_give_back(h, INBOX_PTR(w), INBOX_COUNT(w));
		}
	}
}

/*
 * Idle owners' inboxes (CONFIG_HEAP_INBOX_STEAL). Only its owner takes
 * an inbox: while the owner does not allocate the class (it waits, it
 * is descheduled, it moved on to other sizes), the blocks that other
 * threads free there wait, and those threads claim new slabs for their
 * own allocations (churn/shared-bigws: one thread finishing early left
 * 30-45 MB of its blocks in its inbox while the other claimed slabs,
 * a peak of 104-128 MB against glibc's 80). A push that lands on an
 * inbox's last list (the first INBOX_LISTS - 1, a bin each, are full:
 * the owner took none of them) notes the owner in inbox_glut[] for the
 * class; a thread about to claim a slab of the class (heap_bin_fill(),
 * after its own inbox, partial and kept slabs) takes that owner's last
 * list instead, with one exchange, as the owner itself takes a list
 * (heap_inbox_take()), so pushers, the owner and other takers never see
 * a list half taken. The list goes into no bin (a bin's blocks are its
 * heap's own: a flush gives them to their slabs without an atomic): the
 * thread's mallocs of the class hand its blocks out one at a time
 * before any refill (heap_alloc_class()), each checked as a remote
 * list's (its slot in use, the key) and given the word 0, as the pop of
 * a list taken unread does. They stay the owner's blocks, used for
 * their slabs all along: their frees go back to the owner as remote
 * frees. What is left at the thread's exit, a fork or malloc_trim goes
 * to the blocks' slabs' remote lists (heap_rbatch_flush()), as an inbox
 * too long does (heap_inbox_overflow()).
 */
#ifdef CONFIG_HEAP_INBOX_STEAL
/* Per class: the owner whose inbox a push last found full up to its last list (atomic). */
static struct heap *inbox_glut[HK_CLASS_ARRAY];

static inline void heap_inbox_glut_note(struct heap *h, unsigned int cls)
{
	if (a_load(&inbox_glut[cls], A_RELAXED) != h)
		a_store(&inbox_glut[cls], h, A_RELAXED);
}

/* Take the last inbox list of cls of the owner noted, for h's mallocs: 0 if none. */
static int heap_inbox_steal(struct heap *h, unsigned int cls)
{
	struct heap *v = a_load(&inbox_glut[cls], A_RELAXED);
	uintptr_t w;

	if (!v || v == h || h->stolen_n[cls])
		return 0;
	w = a_swap(&v->inbox[cls][INBOX_LISTS - 1], 0UL, A_ACQUIRE);
	if (!w) {
		/* Its owner took it meanwhile: forget the note, unless renewed. */
		(void)a_cas(&inbox_glut[cls], &v, NULL, A_RELAXED);
		return 0;
	}
	h->stolen[cls] = INBOX_PTR(w);
	h->stolen_n[cls] = INBOX_COUNT(w);
	h->stolen_nr++;
	STAT_INC_TLS(STAT_INBOX_STEAL);
	return 1;
}

/*
 * The head of h's stolen list of cls off the list, checked as a remote
 * list's block: its slot still in use (its owner freed it again and the
 * slab went back: not read), the key (a block of the list the owner, or
 * another thread, freed again is found here or where the other copy
 * lies), a link where the count says one; 0 goes into its key word if
 * it is for the program (to_program), else it keeps the key.
 */
static void *heap_stolen_take(struct heap *h, unsigned int cls, int to_program)
{
	void *p = h->stolen[cls], *next;
	struct slab *s = slab_block_head(p);
	int bad;

	if (unlikely(a_load(&s->state, A_RELAXED) != SLOT_ACTIVE))
		guard_double_free(p);
	if (unlikely(s->kind != SLAB_BLOCKS || s->class_idx != cls || s->owner == h))
		heap_free_list_corrupt(p);
	vg_open(p, FL_WORDS);
	bad = IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK) && !dfkey_is_key(p);
	vg_close(p, FL_WORDS);
	if (unlikely(bad))
		heap_free_list_corrupt(p);
	next = fl_next(p);
	if (unlikely(!next != (h->stolen_n[cls] == 1)))
		heap_free_list_corrupt(p);
	if (to_program) {
		vg_open(p, FL_WORDS);
		dfkey_hand_out(p);
		vg_close(p, FL_WORDS);
	}
	h->stolen[cls] = next;
	if (!--h->stolen_n[cls])
		h->stolen_nr--;
	return p;
}

/* The next block of h's stolen list of cls, for the program (heap_alloc_class()). */
static __noinline void *heap_stolen_pop(struct heap *h, unsigned int cls)
{
	void *p = heap_stolen_take(h, cls, 1);

	HK_ASSERT(slab_is_block_start(slab_block_head(p), p));
	return p;
}

/* Give h's stolen lists back: each block to its slab's remote list. */
static __noinline void heap_stolen_give_back(struct heap *h)
{
	unsigned int cls;

	for (cls = 0; h->stolen_nr && cls < heap_nr_classes(); cls++)
		while (h->stolen_n[cls]) {
			void *p = heap_stolen_take(h, cls, 0);

			slab_push_remote(slab_block_head(p), p, p, 1);
		}
}

/* Tests: does the calling thread hold blocks taken from an idle owner's inbox? */
uint32_t heap_stolen_count(void)
{
	struct heap *h = hk_tls.heap;
	uint32_t n = 0;
	unsigned int cls;

	for (cls = 0; h && cls < heap_nr_classes(); cls++)
		n += h->stolen_n[cls];
	return n;
}
#else
static inline void heap_stolen_give_back(struct heap *h) { }
#endif
#else
static __always_inline int rbatch_takes(tp_rbatch_t *rb, const struct slab *s)
{
	return rb->slab == s;
}

static __always_inline void rbatch_start_for(tp_rbatch_t *rb, struct slab *s)
{
	rb->slab = s;
}

static inline struct heap *rbatch_owner(const struct heap_rbatch *rb)
{
	return rb->slab->owner;
}

static __always_inline void rbatch_slot_check(void *q, uintptr_t *seen) { }
static inline void heap_inbox_push(struct heap *h, unsigned int cls, void *head, void *tail,
				   uint32_t n) { }
static inline int heap_inbox_any(struct heap *h, unsigned int cls) { return 0; }
static inline int heap_inbox_to_bin(struct heap *h, struct bin *b, unsigned int cls,
				    unsigned int batch) { return 0; }
static inline void heap_inbox_give_back(struct heap *h) { }
static void heap_inbox_retire_check(struct heap *h, const struct slab *s) { }
static inline void heap_stolen_give_back(struct heap *h) { }
#endif

#if defined(CONFIG_DOUBLE_FREE_CHECK) && !defined(CONFIG_DOUBLE_FREE_OWNER_READ)
/*
 * Before a push: every block of batch rb still holds the batch's mark
 * (the slabs' key ^ DFKEY_IN_BATCH, heap_free_remote()) and takes the
 * key, the links lead from its head to its tail in n blocks, and the
 * slab is still in use. The mark is what keeps a batch apart from its
 * slab's owner: the owner takes a block holding the key at a place of a
 * remote list taken unread and follows its link (heap_pop_slow_at(), the
 * flushes), never one holding the mark. A block of the batch that its
 * owner freed again (the owner's free does not look for the word) holds
 * a word of the owner's bin, then whatever the program writes, and so
 * fails here; a block freed again by any other thread is reported at that
 * free if it starts a batch (dfkey_remote_free()), here if it went onto
 * this batch or another thread's (the walk meets the block twice, or
 * leaves the batch at it), and otherwise by the list that held it first
 * (dfkey_batch_add_bad()). Only blocks holding the mark are followed,
 * and their links were written by a batch (to another block of the slab
 * or HEAP_NIL), so the walk stays in the slab. Its slab still in use: a
 * batch of blocks all freed again by the owner and flushed to the slab
 * does not keep the slab, which may have been released and its memory
 * unmapped (SLOT_UNMAPPED) since: reported before the blocks are read.
 * The blocks are the lines this thread wrote last.
 *
 * A full batch (the common push) is walked as its HEAP_RBATCH_SEGS runs
 * of HEAP_RBATCH_SEG blocks side by side, a step of each in turn
 * (heap_rbatch::seg[], rbatch_note()): run k from its newest block, its oldest
 * linked to run k - 1's newest (run 0's, the tail, to HEAP_NIL, written
 * at its free), every link checked as the one walk checks them; a block
 * on the list twice holds the key at its second visit. A shorter batch
 * is walked from its head.
 */
static __always_inline uintptr_t rbatch_seal_one(void *q, uintptr_t key, uintptr_t *seen)
{
	uintptr_t next;

	rbatch_slot_check(q, seen);
	vg_open(q, FL_WORDS);
	if (unlikely(*dfkey_word(q) != (key ^ DFKEY_IN_BATCH)))
		guard_double_free(q);
	*dfkey_word(q) = key;
	next = fl_raw_next(q, hk_flkey);
	vg_close(q, FL_WORDS);
	return next;
}

static void rbatch_seal(const struct heap_rbatch *rb)
{
	void *const *seg = rb->seg;
	uintptr_t key = dfkey_of_slab(), next, seen = 0;
	void *q[HEAP_RBATCH_SEGS];
	uint32_t i, k;

	/* (Each block's slot with the option: rbatch_slot_check().) */
	if (!IS_ENABLED(CONFIG_HEAP_REMOTE_INBOX) &&
	    unlikely(a_load(&rb->slab->state, A_RELAXED) != SLOT_ACTIVE))
		guard_double_free(rb->head);
	if (rbatch_count(rb) == HEAP_RBATCH_MAX) {
		/*
		 * Every loop over the runs unrolled whole, so that q[] is
		 * never indexed by a variable and its heads stay in
		 * registers (one loop left rolled kept q[] on the stack: a
		 * load and a store more for every block).
		 */
		BUILD_BUG_ON(HEAP_RBATCH_SEGS > 8);
#pragma GCC unroll 8
		for (k = 0; k < HEAP_RBATCH_SEGS; k++)
			q[k] = seg[k];
		if (unlikely(q[HEAP_RBATCH_SEGS - 1] != rb->head))
			guard_double_free(rb->head);
		for (i = 0; i + 1 < HEAP_RBATCH_SEG; i++) {
#pragma GCC unroll 8
			for (k = 0; k < HEAP_RBATCH_SEGS; k++) {
				next = rbatch_seal_one(q[k], key, &seen);
				/* Within the run: a block, not an end. */
				if (unlikely(next == (uintptr_t)HEAP_NIL || fl_bad(next)))
					guard_double_free(q[k]);
				q[k] = (void *)next;
			}
		}
		/* Each run's oldest block: linked to the next older run's newest. */
#pragma GCC unroll 8
		for (k = 0; k < HEAP_RBATCH_SEGS; k++) {
			next = rbatch_seal_one(q[k], key, &seen);
			if (unlikely(next != (k ? (uintptr_t)seg[k - 1] : (uintptr_t)HEAP_NIL)))
				guard_double_free(q[k]);
		}
		if (unlikely(q[0] != rb->tail))
			guard_double_free(q[0]);
		return;
	}
	q[0] = rb->head;
	for (i = 0;; i++) {
		next = rbatch_seal_one(q[0], key, &seen);
		if (i + 1 == rbatch_count(rb))
			break;
		if (unlikely(next == (uintptr_t)HEAP_NIL || fl_bad(next)))
			guard_double_free(rb->head);
		q[0] = (void *)next;
	}
	if (unlikely(next != (uintptr_t)HEAP_NIL || q[0] != rb->tail))
		guard_double_free(q[0]);
}
#elif defined(CONFIG_DOUBLE_FREE_OWNER_READ)
/*
 * The blocks hold the key from their free (DFKEY_BATCH_MARK 0), and a
 * block of the batch that its owner frees again is reported by that free
 * (dfkey_owner_free()): the push reads no block. Only the slab's state,
 * as above: a free of the owner's that raced with the remote free (read
 * the word before the key was there) and a flush could still have given
 * the block back, and the slab with it.
 */
static inline void rbatch_seal(const struct heap_rbatch *rb)
{
	if (unlikely(a_load(&rb->slab->state, A_RELAXED) != SLOT_ACTIVE))
		guard_double_free(rb->head);
}
#else
static inline void rbatch_seal(const struct heap_rbatch *rb) { }
#endif

#ifdef CONFIG_HEAP_RBATCH_HUNGRY
/*
 * Note that the batch of class cls is started: the look's map (cleared
 * by the look when it finds the batch pushed, not by the push).
 */
static inline void rbatch_on_note(unsigned int cls)
{
	cls_bit_set(hk_tls.rbatch_on, cls);
}
#else
static inline void rbatch_on_note(unsigned int cls) { }
#endif

/* ------------------------------------------------------------------ */
/* Foreign stash (CONFIG_HEAP_FOREIGN_STASH)                          */
/* ------------------------------------------------------------------ */

/*
 * A remote free whose slab is not that of its class's batch (frees in
 * no order: a batch of one block, one atomic on the slab, often a
 * notice to the owner, whose malloc then reads a line this CPU wrote)
 * puts the block on the thread's stash of its class instead of pushing
 * the batch and starting another, while the stash has room
 * (HEAP_FSTASH_MAX blocks, HEAP_FSTASH_BYTES), and the thread's malloc
 * of the class takes the stash's newest block when its bin is empty,
 * before a refill (heap_alloc_class()): the block stays used for its
 * slab and changes hands, as it would through the owner, without the
 * round trip. A stashed block is kept as a batch's block is: it holds
 * the batch's mark (a free of it by any thread but its owner is
 * reported at once; the owner's free, which does not read the word but
 * with CONFIG_DOUBLE_FREE_OWNER_READ, leaves its bin's word there), it
 * counts as used by its slab (the slab stays another live heap's: a
 * thread with a heap adopts no record), and the thread's exit, a fork and malloc_trim give the stash back
 * (heap_rbatch_flush(); not a bin's flush, which pushes the batches
 * only), each block as a batch of one, checked as rbatch_seal() checks.
 * The pop checks the slab's state and the mark (a block its owner freed
 * again meanwhile is reported, never handed out twice) and leaves 0 in
 * the key word, as the pop of a place of a list taken unread does.
 * Blocks in the stash are never in a bin: a bin's blocks are its heap's
 * own, which its flushes and passes give back to their slabs without an
 * atomic. (mallinfo counts a stashed block as in use: its slab does.)
 */
#ifdef CONFIG_HEAP_FOREIGN_STASH
#if defined(CONFIG_DOUBLE_FREE_CHECK) && !defined(CONFIG_DOUBLE_FREE_OWNER_READ)
/* Stashed block p of slab s goes back: it must hold the mark, and takes the key. */
static inline void fstash_seal(const struct slab *s, void *p)
{
	uintptr_t seen = 0;

	(void)rbatch_seal_one(p, s->dfkey, &seen);
}
#else
static inline void fstash_seal(const struct slab *s, void *p) { }
#endif

#ifdef CONFIG_DOUBLE_FREE_CHECK
/* Stashed block p of slab s goes to the program: nonzero if it lost the mark. */
static inline int fstash_take_bad(const struct slab *s, void *p)
{
	uintptr_t w;

	vg_open(dfkey_word(p), FL_WORD);
	w = *dfkey_word(p);
	*dfkey_word(p) = 0;
	vg_close(dfkey_word(p), FL_WORD);
	return w != (s->dfkey ^ DFKEY_BATCH_MARK);
}
#else
static inline int fstash_take_bad(const struct slab *s, void *p)
{
	return 0;
}
#endif

/* Put p, a block of slab s (another heap's, class cls), on the stash: 0 if full. */
static inline int fstash_put(unsigned int cls, const struct slab *s, void *p)
{
	struct heap_fstash *fs = &hk_tls.fstash[cls];

	if (fs->n >= HEAP_FSTASH_MAX || (size_t)(fs->n + 1) * s->block_size > HEAP_FSTASH_BYTES)
		return 0;
	fl_set_next(p, fs->n ? fs->head : HEAP_NIL);
	fs->head = p;
	fs->n++;
	hk_tls.fstash_nr++;
	return 1;
}

/*
 * Take the newest block p off stash fs, checked as rbatch_seal() checks
 * a batch's: its slab still in use, then its mark (before its link is
 * followed), which the block gives up: for 0 if it goes to the program
 * (to_program), for the key if it goes to its slab; a list that ends
 * early is corrupt. Returns p's slab.
 */
static struct slab *fstash_take(struct heap_fstash *fs, int to_program)
{
	void *p = fs->head, *next;
	struct slab *s = slab_block_head(p);

	/* Its owner freed it again and its slab went back: not read. */
	if (unlikely(a_load(&s->state, A_RELAXED) != SLOT_ACTIVE))
		guard_double_free(p);
	if (to_program) {
		if (unlikely(fstash_take_bad(s, p)))
			guard_double_free(p);
	} else {
		fstash_seal(s, p);
	}
	next = fl_next(p);
	if (unlikely(!next && fs->n > 1))
		heap_free_list_corrupt(p);
	fs->head = next;
	fs->n--;
	hk_tls.fstash_nr--;
	return s;
}

/* The stash's newest block of class cls, for the program. */
static __noinline void *fstash_pop(unsigned int cls)
{
	struct heap_fstash *fs = &hk_tls.fstash[cls];
	void *p = fs->head;
	struct slab *s __maybe_unused = fstash_take(fs, 1);

	HK_ASSERT(s->kind == SLAB_BLOCKS && s->class_idx == cls && s->owner != hk_tls.heap &&
		  slab_is_block_start(s, p));
	return p;
}

/* Give every stash back: each block to its slab's remote list. */
static __noinline void fstash_flush(void)
{
	unsigned int cls;

	for (cls = 0; hk_tls.fstash_nr && cls < HK_CLASS_ARRAY; cls++) {
		struct heap_fstash *fs = &hk_tls.fstash[cls];

		while (fs->n) {
			void *p = fs->head;

			slab_push_remote(fstash_take(fs, 0), p, p, 1);
		}
	}
}
#else
static inline int fstash_put(unsigned int cls, const struct slab *s, void *p)
{
	return 0;
}

static inline void fstash_flush(void)
{
}
#endif /* CONFIG_HEAP_FOREIGN_STASH */

/* Push batch rb (not empty) and empty it. */
static __slowpath void heap_rbatch_push(struct heap_rbatch *rb)
{
	struct slab *s = rb->slab;
	struct heap *owner = rbatch_owner(rb);

	rbatch_seal(rb);
	rb->slab = NULL;
	hk_tls.rbatch_nr--;
	heap_parked_note(owner);
	if (IS_ENABLED(CONFIG_HEAP_REMOTE_INBOX))
		heap_inbox_push(owner, (unsigned int)(rb - hk_tls.rbatch), rb->head, rb->tail,
				rbatch_count(rb));
	else
		slab_push_remote(s, rb->head, rb->tail, rbatch_count(rb));
}

/* Push all of the calling thread's batches. */
static void heap_rbatch_push_all(void)
{
	unsigned int cls;

	for (cls = 0; hk_tls.rbatch_nr && cls < HK_CLASS_ARRAY; cls++)
		if (hk_tls.rbatch[cls].slab)
			heap_rbatch_push(&hk_tls.rbatch[cls]);
}

/* ... and give its stashes and stolen lists back (exit, fork, malloc_trim). */
void heap_rbatch_flush(void)
{
	if (fstash_any())
		fstash_flush();
	if (hk_tls.heap && heap_stolen_nr(hk_tls.heap))
		heap_stolen_give_back(hk_tls.heap);
	heap_rbatch_push_all();
}

#ifdef CONFIG_HEAP_RBATCH_HUNGRY
/* Has h carved fresh memory for class cls since it last took a remote list of it? */
static inline int heap_hungry(struct heap *h, unsigned int cls)
{
	return !!(a_load(&h->hungry[cls / (8 * sizeof(long))], A_RELAXED) &
		  (1UL << (cls % (8 * sizeof(long)))));
}

/*
 * "Hungry owners", above slab_refill_bin(). A batch's slab stays while
 * the batch holds blocks of it (they count as used), and a heap record
 * is never freed (parked at its thread's exit): its owner's word is
 * safe to read. The look visits the classes whose batch was started
 * (hk_tls.rbatch_on: set at a batch's start, cleared by a look that
 * finds the batch pushed; the push itself is as without the option), and
 * passes over a batch that took a block since the last look (its head
 * moved, hk_tls.rbatch_seen): a class the thread is busy freeing fills
 * its batch soon anyway, and pushing it short only starts another
 * (bench_pool with every step passing a block: two thirds of the early
 * pushes went). A batch whose class stood still for a whole interval
 * between two refills goes to a hungry owner, one refill later than a
 * look at every batch would send it.
 */
void heap_rbatch_hungry_push(void)
{
	unsigned int w;

	for (w = 0; w < HEAP_FILLED_WORDS; w++) {
		unsigned long on = hk_tls.rbatch_on[w];

		while (on) {
			unsigned int cls = w * 8 * sizeof(long) + hk_ctz(on);
			struct heap_rbatch *rb = &hk_tls.rbatch[cls];
			struct heap *owner;

			on &= on - 1;
			if (!rb->slab) {
				cls_bit_clear(hk_tls.rbatch_on, cls);
				continue;
			}
			if (rb->head != hk_tls.rbatch_seen[cls]) {
				hk_tls.rbatch_seen[cls] = rb->head;
				continue;
			}
			/*
			 * A slab no heap owns any more (released after a double
			 * free of one of the batch's blocks): the push reports it.
			 */
			owner = rbatch_owner(rb);
			if ((uintptr_t)owner <= (uintptr_t)HEAP_NONE || heap_hungry(owner, cls)) {
				heap_rbatch_push(rb);
				STAT_INC_TLS(STAT_RBATCH_HUNGRY);
			}
		}
	}
}
#endif

/* Free block p of slab s, another heap's: on the batch of its class. */
/*
 * Link p on top of batch rb (of class cls, of p's slab): its blocks
 * count rb->n after it.
 */
static __always_inline void rbatch_link(tp_rbatch_t *rb, unsigned int cls, void *p)
{
	/* (Without the key: at least the same block twice in a row.) */
	if (!IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK) && unlikely(p == rb->head))
		guard_double_free(p);
	fl_set_next(p, rb->head);
	rb->head = p;
	rbatch_note(rb, rb->n, p);	/* (read for full batches of HEAP_RBATCH_MAX only: no offset) */
	rb->n++;
}

static __always_inline void heap_free_remote(struct slab *s, void *p)
{
	unsigned int cls = s->class_idx;
	tp_rbatch_t *rb;

	/* Global: the freeing thread may have no heap to fold its counters into. */
	STAT_INC(STAT_REMOTE_FREE);
	/* No heap, or a class batched by one (CONFIG_HEAP_RBATCH_BYTES): pushed at once. */
	if (unlikely(!hk_tls.heap) || rbatch_one(cls)) {
		dfkey_remote_free(s, p, 0);
		slab_push_remote(s, p, p, 1);
		heap_parked_note(s->owner);
		return;
	}
	/*
	 * The batch's mark, not the key: the owner does not take it (the
	 * key with CONFIG_DOUBLE_FREE_OWNER_READ: the owner's free reads).
	 */
	dfkey_remote_free(s, p, DFKEY_BATCH_MARK);
	rb = tp_rbatch(cls);
	if (likely(rbatch_takes(rb, s))) {
		rbatch_link(rb, cls, p);
		if (unlikely(rb->n >= HEAP_RBATCH_MAX))
			heap_rbatch_push(&hk_tls.rbatch[cls]);
		return;
	}
	/*
	 * Not the batch's slab (or no batch): for this thread's mallocs,
	 * while there is room. (Only with a batch of another slab open:
	 * shared-bigws 0.82 of the CPU time, not 0.60; Documentation/ab.md.)
	 */
	if (fstash_put(cls, s, p))
		return;
	if (rb->slab)
		heap_rbatch_push(&hk_tls.rbatch[cls]);
	/*
	 * The tail's link is written at the push; until then it ends the
	 * batch, so that a walk that reaches the batch (rbatch_seal() of
	 * another thread's batch, after a block was freed twice) stops.
	 */
	fl_set_next(p, HEAP_NIL);
	rbatch_start_for(rb, s);
	rb->head = p;
	rb->tail = p;
	rbatch_note(rb, 0, p);
	rb->n = 1;
	if (CONFIG_HEAP_RBATCH_BYTES) {
		/* Full at HEAP_RBATCH_MAX, as every batch (rbatch_count()). */
		rb->max = hk_classes[cls].rbatch;
		rb->n = HEAP_RBATCH_MAX - rb->max + 1;
	}
	hk_tls.rbatch_nr++;
	rbatch_on_note(cls);
}

/*
 * The first free of a thread without a heap, of block p of slab s: local
 * if the thread adopts the record that owns s (heap_adopt_on_free()),
 * else remote. Apart from heap_free_other() so that the remote path
 * saves no register for it.
 */
static __slowpath void heap_free_first(struct slab *s, void *p)
{
	if (heap_adopt_on_free(s))
		heap_free_local(s, tp_bin(s->bin_tpoff), p);
	else
		heap_free_remote(s, p);
}

/*
 * Free of block p of slot metadata s (slab_of(p)), a slab that is not
 * the caller's (a remote free), or of a bad pointer; caller: the
 * program's return address.
 */
static __always_inline void heap_free_other(struct slab *s, void *p, const void *caller)
{
	struct heap *owner = s->owner;

	/*
	 * free's test again, with the owner's tag: exact for a block start
	 * of any slot of the slab (a tail slot mirrors the constants), where
	 * slab_is_block_start() finds the slab's start and colour first. A
	 * slot in no slab has no owner (HEAP_NONE); a slab being released
	 * has kind SLAB_FREE first.
	 */
	if (unlikely((uintptr_t)owner <= (uintptr_t)HEAP_NONE ||
		     !slab_owner_block_start(s, p, owner->tag)))
		goto bad;
	if (s->kind == SLAB_TAIL)
		s -= s->head_off;
	if (unlikely(s->kind != SLAB_BLOCKS))
		goto bad;
	/* (A thread with a heap has a hint: its own record.) */
	if (IS_ENABLED(CONFIG_THREADS) && unlikely(!hk_tls.hint)) {
		heap_free_first(s, p);
		return;
	}
	heap_free_remote(s, p);
	return;
bad:
	/* A block its slab emptied with, live, and went back unread (dfkey_retire()). */
	heap_check_released(p);
	/* A free slot or the middle of a block (a sampled one?). */
	if (prof_free_bad(p))
		return;
	guard_foreign(p, GUARD_FREE, caller);
}

static __noinline void heap_free_nonlocal_slow(void *p, const void *caller);

/*
 * heap_free_remote() of a free that heap_free_nonlocal() tested: out of
 * line. Its fast path tests neither the caller's heap (a thread without
 * one has no batch, so it comes here) nor the block's key word beyond
 * the batch's fast checks (heap_free_remote() reports it): a thread
 * without a heap takes the whole test again (it may adopt the slab's
 * record, heap_free_first()).
 */
static __noinline void heap_free_remote_slow(void *p, struct slab *s, const void *caller)
{
	if (unlikely(!hk_tls.heap)) {
		heap_free_nonlocal_slow(p, caller);
		return;
	}
	heap_free_remote(s, p);
}

/*
 * free's fast test failed, and not for the common remote free
 * (heap_free_nonlocal()): the slab is another heap's (or no slab's), p
 * is not one of its block starts, the caller's heap has no tag (then the
 * test fails for its own blocks too, and they are freed here), or the
 * free starts or fills a batch. caller: the program's return address.
 */
static __noinline void heap_free_nonlocal_slow(void *p, const void *caller)
{
	struct slab *s = slab_of(p);
	struct heap *h = hk_tls.heap;

	if (!h || s->owner != h) {
		/* The remote free (inlined: no second call that finds s again). */
		heap_free_other(s, p, caller);
		return;
	}
	if (h->tag != SLAB_TAG_NONE || !slab_is_block_start(s, p)) {
		/*
		 * A sampled block of the caller's (mm/prof): the profiler
		 * takes s, already found, and frees the block itself.
		 */
		if (!prof_free_bad_local(p, s, caller))
			guard_foreign(p, GUARD_FREE, caller);
		return;
	}
	heap_free_local(s, tp_bin(s->bin_tpoff), p);
}

/*
 * free's fast test failed. The common case first, on a path of its own
 * that saves no register: a thread with a heap frees a block start of
 * another live heap's slab (the head slot) onto its batch of that slab,
 * not one block short of full: the batch's add of heap_free_remote().
 * The batch is looked at first: a batch of s (started by
 * heap_free_remote() after every test below) keeps s the slab of another
 * live heap, whose blocks it holds count as used, so only what a
 * double free could have changed since is tested again: s released (its
 * kind SLAB_FREE first) and its slot set up anew, p then not a block start
 * of it. With CONFIG_HEAP_REMOTE_INBOX the batch takes s when s's owner
 * is the batch's (rbatch_takes()): a heap record is never freed, and
 * the owner read from s, equal to a live batch's, is one that s had
 * while the kind and block-start tests below passed; s being released
 * meanwhile is again what only a double free does. The block-start test
 * does without the owner's tag
 * (slab_block_start_untagged(): no load waits for the owner's record).
 * A slab of no batch takes the whole test, each field read once, and
 * heap_free_remote() itself, out of line; anything else (a tail slot, no
 * heap, no slab, not a block start) takes heap_free_nonlocal_slow(),
 * which tests it all again. s->class_idx is a class in every slot's
 * metadata (0 in a new SuperSlab, mapped zeroed; a class since).
 */
/* p is a block start of s, a slab of blocks (the batch's test and the owner's). */
static __always_inline int slab_blocks_start(const struct slab *s, const void *p)
{
	return s->kind == SLAB_BLOCKS && slab_block_start_untagged(s, p);
}

void heap_free_nonlocal(void *p, struct slab *s)
{
	unsigned int cls = s->class_idx;
	tp_rbatch_t *rb = tp_rbatch(cls);
	struct heap *owner;

	HK_ASSERT(cls < HK_CLASS_ARRAY);
	if (unlikely(!rbatch_takes(rb, s)))
		goto other;
	if (unlikely(!slab_blocks_start(s, p)))
		goto slow;
	/*
	 * Full, or a block not carved: tested, no need to test again but
	 * for the key (heap_free_remote()). The block's word is not read
	 * here: the push reads it (dfkey_batch_add_bad()). Every way out
	 * is a tail call: no stack frame on this path.
	 */
	if (unlikely(rb->n >= HEAP_RBATCH_MAX - 1))
		goto remote_slow;
	if (unlikely(dfkey_batch_add_bad(s, p)))
		goto remote_slow;
	STAT_INC(STAT_REMOTE_FREE);
	/*
	 * The batch's mark, not the key: the owner does not take it (the
	 * key with CONFIG_DOUBLE_FREE_OWNER_READ: the owner's free reads).
	 */
	dfkey_remote_mark(s, p, DFKEY_BATCH_MARK);
	rbatch_link(rb, cls, p);
	return;
other:
	/*
	 * (A caller without a heap has no batch, and takes this way:
	 * heap_free_remote_slow() tests the heap.)
	 */
	owner = s->owner;
	if (unlikely(owner == hk_tls.heap || (uintptr_t)owner <= (uintptr_t)HEAP_NONE ||
		     !slab_blocks_start(s, p)))
		goto slow;
remote_slow:
	heap_free_remote_slow(p, s, __builtin_return_address(0));
	return;
slow:
	heap_free_nonlocal_slow(p, __builtin_return_address(0));
}

/* ------------------------------------------------------------------ */
/* Initialisation, trim, statistics, fork                             */
/* ------------------------------------------------------------------ */

static int heap_ready;

int heap_init(void)
{
	const struct hk_box *b;

	if (likely(a_load(&heap_ready, A_ACQUIRE)))
		return 0;
	hk_lock(&heap_lock);
	if (!heap_ready) {
		hk_options_init();
		os_init();
		hk_flkey = os_random_word() | 15;
		ss_slot_tpoff = heap_bin_tpoff(0);
		for_each_box(b)
			if (b->init)
				b->init();
		heap_classes_init();
		heap_spare_max = ((size_t)CONFIG_HEAP_SPARE_KB << 10) * hk_opt(OPT_TCACHE_PCT) / 100;
		heap_empty_max = ((size_t)CONFIG_HEAP_EMPTY_KB << 10) * hk_opt(OPT_TCACHE_PCT) / 100;
		if (heap_key_create()) {
			hk_unlock(&heap_lock);
			return -1;
		}
		a_store(&heap_ready, 1, A_RELEASE);
	}
	hk_unlock(&heap_lock);
	return 0;
}

/*
 * Sweep the parked records (heap_lock not held) parked at or before
 * before_ms (all of them: ~0UL), a prefix of the list, which is in the
 * order of parking: take them off (no thread adopts one meanwhile; the
 * younger ones stay adoptable), collect each (every remote list and inbox
 * back to the slabs, empty slabs back to their pools; with saved, the
 * bins and spare batches their threads left too), and put them back in
 * front of any parked since: the order of the list stays the order of
 * parking.
 */
static int heap_parked_collect(int saved, unsigned long before_ms)
{
	struct heap *h, *list, **last;
	int younger, n = 0;

	hk_lock(&heap_sweep_lock);
	hk_lock(&heap_lock);
	for (last = &heap_parked; (h = *last) && h->parked_ms <= before_ms;
	     last = &h->parked_next, n++)
		h->parked_pprev = NULL;
	younger = h != NULL;
	if (last == &heap_parked) {
		/* None that old. */
		hk_unlock(&heap_lock);
		hk_unlock(&heap_sweep_lock);
		return younger;
	}
	list = heap_parked;
	*last = NULL;
	heap_parked = h;
	if (h)
		h->parked_pprev = &heap_parked;
	else
		heap_parked_tail = &heap_parked;
	heap_sweeping = n;
	parked_check();
	hk_unlock(&heap_lock);
	for (h = list; h; h = h->parked_next) {
		if (saved)
			heap_saved_drain(h);
		heap_collect(h, 1);
	}
	hk_lock(&heap_lock);
	if (list) {
		*last = heap_parked;
		if (!heap_parked)
			heap_parked_tail = last;
		heap_parked = list;
		for (last = &heap_parked; (h = *last); last = &h->parked_next)
			h->parked_pprev = last;
	}
	heap_sweeping = 0;
	parked_check();
	hk_unlock(&heap_lock);
	hk_unlock(&heap_sweep_lock);
	return younger;
}

unsigned long heap_trim(void)
{
	/* The caller's own front first, and its remote batches. */
	heap_rbatch_flush();
	if (hk_tls.heap)
		heap_release_front(hk_tls.heap);
	heap_parked_collect(1, ~0UL);
	return ss_trim_all();
}

/*
 * Other threads free what an exited thread allocated: the blocks go to
 * its parked record (its inboxes, its slabs' remote lists) and wait for a
 * thread to adopt the record and refill from them. A program whose
 * workers build a structure and exit, and whose main thread frees it and
 * builds another, never adopts them: the main thread carved new slabs
 * while the old ones, all free, stayed resident (tools/bench/
 * bench_rebuild: a peak of 232 MB where tcmalloc's is 128 MB; 126 MB
 * since). So a remote push that finds its owner parked says so
 * (heap_parked_note()), and a refill that is about to claim a new slab
 * sweeps the parked records first (heap_parked_reclaim(), as malloc_trim
 * does, leaving their warm bins): slabs whose blocks all came back go to
 * their pools, and the claim takes their slots. At most once per
 * HEAP_SWEEP_MIN_MS, only after such a push, and only the records parked
 * HEAP_SWEEP_AGE_MS or longer: in a program whose threads come and go a
 * record waits about a millisecond for the next thread to adopt it
 * (bench_stress: 4 threads a round, 5 records); a sweep of every record
 * made the threads that started meanwhile create records of their own
 * (22 instead of 5, the peak RSS 3x), one of those parked 2 ms raised
 * the peak by 13% (Documentation/benchmarks.md, forty-second session).
 */
static int heap_parked_freed;		/* atomic: a remote push went to a parked record since the last sweep */
static unsigned long heap_sweep_ms;	/* os_now_ms() of the last sweep (heap_lock) */

static inline void heap_parked_note(const struct heap *owner)
{
	/* (Without threads no record is ever parked: nothing left here.) */
	if (IS_ENABLED(CONFIG_THREADS) && unlikely(!a_load(&owner->alive, A_RELAXED)) &&
	    !a_load(&heap_parked_freed, A_RELAXED))
		a_store(&heap_parked_freed, 1, A_RELAXED);
}

static __slowpath void heap_parked_reclaim(void)
{
	unsigned long now;

	if (!IS_ENABLED(CONFIG_THREADS) || likely(!a_load(&heap_parked_freed, A_RELAXED)))
		return;
	now = os_now_ms();
	hk_lock(&heap_lock);
	if (now - heap_sweep_ms < HEAP_SWEEP_MIN_MS && heap_sweep_ms) {
		hk_unlock(&heap_lock);
		return;
	}
	heap_sweep_ms = now;
	a_store(&heap_parked_freed, 0, A_RELAXED);
	hk_unlock(&heap_lock);
	STAT_INC(STAT_PARKED_SWEEP);
	/* Records too young to sweep may hold such frees: the next claim looks again. */
	if (heap_parked_collect(0, now - HEAP_SWEEP_AGE_MS))
		a_store(&heap_parked_freed, 1, A_RELAXED);
}

/* The per-thread counters exist only with CONFIG_STATS. */
#ifdef CONFIG_STATS
/* Move the exiting thread's counters into its record. */
static void heap_stats_fold(struct heap *h)
{
	unsigned int i;

	for (i = 0; i < NR_HK_STATS; i++) {
		h->stats[i] += hk_tls.stats[i];
		hk_tls.stats[i] = 0;
	}
}

/* Counters of every exited thread and of the calling one. */
void heap_stats_sum(unsigned long out[NR_HK_STATS])
{
	struct heap *h;
	unsigned int i;

	for (h = a_load(&heap_all, A_ACQUIRE); h; h = h->all_next)
		for (i = 0; i < NR_HK_STATS; i++)
			out[i] += h->stats[i];
	for (i = 0; i < NR_HK_STATS; i++)
		out[i] += hk_tls.stats[i];
}
#else
static inline void heap_stats_fold(struct heap *h)
{
}
#endif

#ifdef CONFIG_MALLOC_INFO
/*
 * Under heap_lock a record's tls is the front of a thread that has not
 * finished heap_thread_exit() (which clears it under the lock), so that
 * thread's TLS is still there to read. Its counts may be read while it
 * changes them: each is a snapshot.
 */
/*
 * Blocks of h's slabs that the program freed from other threads and that
 * no bin holds yet, per class: its inbox lists, what a refill left of one,
 * the list taken from an idle owner's inbox, and, of t, the front of a
 * live thread of h (NULL for a parked record), the remote batches it has
 * not pushed and its foreign stash. Their slabs count them as used until
 * they reach a bin or the slab; the program does not (a consumer thread
 * that frees a producer's blocks while the producer waits left them all
 * "in use" in mallinfo until then). Each count is a snapshot, clamped
 * against a torn read.
 */
#ifdef CONFIG_HEAP_REMOTE_INBOX
/* The blocks on list k of h's inbox of class cls. */
static inline uint32_t heap_inbox_count(struct heap *h, unsigned int cls, unsigned int k)
{
	return INBOX_COUNT(a_load(&h->inbox[cls][k], A_RELAXED));
}

/* The blocks a refill of class cls left of an inbox list it took. */
static inline uint32_t heap_inbox_rest_count(struct heap *h, unsigned int cls)
{
	return a_load(&h->inbox_rest_n[cls], A_RELAXED);
}
#else
static inline uint32_t heap_inbox_count(struct heap *h, unsigned int cls, unsigned int k) { return 0; }
static inline uint32_t heap_inbox_rest_count(struct heap *h, unsigned int cls) { return 0; }
#endif

#ifdef CONFIG_HEAP_INBOX_STEAL
/* The blocks of class cls h took from an idle owner and did not hand out. */
static inline uint32_t heap_stolen_count_of(struct heap *h, unsigned int cls)
{
	return a_load(&h->stolen_n[cls], A_RELAXED);
}
#else
static inline uint32_t heap_stolen_count_of(struct heap *h, unsigned int cls) { return 0; }
#endif

#ifdef CONFIG_HEAP_FOREIGN_STASH
/* The blocks of class cls on the foreign stash of front t. */
static inline uint32_t heap_fstash_count_of(struct heap_tls *t, unsigned int cls)
{
	return a_load(&t->fstash[cls].n, A_RELAXED);
}
#else
static inline uint32_t heap_fstash_count_of(struct heap_tls *t, unsigned int cls) { return 0; }
#endif

static void heap_cached_remote(struct heap *h, struct heap_tls *t, unsigned long out[HK_CLASS_ARRAY])
{
	unsigned int cls, k;

	for (cls = 0; cls < heap_nr_classes(); cls++) {
		for (k = 0; IS_ENABLED(CONFIG_HEAP_REMOTE_INBOX) && k < INBOX_LISTS; k++)
			out[cls] += heap_inbox_count(h, cls, k);
		out[cls] += heap_inbox_rest_count(h, cls) + heap_stolen_count_of(h, cls);
		if (t) {
			const struct heap_rbatch *rb = &t->rbatch[cls];
			/* (A torn read wraps above HEAP_RBATCH_MAX: left out.) */
			uint32_t n = rbatch_count(rb);

			/* (An empty batch has no slab, or owner: the union.) */
			if (a_load(&rb->slab, A_RELAXED) && n <= HEAP_RBATCH_MAX)
				out[cls] += n;
			out[cls] += heap_fstash_count_of(t, cls);
		}
	}
}

void heap_cached_blocks(unsigned long out[HK_CLASS_ARRAY])
{
	const struct hk_box *b;
	struct heap *h;
	unsigned int cls;

	hk_lock(&heap_lock);
	for (h = heap_all; h; h = h->all_next) {
		struct heap_tls *t = a_load(&h->tls, A_RELAXED);

		heap_cached_remote(h, t, out);

		/* Spare batches, of a live or a parked record. */
		for (cls = 0; cls < heap_nr_classes(); cls++) {
			uint32_t i, nr = a_load(&h->spare[cls].nr, A_RELAXED);

			for (i = 0; i < nr && i < HEAP_SPARE_SLOTS; i++)
				out[cls] += a_load(&h->spare[cls].count[i], A_RELAXED);
		}
		if (!t) {
			/* A parked heap: the bins its last thread left. */
			for (cls = 0; cls < heap_nr_classes(); cls++) {
				int32_t limit = (int32_t)a_load(&h->saved[cls].limit, A_RELAXED);
				int32_t room = bin_rooms_peek(&h->saved[cls]);

				if (limit > room)
					out[cls] += (unsigned long)(limit - room);
			}
			continue;
		}
		for (cls = 0; cls < heap_nr_classes(); cls++) {
			int32_t limit = (int32_t)a_load(&t->bins[cls].limit, A_RELAXED);
			int32_t room = bin_rooms_peek(&t->bins[cls]);

			/* room + put_room = limit - blocks held (below 0 just before a flush) */
			if (limit > room)
				out[cls] += (unsigned long)(limit - room);
		}
		for_each_box(b)
			if (b->tls_cached)
				b->tls_cached(t, out);
	}
	hk_unlock(&heap_lock);
}
#endif

/*
 * In the child, after every lock was reset (hk_locks_reset()), only the
 * forking thread lives on. The records of the other live threads are
 * retired for good: no thread of the child uses or adopts them. Their
 * owners changed them without a lock, the front in thread-local storage
 * and the record itself (the partial lists, the kept empty slabs and
 * their counts, the spare batches, a notify stack being drained, a
 * collect at thread exit), and fork() may have struck in the middle of
 * any of those changes. Until this, the child parked them for its new
 * threads to adopt: a partial list cut in a push (the old head linked
 * back to the new slab, not yet replaced by it) turned into a loop once
 * its adopter popped the old head and pushed it again (the slab's next
 * and prev pointing to itself), and the adopter's exit walked it forever
 * (tests/fork: a child that never exits, one in 300 under load with
 * midlend_off_defconfig).
 *
 * Their slabs stay theirs: the child's frees of their blocks are remote
 * frees, left on the slabs' lists, and what those threads held (their
 * bins, their slabs' free blocks, their current slabs) is lost to the
 * child; only in the child, whose pages of them are the parent's until
 * written. Their spare batch counts are zeroed, so that mallinfo() does
 * not count what nobody can take. Records parked before the fork were
 * parked whole, under heap_lock, and stay adoptable (one that a trim had
 * taken off the list is not on it in the child either).
 */
void heap_fork_child(void)
{
	struct heap *h;
	unsigned int cls;

	for (h = heap_all; h; h = h->all_next) {
		if (h == hk_tls.heap || !h->alive)
			continue;
		/* Not parked: heap_thread_start() adopts parked records only. */
		a_store(&h->alive, 0, A_RELAXED);
		h->tls = NULL;
		for (cls = 0; cls < heap_nr_classes(); cls++)
			h->spare[cls].nr = 0;
		h->spare_bytes = 0;
	}
}
