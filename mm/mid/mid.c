// SPDX-License-Identifier: MIT
/*
 * mm/mid/mid.c - the Mid box (CONFIG_MID): from above Tiny (or
 * Small-Mid, or 16 B without either) up to CONFIG_MID_MAX_KB,
 * CONFIG_MID_CLASSES_PER_DOUBLING geometric classes per power of two.
 *
 * Fine classes are the point (the memo's Phase 16 lesson): a 1-8 KiB
 * request never takes a page or more for itself. Classes up to 8 KiB use
 * one 64 KiB slot per slab; larger ones up to 32 KiB four slots (256 KiB),
 * so that even the 32 KiB class has eight blocks per slab and wastes
 * nothing at the end. The big classes above 32 KiB all have slabs of the
 * same span, MID_BIG_SPAN slots. The number of classes per power of two
 * is MID_STEPS() of mid/mid.h.
 */
#include <hakmem/print.h>
#include "box.h"
#include "heap/heap.h"

/*
 * Slots of a big class's slab: the same for every class above 32 KiB, so
 * that the run of slots one of them gives back fits a slab of any other
 * (mixed spans left committed runs that no claim could use: they were
 * returned to the kernel and the next claim faulted fresh pages, about
 * 51,000 page faults in 600,000 operations of random_mixed 32-256 KiB
 * against 8,000 with one span). 15 slots (960 KiB): two slabs and a slot
 * to spare in a 2 MiB SuperSlab; 7 in a 1 MiB one.
 */
#define MID_BIG_SPAN		((SS_SLOTS - 1) / 2 < 15 ? (SS_SLOTS - 1) / 2 : 15)

/*
 * Colours of a big class's slab: offsets 64 B apart. 128 cover every line
 * of the 8 KiB that the big classes' sizes are multiples of; 1024 (64
 * KiB, a slot) also every page of a slot, so that the first blocks of
 * slabs, which start on slot boundaries, fall on every set of a
 * set-associative TLB (indexed by the page number's low bits) and not
 * on the few that a 64 KiB multiple reaches.
 */
#define MID_BIG_COLOURS		1024U

/* The largest class must fit a slab of at most half a SuperSlab. */
BUILD_BUG_ON(MID_MAX_SIZE > ((SS_SLOTS / 2) << SLOT_SHIFT));
BUILD_BUG_ON(MID_MAX_SIZE > (1UL << MID_TOP_SHIFT));

/*
 * Batch and span of a class above 32 KiB: MID_BIG_SPAN slots, or the few
 * more that one block of a class larger than that needs (1 MiB: 16 slots).
 * The slots beyond the last whole block are never touched (address space
 * only). A refill moves 128 KiB of blocks (one at least); the bin bound
 * in bytes (heap_classes_init()) keeps a thread's cache of such blocks
 * small.
 */
static void mid_big_class(struct size_class *c)
{
	uint32_t span = (c->size + SLOT_SIZE - 1) >> SLOT_SHIFT;
	uint32_t batch = 131072 / c->size;

	size_t bytes, tail, colours;

	c->span = (uint8_t)(span > MID_BIG_SPAN ? span : MID_BIG_SPAN);
	c->batch = (uint16_t)(batch < 1 ? 1 : batch);
	/*
	 * The tail after the last whole block: room for colours. A class
	 * whose tail is shorter than the colours want gives up one block
	 * for them if it has eight or more (at most an eighth of its
	 * address space, never touched).
	 */
	bytes = (size_t)c->span << SLOT_SHIFT;
	tail = bytes - bytes / c->size * c->size;
	if (tail / HEAP_COLOUR_STEP + 1 < MID_BIG_COLOURS && bytes / c->size >= 8)
		tail += c->size;
	/* Below one block: a colour of a whole block would be a block less. */
	colours = tail / HEAP_COLOUR_STEP + 1;
	if (colours > c->size / HEAP_COLOUR_STEP)
		colours = c->size / HEAP_COLOUR_STEP;
	c->colours = (uint16_t)(colours > MID_BIG_COLOURS ? MID_BIG_COLOURS : colours);
}

static void mid_classes_init(struct size_class *c)
{
	unsigned int n = 0, d, j;

	/* Without a box below, Mid starts with the 16-byte class. */
	if (MID_BASE_SHIFT == TINY_MIN_SHIFT)
		c[n++].size = 1u << TINY_MIN_SHIFT;
	for (d = MID_BASE_SHIFT; d < MID_TOP_SHIFT && (1ul << d) < MID_MAX_SIZE; d++) {
		unsigned int steps = MID_STEPS(d);	/* MID_PER_AT(d), or fewer below 128 B */
		uint32_t step = (1u << d) / steps;

		for (j = 1; j <= steps; j++) {
			uint32_t size = (1u << d) + j * step;

			/*
			 * Above SMALL_LOOKUP_MAX (1 KiB, or 2 KiB with more
			 * than four classes per power of two) every class is
			 * a multiple of 256 B.
			 */
			size = size > SMALL_LOOKUP_MAX ? ALIGN_UP(size, 256u) : ALIGN_UP(size, 16u);
			if (size >= MID_MAX_SIZE)
				break;
			c[n++].size = size;
		}
	}
	/* The last class is the maximum itself. */
	c[n++].size = (uint32_t)MID_MAX_SIZE;
	for (j = 0; j < n; j++) {
		uint32_t batch = 65536 / c[j].size;

		if (c[j].size > (1u << MID_SMALL_MAX_SHIFT)) {
			mid_big_class(&c[j]);
			continue;
		}
		c[j].batch = (uint16_t)(batch < 2 ? 2 : batch > 16 ? 16 : batch);
		c[j].span = c[j].size <= 8192 ? 1 : 4;
	}
	if (n != MID_NR_CLASSES)
		hk_fatal("mid: %u classes, expected %u", n, (unsigned int)MID_NR_CLASSES);
}

/* Mid's classes end the table at MID_MAX_SIZE, from the shared pool. */
static void mid_check(void)
{
	unsigned int i;

	for (i = MID_FIRST_CLASS; i < MID_FIRST_CLASS + MID_NR_CLASSES; i++)
		if (hk_classes[i].pool != &ss_pool_main || hk_classes[i].size > MID_MAX_SIZE ||
		    ((size_t)hk_classes[i].span << SLOT_SHIFT) < hk_classes[i].size ||
		    hk_classes[i].span > SS_SLOTS / 2)
			hk_fatal("mid: class %u misplaced", i);
}

HK_BOX(mid) = {
	.name		= "Mid",
	.id		= "mid",
	.nr_classes	= MID_NR_CLASSES,
	.classes_init	= mid_classes_init,
	.stat_alloc	= STAT_MID_ALLOC,
	.check		= mid_check,
};
