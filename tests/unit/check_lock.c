// SPDX-License-Identifier: MIT
/*
 * The lock table (include/hakmem/lock.h): every lock of the allocator is
 * registered with its rank, the fork path takes and releases all of
 * them, and (CONFIG_DEBUG_ASSERT) taking a lock that is not registered
 * aborts. The fork stress test (tests/fork/fork.c) checks the outcome.
 */
#include "unit.h"

#ifdef CONFIG_THREADS

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <hakmem/lock.h>

/* The table, as the linker lays it out. */
extern const struct hk_lock_ref __start_hk_locks[];
extern const struct hk_lock_ref __stop_hk_locks[];

static unsigned int locks_of_rank(enum hk_lock_rank rank)
{
	const struct hk_lock_ref *r;
	unsigned int n = 0;

	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		n += r->rank == rank;
	return n;
}

/*
 * Each lock of the configuration is there, with its rank, once (the
 * tests may register locks of their own: at least).
 */
START_TEST(test_lock_table)
{
	const struct hk_lock_ref *r, *q;

	for (r = __start_hk_locks; r < __stop_hk_locks; r++) {
		ck_assert_uint_lt(r->rank, NR_HK_LOCK_RANKS);
		ck_assert_ptr_ne(r->lock, NULL);
		for (q = r + 1; q < __stop_hk_locks; q++)
			ck_assert_ptr_ne(q->lock, r->lock);
	}
#ifdef CONFIG_BACKEND_MMAP
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_HEAP_SWEEP), 1);
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_HEAP), 1);
#ifdef CONFIG_SMALLMID
	ck_assert_uint_ge(locks_of_rank(HK_LOCK_SS_POOL), 2);
#else
	ck_assert_uint_ge(locks_of_rank(HK_LOCK_SS_POOL), 1);
#endif
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_SS_REGION), 1);
#ifdef CONFIG_LARGE_CACHE
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_LARGE_CACHE), 1);
#endif
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_LARGE_RESERVE), 1);
#ifdef CONFIG_EXTERNAL_GUARD_STATS
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_GUARD_STATS), 1);
#endif
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_ARENA), 0);
#else
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_ARENA), 1);
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_HEAP), 0);
	ck_assert_uint_eq(locks_of_rank(HK_LOCK_HEAP_SWEEP), 0);
#endif
}
END_TEST

/* The fork path holds every lock between prepare and parent. */
START_TEST(test_lock_fork_path)
{
	const struct hk_lock_ref *r;
	unsigned int unlocked = 0;

	/*
	 * No check while they are held: ck_assert allocates, and with no
	 * slab box every allocation takes a Large lock.
	 */
	hk_locks_acquire();
	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		unlocked += __atomic_load_n(&r->lock->locked, __ATOMIC_RELAXED) == 0;
	hk_locks_release();
	ck_assert_uint_eq(unlocked, 0);
	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		ck_assert_int_eq(__atomic_load_n(&r->lock->locked, __ATOMIC_RELAXED), 0);
	hk_locks_acquire();
	hk_locks_reset();
	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		ck_assert_int_eq(__atomic_load_n(&r->lock->locked, __ATOMIC_RELAXED), 0);
}
END_TEST

#ifdef CONFIG_BACKEND_MMAP
/*
 * More threads than CPUs on one lock whose holder now and then sleeps
 * with it held: the waiters spin, then sleep in the kernel (lib/lock.c),
 * and every unlock that finds a sleeper wakes one. Each increment of the
 * counter is a read and a write apart, under the lock: none may be lost,
 * and the word is 0 (free, no sleeper marked) at the end.
 */
#define LOCK_THREADS	8
#define LOCK_ROUNDS	4000

static struct hk_lock test_lock = HK_LOCK_INIT;
HK_LOCK_REGISTER(&test_lock, HK_LOCK_SS_POOL);
static unsigned long test_lock_count;

static void *lock_worker(void *arg)
{
	struct timespec ts = { 0, 20000 };
	unsigned int i;

	(void)arg;
	for (i = 0; i < LOCK_ROUNDS; i++) {
		unsigned long c;

		hk_lock(&test_lock);
		c = __atomic_load_n(&test_lock_count, __ATOMIC_RELAXED);
		if (!(i % 128))
			nanosleep(&ts, NULL);	/* the holder off the CPU */
		__atomic_store_n(&test_lock_count, c + 1, __ATOMIC_RELAXED);
		hk_unlock(&test_lock);
	}
	return NULL;
}

START_TEST(test_lock_sleepers)
{
	pthread_t t[LOCK_THREADS];
	unsigned int i;

	for (i = 0; i < LOCK_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, lock_worker, NULL), 0);
	for (i = 0; i < LOCK_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(test_lock_count, (unsigned long)LOCK_THREADS * LOCK_ROUNDS);
	ck_assert_int_eq(__atomic_load_n(&test_lock.locked, __ATOMIC_RELAXED), 0);
}
END_TEST
#endif

#ifdef CONFIG_DEBUG_ASSERT
/* A lock nobody registered: the fork path would not know it. */
START_TEST(test_lock_unregistered)
{
	static struct hk_lock stray = HK_LOCK_INIT;

	hk_lock(&stray);
	hk_unlock(&stray);
}
END_TEST
#endif

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_test(tc, test_lock_table);
	tcase_add_test(tc, test_lock_fork_path);
#ifdef CONFIG_BACKEND_MMAP
	tcase_add_test(tc, test_lock_sleepers);
#endif
#ifdef CONFIG_DEBUG_ASSERT
#ifdef CONFIG_BACKEND_MMAP
	tcase_add_test_raise_signal(tc, test_lock_unregistered, SIGABRT);
#elif defined(__x86_64__)
	tcase_add_test_raise_signal(tc, test_lock_unregistered, SIGILL);	/* ud2 */
#else
	tcase_add_test_raise_signal(tc, test_lock_unregistered, SIGTRAP);	/* brk */
#endif
#endif
	suite_add_tcase(s, tc);
	return s;
}

HK_SUITE(lock_suite);

#endif /* CONFIG_THREADS */
