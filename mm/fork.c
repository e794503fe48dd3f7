// SPDX-License-Identifier: MIT
/*
 * mm/fork.c - fork handlers of the mmap build (CONFIG_THREADS only: a
 * single-threaded build has no locks to hand over and no libpthread).
 *
 * Every lock of the allocator, the boxes' included, is registered next
 * to its definition (HK_LOCK_REGISTER, include/hakmem/lock.h) and taken
 * here in rank order, so that the child sees none held and no box's
 * state half changed. The boxes need no fork hook of their own.
 */
#include <pthread.h>
#include <hakmem/alloc.h>
#include <hakmem/lock.h>
#include "heap/heap.h"

static void fork_child(void)
{
	hk_locks_reset();
	heap_fork_child();
}

/*
 * Not needed for correctness of allocation (every path initialises
 * lazily) but for fork: the handlers must be in place before a program
 * can fork. pthread_atfork may allocate; heap_init() runs first so that
 * works.
 */
__attribute__((constructor)) static void fork_init(void)
{
	heap_init();
	pthread_atfork(hk_locks_acquire, hk_locks_release, fork_child);
}
