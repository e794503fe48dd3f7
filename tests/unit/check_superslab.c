// SPDX-License-Identifier: MIT
/*
 * The SuperSlab backend (mm/superslab): slot claiming and release, slot
 * states UNUSED / ACTIVE / EMPTY, claiming under contention (lock-free or
 * locked, whichever is configured), trim, and the ownership registry.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <hakmem.h>
#include "heap/heap.h"

static struct ss_pool test_pool = { .lock = HK_LOCK_INIT };

static void ss_setup(void)
{
	ck_assert_int_eq(heap_init(), 0);
}

START_TEST(test_claim_release_states)
{
	struct slab *s, *t;
	struct superslab *ss;
	unsigned int idx;
	int empty;

	ss_setup();
	s = ss_claim(&test_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss = ss_of(s);
	idx = (unsigned int)(s - ss->slabs);
	ck_assert_ptr_eq(ss->pool, &test_pool);
	ck_assert_uint_gt(idx, 0);			/* slot 0 is the header */
	ck_assert_uint_eq(s->state, SLOT_ACTIVE);
	ck_assert(!(ss->free_mask & (1UL << idx)));
	ck_assert_uint_eq(registry_lookup((uintptr_t)slab_start(s)), REG_SUPERSLAB);

	/* Memory of the slot is usable. */
	memset(slab_start(s), 0xa5, SLOT_SIZE);

	s->kind = SLAB_BLOCKS;
	ss_release(s, 1);
	ck_assert(ss->free_mask & (1UL << idx));
	ck_assert(s->state == SLOT_EMPTY || s->state == SLOT_UNUSED);
	ck_assert_uint_eq(s->kind, SLAB_FREE);

	/* An EMPTY slot is claimed again first (no page faults). */
	empty = s->state == SLOT_EMPTY;
	t = ss_claim(&test_pool, 1);
	if (empty)
		ck_assert_ptr_eq(t, s);
	ck_assert_uint_eq(t->state, SLOT_ACTIVE);
	ss_release(t, 1);
}
END_TEST

START_TEST(test_claim_spans)
{
	struct slab *a, *b;

	ss_setup();
	a = ss_claim(&test_pool, 4);
	b = ss_claim(&test_pool, 4);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* Four contiguous slots each, no overlap. */
	ck_assert(ss_of(a) != ss_of(b) || a + 4 <= b || b + 4 <= a);
	memset(slab_start(a), 1, 4 * SLOT_SIZE);
	memset(slab_start(b), 2, 4 * SLOT_SIZE);
	ck_assert_int_eq(((char *)slab_start(a))[4 * SLOT_SIZE - 1], 1);
	ss_release(a, 4);
	ss_release(b, 4);
}
END_TEST

/* A full SuperSlab makes the pool map another. */
START_TEST(test_pool_grows)
{
	struct slab *s[3 * SS_SLOTS];
	unsigned int i, n = 3 * (SS_SLOTS - 1);

	ss_setup();
	for (i = 0; i < n; i++) {
		s[i] = ss_claim(&test_pool, 1);
		ck_assert_ptr_nonnull(s[i]);
	}
	ck_assert_uint_ge(test_pool.nr_superslabs, 3);
	for (i = 0; i < n; i++)
		ss_release(s[i], 1);
}
END_TEST

START_TEST(test_trim_returns_empty_slots)
{
	struct slab *s[8];
	unsigned int i;

	ss_setup();
	for (i = 0; i < 8; i++) {
		s[i] = ss_claim(&test_pool, 1);
		memset(slab_start(s[i]), 0x5a, SLOT_SIZE);
	}
	for (i = 0; i < 8; i++)
		ss_release(s[i], 1);
	ss_trim(&test_pool);
	for (i = 0; i < 8; i++) {
		ck_assert_uint_eq(s[i]->state, SLOT_UNUSED);
		/* Returned memory reads as zero again. */
		ck_assert_int_eq(((char *)slab_start(s[i]))[100], 0);
	}
}
END_TEST

/* ------------------------------------------------------------------ */

#ifdef CONFIG_THREADS
#define CLAIM_THREADS	4
#define CLAIM_ROUNDS	2000

static struct ss_pool race_pool = { .lock = HK_LOCK_INIT };

/* Each thread claims, stamps, checks and releases slots: no slot twice. */
static void *claim_worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	long i, rounds = hk_test_scale(CLAIM_ROUNDS);

	for (i = 0; i < rounds; i++) {
		unsigned int nr = 1 + (unsigned int)((i + id) % 3);
		struct slab *s = ss_claim(&race_pool, nr);
		volatile uintptr_t *w;
		unsigned int k;

		if (!s)
			return (void *)1;
		w = (volatile uintptr_t *)slab_start(s);
		for (k = 0; k < nr; k++)
			w[k * SLOT_SIZE / sizeof(*w)] = id;
		for (k = 0; k < 50; k++)
			cpu_relax();
		for (k = 0; k < nr; k++)
			if (w[k * SLOT_SIZE / sizeof(*w)] != id)
				return (void *)2;
		ss_release(s, nr);
	}
	return NULL;
}

START_TEST(test_claim_contention)
{
	pthread_t t[CLAIM_THREADS];
	uintptr_t i;
	void *ret;

	ss_setup();
	for (i = 0; i < CLAIM_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, claim_worker, (void *)(i + 1)), 0);
	for (i = 0; i < CLAIM_THREADS; i++) {
		pthread_join(t[i], &ret);
		ck_assert_ptr_null(ret);
	}
}
END_TEST
#endif

/* ------------------------------------------------------------------ */

static int static_object;

START_TEST(test_registry_ours_and_foreign)
{
	int local;
	/* The largest slab class: Mid's 32 KiB, or Tiny's or Small-Mid's top. */
	void *small = hak_malloc(64), *mid = hak_malloc(HEAP_MAX_SIZE), *large = hak_malloc(1 << 20);
	void *libc;

	/* Without slab boxes (only Large) every block is a Large one. */
	ck_assert_uint_eq(registry_lookup((uintptr_t)small), HK_NR_CLASSES ? REG_SUPERSLAB : REG_LARGE);
	ck_assert_uint_eq(registry_lookup((uintptr_t)mid), HK_NR_CLASSES ? REG_SUPERSLAB : REG_LARGE);
	ck_assert_uint_ge(registry_lookup((uintptr_t)large), REG_LARGE);
	ck_assert_uint_eq(registry_lookup((uintptr_t)&local), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup((uintptr_t)&static_object), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup(0), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup(~(uintptr_t)0), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup((uintptr_t)1 << 60), REG_FOREIGN);
	libc = (void *)&strlen;
	ck_assert_uint_eq(registry_lookup((uintptr_t)libc), REG_FOREIGN);
	hak_free(small);
	hak_free(mid);
	hak_free(large);
	/* A large mapping leaves the registry when it is unmapped or cached. */
}
END_TEST

static Suite *superslab_suite(void)
{
	Suite *s = suite_create("superslab");
	TCase *tc = tcase_create("slots");

	tcase_add_test(tc, test_claim_release_states);
	tcase_add_test(tc, test_claim_spans);
	tcase_add_test(tc, test_pool_grows);
	tcase_add_test(tc, test_trim_returns_empty_slots);
#ifdef CONFIG_THREADS
	tcase_add_test(tc, test_claim_contention);
#endif
	tcase_add_test(tc, test_registry_ours_and_foreign);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(superslab_suite);

#endif /* CONFIG_BACKEND_MMAP */
