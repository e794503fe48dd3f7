// SPDX-License-Identifier: MIT
/*
 * lib/lock.c - the contended path of struct hk_lock (CONFIG_THREADS).
 *
 * Spin on a plain load (no cache-line ping-pong) for a while, then give
 * the CPU away with sched_yield(): the holder may be preempted, and the
 * locks are held only across short slow paths.
 */
#include <sched.h>
#include <hakmem/lock.h>

/* Spins between two sched_yield() calls. */
#define HK_LOCK_SPINS	128

__slowpath void hk_lock_slow(struct hk_lock *l)
{
	unsigned int spins = 0;
	int expected;

	for (;;) {
		if (a_load(&l->locked, A_RELAXED) == 0) {
			expected = 0;
			if (a_cas(&l->locked, &expected, 1, A_ACQUIRE))
				return;
		}
		if (++spins < HK_LOCK_SPINS) {
			cpu_relax();
		} else {
			sched_yield();
			spins = 0;
		}
	}
}
