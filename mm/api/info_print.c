// SPDX-License-Identifier: MIT
/*
 * mm/api/info_print.c - malloc_stats and malloc_info (CONFIG_MALLOC_INFO,
 * mmap build): hk_usage() in glibc's text and XML. They print with stdio
 * (malloc_info writes to the caller's FILE); no allocator lock is held
 * meanwhile, so stdio may allocate.
 */
#include <stdio.h>
#include "api.h"

/*
 * glibc's text on stderr: one "Arena N:" per box whose blocks live in
 * shared memory (the slab boxes, or the embedded arena), in the order of
 * Documentation/mallinfo.md, then the totals with the Large box's blocks
 * as glibc's mmapped chunks.
 */
__export void hak_malloc_stats(void)
{
	struct hk_box_usage t;
	struct hk_usage u;
	unsigned int i, n = 0;

	hk_usage(&u);
	info_totals(&u, &t);
	for (i = 0; i < u.nr_boxes; i++) {
		if (u.box[i].mapped)
			continue;
		fprintf(stderr, "Arena %u:\n", n++);
		fprintf(stderr, "system bytes     = %10lu\n", u.box[i].system);
		fprintf(stderr, "in use bytes     = %10lu\n", u.box[i].in_use);
	}
	fprintf(stderr, "Total (incl. mmap):\n");
	fprintf(stderr, "system bytes     = %10lu\n", u.system);
	fprintf(stderr, "in use bytes     = %10lu\n", t.in_use);
	fprintf(stderr, "max mmap regions = %10lu\n", u.max_mmap_nr);
	fprintf(stderr, "max mmap bytes   = %10lu\n", u.max_mmap_bytes);
}
HK_EXPORT_AS(malloc_stats, hak_malloc_stats);

/* One <heap> per shared-memory box: its free blocks by class. */
static void info_heap(FILE *fp, const struct hk_usage *u, const struct hk_box_usage *b,
		      unsigned int nr)
{
	unsigned long prev = 0;
	unsigned int c;

	fprintf(fp, "<heap nr=\"%u\" name=\"%s\">\n<sizes>\n", nr, b->name);
	for (c = 0; c < u->nr_classes; c++) {
		const struct hk_class_usage *cu = &u->cls[c];

		if (cu->box == b - u->box && cu->nr_free)
			fprintf(fp, "  <size from=\"%lu\" to=\"%lu\" total=\"%lu\" count=\"%lu\"/>\n",
				prev + 1, cu->size, cu->nr_free * cu->size, cu->nr_free);
		prev = cu->size;
	}
	fprintf(fp, "</sizes>\n");
	fprintf(fp, "<total type=\"fast\" count=\"%lu\" size=\"%lu\"/>\n", b->nr_cached, b->cached);
	fprintf(fp, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"/>\n", b->nr_free, b->free);
	fprintf(fp, "<total type=\"inuse\" count=\"%lu\" size=\"%lu\"/>\n", b->nr_in_use, b->in_use);
	fprintf(fp, "<system type=\"current\" size=\"%lu\"/>\n", b->system);
	fprintf(fp, "<system type=\"max\" size=\"%lu\"/>\n", b->system);
	fprintf(fp, "<aspace type=\"total\" size=\"%lu\"/>\n", b->system);
	fprintf(fp, "<aspace type=\"mprotect\" size=\"%lu\"/>\n", b->system);
	fprintf(fp, "</heap>\n");
}

/*
 * glibc's XML: <heap> elements for the slab boxes (the attribute name
 * and the "inuse" totals are hakmem's), then the totals, with the Large
 * box as type "mmap" and its cache in "rest". Options must be 0.
 */
__export int hak_malloc_info(int options, FILE *fp)
{
	struct hk_box_usage t;
	struct hk_usage u;
	unsigned int i, n = 0;

	if (options != 0 || !fp) {
		hk_set_errno(EINVAL);
		return -1;
	}
	hk_usage(&u);
	info_totals(&u, &t);
	fprintf(fp, "<malloc version=\"1\">\n");
	for (i = 0; i < u.nr_boxes; i++)
		if (!u.box[i].mapped)
			info_heap(fp, &u, &u.box[i], n++);
	fprintf(fp, "<total type=\"fast\" count=\"%lu\" size=\"%lu\"/>\n", t.nr_cached, t.cached);
	fprintf(fp, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"/>\n", t.nr_free,
		t.free + u.idle);
	fprintf(fp, "<total type=\"mmap\" count=\"%lu\" size=\"%lu\"/>\n", u.mmap_nr,
		u.mmap_bytes);
	fprintf(fp, "<total type=\"inuse\" count=\"%lu\" size=\"%lu\"/>\n", t.nr_in_use,
		t.in_use);
	fprintf(fp, "<system type=\"current\" size=\"%lu\"/>\n", u.system);
	fprintf(fp, "<system type=\"max\" size=\"%lu\"/>\n", u.system);
	fprintf(fp, "<aspace type=\"total\" size=\"%lu\"/>\n", u.system + u.reserved);
	fprintf(fp, "<aspace type=\"mprotect\" size=\"%lu\"/>\n", u.system);
	fprintf(fp, "</malloc>\n");
	return 0;
}
HK_EXPORT_AS(malloc_info, hak_malloc_info);
