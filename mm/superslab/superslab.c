// SPDX-License-Identifier: MIT
/*
 * mm/superslab/superslab.c - SuperSlab pools: mapping, slot claiming and
 * release, returning memory to the kernel.
 *
 * Slots are claimed by clearing bits of a SuperSlab's free-slot mask:
 * with CONFIG_SUPERSLAB_LOCKFREE by compare-exchange, otherwise under the
 * pool lock. SuperSlabs are never unmapped: a SuperSlab whose slots are
 * all free has had their memory returned with madvise and costs only its
 * header page. That keeps the pool list append-only, so lock-free readers
 * never see a SuperSlab disappear under them.
 */
#include <hakmem/print.h>
#include "os/os.h"
#include "stats/stats.h"
#include "box.h"
#include "superslab.h"

/* The pool of every slab box that has none of its own. */
struct ss_pool ss_pool_main = SS_POOL_INIT;

/* Free slots still committed, over all pools (hysteresis budget). */
static unsigned long ss_dirty_slots;

/* Claims take the pool lock only without CONFIG_SUPERSLAB_LOCKFREE. */
static inline void ss_claim_lock(struct ss_pool *pool)
{
	if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
		hk_lock(&pool->lock);
}

static inline void ss_claim_unlock(struct ss_pool *pool)
{
	if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
		hk_unlock(&pool->lock);
}

/* ------------------------------------------------------------------ */
/* Mapping a SuperSlab                                                */
/* ------------------------------------------------------------------ */

static __slowpath struct superslab *ss_map(struct ss_pool *pool)
{
	struct superslab *ss = os_map_aligned(SS_SIZE, SS_SIZE);
	unsigned int i;

	if (!ss)
		return NULL;
	ss->pool = pool;
	for (i = 0; i < SS_SLOTS; i++) {
		ss->slabs[i].owner = HEAP_NONE;
		ss->slabs[i].kind = SLAB_FREE;
		ss->slabs[i].state = SLOT_UNUSED;
	}
	ss->slabs[0].state = SLOT_ACTIVE;	/* the header */
	ss->free_mask = ~0UL >> (8 * sizeof(unsigned long) - SS_SLOTS) & ~1UL;
	ss->dirty_mask = 0;
	registry_set((uintptr_t)ss, REG_SUPERSLAB);
	STAT_INC(STAT_SS_MAPPED);
	return ss;
}

/* ------------------------------------------------------------------ */
/* Claiming slots                                                     */
/* ------------------------------------------------------------------ */

/* Bits where a run of nr set bits of m starts. */
static inline unsigned long ss_run_starts(unsigned long m, unsigned int nr)
{
	unsigned long run = m;
	unsigned int i;

	for (i = 1; i < nr; i++)
		run &= m >> i;
	return run;
}

/* Try to claim nr contiguous slots of ss; index of the first or -1. */
static int ss_try_claim(struct superslab *ss, unsigned int nr)
{
	unsigned long m = a_load(&ss->free_mask, A_ACQUIRE);

	for (;;) {
		unsigned long run = ss_run_starts(m, nr);
		unsigned long dirty, want;
		unsigned int idx;

		if (!run)
			return -1;
		/* Prefer slots still committed: no page faults. */
		dirty = run & a_load(&ss->dirty_mask, A_RELAXED);
		idx = hk_ctz(dirty ? dirty : run);
		want = ((1UL << nr) - 1) << idx;
		if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE)) {
			/* Under the pool lock: nobody else claims. */
			a_store(&ss->free_mask, m & ~want, A_RELAXED);
			return (int)idx;
		}
		if (a_cas(&ss->free_mask, &m, m & ~want, A_ACQUIRE))
			return (int)idx;
	}
}

/* Account the slots we now hold: EMPTY ones leave the dirty budget. */
static void ss_take_slots(struct superslab *ss, unsigned int idx, unsigned int nr)
{
	unsigned int i;

	for (i = idx; i < idx + nr; i++) {
		struct slab *s = &ss->slabs[i];

		if (s->state == SLOT_EMPTY) {
			a_fetch_sub(&ss_dirty_slots, 1UL, A_RELAXED);
			a_fetch_and(&ss->dirty_mask, ~(1UL << i), A_RELAXED);
		}
		s->state = SLOT_ACTIVE;
	}
}

struct slab *ss_claim(struct ss_pool *pool, unsigned int nr)
{
	struct superslab *ss;
	int idx = -1;

	ss_claim_lock(pool);
	for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
		idx = ss_try_claim(ss, nr);
		if (idx >= 0)
			break;
	}
	if (!ss) {
		ss = ss_map(pool);
		if (ss) {
			idx = ss_try_claim(ss, nr);
			/*
			 * Publish: next before head, so readers see a whole
			 * node. Lock-free claimers do not hold the lock yet.
			 */
			if (IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
				hk_lock(&pool->lock);
			ss->next = pool->head;
			a_store(&pool->head, ss, A_RELEASE);
			pool->nr_superslabs++;
			if (IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
				hk_unlock(&pool->lock);
		}
	}
	ss_claim_unlock(pool);
	if (!ss || idx < 0)
		return NULL;
	ss_take_slots(ss, (unsigned int)idx, nr);
	return &ss->slabs[idx];
}

/* ------------------------------------------------------------------ */
/* Releasing slots                                                    */
/* ------------------------------------------------------------------ */

void ss_release(struct slab *head, unsigned int nr)
{
	struct superslab *ss = ss_of(head);
	unsigned int idx = (unsigned int)(head - ss->slabs);
	unsigned long bits = ((1UL << nr) - 1) << idx;
	unsigned int i, state;

	HK_ASSERT(idx > 0 && idx + nr <= SS_SLOTS);
	HK_ASSERT(!(a_load(&ss->free_mask, A_RELAXED) & bits));

	if (a_load(&ss_dirty_slots, A_RELAXED) + nr > CONFIG_SUPERSLAB_DIRTY_SLOTS) {
		os_decommit(slab_start(head), (size_t)nr << SLOT_SHIFT);
		STAT_ADD(STAT_SLOTS_DECOMMIT, nr);
		state = SLOT_UNUSED;
	} else {
		a_fetch_add(&ss_dirty_slots, (unsigned long)nr, A_RELAXED);
		a_fetch_or(&ss->dirty_mask, bits, A_RELAXED);
		state = SLOT_EMPTY;
	}
	for (i = idx; i < idx + nr; i++) {
		ss->slabs[i].kind = SLAB_FREE;
		ss->slabs[i].owner = HEAP_NONE;
		ss->slabs[i].state = (uint8_t)state;
	}
	ss_claim_lock(ss->pool);
	a_fetch_or(&ss->free_mask, bits, A_RELEASE);
	ss_claim_unlock(ss->pool);
}

/* ------------------------------------------------------------------ */
/* Trimming                                                           */
/* ------------------------------------------------------------------ */

/* Claim exactly the slots in want (all or nothing). */
static int ss_claim_bits(struct superslab *ss, unsigned long want)
{
	unsigned long m = a_load(&ss->free_mask, A_ACQUIRE);

	do {
		if ((m & want) != want)
			return 0;
	} while (!a_cas(&ss->free_mask, &m, m & ~want, A_ACQUIRE));
	return 1;
}

unsigned long ss_trim(struct ss_pool *pool)
{
	struct superslab *ss;
	unsigned long done = 0;

	ss_claim_lock(pool);
	for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
		unsigned long dirty = a_load(&ss->dirty_mask, A_RELAXED);

		while (dirty) {
			unsigned int i = hk_ctz(dirty);
			unsigned long bit = 1UL << i;

			dirty &= ~bit;
			if (!ss_claim_bits(ss, bit))
				continue;
			if (ss->slabs[i].state == SLOT_EMPTY) {
				os_decommit((char *)ss + ((size_t)i << SLOT_SHIFT), SLOT_SIZE);
				ss->slabs[i].state = SLOT_UNUSED;
				a_fetch_and(&ss->dirty_mask, ~bit, A_RELAXED);
				a_fetch_sub(&ss_dirty_slots, 1UL, A_RELAXED);
				done++;
			}
			a_fetch_or(&ss->free_mask, bit, A_RELEASE);
		}
	}
	ss_claim_unlock(pool);
	STAT_ADD(STAT_SLOTS_DECOMMIT, done);
	return done;
}

/* ------------------------------------------------------------------ */
/* fork                                                               */
/* ------------------------------------------------------------------ */

/*
 * Pools: the shared one first, then the registered boxes' own pools in
 * link order. Fork takes their locks in that order and releases them in
 * the reverse order.
 */
unsigned long ss_trim_all(void)
{
	const struct hk_box *b;
	unsigned long done = ss_trim(&ss_pool_main);

	for_each_box(b)
		if (b->pool)
			done += ss_trim(b->pool);
	return done;
}

void ss_fork_prepare(void)
{
	const struct hk_box *b;

	hk_lock(&ss_pool_main.lock);
	for_each_box(b)
		if (b->pool)
			hk_lock(&b->pool->lock);
}

void ss_fork_parent(void)
{
	const struct hk_box *b;

	for_each_box_reverse(b)
		if (b->pool)
			hk_unlock(&b->pool->lock);
	hk_unlock(&ss_pool_main.lock);
}

void ss_fork_child(void)
{
	const struct hk_box *b;

	hk_lock_reset(&ss_pool_main.lock);
	for_each_box(b)
		if (b->pool)
			hk_lock_reset(&b->pool->lock);
}
