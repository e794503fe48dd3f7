// SPDX-License-Identifier: MIT
/*
 * mm/usage.c - what the mmap build holds, box by box, for mallinfo(),
 * malloc_stats() and malloc_info() (CONFIG_MALLOC_INFO).
 *
 * Nothing is counted on the fast paths. The slab boxes are measured from
 * the accounting the slabs keep anyway (blocks used per slab, walked over
 * every SuperSlab) minus the blocks the thread caches hold (each bin
 * knows its length); the Large box counts its live blocks where it maps
 * and frees them. See Documentation/mallinfo.md for the precision.
 */
#include <string.h>
#include <hakmem/alloc.h>
#include "large/large.h"
#include "os/os.h"
#include "box.h"

/*
 * The boxes reported, in size order: the slab boxes registered with
 * classes (HK_BOX(), in link order, which is their size order), then
 * Large, which every configuration has.
 */
BUILD_BUG_ON(HK_NR_SLAB_BOXES + 1 > HK_USAGE_BOXES);
BUILD_BUG_ON(HK_NR_CLASSES > HK_USAGE_CLASSES);

/* The slabs of one class, summed over the pools. */
struct usage_class {
	unsigned long used;		/* blocks used (thread caches included) */
	unsigned long capacity;		/* blocks the slabs hold */
	unsigned long slots;		/* slots the slabs cover */
};

static void usage_slab(void *arg, unsigned int cls, unsigned long used,
		       unsigned long capacity, unsigned int span)
{
	struct usage_class *uc = arg;

	if (cls >= heap_nr_classes())
		return;
	uc[cls].used += used;
	uc[cls].capacity += capacity;
	uc[cls].slots += span;
}

/*
 * Name the slab boxes in u->box[] and map each class to its box there;
 * returns how many there are (Large comes next).
 */
static unsigned int usage_slab_boxes(struct hk_usage *u, unsigned int *box_of)
{
	const struct hk_box *bx;
	unsigned int nr = 0, first = 0, cls;

	for_each_box(bx) {
		if (!bx->nr_classes)
			continue;
		u->box[nr].name = bx->id;
		for (cls = first; cls < first + bx->nr_classes; cls++)
			box_of[cls] = nr;
		first += bx->nr_classes;
		nr++;
	}
	return nr;
}

void hk_usage(struct hk_usage *u)
{
	struct usage_class uc[HK_CLASS_ARRAY];
	unsigned long cached[HK_CLASS_ARRAY];
	unsigned int box_of[HK_CLASS_ARRAY];
	const struct hk_box *bx;
	struct ss_pool *pool;
	struct ss_usage ss;
	struct large_usage lu;
	struct hk_box_usage *b;
	unsigned int cls, i, large;

	memset(u, 0, sizeof(*u));
	memset(uc, 0, sizeof(uc));
	memset(cached, 0, sizeof(cached));
	memset(&ss, 0, sizeof(ss));
	if (heap_init())
		return;

	/* Caches first: a block moving from a cache to the program meanwhile is in use either way. */
	heap_cached_blocks(cached);
	for_each_ss_pool(pool, bx)
		ss_usage(pool, &ss, usage_slab, uc);
	large_usage(&lu);

	large = usage_slab_boxes(u, box_of);
	u->box[large].name = "large";	/* the Large box is always there */
	u->nr_boxes = large + 1;
	u->nr_classes = heap_nr_classes();
	for (cls = 0; cls < heap_nr_classes(); cls++) {
		unsigned long size = hk_classes[cls].size;
		unsigned long held = cached[cls] < uc[cls].used ? cached[cls] : uc[cls].used;

		b = &u->box[box_of[cls]];
		b->nr_in_use += uc[cls].used - held;
		b->in_use += (uc[cls].used - held) * size;
		b->nr_cached += held;
		b->cached += held * size;
		b->nr_free += uc[cls].capacity - uc[cls].used;
		b->free += (uc[cls].capacity - uc[cls].used) * size;
		b->system += uc[cls].slots * SLOT_SIZE;
		u->cls[cls].size = size;
		u->cls[cls].nr_free = uc[cls].capacity - uc[cls].used + held;
		u->cls[cls].box = box_of[cls];
	}

	b = &u->box[large];
	b->mapped = 1;
	b->nr_in_use = lu.nr;
	b->in_use = lu.bytes;
	b->free = lu.cached;
	b->system = lu.map + lu.cached;

	u->idle = ss.empty_slots * SLOT_SIZE;
	u->overhead = ss.header_slots * ALIGN_UP(sizeof(struct superslab), os_page_size);
	u->releasable = u->idle + lu.cached;
	u->reserved = lu.reserved + ss.unused_slots * SLOT_SIZE;
	u->mmap_nr = lu.nr;
	u->mmap_bytes = lu.map;
	u->max_mmap_nr = lu.max_nr;
	u->max_mmap_bytes = lu.max_map;
	u->system = u->idle + u->overhead;
	for (i = 0; i < u->nr_boxes; i++)
		u->system += u->box[i].system;
}
