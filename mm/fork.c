// SPDX-License-Identifier: MIT
/*
 * mm/fork.c - fork handlers of the mmap build (CONFIG_THREADS only: a
 * single-threaded build has no locks to hand over and no libpthread).
 *
 * Every allocator lock is taken before fork() in one order and released
 * (parent) or reset (child) after it in the reverse order: the engine's
 * heap lock, the SuperSlab pools' locks, then each registered box's
 * (struct hk_box fork hooks, in link order).
 */
#include <pthread.h>
#include <hakmem/alloc.h>
#include "box.h"

static void fork_prepare(void)
{
	const struct hk_box *b;

	heap_fork_prepare();
	ss_fork_prepare();
	for_each_box(b)
		if (b->fork_prepare)
			b->fork_prepare();
}

static void fork_parent(void)
{
	const struct hk_box *b;

	for_each_box_reverse(b)
		if (b->fork_parent)
			b->fork_parent();
	ss_fork_parent();
	heap_fork_parent();
}

static void fork_child(void)
{
	const struct hk_box *b;

	for_each_box_reverse(b)
		if (b->fork_child)
			b->fork_child();
	ss_fork_child();
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
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
