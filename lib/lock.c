// SPDX-License-Identifier: MIT
/*
 * lib/lock.c - the contended path of struct hk_lock, and the fork path
 * over every registered lock (CONFIG_THREADS).
 *
 * Spin on a plain load (no cache-line ping-pong) for a while, then give
 * the CPU away with sched_yield(): the holder may be preempted, and the
 * locks are held only across short slow paths. The arena build stays
 * freestanding and only spins.
 */
#include <hakmem/lock.h>

#ifdef CONFIG_BACKEND_MMAP
#include <sched.h>
#include <hakmem/print.h>

static inline void hk_lock_yield(void)
{
	sched_yield();
}

static __maybe_unused __noreturn void hk_lock_unregistered(const struct hk_lock *l)
{
	hk_fatal("lock %p is not registered (HK_LOCK_REGISTER): fork would not take it",
		 (const void *)l);
}
#else
static inline void hk_lock_yield(void)
{
	cpu_relax();
}

static __maybe_unused __noreturn void hk_lock_unregistered(const struct hk_lock *l)
{
	__builtin_trap();
}
#endif

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
			hk_lock_yield();
			spins = 0;
		}
	}
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
