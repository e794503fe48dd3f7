// SPDX-License-Identifier: MIT
/*
 * Size classes and routing (mm/heap/classes.c, mm/tiny, mm/smallmid,
 * mm/mid): size_to_class() at every boundary, class sizes and alignment,
 * and the box a request lands in.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <pthread.h>
#include <stdlib.h>
#include <hakmem.h>
#include "heap/heap.h"

static void classes_setup(void)
{
	ck_assert_int_eq(heap_init(), 0);
}

/* With no slab box (only Large) there is no class to test. */
#if HK_NR_CLASSES
START_TEST(test_class_table_sorted)
{
	unsigned int i;

	classes_setup();
	for (i = 1; i < HK_NR_CLASSES; i++)
		ck_assert_uint_gt(hk_classes[i].size, hk_classes[i - 1].size);
	ck_assert_uint_eq(hk_classes[0].size, 16);
	ck_assert_uint_eq(hk_classes[HK_NR_CLASSES - 1].size, HEAP_MAX_SIZE);
}
END_TEST

START_TEST(test_every_size_fits_its_class)
{
	size_t size;

	classes_setup();
	/*
	 * Every size up to 33 KiB; above, where the table has one entry per
	 * 256 B, each multiple of 256 and its neighbours (all that differ).
	 */
	for (size = 0; size <= HEAP_MAX_SIZE; size += size < 33792 || size % 256 != 1 ? 1 : 254) {
		unsigned int c = size_to_class(size);

		ck_assert_uint_lt(c, HK_NR_CLASSES);
		/* Fits, and the class below would not. */
		ck_assert_uint_ge(hk_classes[c].size, size);
		if (c > 0)
			ck_assert_uint_lt(hk_classes[c - 1].size, size ? size : 1);
	}
}
END_TEST

START_TEST(test_class_alignment)
{
	unsigned int i;

	classes_setup();
	for (i = 0; i < HK_NR_CLASSES; i++) {
		uint32_t s = hk_classes[i].size;

		/* 16-byte alignment for every block, as glibc's. */
		ck_assert_uint_eq(s % 16, 0);
		ck_assert_uint_ge(hk_classes[i].limit, 2 * hk_classes[i].batch);
		ck_assert_uint_ge(hk_classes[i].batch, 1);
	}
}
END_TEST

#ifdef CONFIG_TINY
/* 2^d for the d with 2^d < size <= 2^(d+1) (size > 16). */
static size_t pow2_below(size_t size)
{
	size_t p = 16;

	while (2 * p < size)
		p *= 2;
	return p;
}

/*
 * The gap between a class above 16 B and the one below it, with
 * TINY_PER_DOUBLING classes per power of two: 2^d / k for a class in
 * 2^d + 1 .. 2^(d+1), but at least 16 B.
 */
static size_t tiny_gap(size_t size)
{
	size_t g = pow2_below(size) / TINY_PER_DOUBLING;

	return g < 16 ? 16 : g;
}

/*
 * size_to_class() of a size read from hk_classes[], with the fast paths'
 * precondition tested first (a size above HEAP_MAX_SIZE is no class's:
 * HK_CLASS_ARRAY, which no assertion below expects). Without the test
 * GCC saw a path where size_to_class() indexes hk_class_small[] past
 * its end (sizes above the table) and warned (-Warray-bounds) in
 * configurations with Tiny alone (randconfig KCONFIG_SEED=0x0b273d7c).
 */
static unsigned int class_of_table_size(size_t size)
{
	if (size > HEAP_MAX_SIZE)
		return HK_CLASS_ARRAY;
	return size_to_class(size);
}

/*
 * Tiny: C0 is 16 B, C1 32 B (UltraHot's), then classes spaced as the
 * configuration says, up to TINY_MAX_SIZE; every size maps to its class
 * at both ends of the class.
 */
START_TEST(test_tiny_boundaries)
{
	unsigned int i;

	classes_setup();
	ck_assert_uint_eq(hk_classes[0].size, 16);
	ck_assert_uint_eq(hk_classes[1].size, 32);
	ck_assert_uint_eq(hk_classes[TINY_NR_CLASSES - 1].size, TINY_MAX_SIZE);
	for (i = 0; i < TINY_NR_CLASSES; i++) {
		size_t s = hk_classes[i].size;

		if (i)
			ck_assert_uint_eq(s - hk_classes[i - 1].size, tiny_gap(s));
		ck_assert_uint_eq(class_of_table_size(s), i);
		if (s < HEAP_MAX_SIZE)
			ck_assert_uint_eq(class_of_table_size(s + 1), i + 1);
		ck_assert_ptr_eq(hk_classes[i].pool, &ss_pool_main);
	}
	ck_assert_uint_eq(size_to_class(0), 0);
	ck_assert_uint_eq(size_to_class(1), 0);
	ck_assert_uint_eq(size_to_class(16), 0);
	ck_assert_uint_eq(size_to_class(17), 1);
}
END_TEST

/*
 * What a Tiny request wastes inside its block is less than the gap to
 * the class below: less than half the block with powers of two, 20%
 * above 128 B with four classes per doubling, under 16 B below 128 B.
 * Through the API: the usable size of malloc(size).
 */
START_TEST(test_tiny_waste_bounded)
{
	size_t size;

	classes_setup();
	for (size = 17; size <= TINY_MAX_SIZE; size++) {
		void *p = hak_malloc(size);
		size_t n = hak_malloc_usable_size(p);

		ck_assert_msg(n >= size && n < size + tiny_gap(size),
			      "malloc(%zu): %zu usable bytes (%d classes per doubling)",
			      size, n, TINY_PER_DOUBLING);
		hak_free(p);
	}
}
END_TEST

/*
 * malloc's own lookup (hk_tiny_bin[], one entry per request size, or the
 * bit scan with power-of-two classes) at every size up to Tiny's largest
 * and just past it (the first sizes of the next box's table): the block
 * is of the class size_to_class() names, the smallest that fits.
 */
START_TEST(test_malloc_class_every_tiny_size)
{
	size_t size;

	classes_setup();
	for (size = 0; size <= TINY_MAX_SIZE + 32 && size <= HEAP_MAX_SIZE; size++) {
		void *p = hak_malloc(size);
		size_t n = hak_malloc_usable_size(p);

		ck_assert_msg(n == hk_classes[size_to_class(size)].size,
			      "malloc(%zu): %zu usable bytes, class %u is %u B", size, n,
			      size_to_class(size), hk_classes[size_to_class(size)].size);
		hak_free(p);
	}
}
END_TEST
#endif /* CONFIG_TINY */

#ifdef CONFIG_SMALLMID
START_TEST(test_smallmid_band)
{
	classes_setup();
	ck_assert_uint_eq(TINY_MAX_SIZE, 256);
	ck_assert_uint_eq(size_to_class(257), SMALLMID_FIRST_CLASS);
	ck_assert_uint_eq(size_to_class(4096), MID_FIRST_CLASS - 1);
	ck_assert_ptr_eq(hk_classes[size_to_class(1000)].pool, &ss_pool_smallmid);
	if (MID_NR_CLASSES) {
		ck_assert_uint_eq(size_to_class(4097), MID_FIRST_CLASS);
		ck_assert_ptr_eq(hk_classes[size_to_class(5000)].pool, &ss_pool_main);
	}
}
END_TEST
#endif

/*
 * Mid: with k = CONFIG_MID_CLASSES_PER_DOUBLING classes per power of two
 * (at most MID_BIG_PER_DOUBLING_MAX above 32 KiB), a request gets at most
 * 1/k of its size extra (12.5% with 8, 25% with 4, 100% with power-of-two
 * classes), plus the rounding of the class: to 16 B up to
 * SMALL_LOOKUP_MAX (2 KiB with more than four classes per power of two),
 * to 256 B above. Consecutive classes of the doubling 2^d are 2^d / k
 * apart and every request is above 2^d. With k above 4, a class between
 * 1 and 2 KiB rounded up to 256 B would be up to 1/k + 256 B above the
 * request (1032 B: 1280 B, not 1152 B), or the same as the class before.
 */
#ifdef CONFIG_MID
START_TEST(test_mid_waste_bounded)
{
	size_t size;

	classes_setup();
	for (size = TINY_MAX_SIZE + 1; size <= HEAP_MAX_SIZE; size += 7) {
		unsigned int c = size_to_class(size);
		size_t k = size > 32768 ? MID_PER_AT(MID_SMALL_MAX_SHIFT) : MID_PER_DOUBLING;
		size_t round = hk_classes[c].size <= SMALL_LOOKUP_MAX ? 16 : 256;

		if (c < MID_FIRST_CLASS)
			continue;
		ck_assert_msg(hk_classes[c].size < size + size / k + round,
			      "size %zu -> class of %u (%d classes per doubling)", size,
			      hk_classes[c].size, CONFIG_MID_CLASSES_PER_DOUBLING);
	}
}
END_TEST
#endif

#ifdef CONFIG_MID
/*
 * Mid serves up to CONFIG_MID_MAX_KB: every request from 32 KiB to that
 * maximum is a slab block (no mapping of its own), one byte more a Large
 * block. The classes above 32 KiB share one span (a run of slots that one
 * gives back fits any other), larger only for a class that needs more
 * slots for one block, and at most half a SuperSlab; their bins start at
 * HEAP_BIN_BYTES of blocks at most (two refills at least), so that a
 * thread's cache of big blocks stays small.
 */
START_TEST(test_mid_big_classes)
{
	size_t max = (size_t)CONFIG_MID_MAX_KB << 10, n;
	unsigned int i, big = 0, span = 0;
	char *p;

	classes_setup();
	ck_assert_uint_eq(HEAP_MAX_SIZE, max);
	for (n = 32768; n <= max; n = n < max && n + n / 5 + 4093 > max ? max : n + n / 5 + 4093) {
		p = hak_malloc(n);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_ge(hak_malloc_usable_size(p), n);
		p[0] = 1;
		p[n - 1] = 2;
		ck_assert_msg(registry_lookup((uintptr_t)p) == REG_SUPERSLAB,
			      "%zu B (Mid up to %zu) is not a slab block", n, max);
		hak_free(p);
		if (n == max)
			break;
	}
	p = hak_malloc(max + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(registry_lookup((uintptr_t)p), REG_LARGE);
	hak_free(p);

	for (i = MID_FIRST_CLASS; i < HK_NR_CLASSES; i++) {
		const struct size_class *c = &hk_classes[i];
		size_t bytes = (size_t)c->span << SLOT_SHIFT;

		if (c->size <= 32768)
			continue;
		if (!big++)
			span = c->span;
		ck_assert_uint_le(c->span, SS_SLOTS / 2);
		ck_assert_uint_ge(bytes / c->size, 1);
		ck_assert_msg(c->span == span || (c->span > span && bytes - c->size < SLOT_SIZE),
			      "class %u B: span %u, the first big class's %u", c->size, c->span, span);
		ck_assert_msg(c->limit == 2 * c->batch || (size_t)c->limit * c->size <= HEAP_BIN_BYTES,
			      "class %u B: bin of %u blocks", c->size, c->limit);
	}
	ck_assert_uint_eq(big > 0, max > 32768);
}
END_TEST
#endif

#ifdef CONFIG_MID
/*
 * A block that realloc grows past 32 KiB by a big step (an eighth of it
 * or more) goes to the Large box even where Mid would serve malloc() of
 * that size (HEAP_REALLOC_MAX, mm/boxes.h): a buffer grown once by a big
 * step grows again, and Large grows it in place where a
 * big Mid class would be copied at every class (bench_realloc: 0.62x the
 * Large-only build without this, 1.02x with it). Shrunk to 32 KiB or less,
 * it goes back to a slab class.
 */
START_TEST(test_realloc_growth_goes_large)
{
	char *p = hak_malloc(1000), *q;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 1000; i++)
		p[i] = (char)i;
	q = hak_realloc(p, 40000);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ge(registry_lookup((uintptr_t)q), REG_LARGE);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(q[i], (char)i);
	q[39999] = 7;
	p = hak_realloc(q, 50000);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(registry_lookup((uintptr_t)p), REG_LARGE);
	ck_assert_int_eq(p[999], (char)999);
	ck_assert_int_eq(p[39999], 7);
	q = hak_realloc(p, 20000);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(registry_lookup((uintptr_t)q), REG_SUPERSLAB);
	ck_assert_int_eq(q[999], (char)999);
	hak_free(q);
	/* malloc of the same size stays a slab block when Mid serves it. */
	p = hak_malloc(40000);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(registry_lookup((uintptr_t)p) == REG_SUPERSLAB, HEAP_MAX_SIZE >= 40000);
	hak_free(p);
}
END_TEST
#endif

#ifdef CONFIG_MID
/*
 * A block grown by small steps (less than an eighth: appends) stays in a
 * slab class past HEAP_REALLOC_MAX, with a quarter of room at each move
 * (at most up to the next power of two), up to HEAP_REALLOC_STEP_MAX (hk_grown_large(), mm/core.h), and goes to
 * Large after it; a big step past HEAP_REALLOC_MAX goes to Large at once
 * (test_realloc_growth_goes_large). Without the small-step rule every
 * step past 32 KiB here went to Large.
 */
START_TEST(test_realloc_small_steps_stay_slab)
{
	size_t u, n = 20000, i, want, cap;
	unsigned char *p = hak_malloc(n), *q;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7);
	for (;;) {
		u = hak_malloc_usable_size(p);
		ck_assert_uint_ge(u, n);
		q = hak_realloc(p, u + 1);
		ck_assert_ptr_nonnull(q);
		for (i = 0; i < n; i += 997)
			ck_assert_uint_eq(q[i], (unsigned char)(i * 7));
		ck_assert_uint_eq(q[n - 1], (unsigned char)((n - 1) * 7));
		if (registry_lookup((uintptr_t)q) >= REG_LARGE) {
			/* Only once a quarter more is past the slab classes. */
			ck_assert_uint_gt(u + u / 4, HEAP_REALLOC_STEP_MAX);
			break;
		}
		ck_assert_uint_eq(registry_lookup((uintptr_t)q), REG_SUPERSLAB);
		/* A quarter more, but no more than the power of two above u + 1 (hk_grown_size()). */
		want = u + u / 4;
		cap = (size_t)2 << (63 - __builtin_clzl(u));
		if (want <= HEAP_REALLOC_STEP_MAX)
			ck_assert_uint_ge(hak_malloc_usable_size(q), want < cap ? want : cap);
		p = q;
	}
	hak_free(q);
}
END_TEST
#endif

/*
 * The block-start test (one multiply, one compare: slab_owner_block_start())
 * agrees with the remainder for every class at every byte offset of a
 * slab of the class and a size beyond it, and for every offset that wraps
 * from below the slab's start; the class-wide multiplier with the limit of
 * a slab as long as the 32-bit offsets tests divisibility alone. The
 * slab's base sits at the top of a 4 GiB window, so that the offsets
 * wrap in 32 bits as they do for the slabs at the end of a window. The
 * blocks lie class_stride() apart (the size, or more with
 * CONFIG_HEAP_STRIDE_PAD).
 */
START_TEST(test_block_start_check)
{
	unsigned int i;
	uint32_t off;

	classes_setup();
	for (i = 0; i < HK_NR_CLASSES; i++) {
		uint32_t size = class_stride(&hk_classes[i]);
		uint32_t span = (uint32_t)hk_classes[i].span << SLOT_SHIFT;
		uint32_t cap = span / size;
		uint32_t base = (uint32_t)(0x100000000ULL - 4 * (uint64_t)span);
		struct slab s = {
			.tbase = base,
			.start_mul = hk_classes[i].start_mul,
			.start_limit = slab_start_limit(size, cap),
		};

		ck_assert_uint_eq(hk_classes[i].start_mul, slab_start_mul(size));
		for (off = 0; off < span + 2 * size; off++)
			if (slab_owner_block_start(&s, (void *)(uintptr_t)(base + off), 0) !=
			    (off % size == 0 && off / size < cap))
				ck_abort_msg("class %u (%u B, %u blocks): offset %u misjudged",
					     i, size, cap, off);
		/* Below the base: never a block. */
		for (off = 1; off <= span; off++)
			if (slab_owner_block_start(&s, (void *)(uintptr_t)(base - off), 0))
				ck_abort_msg("class %u (%u B): %u bytes below the slab accepted",
					     i, size, off);
		/* Divisibility alone over the offsets of a whole 4 GiB window's start. */
		s.start_limit = slab_start_limit(size, UINT32_MAX / size + 1);
		s.tbase = 0;
		for (off = 0; off < 4 * span; off++)
			if (slab_owner_block_start(&s, (void *)(uintptr_t)off, 0) != (off % size == 0))
				ck_abort_msg("class %u (%u B): offset %u misjudged (no bound)", i, size, off);
	}
}
END_TEST

/*
 * The same test is the owner test: a slab whose tbase carries its owner's
 * tag accepts a pointer only with that tag. For every class, every other
 * tag a thread may have (the heaps', 0 for none) and every 16-byte offset
 * of a slab (block sizes are multiples of 16 B; any other offset is no
 * multiple of the size and never passes, checked byte by byte with the
 * first and last tags), nothing passes; with the owner's tag the block
 * starts do. Then the constants of any class with the limit of any other
 * (what a thread may read while a freed slot is claimed again): no
 * offset of SLAB_TAG_UNIT or more passes, and a free slot (SLAB_TAG_NONE,
 * as ss_map() and ss_release() leave it) is no thread's.
 */
START_TEST(test_block_start_owner_tag)
{
	const uint32_t owner = 5 << SLAB_TAG_SHIFT;
	unsigned int i, j, k;
	uint32_t off;

	classes_setup();
	ck_assert_uint_ge(SLAB_NR_TAGS, 8);
	for (i = 0; i < HK_NR_CLASSES; i++) {
		uint32_t size = class_stride(&hk_classes[i]);
		uint32_t span = (uint32_t)hk_classes[i].span << SLOT_SHIFT;
		uint32_t cap = span / size;
		uint32_t base = 0x40000000u + (uint32_t)SS_SIZE - span;
		struct slab s = {
			.tbase = base + owner,
			.start_mul = slab_start_mul(size),
			.start_limit = slab_start_limit(size, cap),
		};

		ck_assert_uint_lt((uint64_t)span, (uint64_t)SLAB_TAG_UNIT);
		for (off = 0; off < span; off += 16)
			if (slab_owner_block_start(&s, (void *)(uintptr_t)(base + off), owner) !=
			    (off % size == 0 && off / size < cap))
				ck_abort_msg("class %u: offset %u misjudged with the owner's tag", i, off);
		for (k = 0; k < SLAB_NR_TAGS; k++) {
			uint32_t tag = k << SLAB_TAG_SHIFT;
			uint32_t step = k == 1 || k == SLAB_NR_TAGS - 1 ? 1 : 16;

			if (tag == owner)
				continue;
			for (off = 0; off < span; off += step)
				if (slab_owner_block_start(&s, (void *)(uintptr_t)(base + off), tag))
					ck_abort_msg("class %u (%u B): offset %u passes with tag %u (owner 5)",
						     i, size, off, k);
		}
	}
	/* Constants of class i, limit of class j, any foreign tag: rejected. */
	for (i = 0; i < HK_NR_CLASSES; i++) {
		uint32_t size = class_stride(&hk_classes[i]);

		for (j = 0; j < HK_NR_CLASSES; j++) {
			uint32_t sz = class_stride(&hk_classes[j]);
			uint32_t cap = ((uint32_t)hk_classes[j].span << SLOT_SHIFT) / sz;
			struct slab s = {
				.tbase = 0x40000000u + SLAB_TAG_NONE,
				.start_mul = slab_start_mul(size),
				.start_limit = slab_start_limit(sz, cap),
			};

			for (k = 0; k < SLAB_NR_TAGS - 1; k += SLAB_NR_TAGS - 2)
				for (off = 0; off < SS_SIZE; off += size)
					if (slab_owner_block_start(&s, (void *)(uintptr_t)(0x40000000u + off),
								   k << SLAB_TAG_SHIFT))
						ck_abort_msg("constants of class %u, limit of class %u: offset %u of a free slot passes with tag %u",
							     i, j, off, k);
		}
	}
}
END_TEST

#ifdef CONFIG_HEAP_STRIDE_PAD
/*
 * CONFIG_HEAP_STRIDE_PAD pads no class of 8 KiB or less: a slab of 1 KiB
 * blocks holds a slot's worth of them (64 in a 64 KiB slot; 60 when 1 KiB
 * was padded), and aligned requests of 1-8 KiB with 128 B to 2 KiB
 * alignment get a block of their own class, not of a power of two, but
 * for a class kept off page boundaries (CONFIG_HEAP_OFF_PAGE: its blocks
 * are 64-byte aligned only), whose requests get the next class that
 * align divides and that is not kept off pages, at most twice its size.
 * Every padded class keeps as many blocks per slab as unpadded, and
 * aligned requests of a padded class's size are aligned.
 */
START_TEST(test_stride_pad_small_unpadded)
{
	static const size_t sizes[] = { 1024, 1280, 1536, 2048, 3072, 5120, 7168 };
	unsigned int i;
	size_t align;
	void *q;

	classes_setup();
	for (i = 0; i < HK_NR_CLASSES; i++) {
		const struct size_class *c = &hk_classes[i];
		size_t bytes = (size_t)c->span << SLOT_SHIFT;

		if (c->size <= HEAP_STRIDE_MIN_SIZE)
			ck_assert_msg(class_stride(c) == c->size, "class %u (%u B) padded", i, c->size);
		ck_assert_uint_eq(bytes / class_stride(c), bytes / c->size);
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int cls;

		if (sizes[i] > HEAP_MAX_SIZE)
			continue;
		cls = size_to_class(sizes[i]);
		for (align = 128; align <= 2048; align *= 2) {
			unsigned int serve = cls;

			if (hk_classes[cls].size % align)
				continue;
			while (class_off_page(&hk_classes[serve]) || hk_classes[serve].size % align)
				serve++;
			ck_assert_uint_lt(serve, HK_NR_CLASSES);
			ck_assert_uint_le(hk_classes[serve].size, 2 * hk_classes[cls].size);
			ck_assert_int_eq(hak_posix_memalign(&q, align, sizes[i]), 0);
			ck_assert_uint_eq((uintptr_t)q % align, 0);
			ck_assert_msg(hak_malloc_usable_size(q) == hk_classes[serve].size,
				      "posix_memalign(%zu, %zu): %zu usable bytes, class %u B", align,
				      sizes[i], hak_malloc_usable_size(q), hk_classes[serve].size);
			hak_free(q);
		}
	}
	/* A padded class (12 KiB by default): aligned requests stay aligned. */
	if (HEAP_MAX_SIZE >= 12288) {
		for (align = 16; align <= 4096; align *= 2) {
			ck_assert_int_eq(hak_posix_memalign(&q, align, 12288), 0);
			ck_assert_uint_eq((uintptr_t)q % align, 0);
			ck_assert_uint_ge(hak_malloc_usable_size(q), 12288);
			hak_free(q);
		}
	}
}
END_TEST

/*
 * CONFIG_HEAP_STRIDE_PAD, every padded class: 16 blocks of the class's
 * size allocated one after the other start on at least 8 of the 64 sets
 * of a 32 KiB, 8-way L1 (a class size apart, those of 10, 12, 14, 20,
 * 24 and 28 KiB start on one or two).
 */
START_TEST(test_stride_pad_spreads_every_class)
{
	unsigned int i, j, padded = 0;
	void *p[16];

	/*
	 * Only classes above 8 KiB are padded: none where the slab classes
	 * end at or below it (randconfig KCONFIG_SEED=0x75cc6d72 and
	 * 0x735a7379: Tiny in powers of two up to 256 B and no Mid, padded 0),
	 * nor with powers of two only above it.
	 */
	if (HEAP_MAX_SIZE <= HEAP_STRIDE_MIN_SIZE)
		return;
	classes_setup();
	for (i = 0; i < HK_NR_CLASSES; i++) {
		uint32_t size = hk_classes[i].size;
		uint64_t sets = 0;

		if (class_stride(&hk_classes[i]) == size)
			continue;
		padded++;
		for (j = 0; j < ARRAY_SIZE(p); j++) {
			p[j] = hak_malloc(size);
			ck_assert_ptr_nonnull(p[j]);
			ck_assert_uint_eq(slab_block_head(p[j])->class_idx, i);
			sets |= 1ULL << (((uintptr_t)p[j] >> 6) & 63);
		}
		ck_assert_msg(__builtin_popcountll(sets) >= 8, "16 blocks of %u B in %d L1 sets",
			      size, __builtin_popcountll(sets));
		for (j = 0; j < ARRAY_SIZE(p); j++)
			hak_free(p[j]);
	}
	/* Mid's 10-28 KiB classes (not the powers of two) are padded. */
	if (HEAP_MAX_SIZE >= 32768 && hk_classes[size_to_class(10240)].size == 10240) {
		ck_assert_uint_eq(class_stride(&hk_classes[size_to_class(10240)]), 10240 + 64);
		ck_assert_uint_gt(padded, 0);
	}
}
END_TEST

/*
 * CONFIG_HEAP_STRIDE_PAD leaves the powers of two from 4 KiB unpadded, so
 * that page-aligned requests of those sizes get a block of their class
 * from a slab, not a mapping of their own from the Large box.
 */
START_TEST(test_stride_pad_keeps_page_alignment)
{
	size_t size;
	void *p;

	classes_setup();
	for (size = 4096; size <= 32768 && size <= HEAP_MAX_SIZE; size *= 2) {
		unsigned int cls = size_to_class(size);

		if (hk_classes[cls].size != size)
			continue;
		ck_assert_uint_eq(class_stride(&hk_classes[cls]), size);
		ck_assert_int_eq(hak_posix_memalign(&p, 4096, size), 0);
		ck_assert_uint_eq((uintptr_t)p % 4096, 0);
		ck_assert_msg(registry_lookup((uintptr_t)p) == REG_SUPERSLAB,
			      "posix_memalign(4096, %zu) not served by a slab", size);
		ck_assert_uint_eq(slab_block_head(p)->class_idx, cls);
		hak_free(p);
		ck_assert_int_eq(hak_posix_memalign(&p, size, size), 0);
		ck_assert_uint_eq((uintptr_t)p % size, 0);
		ck_assert_uint_eq(registry_lookup((uintptr_t)p), REG_SUPERSLAB);
		hak_free(p);
	}
}
END_TEST
#endif

/*
 * The class posix_memalign() should take for size bytes at alignment
 * align (32 to SLOT_SIZE), or HK_NR_CLASSES for Large, stated apart from
 * hk_align_class[]: from the class of the size rounded up to align, the
 * first class whose stride is a multiple of align, passing over the
 * classes kept off page boundaries (their first block 64 bytes in) for
 * an alignment above 64; a coloured class found there (first blocks at
 * any multiple of 64) sends an alignment above 64 to Large.
 */
static unsigned int aligned_class_expected(size_t align, size_t size)
{
	size_t need = (size ? size : 1) + align - 1;
	unsigned int c;

	need -= need % align;
	if (need > HEAP_MAX_SIZE)
		return HK_NR_CLASSES;
	for (c = size_to_class(need); c < HK_NR_CLASSES; c++) {
		const struct size_class *k = &hk_classes[c];

		if (class_stride(k) % align)
			continue;
		if (align > HEAP_COLOUR_STEP && class_off_page(k))
			continue;
		return k->colours > 1 && align > HEAP_COLOUR_STEP ? HK_NR_CLASSES : c;
	}
	return HK_NR_CLASSES;
}

/* One posix_memalign(align, size) into *q, checked against class want. */
static void aligned_one(void **q, size_t align, size_t size, unsigned int want)
{
	*q = NULL;
	ck_assert_int_eq(hak_posix_memalign(q, align, size), 0);
	REQ_MSG((uintptr_t)*q % align == 0, "posix_memalign(%zu, %zu) = %p", align, size, *q);
	if (want == HK_NR_CLASSES) {
		REQ_MSG(registry_lookup((uintptr_t)*q) >= REG_LARGE,
			"posix_memalign(%zu, %zu): not Large", align, size);
		REQ_MSG(hak_malloc_usable_size(*q) >= size, "posix_memalign(%zu, %zu): %zu usable",
			align, size, hak_malloc_usable_size(*q));
	} else {
		REQ_MSG(registry_lookup((uintptr_t)*q) == REG_SUPERSLAB &&
			slab_block_head(*q)->class_idx == want,
			"posix_memalign(%zu, %zu): not of class %u (%u B)",
			align, size, want, hk_classes[want].size);
	}
}

/*
 * Every alignment from 32 bytes to SLOT_SIZE (hk_align_class[]'s range)
 * with the size of every class, one byte more and one byte less: each
 * block is aligned, holds the size, and comes from the expected class
 * (or from Large). Four blocks live at a time (the first block of a
 * slab is aligned to SLOT_SIZE whatever its class), twice: the second
 * round pops the blocks the first freed, through the inline path
 * (hk_alloc_aligned()); the first may refill. Run in the test's thread
 * and, with CONFIG_THREADS, in a new thread, whose bins are empty and
 * whose heap the first aligned request starts.
 */
static void aligned_every_class(void)
{
	unsigned int i, k, r, d, j;
	void *q[4];

	for (i = 0; i < HK_NR_CLASSES; i++) {
		for (k = 0; k < HEAP_ALIGN_SHIFTS; k++) {
			size_t align = (size_t)1 << (HEAP_ALIGN_MIN_SHIFT + k);

			for (d = 0; d < 3; d++) {
				size_t size = hk_classes[i].size + d - 1;
				unsigned int want = aligned_class_expected(align, size);

				for (r = 0; r < 2; r++) {
					for (j = 0; j < ARRAY_SIZE(q); j++)
						aligned_one(&q[j], align, size, want);
					for (j = 0; j < ARRAY_SIZE(q); j++)
						hak_free(q[j]);
				}
			}
		}
	}
}

#ifdef CONFIG_THREADS
static void *aligned_every_class_thread(void *arg)
{
	aligned_every_class();
	return arg;
}

static void aligned_every_class_in_thread(void)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, aligned_every_class_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}
#else
/*
 * Without CONFIG_THREADS the allocator is not thread-safe: a second
 * thread would race with this one's mallocs (Check's own, around
 * pthread_create()) on the one shared heap.
 */
static inline void aligned_every_class_in_thread(void)
{
}
#endif

START_TEST(test_aligned_every_class)
{
	classes_setup();
	aligned_every_class();
	aligned_every_class_in_thread();
}
END_TEST

/*
 * CONFIG_HEAP_OFF_PAGE: no block of a class above 1 KiB that is not a
 * power of two starts on a page boundary: the first two slabs' worth of
 * blocks of each such class start 64 bytes past a multiple of 128, and a
 * slab holds as many blocks as its span divided by the class size; a
 * request aligned to 64 bytes still gets a block of the class.
 * Without the option the 5 KiB class (Mid's default classes) starts one
 * block in four on a page: the test sees it, so that it fails when the
 * option does not do what it says.
 */
START_TEST(test_off_page_blocks)
{
	unsigned int i, j, n, nr, off = 0, candidates = 0;
	void *v[256];

	classes_setup();
	for (i = 0; i < HK_NR_CLASSES; i++) {
		const struct size_class *c = &hk_classes[i];
		size_t bytes = (size_t)c->span << SLOT_SHIFT;
		unsigned int paged = 0;

		if (c->size <= SMALL_LOOKUP_MAX || !(c->size & (c->size - 1)) || c->colours > 1)
			continue;
		/* (A slab of a power of two of slots: what such a class has by default.) */
		candidates += !(c->span & (c->span - 1));
		nr = (unsigned int)(2 * (bytes / class_stride(c)));
		if (nr > ARRAY_SIZE(v))
			nr = ARRAY_SIZE(v);
		for (n = 0; n < nr; n++) {
			v[n] = hak_malloc(c->size);
			ck_assert_ptr_nonnull(v[n]);
			/* A block lent by the next class (CONFIG_HEAP_LEND_SMALL) is not of this one. */
			if (hak_malloc_usable_size(v[n]) != c->size)
				continue;
			ck_assert_uint_eq(slab_block_head(v[n])->capacity, bytes / class_stride(c));
			paged += (uintptr_t)v[n] % 4096 == 0;
			if (class_off_page(c))
				ck_assert_msg((uintptr_t)v[n] % 128 == 64, "class %u B: block %p", c->size,
					      v[n]);
		}
		for (j = 0; j < n; j++)
			hak_free(v[j]);
		/* 64-byte alignment (a line) is what every such block has: the class serves it. */
		ck_assert_int_eq(hak_posix_memalign(&v[0], 64, c->size), 0);
		ck_assert_uint_eq((uintptr_t)v[0] % 64, 0);
		ck_assert_uint_eq(hak_malloc_usable_size(v[0]), c->size);
		hak_free(v[0]);
		if (class_off_page(c))
			off++;
		else if (c->size == 5120 && nr >= 8)
			ck_assert_uint_ge(paged, 1);
	}
	ck_assert_uint_eq(off, IS_ENABLED(CONFIG_HEAP_OFF_PAGE) ? candidates : 0);
}
END_TEST

#endif /* HK_NR_CLASSES */

/* Routing: a request lands in the box its size says. */
START_TEST(test_routing)
{
	static const size_t sizes[] = { 1, 8, 16, 100, 256, 257, 1024, 1025, 4096,
					4097, 32768, 32769, 100000, 1 << 20,
					HEAP_MAX_SIZE, HEAP_MAX_SIZE + 1, (size_t)2 << 20 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *p = hak_malloc(sizes[i]);
		unsigned int reg = registry_lookup((uintptr_t)p);

		ck_assert_ptr_nonnull(p);
		if (HK_NR_CLASSES && sizes[i] <= HEAP_MAX_SIZE) {
			ck_assert_uint_eq(reg, REG_SUPERSLAB);
			ck_assert_uint_eq(slab_block_head(p)->class_idx, size_to_class(sizes[i]));
		} else {
			ck_assert_uint_ge(reg, REG_LARGE);
		}
		hak_free(p);
	}
}
END_TEST

static Suite *classes_suite(void)
{
	Suite *s = suite_create("classes");
	TCase *tc = tcase_create("classes");

	/*
	 * The owner-tag test walks every class against every other's limit
	 * (0.5 s of CPU): Check's 4 s default expired on a machine at load 10.
	 */
	tcase_set_timeout(tc, 60);
#if HK_NR_CLASSES
	tcase_add_test(tc, test_class_table_sorted);
	tcase_add_test(tc, test_every_size_fits_its_class);
	tcase_add_test(tc, test_class_alignment);
#ifdef CONFIG_TINY
	tcase_add_test(tc, test_tiny_boundaries);
	tcase_add_test(tc, test_tiny_waste_bounded);
	tcase_add_test(tc, test_malloc_class_every_tiny_size);
#endif
#ifdef CONFIG_SMALLMID
	tcase_add_test(tc, test_smallmid_band);
#endif
#ifdef CONFIG_MID
	tcase_add_test(tc, test_mid_waste_bounded);
	tcase_add_test(tc, test_mid_big_classes);
	tcase_add_test(tc, test_realloc_growth_goes_large);
	tcase_add_test(tc, test_realloc_small_steps_stay_slab);
#endif
	tcase_add_test(tc, test_block_start_check);
	tcase_add_test(tc, test_block_start_owner_tag);
#ifdef CONFIG_HEAP_STRIDE_PAD
	tcase_add_test(tc, test_stride_pad_small_unpadded);
	tcase_add_test(tc, test_stride_pad_spreads_every_class);
	tcase_add_test(tc, test_stride_pad_keeps_page_alignment);
#endif
	tcase_add_test(tc, test_off_page_blocks);
	tcase_add_test(tc, test_aligned_every_class);
#endif
	tcase_add_test(tc, test_routing);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(classes_suite);

#endif /* CONFIG_BACKEND_MMAP */
