/* SPDX-License-Identifier: MIT */
/*
 * A small spinning lock for the allocator's slow paths. It never allocates
 * and is a plain word, so pthread_atfork handlers can take it before fork
 * and reset it in the child. Without CONFIG_THREADS it compiles away.
 */
#ifndef _HAKMEM_LOCK_H
#define _HAKMEM_LOCK_H

#include <hakmem/atomic.h>

struct hk_lock {
	int locked;		/* 0 free, 1 held */
};

#define HK_LOCK_INIT	{ 0 }

#ifdef CONFIG_THREADS
void hk_lock_slow(struct hk_lock *l);

static inline void hk_lock(struct hk_lock *l)
{
	int expected = 0;

	if (unlikely(!a_cas(&l->locked, &expected, 1, A_ACQUIRE)))
		hk_lock_slow(l);
}

static inline void hk_unlock(struct hk_lock *l)
{
	a_store(&l->locked, 0, A_RELEASE);
}

/* Take the lock if it is free; 1 if taken. */
static inline int hk_trylock(struct hk_lock *l)
{
	int expected = 0;

	return a_cas(&l->locked, &expected, 1, A_ACQUIRE);
}
#else
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
