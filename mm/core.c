// SPDX-License-Identifier: MIT
/*
 * mm/core.c - the slow half of routing for the mmap build: large
 * requests, aligned requests, usable size, resize, trim, fork.
 */
#include <string.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>
#include <hakmem/lock.h>
#include "large/large.h"
#include "os/os.h"
#include "prof/prof.h"

#ifdef CONFIG_THREADS
#include <pthread.h>
#endif

/* ------------------------------------------------------------------ */
/* Allocation                                                         */
/* ------------------------------------------------------------------ */

/* A Large block of size bytes, zeroed if zero; NULL + ENOMEM on failure. */
static void *core_large(size_t size, int zero)
{
	void *p = NULL;

	if (likely(size <= HK_MAX_REQUEST) && likely(!heap_init()))
		p = zero ? large_calloc(size) : large_alloc(size, HK_MIN_ALIGN);
	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	return p;
}

void *core_alloc_large(size_t size)
{
	return core_large(size, 0);
}

void *hk_alloc_zeroed(size_t size)
{
	void *p;

	if (size > HEAP_MAX_SIZE)
		return core_large(size, 1);
	p = hk_alloc(size);
	if (!p)
		return NULL;
	/* Freed (no-access to memcheck) until the front announces it. */
	vg_undefined(p, size);
	return memset(p, 0, size);
}

void *hk_alloc_aligned(size_t align, size_t size)
{
	size_t need;

	if (unlikely(heap_init()))
		return NULL;
	/*
	 * Slabs start on 64 KiB boundaries, so every block of a class whose
	 * size is a multiple of align is aligned.
	 */
	need = ALIGN_UP(size ? size : 1, align);
	if (align <= SLOT_SIZE && need <= HEAP_MAX_SIZE) {
		unsigned int cls = size_to_class(need);

		while (cls < HK_NR_CLASSES && hk_classes[cls].size % align)
			cls++;
		if (cls < HK_NR_CLASSES)
			return heap_alloc_class(cls);
	}
	return large_alloc(size, align);
}

/* ------------------------------------------------------------------ */
/* Ownership                                                          */
/* ------------------------------------------------------------------ */

void core_free_slow(void *ptr, unsigned int reg)
{
	const void *caller = __builtin_return_address(0);

	if (!ptr)
		return;
	if (reg >= REG_LARGE) {
		/* Sampled blocks are Large ones (mm/prof). */
		prof_free_large(ptr);
		large_free(ptr, reg, caller);
	}
	else
		guard_foreign(ptr, GUARD_FREE, caller);
}

/* The slab holding block ptr, or NULL if ptr is not a block start. */
static struct slab *core_block_slab(const void *ptr)
{
	struct slab *s = slab_of(ptr);

	if (s->kind == SLAB_TAIL)
		s -= s->head_off;
	if (s->kind != SLAB_BLOCKS)
		return NULL;
	if (!slab_is_block_start(s, ptr))
		return NULL;
	return s;
}

static size_t core_usable_size(const void *ptr, enum guard_op op, const void *caller)
{
	unsigned int reg = registry_lookup((uintptr_t)ptr);
	struct slab *s;

	if (reg == REG_SUPERSLAB) {
		s = core_block_slab(ptr);
		if (s)
			return s->block_size;
	} else if (reg >= REG_LARGE) {
		size_t n = large_usable_size(ptr, reg);

		if (n)
			return n;
	}
	guard_foreign(ptr, op, caller);
	return 0;
}

size_t hk_usable_size(const void *ptr)
{
	return core_usable_size(ptr, GUARD_USABLE_SIZE, __builtin_return_address(0));
}

size_t hk_realloc_usable_size(const void *ptr, const void *caller)
{
	return core_usable_size(ptr, GUARD_REALLOC, caller);
}

void *hk_resize(void *ptr, size_t size)
{
	unsigned int reg = registry_lookup((uintptr_t)ptr);

	if (reg == REG_SUPERSLAB) {
		struct slab *s = core_block_slab(ptr);

		/* Stay while the block is at most half empty. */
		if (s && size <= s->block_size && size >= s->block_size / 2)
			return ptr;
		return NULL;
	}
	if (reg >= REG_LARGE && size > HEAP_MAX_SIZE)
		return large_resize(ptr, reg, size);
	return NULL;
}

int hk_trim(size_t pad)
{
	unsigned long slots;
	int large;

	if (heap_init())
		return 0;
	slots = heap_trim();
	large = large_trim();
	return slots || large;
}

/* Called by os_map_aligned() when the kernel refuses a mapping. */
int core_reclaim(void)
{
	int large = large_reclaim();

	return ss_unmap_free() || large;
}

/* ------------------------------------------------------------------ */
/* fork                                                               */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_THREADS
/*
 * Every lock of the allocator is registered (HK_LOCK_REGISTER) and taken
 * here in rank order (include/hakmem/lock.h), so that the child sees
 * none held and no box's state half changed.
 */
static void core_fork_child(void)
{
	hk_locks_reset();
	heap_fork_child();
	prof_fork_child();
}

/*
 * The heap profiler's lock is a word of its own (a signal handler may
 * find it held and leave its dump to the holder): it is taken first and
 * released last, around the registered locks.
 */
static void core_fork_prepare(void)
{
	prof_fork_prepare();
	hk_locks_acquire();
}

static void core_fork_parent(void)
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
__attribute__((constructor)) static void core_init(void)
{
	heap_init();
	pthread_atfork(core_fork_prepare, core_fork_parent, core_fork_child);
}
#endif
