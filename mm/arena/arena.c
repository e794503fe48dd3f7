// SPDX-License-Identifier: MIT
/*
 * The arena box: the functions of <hakmem/alloc.h> over one region of
 * memory, the built-in static array or a buffer handed over with
 * hak_arena_init(). This file owns the region, the lock and the checks
 * on pointers; tlsf.c does the block work.
 */
#include <string.h>
#include <hakmem.h>
#include <hakmem/atomic.h>
#include <hakmem/errno.h>

#include "arena.h"

/* ------------------------------------------------------------------------
 * State
 */

/* The arena in use: NULL until the first allocation or hak_arena_init(). */
static struct arena_ctl *arena;

#if CONFIG_ARENA_SIZE_KB > 0
/* The region used when the program hands none over. */
static char arena_static[CONFIG_ARENA_SIZE_KB * 1024UL] __aligned(ARENA_ALIGN);
#endif

/* ------------------------------------------------------------------------
 * Lock
 *
 * One test-and-test-and-set spinlock around every operation; without
 * CONFIG_THREADS it is nothing.
 */

#ifdef CONFIG_THREADS
/* 1 while a thread is inside the arena. */
static int arena_lock_word;

static void arena_lock(void)
{
	int unlocked = 0;

	while (!a_cas(&arena_lock_word, &unlocked, 1, A_ACQUIRE)) {
		while (a_load(&arena_lock_word, A_RELAXED))
			cpu_relax();
		unlocked = 0;
	}
}

static void arena_unlock(void)
{
	arena_check(arena);
	a_store(&arena_lock_word, 0, A_RELEASE);
}
#else
static inline void arena_lock(void)
{
}

static inline void arena_unlock(void)
{
	arena_check(arena);
}
#endif

/* ------------------------------------------------------------------------
 * Helpers
 */

/* The arena, set up over the static array on first use. */
static struct arena_ctl *arena_get(void)
{
#if CONFIG_ARENA_SIZE_KB > 0
	if (unlikely(!arena))
		arena = arena_setup(arena_static, sizeof(arena_static));
#endif
	return arena;
}

/*
 * The block of a pointer into the arena that is in use. NULL for a
 * pointer from elsewhere, which is never dereferenced, and for a block
 * the boundary tag says is free (a double free, or realloc of a freed
 * pointer), which traps under CONFIG_DEBUG_ASSERT.
 */
static struct arena_block *arena_owned(const void *ptr)
{
	const char *p = ptr;
	struct arena_block *b;

	if (!arena || p <= arena->lo || p >= arena->hi ||
	    ((uintptr_t)p & (ARENA_ALIGN - 1)))
		return NULL;
	b = arena_block_of(ptr);
	ARENA_BUG_ON(b->size & ARENA_FREE);
	return b->size & ARENA_FREE ? NULL : b;
}

/* ------------------------------------------------------------------------
 * <hakmem/alloc.h>
 */

/*
 * Allocate n bytes aligned to align. Above ARENA_ALIGN, take enough for
 * the payload to start at an aligned address at least a smallest block
 * in, and free the block in front of it. On failure set errno ENOMEM, as
 * the front expects of hk_alloc() and hk_alloc_aligned().
 */
void *hk_alloc_aligned(size_t align, size_t n)
{
	size_t size = arena_block_size(n);
	size_t extra = align > ARENA_ALIGN ?
		       align + ARENA_MIN_BLOCK - ARENA_ALIGN : 0;
	struct arena_block *b = NULL, *head;
	struct arena_ctl *a;
	size_t gap;

	arena_lock();
	a = arena_get();
	/* size and size + extra are only meaningful (no wrap) for these. */
	if (likely(a && n <= HK_MAX_REQUEST && align <= HK_MAX_REQUEST))
		b = arena_take(a, size + extra);
	if (likely(b)) {
		gap = ALIGN_UP((uintptr_t)arena_payload(b), align) -
		      (uintptr_t)arena_payload(b);
		if (gap) {
			if (gap < ARENA_MIN_BLOCK)
				gap += align;
			head = b;
			b = arena_at(head, gap);
			b->size = arena_size(head) - gap;
			head->size = gap;
			arena_release(a, head);
		}
		arena_trim(a, b, size);
	}
	arena_unlock();
	if (unlikely(!b)) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	return arena_payload(b);
}

void *hk_alloc(size_t size)
{
	return hk_alloc_aligned(ARENA_ALIGN, size);
}

void *hk_alloc_zeroed(size_t size)
{
	void *p = hk_alloc(size);

	return p ? memset(p, 0, size) : NULL;
}

/* Free a block; ignore a foreign pointer and a block already free. */
void hk_free(void *ptr)
{
	struct arena_block *b;

	arena_lock();
	b = arena_owned(ptr);
	if (likely(b))
		arena_release(arena, b);
	arena_unlock();
}

size_t hk_usable_size(const void *ptr)
{
	struct arena_block *b;
	size_t n = 0;

	arena_lock();
	b = arena_owned(ptr);
	if (likely(b))
		n = arena_size(b) - sizeof(size_t);
	arena_unlock();
	return n;
}

/* The arena has no guard: a foreign pointer is simply not ours. */
size_t hk_realloc_usable_size(const void *ptr, const void *caller)
{
	return hk_usable_size(ptr);
}

/* Shrink in place, or grow into a free block above; NULL if it must move. */
void *hk_resize(void *ptr, size_t size)
{
	struct arena_block *b, *n;
	size_t have;

	if (unlikely(size > HK_MAX_REQUEST))
		return NULL;
	size = arena_block_size(size);
	arena_lock();
	b = arena_owned(ptr);
	if (likely(b)) {
		have = arena_size(b);
		n = arena_at(b, have);
		if (size > have) {
			if ((n->size & ARENA_FREE) && have + arena_size(n) >= size) {
				arena_unlink(arena, n);
				b->size += arena_size(n);
				arena_at(b, arena_size(b))->size &= ~ARENA_PREV_FREE;
			} else {
				b = NULL;
			}
		}
		if (b)
			arena_trim(arena, b, size);
	}
	arena_unlock();
	return b ? ptr : NULL;
}

/* Nothing to give back: the region is the program's. */
int hk_trim(size_t pad)
{
	(void)pad;
	return 0;
}

#ifdef CONFIG_MALLOC_INFO
/*
 * Walk the blocks under the lock: exact figures, O(blocks) (an arena
 * holds at most a few thousand). Free blocks are the only idle memory;
 * the arena has no thread caches.
 */
void hk_usage(struct hk_usage *u)
{
	struct hk_box_usage *b = &u->box[0];
	struct arena_block *blk;
	struct arena_ctl *a;

	memset(u, 0, sizeof(*u));
	u->nr_boxes = 1;
	b->name = "arena";
	arena_lock();
	/* Not arena_get(): asking must not set up the static arena. */
	a = arena;
	if (a) {
		for (blk = (struct arena_block *)a->lo; (char *)blk < a->hi;
		     blk = arena_at(blk, arena_size(blk))) {
			if (blk->size & ARENA_FREE) {
				b->nr_free++;
				b->free += arena_size(blk);
			} else {
				b->nr_in_use++;
				b->in_use += arena_size(blk) - sizeof(size_t);
			}
		}
		b->system = (unsigned long)(a->hi - a->lo);
		u->overhead = (unsigned long)(a->lo - (char *)a);
		u->system = b->system + u->overhead;
	}
	arena_unlock();
}

/*
 * malloc_stats and malloc_info print with stdio, which the freestanding
 * arena build does not have: they do nothing here (and are not exported
 * under the C library's names).
 */
__export void hak_malloc_stats(void)
{
}

__export int hak_malloc_info(int options, FILE *fp)
{
	hk_set_errno(ENOSYS);
	return -1;
}
#endif

/* ------------------------------------------------------------------------
 * <hakmem.h>
 */

__export int hak_arena_init(void *base, size_t len)
{
	struct arena_ctl *a = NULL;

	arena_lock();
	if (!arena)
		a = arena = arena_setup(base, len);
	arena_unlock();
	if (likely(a))
		return 0;
	hk_set_errno(EINVAL);
	return -1;
}
