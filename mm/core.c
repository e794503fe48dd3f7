// SPDX-License-Identifier: MIT
/*
 * mm/core.c - the slow half of routing for the mmap build: large
 * requests, aligned requests, usable size, resize, trim (fork: fork.c).
 */
#include <string.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>
#include "large/large.h"
#include "os/os.h"
#include "prof/prof.h"
#include "box.h"

/* ------------------------------------------------------------------ */
/* Allocation                                                         */
/* ------------------------------------------------------------------ */

/* How core_large() allocates. */
enum core_large_how {
	CORE_LARGE_PLAIN,	/* malloc */
	CORE_LARGE_ZERO,	/* calloc */
	CORE_LARGE_GROWN,	/* realloc of a block that grew */
};

/* A Large block of size bytes as how says; NULL + ENOMEM on failure. */
static void *core_large(size_t size, enum core_large_how how)
{
	int e = hk_get_errno();
	void *p = NULL;

	if (likely(size <= HK_MAX_REQUEST) && likely(!heap_init())) {
		if (how == CORE_LARGE_ZERO)
			p = large_calloc(size);
		else if (how == CORE_LARGE_GROWN)
			p = large_alloc_grown(size);
		else
			p = large_alloc(size, HK_MIN_ALIGN);
	}
	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	else
		hk_set_errno(e);
	return p;
}

void *core_alloc_large(size_t size)
{
	return core_large(size, CORE_LARGE_PLAIN);
}

void *core_alloc_grown(size_t size)
{
	return core_large(size, CORE_LARGE_GROWN);
}

void *hk_alloc_zeroed(size_t size)
{
	void *p;

	if (!HK_NR_CLASSES || size > HEAP_MAX_SIZE)
		return core_large(size, CORE_LARGE_ZERO);
	p = hk_alloc(size);
	if (!p)
		return NULL;
	/* Freed (no-access to memcheck) until the front announces it. */
	vg_undefined(p, size);
	return memset(p, 0, size);
}

/* Alignments up to HK_MIN_ALIGN are every block's: the table starts above. */
BUILD_BUG_ON((1UL << HEAP_ALIGN_MIN_SHIFT) != 2 * HK_MIN_ALIGN);

/*
 * memalign's slow path (hk_alloc_aligned(), core.h): before the class
 * tables are set up, a request above HEAP_MAX_SIZE or an alignment above
 * SLOT_SIZE, or one no class aligns.
 */
void *core_alloc_aligned(size_t align, size_t size)
{
	unsigned int k;
	void *p;
	int e;

	if (unlikely(heap_init()))
		return NULL;
	k = hk_align_lookup(align, size);
	if (k)
		return heap_alloc_class(k - 1);
	e = hk_get_errno();
	p = large_alloc(size, align);
	if (p)
		hk_set_errno(e);
	return p;
}

/* ------------------------------------------------------------------ */
/* Ownership                                                          */
/* ------------------------------------------------------------------ */

void core_free_slow(void *ptr)
{
	const void *caller = __builtin_return_address(0);
	unsigned int reg = registry_lookup((uintptr_t)ptr);

	if (!ptr)
		return;
	/* A SuperSlab mapped outside the region. */
	if (reg == REG_SUPERSLAB) {
		core_free_superslab(ptr, (uintptr_t)ptr);
		return;
	}
	if (reg >= REG_LARGE) {
		/* A sampled Large block leaves the profile (mm/prof). */
		prof_free_block(ptr);
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
		size_t n = core_own_block_size(ptr);

		if (likely(n))
			return n;
		s = core_block_slab(ptr);
		if (s)
			return hk_classes[s->class_idx].size;
		/* A sampled block is handed out inside its block (mm/prof). */
		n = prof_usable_bad(ptr);
		if (n)
			return n;
		/* A block freed twice whose slab went back with it live. */
		heap_check_released(ptr);
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

/*
 * One registry lookup and one block check for realloc, which asked for
 * the usable size and then hk_resize() (a second lookup and check) before.
 * A block stays while it is at most half empty, as in hk_resize() and
 * large_resize(); a Large block that does not stay is resized by
 * large_resize() when it stays above HEAP_REALLOC_MAX.
 */
size_t hk_realloc_usable_size(const void *ptr, size_t size, const void *caller,
			      enum hk_realloc_way *way)
{
	unsigned int reg = registry_lookup((uintptr_t)ptr);

	*way = HK_REALLOC_MOVE;
	if (likely(reg == REG_SUPERSLAB)) {
		size_t n = core_own_block_size(ptr);

		if (!n) {
			struct slab *s;

			/*
			 * A live sample of the heap profiler (mm/prof: 16
			 * bytes into its block, n its block's size less 16),
			 * asked first: its header is one check, where
			 * core_block_slab() finds the slab and tests the block
			 * start. One that holds the new size as a block start
			 * would stays in its block (prof_unsample_bad(), without
			 * hk_resize()'s lookups), out of the profile and moved
			 * down to its block start: a plain block, whose next
			 * realloc takes the fast path (bench_strbuild). Without
			 * profiling: one load and a branch.
			 */
			n = prof_usable_bad(ptr);
			if (n) {
				if (size <= n && size >= n / 2)
					*way = HK_REALLOC_SAMPLE;
				return n;
			}
			s = core_block_slab(ptr);
			n = s ? hk_classes[s->class_idx].size : 0;
		}
		if (likely(n)) {
			if (size <= n && size >= n / 2)
				*way = HK_REALLOC_STAY;
			return n;
		}
	} else if (reg >= REG_LARGE) {
		size_t n = large_usable_size(ptr, reg);

		/* large_resize()'s own first answer, without its lookups. */
		if (likely(n)) {
			if (size > HEAP_REALLOC_MAX)
				*way = size <= n && size >= n / 2 ? HK_REALLOC_STAY :
								      HK_REALLOC_RESIZE;
			return n;
		}
	}
	return core_usable_size(ptr, GUARD_REALLOC, caller);
}

void *hk_resize(void *ptr, size_t size)
{
	unsigned int reg = registry_lookup((uintptr_t)ptr);

	if (reg == REG_SUPERSLAB) {
		struct slab *s = core_block_slab(ptr);
		size_t n = s ? hk_classes[s->class_idx].size : 0;

		/* Stay while the block is at most half empty. */
		if (s && size <= n && size >= n / 2)
			return ptr;
		/* Not a block start: a live sample may stay too (mm/prof). */
		if (!s)
			return prof_resize_bad(ptr, size);
		return NULL;
	}
	if (reg >= REG_LARGE && size > HEAP_REALLOC_MAX) {
		/* A resize in place that fails is no failure of realloc's: errno stays. */
		int e = hk_get_errno();
		void *p = large_resize(ptr, reg, size);

		hk_set_errno(e);
		return p;
	}
	return NULL;
}

int hk_trim(size_t pad)
{
	const struct hk_box *b;
	int done;

	if (heap_init())
		return 0;
	done = heap_trim() != 0;
	for_each_box(b)
		if (b->trim && b->trim())
			done = 1;
	return done;
}

void core_slabs_grew(size_t bytes)
{
	const struct hk_box *b;

	for_each_box(b)
		if (b->slabs_grew)
			b->slabs_grew(bytes);
}

void core_epoch(void)
{
	const struct hk_box *b;

	for_each_box(b)
		if (b->epoch)
			b->epoch();
}

/*
 * Called by os_map_aligned() when the kernel refuses a mapping: what the
 * boxes cache (Large's reserve and cache) first, then the calling
 * thread's kept empty slabs (heap_reclaim()), then the SuperSlab pools'
 * free slots.
 */
int core_reclaim(void)
{
	const struct hk_box *b;
	int done = 0;

	for_each_box(b)
		if (b->reclaim && b->reclaim())
			done = 1;
	/* The calling thread's kept empty slabs, so that they can be unmapped. */
	if (heap_reclaim())
		done = 1;
	return ss_unmap_free() || done;
}
