// SPDX-License-Identifier: MIT
/*
 * The arena box: the functions of <hakmem/alloc.h> over one region of
 * memory, the built-in static array or a buffer handed over with
 * hak_arena_init(). This file owns the region, the lock and the checks
 * on pointers; tlsf.c does the block work.
 */
#include <string.h>
#include <hakmem.h>
#include <hakmem/errno.h>
#include <hakmem/lock.h>

#include "arena.h"

#ifdef CONFIG_THREADS
#include <pthread.h>
#endif

/* ------------------------------------------------------------------------
 * State
 */

/* The arena in use: NULL until the first allocation or hak_arena_init(). */
static struct arena_ctl *arena;

#if CONFIG_ARENA_SIZE_KB > 0
/* The region used when the program hands none over. */
static char arena_static[CONFIG_ARENA_SIZE_KB * 1024UL] __aligned(ARENA_ALIGN);

/* The arena over it (first use). */
static inline struct arena_ctl *arena_builtin(void)
{
	return arena_setup(arena_static, sizeof(arena_static));
}
#else
/* None built in: nothing until hak_arena_init(). */
static inline struct arena_ctl *arena_builtin(void)
{
	return NULL;
}
#endif

/* ------------------------------------------------------------------------
 * Lock
 *
 * One spinlock around every operation (lib/lock.c: it only spins in
 * this build); without CONFIG_THREADS it is nothing. Registered for the
 * fork path: taken before fork, released after it in the parent, reset
 * in the child.
 */

/* Held while a thread is inside the arena. */
static struct hk_lock arena_mutex = HK_LOCK_INIT;
HK_LOCK_REGISTER(&arena_mutex, HK_LOCK_ARENA);

static inline void arena_lock(void)
{
	hk_lock(&arena_mutex);
}

static inline void arena_unlock(void)
{
	arena_check(arena);
	hk_unlock(&arena_mutex);
}

#ifdef CONFIG_THREADS
/* The fork handlers: the arena's lock, as every other registered lock. */
__attribute__((constructor)) static void arena_fork_init(void)
{
	pthread_atfork(hk_locks_acquire, hk_locks_release, hk_locks_reset);
}
#endif

/* ------------------------------------------------------------------------
 * Helpers
 */

/* The arena, set up over the static array on first use. */
static struct arena_ctl *arena_get(void)
{
	if (CONFIG_ARENA_SIZE_KB > 0 && unlikely(!arena))
		arena = arena_builtin();
	return arena;
}

/* ------------------------------------------------------------------------
 * Reports
 *
 * Through write(2) and abort(3) when a C library provides them (weak
 * references: a freestanding program without them gets no message, and a
 * trap instead of abort), in the words of the mmap build's guard.
 */

extern long write(int fd, const void *buf, size_t n) __attribute__((weak));
extern void abort(void) __attribute__((weak, noreturn));

static char *arena_cat(char *s, const char *t)
{
	while (*t)
		*s++ = *t++;
	return s;
}

/* "hakmem: <pre><op>(0x<ptr>)<post>" and a newline on stderr. */
static __cold void arena_say(const char *pre, const char *op, const void *ptr,
			     const char *post)
{
	char buf[112], *s;
	uintptr_t v = (uintptr_t)ptr;
	unsigned int d;
	int shift;

	s = arena_cat(arena_cat(arena_cat(buf, "hakmem: "), pre), op);
	s = arena_cat(s, "(0x");
	for (shift = 60; shift >= 0; shift -= 4) {
		d = (v >> shift) & 15;
		*s++ = (char)(d < 10 ? '0' + d : 'a' - 10 + d);
	}
	s = arena_cat(arena_cat(s, ")"), post);
	*s++ = '\n';
	if (write)
		write(2, buf, (size_t)(s - buf));
}

__noreturn __cold void arena_corrupt(const char *op, const void *ptr)
{
	arena_say("double free or corruption detected: ", op, ptr, ", aborting");
	if (abort)
		abort();
	__builtin_trap();
}

/*
 * The block of a pointer into the arena that is in use; NULL if there is
 * none. A pointer from elsewhere is never dereferenced and is not
 * reported (it is not ours, see Documentation/embedded.md). A pointer
 * into the arena must be a block start: its header carries its seal, and
 * so does the header of the block above it, whose flag agrees on whether
 * this one is free. Anything else (an interior pointer, a header the
 * program wrote, one merged away) is refused: reported on stderr if op
 * is given ("free", "realloc") and leaked, as the guard does with such
 * pointers. A block that is free already is a double free: reported, and
 * the process aborts (op given) or NULL (malloc_usable_size).
 */
static struct arena_block *arena_owned(const void *ptr, const char *op)
{
	struct arena_ctl *a = arena;
	const char *p = ptr;
	struct arena_block *b, *n;

	if (!a || p <= a->lo || p >= a->hi || ((uintptr_t)p & (ARENA_ALIGN - 1)))
		return NULL;
	b = arena_block_of(ptr);
	n = arena_at(b, arena_size(b));
	if (unlikely(!arena_sealed(a, b) || (char *)n <= p || (char *)n > a->hi ||
		     !arena_sealed(a, n) ||
		     ((n->size >> 1 ^ b->size) & ARENA_FREE))) {
		if (op)
			arena_say("", op, ptr, ": not a block, leaked");
		return NULL;
	}
	if (unlikely(b->size & ARENA_FREE)) {
		if (op)
			arena_corrupt(op, ptr);
		return NULL;
	}
	return b;
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
			arena_set(a, b, arena_size(head) - gap);
			arena_set(a, head, gap);
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

/* Free a block; ignore a foreign pointer, refuse anything else (arena_owned). */
void hk_free(void *ptr)
{
	struct arena_block *b;

	arena_lock();
	b = arena_owned(ptr, "free");
	if (likely(b))
		arena_release(arena, b);
	arena_unlock();
}

/* Usable size of a block; 0 for anything else, named op in a report. */
static size_t arena_usable_size(const void *ptr, const char *op)
{
	struct arena_block *b;
	size_t n = 0;

	arena_lock();
	b = arena_owned(ptr, op);
	if (likely(b))
		n = arena_size(b) - sizeof(size_t);
	arena_unlock();
	return n;
}

size_t hk_usable_size(const void *ptr)
{
	return arena_usable_size(ptr, NULL);
}

/* realloc's question: a bad pointer in the arena is reported. */
size_t hk_realloc_usable_size(const void *ptr, size_t size, const void *caller,
			      enum hk_realloc_way *way)
{
	*way = HK_REALLOC_RESIZE;
	return arena_usable_size(ptr, "realloc");
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
	b = arena_owned(ptr, NULL);
	if (likely(b)) {
		have = arena_size(b);
		n = arena_at(b, have);
		if (size > have) {
			if ((n->size & ARENA_FREE) && have + arena_size(n) >= size) {
				arena_unlink(arena, n);
				b->size += arena_size(n);
				n->size = 0;
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
