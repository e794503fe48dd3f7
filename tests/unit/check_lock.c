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
#include <signal.h>

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
		unlocked += __atomic_load_n(&r->lock->locked, __ATOMIC_RELAXED) != 1;
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
