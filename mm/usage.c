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

/* The boxes configured in, in size order: Small-Mid only with CONFIG_SMALLMID. */
#define USAGE_TINY	0
#define USAGE_SMALLMID	1
#define USAGE_MID	(USAGE_SMALLMID + IS_ENABLED(CONFIG_SMALLMID))
#define USAGE_LARGE	(USAGE_MID + 1)
#define NR_USAGE_BOXES	(USAGE_LARGE + 1)

BUILD_BUG_ON(NR_USAGE_BOXES > HK_USAGE_BOXES);
BUILD_BUG_ON(HK_NR_CLASSES > HK_USAGE_CLASSES);

static const char *const usage_names[NR_USAGE_BOXES] = {
	[USAGE_TINY] = "tiny",
	[USAGE_MID] = "mid",
	[USAGE_LARGE] = "large",
#ifdef CONFIG_SMALLMID
	[USAGE_SMALLMID] = "smallmid",
#endif
};

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

	if (cls >= HK_NR_CLASSES)
		return;
	uc[cls].used += used;
	uc[cls].capacity += capacity;
	uc[cls].slots += span;
}

static unsigned int usage_box_of(unsigned int cls)
{
	if (cls < TINY_NR_CLASSES)
		return USAGE_TINY;
	if (cls < MID_FIRST_CLASS)
		return USAGE_SMALLMID;
	return USAGE_MID;
}

void hk_usage(struct hk_usage *u)
{
	struct usage_class uc[HK_NR_CLASSES];
	unsigned long cached[HK_NR_CLASSES];
	struct ss_usage ss;
	struct large_usage lu;
	struct hk_box_usage *b;
	unsigned int cls, i;

	memset(u, 0, sizeof(*u));
	memset(uc, 0, sizeof(uc));
	memset(cached, 0, sizeof(cached));
	memset(&ss, 0, sizeof(ss));
	if (heap_init())
		return;

	/* Caches first: a block moving from a cache to the program meanwhile is in use either way. */
	heap_cached_blocks(cached);
	ss_usage(&ss_pool_main, &ss, usage_slab, uc);
#ifdef CONFIG_SMALLMID
	ss_usage(&ss_pool_smallmid, &ss, usage_slab, uc);
#endif
	large_usage(&lu);

	u->nr_boxes = NR_USAGE_BOXES;
	for (i = 0; i < NR_USAGE_BOXES; i++)
		u->box[i].name = usage_names[i];
	u->nr_classes = HK_NR_CLASSES;
	for (cls = 0; cls < HK_NR_CLASSES; cls++) {
		unsigned long size = hk_classes[cls].size;
		unsigned long held = cached[cls] < uc[cls].used ? cached[cls] : uc[cls].used;

		b = &u->box[usage_box_of(cls)];
		b->nr_in_use += uc[cls].used - held;
		b->in_use += (uc[cls].used - held) * size;
		b->nr_cached += held;
		b->cached += held * size;
		b->nr_free += uc[cls].capacity - uc[cls].used;
		b->free += (uc[cls].capacity - uc[cls].used) * size;
		b->system += uc[cls].slots * SLOT_SIZE;
		u->cls[cls].size = size;
		u->cls[cls].nr_free = uc[cls].capacity - uc[cls].used + held;
		u->cls[cls].box = usage_box_of(cls);
	}

	b = &u->box[USAGE_LARGE];
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
	for (i = 0; i < NR_USAGE_BOXES; i++)
		u->system += u->box[i].system;
}
