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
#include "superslab/superslab.h"
#include "prof/prof.h"

static void fork_child(void)
{
	hk_locks_reset();
	ss_fork_child();
	heap_fork_child();
	prof_fork_child();
}

/*
 * The heap profiler's lock is a word of its own (a signal handler may
 * find it held and leave its dump to the holder): it is taken first and
 * released last, around the registered locks.
 */
static void fork_prepare(void)
{
	/* The calling thread's remote frees on their slabs' lists. */
	heap_rbatch_flush();
	prof_fork_prepare();
	hk_locks_acquire();
}

static void fork_parent(void)
{
	hk_locks_release();
	prof_fork_parent();
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
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
