/* SPDX-License-Identifier: MIT */
/*
 * Routing of the mmap build: which box serves a request, which box owns a
 * pointer. Included by the API front through <hakmem/alloc.h>, so that
 * malloc and free inline their fast paths.
 *
 *   size <= HEAP_MAX_SIZE     -> the slab boxes configured (Tiny,
 *                                Small-Mid, Mid: mm/boxes.h), one
 *                                class table, one engine (mm/heap)
 *   larger                    -> Large    (mm/large)
 *
 * A pointer's owner: free first asks whether it lies in the SuperSlab
 * region (ss_in_region(), mm/superslab/superslab.h: slot metadata found
 * by masking); otherwise the registry byte of its SuperSlab-sized chunk
 * says SuperSlab (one mapped outside the region), Large (header just
 * below the block, checked by mm/large) or foreign (ExternalGuard).
 */
#ifndef _MM_CORE_H
#define _MM_CORE_H

#include "heap/heap.h"
#include "tiny/ultrahot.h"

void *core_alloc_large(size_t size);
/* A Large block for realloc's growth (hk_alloc_grown(), large_alloc_grown()). */
void *core_alloc_grown(size_t size);
/*
 * The slow paths of free take no caller argument: free reaches them with a
 * tail call, so their own return address is the program's (and passing
 * it would cost free a stack frame). core_free_slow() looks the registry
 * up for every pointer outside the SuperSlab region.
 */
void core_free_slow(void *ptr);

static __fastpath_inline void *hk_alloc(size_t size)
{
	void *p;

	if (ultrahot_alloc(size, &p))
		return p;
	/*
	 * Tiny first: its class is computed (a bit scan) or read from a
	 * table the compiler filled, right even before initialisation.
	 */
	if (likely(size_is_tiny(size))) {
		if (HEAP_FIRST_POW2)
			return heap_alloc_tiny(size_to_tiny_class(size));
		return heap_alloc_tiny_bin(size_to_tiny_bin(size));
	}
	/* Without slab boxes (HK_NR_CLASSES 0) Large serves everything. */
	if (HK_NR_CLASSES && likely(size <= HEAP_MAX_SIZE))
		return heap_alloc_bin(size_to_bin(size), size);
	return core_alloc_large(size);
}

/* memalign's slow path (core.c). */
void *core_alloc_aligned(size_t align, size_t size);

/*
 * Allocate size bytes (at most HK_MAX_REQUEST) aligned to align (a power
 * of two above HK_MIN_ALIGN): the class that aligns its blocks so
 * (hk_align_class[]) pops its bin inline, as malloc does; the rest, and
 * every request before the tables are set up (all 0), goes to
 * core_alloc_aligned(). A call, a loop over the classes with a division
 * each and heap_alloc_class()'s generic pop took about 100 instructions
 * more than malloc before (Documentation/architecture.md, "memalign").
 */
/*
 * One more than the class that serves size bytes aligned to align (a
 * power of two above HK_MIN_ALIGN), or 0: Large, or the tables not set
 * up yet.
 */
static __always_inline unsigned int hk_align_lookup(size_t align, size_t size)
{
	size_t need = ALIGN_UP(size ? size : 1, align);

	if (!HK_NR_CLASSES || align > SLOT_SIZE || need > HEAP_MAX_SIZE)
		return 0;
	return hk_align_class[hk_log2(align) - HEAP_ALIGN_MIN_SHIFT][size_to_class(need)];
}

static __fastpath_inline void *hk_alloc_aligned(size_t align, size_t size)
{
	unsigned int k = hk_align_lookup(align, size);

	if (likely(k))
		return heap_alloc_exact(k - 1);
	return core_alloc_aligned(align, size);
}

/*
 * The size of block ptr if it is a block start of a slab this thread
 * owns, else 0 (then core_block_slab() answers). free's one test
 * (slab_owner_block_start(): a tail slot mirrors its head's tbase,
 * start_mul, start_limit and class_idx), where core_block_slab() finds
 * the head slot and the first block, with a division for a coloured
 * slab. ptr lies in a SuperSlab.
 */
static __always_inline size_t core_own_block_size(const void *ptr)
{
	const struct slab *s = slab_of(ptr);

	if (slab_owner_block_start(s, ptr, tp_bin(s->bin_tpoff)->tag))
		return hk_classes[s->class_idx].size;
	return 0;
}

/*
 * realloc's first question, inlined into it: the usable size of ptr if it
 * is a slab block of the SuperSlab region this thread owns (free's two
 * tests), else 0, and then hk_realloc_usable_size() answers. Most calls of
 * a program that grows a buffer by small appends find the block large
 * enough, and stay on this path: no call, no out parameter.
 */
static __fastpath_inline size_t hk_own_size(const void *ptr)
{
	if (unlikely(!ss_in_region((uintptr_t)ptr)))
		return 0;
	return core_own_block_size(ptr);
}

/*
 * realloc's new block of size bytes for one of old bytes
 * (hk_alloc_grown()).
 *
 * A block that grows by less than a quarter of its size gets a quarter
 * more: a buffer grown by small appends (realloc(s, len + n) on every
 * append) then moves once per 1.25x of growth, not once per size class
 * (16 bytes apart up to 128 B, four per power of two above), and its
 * copies add up to a few times its final size (tools/bench/bench_strbuild,
 * Documentation/benchmarks.md). The slack is at most a quarter of a block
 * that grew, as with tcmalloc's realloc, and only for slab blocks (the
 * room stays within HEAP_REALLOC_STEP_MAX, Mid's maximum): Large grows
 * its blocks in place, and a request a quarter larger than asked could
 * fail where the size asked would not: hk_grown_size() is a slab
 * block's size to ask for (hk_grown_ask(): the heap profiler's sampled
 * realloc asks for it too, mm/prof).
 *
 * The room stops at the power of two above the size asked (a power of
 * two is always a class): a buffer that grows up to a power of two and
 * stays there would otherwise keep a class past it for good. redis's
 * lists are listpacks of at most 8 KiB grown by one realloc per element:
 * 7,272 bytes asked of a 7 KiB block got 8,960 and the 10 KiB class,
 * 0.78 MB more of its data set than under mimalloc (its MEMORY STATS),
 * and its peak RSS 35.0 MB against 34.0; with the stop 33.9
 * (Documentation/benchmarks.md, "twelfth session").
 *
 * The stop costs a growing string one move per doubling (classes 1,
 * 1.25, 1.5, 1.75 times a power of two: 1.25 -> 1.75 -> 2 -> 2.5, where
 * a quarter without the stop went 1.75 -> 2.5): a block of a power of
 * two, up to HEAP_REALLOC_MAX, gets half a block of room instead
 * (hk_grown_room(): 2 -> 3 -> 4), two moves per doubling again, and the
 * stop stays (bench_strbuild: 33% fewer bytes copied, 0.93x CPU time;
 * redis's peak unchanged; "fifteenth session: strbuild"). Above
 * HEAP_REALLOC_MAX a quarter: bench_realloc's Mid blocks grown from 64
 * and 128 KiB by half faulted 9% more pages, at 1.05x its CPU time.
 *
 * Room that ends within an eighth of the power of two goes to the power
 * of two: with eight Mid classes per doubling (CONFIG_MID_CLASSES_PER_
 * DOUBLING=8) a quarter from 1.5 is the class 1.875, and a growing
 * string moved three times per doubling (1.5 -> 1.875 -> 2). With four
 * the class of that room is the power of two anyway.
 */
static inline size_t hk_grown_room(size_t old)
{
	if (old & (old - 1) || old > HEAP_REALLOC_MAX)
		return old + old / 4;
	return old + old / 2;
}

static inline size_t hk_grown_size(size_t size, size_t old)
{
	size_t cap, room;

	if (size > old && size - old < old / 4) {
		room = hk_grown_room(old);
		/*
		 * Room up to the slabs' top, not past it: with padded classes
		 * (CONFIG_HEAP_STRIDE_PAD, five Mid classes per doubling) a
		 * quarter of 26,368 B is past 32 KiB, and the size asked
		 * alone moved a string grown by appends once more on its way
		 * to 32 KiB (test_realloc_append_moves, randconfig
		 * KCONFIG_SEED=0x22f620df).
		 */
		if (room > HEAP_REALLOC_STEP_MAX) {
			/* (A variable: the maximum is 0 without slab classes, -Wtype-limits.) */
			room = HEAP_REALLOC_STEP_MAX;
			if (room <= size)
				return size;
		}
		cap = 2UL << hk_log2(size - 1);
		/* (A power of two past Mid's maximum, CONFIG_MID_MAX_KB 60, is Large's.) */
		return room < cap - cap / 8 || cap > HEAP_REALLOC_STEP_MAX ? room : cap;
	}
	return size;
}

/*
 * Whether realloc's new block for size bytes (asked: before
 * hk_grown_size()'s room) for one of old bytes is a Large one. A block
 * grown past HEAP_REALLOC_MAX (32 KiB, mm/boxes.h) by a big step goes to
 * Large, which grows it in place the next time, where Mid's big classes
 * would copy it again. A small step, less than an eighth of the block
 * (HEAP_REALLOC_STEP_SHIFT), stays in a slab class while the room fits
 * there (HEAP_REALLOC_STEP_MAX): an append, which leaves room for at
 * least one more of its size in place; the block is copied once per
 * 1.25x into memory the program used before, where Large would map and
 * fault in new pages.
 */
static inline int hk_grown_large(size_t size, size_t old)
{
	if (size <= old || size <= HEAP_REALLOC_MAX)
		return 0;
	/*
	 * A quarter, not hk_grown_room(): hk_grown_size() clamps the room to
	 * the slabs' top, and 32 KiB's half block (48 KiB) past a top of
	 * 42 KiB (CONFIG_MID_MAX_KB=42) still leaves a quarter, which sent
	 * the block to Large at the first byte past 32 KiB
	 * (test_realloc_small_steps_stay_slab, randconfig aarch64
	 * KCONFIG_SEED=0xb2293a48).
	 */
	return size - old >= old >> HEAP_REALLOC_STEP_SHIFT ||
	       old + old / 4 > HEAP_REALLOC_STEP_MAX;
}

/*
 * The size realloc asks for a block of old usable bytes grown to size: a
 * Large block of the size asked, a slab block with hk_grown_size()'s room.
 */
static inline size_t hk_grown_ask(size_t size, size_t old)
{
	return hk_grown_large(size, old) ? size : hk_grown_size(size, old);
}

/* A block for realloc of a block of old usable bytes to size: with hk_grown_size()'s room. */
static inline void *hk_alloc_grown(size_t size, size_t old)
{
	void *p;

	if (hk_grown_large(size, old))
		return core_alloc_grown(size);
	heap_lend_hold(1);
	p = hk_alloc(hk_grown_size(size, old));
	heap_lend_hold(0);
	return p;
}

/*
 * free of ptr, a pointer into a SuperSlab (in the region, or found in the
 * registry by core_free_slow()); rel is ptr, or its offset from the
 * region's base (the same slot and colour bits: SS_REGION_ALIGN).
 */
static __always_inline void core_free_superslab(void *ptr, uintptr_t rel)
{
	uintptr_t ss, off;
	tp_bin_t *b;

	/*
	 * slab_of(ptr) as the SuperSlab and the offset of the slot's
	 * metadata, its fields read one by one through SLAB_FIELD().
	 */
	ss = ss_base(ptr);
	off = slab_off((const void *)rel);
	/*
	 * The bin of the slab's class in this thread. Its tag names this
	 * thread's heap: one test says that the slab is this thread's and
	 * that ptr is one of its block starts (SLAB_OWNER_BLOCK_START(),
	 * slab_owner_block_start()'s, with each field read through
	 * SLAB_AT()).
	 * A slot without a slab has a bin's offset too (ss_slot_tpoff, or
	 * its last slab's) and SLAB_TAG_NONE, which matches no bin.
	 */
	b = tp_bin(SLAB_FIELD(ss, off, bin_tpoff));
	if (unlikely(!SLAB_OWNER_BLOCK_START(SLAB_AT(ss, off), ptr, b->tag))) {
		heap_free_nonlocal(ptr, SLAB_AT(ss, off));
		return;
	}
	if (ultrahot_free(SLAB_AT(ss, off), ptr))
		return;
	heap_free_local(SLAB_AT(ss, off), b, ptr);
}

/*
 * A pointer of the SuperSlab region (ss_outside_region(): two loads that
 * do not depend on ptr, no registry; rel is left as ptr's offset from the
 * region's base, whose slot bits are ptr's) goes on to its slot's
 * metadata; any
 * other (NULL, Large blocks, SuperSlabs mapped outside the region,
 * foreign pointers) to core_free_slow(), which asks the registry.
 */
static __fastpath_inline void hk_free(void *ptr)
{
	uintptr_t rel = (uintptr_t)ptr;

	if (unlikely(ss_outside_region(&rel))) {
		core_free_slow(ptr);
		return;
	}
	core_free_superslab(ptr, rel);
}

#endif /* _MM_CORE_H */
