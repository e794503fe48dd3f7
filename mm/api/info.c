// SPDX-License-Identifier: MIT
/*
 * mm/api/info.c - glibc's introspection entry points with hakmem's
 * figures (CONFIG_MALLOC_INFO): mallinfo2 and mallinfo here, malloc_stats
 * and malloc_info, which need stdio, in info_print.c (mmap build only:
 * the arena build stays freestanding). The figures come from hk_usage();
 * these files only map them onto glibc's structures and formats.
 * Documentation/mallinfo.md says which figure is which.
 */
#include <limits.h>
#include <malloc.h>
#include "api.h"

/* The boxes added up. */
void info_totals(const struct hk_usage *u, struct hk_box_usage *t)
{
	unsigned int i;

	*t = (struct hk_box_usage){ .name = "total" };
	for (i = 0; i < u->nr_boxes; i++) {
		const struct hk_box_usage *b = &u->box[i];

		t->in_use += b->in_use;
		t->nr_in_use += b->nr_in_use;
		t->cached += b->cached;
		t->nr_cached += b->nr_cached;
		t->free += b->free;
		t->nr_free += b->nr_free;
	}
}

/*
 * arena = every byte held (uordblks + fordblks), uordblks = bytes of the
 * blocks the program holds, in every box (Large included: unlike glibc,
 * do not add hblkhd), fordblks = the rest: free blocks, thread caches,
 * idle slots, metadata. smblks/fsmblks: the thread caches (glibc's
 * fastbins). hblks/hblkhd: Large blocks and their mappings.
 * keepcost: what malloc_trim() would give back.
 */
__export struct mallinfo2 hak_mallinfo2(void)
{
	struct mallinfo2 mi = { 0 };
	struct hk_box_usage t;
	struct hk_usage u;

	hk_usage(&u);
	info_totals(&u, &t);
	mi.arena = u.system;
	mi.ordblks = t.nr_free + t.nr_cached;
	mi.smblks = t.nr_cached;
	mi.hblks = u.mmap_nr;
	mi.hblkhd = u.mmap_bytes;
	mi.usmblks = 0;
	mi.fsmblks = t.cached;
	mi.uordblks = t.in_use;
	mi.fordblks = u.system > t.in_use ? u.system - t.in_use : 0;
	mi.keepcost = u.releasable;
	return mi;
}
HK_EXPORT_AS(mallinfo2, hak_mallinfo2);

static int info_int(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

/* The same in int fields: figures above INT_MAX read as INT_MAX. */
__export struct mallinfo hak_mallinfo(void)
{
	struct mallinfo2 m2 = hak_mallinfo2();
	struct mallinfo mi;

	mi.arena = info_int(m2.arena);
	mi.ordblks = info_int(m2.ordblks);
	mi.smblks = info_int(m2.smblks);
	mi.hblks = info_int(m2.hblks);
	mi.hblkhd = info_int(m2.hblkhd);
	mi.usmblks = info_int(m2.usmblks);
	mi.fsmblks = info_int(m2.fsmblks);
	mi.uordblks = info_int(m2.uordblks);
	mi.fordblks = info_int(m2.fordblks);
	mi.keepcost = info_int(m2.keepcost);
	return mi;
}
HK_EXPORT_AS(mallinfo, hak_mallinfo);

