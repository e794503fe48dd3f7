/* SPDX-License-Identifier: MIT */
/*
 * A small spinning lock for the allocator's slow paths. It never allocates
 * and is a plain word, so the fork handlers can take it before fork and
 * reset it in the child. Without CONFIG_THREADS it compiles away.
 *
 * Every lock is registered, with its rank in the lock order, by
 * HK_LOCK_REGISTER() next to its definition. The registrations land in
 * one linker section, hk_locks, and the fork handlers walk it: they take
 * every lock of the allocator in rank order before fork, release them in
 * the reverse order in the parent and reset them in the child. A lock that
 * is not registered is not taken at fork; with CONFIG_DEBUG_ASSERT,
 * hk_lock() of such a lock aborts. See Documentation/architecture.md
 * ("Locks and fork").
 */
#ifndef _HAKMEM_LOCK_H
#define _HAKMEM_LOCK_H

#include <hakmem/atomic.h>

struct hk_lock {
	int locked;		/* 0 free, 1 held, 2 held and a thread may sleep on it (lib/lock.c) */
};

#define HK_LOCK_INIT	{ 0 }

/*
 * The lock order. A thread that holds a lock may only take locks of a
 * higher rank; locks of one rank are never held together. The fork
 * handlers take them in this order.
 */
enum hk_lock_rank {
	HK_LOCK_HEAP_SWEEP,	/* heap_sweep_lock: a sweep of the parked records (mm/heap/heap.c) */
	HK_LOCK_HEAP,		/* heap_lock: thread records (mm/heap/heap.c) */
	HK_LOCK_SS_POOL,	/* ss_pool.lock, one per pool (mm/superslab/superslab.c) */
	HK_LOCK_SS_REGION,	/* ss_region_lock: the region's growth (mm/superslab/superslab.c) */
	HK_LOCK_LARGE_CACHE,	/* large_cache.lock (mm/large/large.c) */
	HK_LOCK_LARGE_RESERVE,	/* large_reserve.lock (mm/large/large.c) */
	HK_LOCK_GUARD_STATS,	/* guard_stats.lock: top callers (mm/guard/guard.c) */
	HK_LOCK_ARENA,		/* the arena's lock (mm/arena/arena.c) */
	NR_HK_LOCK_RANKS
};

/* One registered lock: an entry of the hk_locks section. */
struct hk_lock_ref {
	struct hk_lock *lock;		/* the lock */
	enum hk_lock_rank rank;		/* its place in the lock order */
};

#define __HK_LOCK_REF(l, r, n)						\
	static const struct hk_lock_ref __hk_lock_ref_##n		\
	__attribute__((__used__, __section__("hk_locks"),		\
		       __aligned__(sizeof(void *)))) = { (l), (r) }
#define __HK_LOCK_REF_N(l, r, n)	__HK_LOCK_REF(l, r, n)

#ifdef CONFIG_THREADS
/* Register lock l (a constant address) with rank r, at file scope. */
#define HK_LOCK_REGISTER(l, r)	__HK_LOCK_REF_N(l, r, __COUNTER__)

/* The fork path: every registered lock, in rank order (lib/lock.c). */
void hk_locks_acquire(void);
void hk_locks_release(void);
void hk_locks_reset(void);

void hk_lock_slow(struct hk_lock *l);
void hk_lock_wake(struct hk_lock *l);

#ifdef CONFIG_DEBUG_ASSERT
void hk_lock_check(const struct hk_lock *l);
#else
static inline void hk_lock_check(const struct hk_lock *l)
{
}
#endif

static inline void hk_lock(struct hk_lock *l)
{
	int expected = 0;

	hk_lock_check(l);
	if (unlikely(!a_cas(&l->locked, &expected, 1, A_ACQUIRE)))
		hk_lock_slow(l);
}

/*
 * With the mmap backend a waiter may sleep in the kernel (a futex,
 * lib/lock.c) after its spins: it marked the word 2, and the unlock that
 * finds 2 wakes one. The arena build only spins: a plain store.
 */
#ifdef CONFIG_BACKEND_MMAP
static inline void hk_unlock(struct hk_lock *l)
{
	if (unlikely(a_swap(&l->locked, 0, A_RELEASE) == 2))
		hk_lock_wake(l);
}
#else
static inline void hk_unlock(struct hk_lock *l)
{
	a_store(&l->locked, 0, A_RELEASE);
}
#endif

/* Take the lock if it is free; 1 if taken. */
static inline int hk_trylock(struct hk_lock *l)
{
	int expected = 0;

	return a_cas(&l->locked, &expected, 1, A_ACQUIRE);
}
#else
#define HK_LOCK_REGISTER(l, r)	struct hk_lock_ref

static inline void hk_lock(struct hk_lock *l)
{
}

static inline void hk_unlock(struct hk_lock *l)
{
}

static inline int hk_trylock(struct hk_lock *l)
{
	return 1;
}
#endif

static inline void hk_lock_reset(struct hk_lock *l)
{
	l->locked = 0;
}

#endif /* _HAKMEM_LOCK_H */
