// SPDX-License-Identifier: MIT
/*
 * mm/heap/classes.c - the size-class table and the size-to-class maps.
 *
 * Each slab box registered with HK_BOX() (mm/box.h) describes its own
 * classes; this file lays them end to end, in link order (the boxes' size
 * order), and builds the two lookup tables that size_to_class() reads:
 * 16-byte steps up to 1 KiB, 256-byte steps above. It names no box.
 */
#include <hakmem/print.h>
#include "options/options.h"
#include "box.h"
#include "heap.h"

struct size_class hk_classes[HK_CLASS_ARRAY];
size_t heap_cache_budget;
size_t heap_cache_max;
uint8_t hk_class_small[(SMALL_LOOKUP_MAX >> SMALL_LOOKUP_SHIFT) + 1];
/* One more entry than used, so that it never has length 0. */
uint16_t hk_bin_coarse[(HEAP_MAX_SIZE >> COARSE_LOOKUP_SHIFT) + 1];
uint8_t hk_align_class[HEAP_ALIGN_SHIFTS][HK_CLASS_ARRAY];

BUILD_BUG_ON(HK_NR_CLASSES > 255);
BUILD_BUG_ON(HK_CLASS_ARRAY * sizeof(struct bin) > UINT16_MAX);
/* Finer first classes are looked up in hk_class_small[]. */
BUILD_BUG_ON(HEAP_FIRST_NR_CLASSES && HEAP_FIRST_MAX_SIZE > SMALL_LOOKUP_MAX);

/*
 * CONFIG_HEAP_STRIDE_PAD: the blocks of a class above HEAP_STRIDE_MIN_SIZE
 * (8 KiB, heap.h) whose size is a multiple of 256 (a multiple of four
 * lines: the same offset of every block in a quarter of the cache sets or
 * fewer; Mid's 10-28 KiB classes are multiples of 2 KiB, and those of 12,
 * 20, 24 and 28 KiB start every block on L1 set 0) lie HEAP_STRIDE_PAD
 * bytes more apart, an odd number of lines, if its slabs hold 8 blocks
 * or more that way and have no colours (mm/mid's big classes place
 * theirs). Within a slab the blocks then reach as many sets as it holds
 * blocks; so that the slabs of a class do not all start on the same set,
 * the lines left at the end of the slab become its colours
 * (slab_colour(), at most HEAP_STRIDE_COLOURS: one per set). A class is
 * padded only if its slab holds as many blocks that way (the padding
 * takes the slab's unused tail); every such class of the default
 * configuration is. A slab whose blocks are all written may reach one
 * or two pages further (of 64).
 *
 * Classes of 8 KiB and less are not padded (from 1 KiB they were, with
 * the option off by default, until branch mid): their blocks start on 2
 * to 16 L1 sets already, and the padding cost memory there (which a
 * loop of 1 KiB blocks repaid in time, random_mixed 1024-8192 not): a
 * 1 KiB slab holds 60 blocks instead of 64, and a 64
 * KiB slab of 5 KiB blocks (sqlite's page cache) reaches into a 16th
 * page; and memalign() of 128 bytes or more for 1-8 KiB would skip to a
 * power of two. The powers of two keep their stride: a
 * padded block is aligned to 64 bytes only, and heap_align_class() looks
 * for the next class whose stride is a multiple of the alignment, so
 * that posix_memalign(4096, 16384) and the like (page-aligned buffers)
 * find the 16 or 32 KiB class rather than the Large box, a mapping
 * per block. A block aligned to 4 KiB starts on L1 set 0 whatever the
 * allocator (an L1 of 64 sets of 64 bytes is indexed by address bits
 * 6-11).
 */
#define HEAP_STRIDE_PAD		64
#define HEAP_STRIDE_COLOURS	64

static void class_pad(struct size_class *c)
{
	size_t bytes = (size_t)c->span << SLOT_SHIFT, stride = c->size + HEAP_STRIDE_PAD, tail;

	if (!IS_ENABLED(CONFIG_HEAP_STRIDE_PAD) || c->size <= HEAP_STRIDE_MIN_SIZE ||
	    c->size % 256 || !(c->size & (c->size - 1)) ||
	    c->colours > 1 || bytes / stride < 8 || bytes / stride < bytes / c->size)
		return;
	c->pad = HEAP_STRIDE_PAD >> 4;
	tail = (bytes - bytes / stride * stride) / HEAP_COLOUR_STEP;
	c->colours = (uint16_t)(tail + 1 > HEAP_STRIDE_COLOURS ? HEAP_STRIDE_COLOURS : tail + 1);
}

static unsigned int class_first_fit(size_t size)
{
	unsigned int i;

	for (i = 0; i < heap_nr_classes(); i++)
		if (hk_classes[i].size >= size)
			return i;
	hk_fatal("no size class for %zu bytes", size);
}

/* Lay the registered boxes' classes end to end; checks what they gave. */
static unsigned int classes_from_boxes(void)
{
	const struct hk_box *b;
	unsigned int n = 0, i;

	for_each_box(b) {
		if (!b->nr_classes)
			continue;
		if (n + b->nr_classes > HK_NR_CLASSES)
			hk_fatal("box %s: more classes than the configuration has", b->name);
		b->classes_init(&hk_classes[n]);
		for (i = n; i < n + b->nr_classes; i++) {
			hk_classes[i].pool = b->pool ? b->pool : &ss_pool_main;
			hk_classes[i].stat_idx = (uint8_t)b->stat_alloc;
			/* 16-byte alignment; and hk_class_small[] has 16-byte steps. */
			if (hk_classes[i].size % 16)
				hk_fatal("box %s: class %u (%u B) not a multiple of 16 B",
					 b->name, i, hk_classes[i].size);
			/* Link order is size order: each class above the last. */
			if (i && hk_classes[i].size <= hk_classes[i - 1].size)
				hk_fatal("box %s: class %u (%u B) not above the one before",
					 b->name, i, hk_classes[i].size);
		}
		n += b->nr_classes;
	}
	return n;
}

/*
 * The blocks of size bytes a remote batch holds at most with
 * CONFIG_HEAP_RBATCH_BYTES: that many bytes, at least one block, at most
 * HEAP_RBATCH_MAX (heap.c, "Remote batches").
 */
static unsigned int class_rbatch(unsigned int size)
{
	unsigned int n = CONFIG_HEAP_RBATCH_BYTES / size;

	if (n > HEAP_RBATCH_MAX)
		return HEAP_RBATCH_MAX;
	return n ? n : 1;
}

/*
 * The class that serves a request of class cls (or less) aligned to
 * align (a power of two, above HK_MIN_ALIGN, at most SLOT_SIZE, where
 * slabs start), or HK_NR_CLASSES if none does. Every block of a class
 * whose stride (its size, or more: CONFIG_HEAP_STRIDE_PAD) is a
 * multiple of align is aligned, unless its first block is not: a class
 * kept off page boundaries (class_off_page(): above 1 KiB, not a power
 * of two) starts it HEAP_COLOUR_STEP bytes in, and the next class whose
 * stride is a multiple of align serves more (a power of two, at most
 * twice the size); a coloured class (mm/mid) starts it at a multiple of
 * HEAP_COLOUR_STEP, and then Large serves more, rather than a class
 * several times the size.
 */
static unsigned int heap_align_class(unsigned int cls, size_t align)
{
	unsigned int nr = heap_nr_classes();

	while (cls < nr && (class_stride(&hk_classes[cls]) % align ||
			    (align > HEAP_COLOUR_STEP && class_off_page(&hk_classes[cls]))))
		cls++;
	if (cls < nr && (hk_classes[cls].colours <= 1 || align <= HEAP_COLOUR_STEP))
		return cls;
	return nr;
}

void heap_classes_init(void)
{
	unsigned long pct = hk_opt(OPT_TCACHE_PCT), limit;
	unsigned int n, i, k, coarse_end = HEAP_MAX_SIZE >> COARSE_LOOKUP_SHIFT;

	n = classes_from_boxes();
	if (n != HK_NR_CLASSES || (HK_NR_CLASSES && hk_classes[n - 1].size != HEAP_MAX_SIZE))
		hk_fatal("the registered boxes give %u classes, the configuration %u",
			 n, (unsigned int)HK_NR_CLASSES);

	/* tcache_pct= scales the growth budget as it scales the limits. */
	heap_cache_budget = ((size_t)CONFIG_HEAP_CACHE_GROW_KB << 10) * pct / 100;
	/* And the bound on what a thread's bins hold (heap_cache_check()). */
	heap_cache_max = ((size_t)CONFIG_HEAP_CACHE_MAX_KB << 10) * pct / 100;
	if (!heap_cache_max)
		heap_cache_max = SIZE_MAX;
	for (i = 0; i < heap_nr_classes(); i++) {
		struct size_class *c = &hk_classes[i];

		HK_ASSERT(c->size % 16 == 0);
		HK_ASSERT(c->size <= SMALL_LOOKUP_MAX || c->size % (1 << COARSE_LOOKUP_SHIFT) == 0);
		/* The block-start test is exact for sizes below 2^31 (heap.h). */
		HK_ASSERT(c->size < (1U << 31));
		class_pad(c);
		/* Room before the first block (class_off_page(): the tail past the last one). */
		HK_ASSERT(!class_off_page(c) ||
			  (((size_t)c->span << SLOT_SHIFT) % class_stride(c)) >= HEAP_COLOUR_STEP);
		c->start_mul = slab_start_mul(class_stride(c));
		/* A remote batch: CONFIG_HEAP_RBATCH_BYTES of blocks, 1 to HEAP_RBATCH_MAX. */
		if (CONFIG_HEAP_RBATCH_BYTES)
			c->rbatch = (uint8_t)class_rbatch(c->size);
		/*
		 * A bin holds about 128 KiB: 8 to 128 blocks (up to 256 KiB
		 * for the classes up to 32 KiB), at least two refills' worth. Fewer
		 * blocks make a program that frees and allocates one class in
		 * runs bounce between bin and slab.
		 */
		c->limit = (uint16_t)(131072 / c->size);
		if (c->limit < 8)
			c->limit = 8;
		if (c->limit > 128)
			c->limit = 128;
		/*
		 * Classes above 32 KiB: at most HEAP_BIN_BYTES of blocks (two
		 * refills at least, below), so that a thread's bins of big
		 * blocks hold a few hundred KiB each, not MiBs.
		 */
		if ((size_t)c->limit * c->size > HEAP_BIN_BYTES)
			c->limit = (uint16_t)(HEAP_BIN_BYTES / c->size);
		/* tcache_pct=: the thread caches scaled (10% to 1000%). */
		limit = (unsigned long)c->limit * pct / 100;
		if (limit > 65535)
			limit = 65535;
		c->limit = (uint16_t)limit;
		if (c->limit < 2 * c->batch)
			c->limit = (uint16_t)(2 * c->batch);
		/*
		 * A bin that keeps overflowing grows (heap_bin_flush()) up to
		 * HEAP_BIN_MAX_BYTES of blocks, HEAP_BIN_MAX_BLOCKS at most: a program that
		 * frees batches of a class and allocates them again then keeps
		 * them in the bin instead of sending them to their slabs and
		 * fetching them back every time.
		 */
		limit = HEAP_BIN_MAX_BYTES / c->size;
		if (limit > HEAP_BIN_MAX_BLOCKS)
			limit = HEAP_BIN_MAX_BLOCKS;
		limit = limit * pct / 100;
		c->limit_max = (uint16_t)(limit > 65535 ? 65535 : limit);
		if (c->limit_max < c->limit)
			c->limit_max = c->limit;
	}
	if (!HK_NR_CLASSES)
		return;
	for (i = 0; i < ARRAY_SIZE(hk_class_small); i++)
		hk_class_small[i] = (uint8_t)class_first_fit(i ? (size_t)i << SMALL_LOOKUP_SHIFT : 1);
	for (i = SMALL_LOOKUP_MAX >> COARSE_LOOKUP_SHIFT; i < coarse_end; i++)
		hk_bin_coarse[i] = (uint16_t)(class_first_fit(((size_t)i + 1) << COARSE_LOOKUP_SHIFT) *
					      sizeof(struct bin));
	for (k = 0; k < HEAP_ALIGN_SHIFTS; k++)
		for (i = 0; i < heap_nr_classes(); i++) {
			n = heap_align_class(i, 1UL << (HEAP_ALIGN_MIN_SHIFT + k));
			hk_align_class[k][i] = n < heap_nr_classes() ? (uint8_t)(n + 1) : 0;
		}
	if (IS_ENABLED(CONFIG_DEBUG_ASSERT))
		heap_boxes_check();
}

void heap_boxes_check(void)
{
	const struct hk_box *b;

	for_each_box(b)
		if (b->check)
			b->check();
}
