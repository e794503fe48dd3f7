// SPDX-License-Identifier: MIT
/*
 * lib/lock.c - the contended path of struct hk_lock, and the fork path
 * over every registered lock (CONFIG_THREADS).
 *
 * Spin on a plain load (no cache-line ping-pong) for a while: the locks
 * are held only across short slow paths, and a holder that runs is out
 * soon. A holder that does not run (preempted, with more threads than
 * CPUs) is not out soon, and a waiter that goes on spinning or calling
 * sched_yield() burns the CPU time the holder needs: until branch
 * oversub the waiter yielded after every 128 spins, and bench_larson with
 * 16 lineages on 2 CPUs made up to 17,000 sched_yield() calls a run, for
 * about ten contended takes of ss_region_lock (held across the mmap of a
 * SuperSlab and the first touch of its header) whose holder the scheduler
 * kept behind the yielding threads (Documentation/benchmarks.md,
 * twentieth session). So after its
 * spins a waiter marks the word 2 ("held, with sleepers") and sleeps on
 * it in the kernel (FUTEX_WAIT), and the unlock that finds 2 wakes one
 * (hk_unlock(), FUTEX_WAKE): a waiter costs nothing while the holder is
 * off the CPU. A thread woken takes the lock with 2 (another may still
 * sleep), so the word goes back to 0 or 1 only through an unlock.
 *
 * The arena build stays freestanding and only spins.
 */
#include <hakmem/lock.h>

#ifdef CONFIG_BACKEND_MMAP
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <hakmem/print.h>

/* Sleep while the word is still 2 (a wake, a signal or a change returns). */
static inline void hk_lock_sleep(struct hk_lock *l)
{
	syscall(SYS_futex, &l->locked, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

/* hk_unlock() found 2: wake one sleeper, if any. */
__slowpath void hk_lock_wake(struct hk_lock *l)
{
	syscall(SYS_futex, &l->locked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Held on after the spins: mark it, sleep until an unlock wakes us, take it marked. */
static inline void hk_lock_wait(struct hk_lock *l)
{
	while (a_swap(&l->locked, 2, A_ACQUIRE) != 0)
		hk_lock_sleep(l);
}

static __maybe_unused __noreturn void hk_lock_unregistered(const struct hk_lock *l)
{
	hk_fatal("lock %p is not registered (HK_LOCK_REGISTER): fork would not take it",
		 (const void *)l);
}
#else
/* The arena build's spins never end before the lock is taken. */
static inline void hk_lock_wait(struct hk_lock *l)
{
}

static __maybe_unused __noreturn void hk_lock_unregistered(const struct hk_lock *l)
{
	__builtin_trap();
}
#endif

/* Spins on a plain load before sleeping (the arena build: between two tries). */
#define HK_LOCK_SPINS	128

__slowpath void hk_lock_slow(struct hk_lock *l)
{
	unsigned int spins;
	int expected;

	for (spins = 0; spins < HK_LOCK_SPINS || !IS_ENABLED(CONFIG_BACKEND_MMAP); spins++) {
		if (a_load(&l->locked, A_RELAXED) == 0) {
			expected = 0;
			if (a_cas(&l->locked, &expected, 1, A_ACQUIRE))
				return;
		}
		cpu_relax();
	}
	hk_lock_wait(l);
}

/* ------------------------------------------------------------------ */
/* The registered locks                                               */
/* ------------------------------------------------------------------ */

/* The hk_locks section, from the linker. */
extern const struct hk_lock_ref __start_hk_locks[] __attribute__((__visibility__("hidden")));
extern const struct hk_lock_ref __stop_hk_locks[] __attribute__((__visibility__("hidden")));

/* Before fork: take every lock, lowest rank first. */
void hk_locks_acquire(void)
{
	const struct hk_lock_ref *r;
	unsigned int rank;

	for (rank = 0; rank < NR_HK_LOCK_RANKS; rank++)
		for (r = __start_hk_locks; r < __stop_hk_locks; r++)
			if (r->rank == rank)
				hk_lock(r->lock);
}

/* After fork, in the parent: release them, highest rank first. */
void hk_locks_release(void)
{
	const struct hk_lock_ref *r;
	unsigned int rank;

	for (rank = NR_HK_LOCK_RANKS; rank-- > 0;)
		for (r = __stop_hk_locks; r-- > __start_hk_locks;)
			if (r->rank == rank)
				hk_unlock(r->lock);
}

/* After fork, in the child: every lock is free again (only we live on). */
void hk_locks_reset(void)
{
	const struct hk_lock_ref *r;

	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		hk_lock_reset(r->lock);
}

#ifdef CONFIG_DEBUG_ASSERT
/* hk_lock() of a lock the fork path does not know is a bug. */
void hk_lock_check(const struct hk_lock *l)
{
	const struct hk_lock_ref *r;

	for (r = __start_hk_locks; r < __stop_hk_locks; r++)
		if (r->lock == l)
			return;
	hk_lock_unregistered(l);
}
#endif
