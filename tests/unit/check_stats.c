// SPDX-License-Identifier: MIT
/*
 * Statistics (CONFIG_STATS, mm/stats): the counters count what happened,
 * event for event. The test counts Mid blocks (20000 B): built with the
 * Mid box only.
 */
#include "unit.h"

#if defined(CONFIG_STATS) && defined(CONFIG_BACKEND_MMAP) && defined(CONFIG_MID)
#include <pthread.h>
#include <string.h>
#include <hakmem.h>
#include "heap/heap.h"

/* Every counter: this thread's, the exited threads' and the global ones. */
static void stats_now(unsigned long s[NR_HK_STATS])
{
	unsigned int i;

	memset(s, 0, NR_HK_STATS * sizeof(*s));
	heap_stats_sum(s);
	for (i = 0; i < NR_HK_STATS; i++)
		s[i] += a_load(&hk_stats_global[i], A_RELAXED);
}

#define STATS_N		1000
static void *stats_blocks[STATS_N];
static char stats_foreign[64];

static void *stats_remote_free(void *arg)
{
	unsigned int i;

	for (i = 0; i < STATS_N; i++)
		hak_free(stats_blocks[i]);
	return NULL;
}

START_TEST(test_stats_count_events)
{
	unsigned long a[NR_HK_STATS], b[NR_HK_STATS];
	unsigned int i, bad = 0;
	pthread_t t;

	hak_free(hak_malloc(20000));	/* the heap exists */
	stats_now(a);
	/* Mid blocks, allocated and freed by this thread. */
	for (i = 0; i < STATS_N; i++)
		bad |= !(stats_blocks[i] = hak_malloc(20000));
	for (i = 0; i < STATS_N; i++)
		hak_free(stats_blocks[i]);
	/* Large blocks: the second and later come from the cache. */
	for (i = 0; i < 100; i++) {
		void *p = hak_malloc(UNIT_LARGE(100000));

		bad |= !p;
		hak_free(p);
	}
	/* Foreign pointers. */
	for (i = 0; i < 5; i++)
		hak_free(stats_foreign + 16 * (i % 4));
	stats_now(b);
	ck_assert(!bad);
	ck_assert_uint_eq(b[STAT_MID_ALLOC] - a[STAT_MID_ALLOC], STATS_N);
	ck_assert_uint_eq(b[STAT_MID_FREE] - a[STAT_MID_FREE], STATS_N);
	ck_assert_uint_eq(b[STAT_LARGE_ALLOC] - a[STAT_LARGE_ALLOC], 100);
	ck_assert_uint_eq(b[STAT_LARGE_FREE] - a[STAT_LARGE_FREE], 100);
#ifdef CONFIG_LARGE_CACHE
	ck_assert_uint_ge(b[STAT_LARGE_CACHE_HIT] - a[STAT_LARGE_CACHE_HIT], 99);
#endif
	ck_assert_uint_eq(b[STAT_GUARD_EVENTS] - a[STAT_GUARD_EVENTS], 5);

#ifdef CONFIG_THREADS
	/* Remote frees: another thread frees this thread's blocks. */
	for (i = 0; i < STATS_N; i++)
		bad |= !(stats_blocks[i] = hak_malloc(20000));
	stats_now(a);
	ck_assert_int_eq(pthread_create(&t, NULL, stats_remote_free, NULL), 0);
	pthread_join(t, NULL);
	stats_now(b);
	ck_assert(!bad);
	ck_assert_uint_eq(b[STAT_REMOTE_FREE] - a[STAT_REMOTE_FREE], STATS_N);
	/*
	 * Not owner frees. (Without Tiny, Mid also serves the small blocks
	 * the new thread allocates and frees itself: not checked then.)
	 */
	if (TINY_NR_CLASSES)
		ck_assert_uint_eq(b[STAT_MID_FREE] - a[STAT_MID_FREE], 0);
#endif
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, test_stats_count_events);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(stats_suite);

#endif /* CONFIG_STATS && CONFIG_BACKEND_MMAP && CONFIG_MID */
