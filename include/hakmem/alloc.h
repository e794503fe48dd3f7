/* SPDX-License-Identifier: MIT */
/*
 * The interface between the malloc API front (mm/api/) and the allocator
 * behind it: the boxes of the mmap build (mm/core.c) or the arena of the
 * embedded build (mm/arena/). The front owns the C library semantics
 * (errno, overflow checks, alignment rules, realloc copies); the functions
 * below only allocate, free and measure.
 */
#ifndef _HAKMEM_ALLOC_H
#define _HAKMEM_ALLOC_H

#include <hakmem/compiler.h>

/* Minimum alignment of every block of more than 8 bytes. */
#define HK_MIN_ALIGN	16

/* Largest request we ever try: larger ones fail with ENOMEM at once. */
#define HK_MAX_REQUEST	(PTRDIFF_MAX - (1UL << 24))

#ifdef CONFIG_BACKEND_MMAP
/* The boxes' fast paths, inlined into the front. */
#include <core.h>

/* realloc: a block that stays where it is up to this size is a slab block. */
#define HK_REALLOC_SLAB_MAX	HEAP_REALLOC_MAX
#else
/* The arena has no slab blocks (and never answers HK_REALLOC_STAY). */
#define HK_REALLOC_SLAB_MAX	0UL

/*
 * Allocate size bytes (any size_t, 0 included), 16-aligned. On failure
 * sets errno to ENOMEM and returns NULL.
 */
void *hk_alloc(size_t size);

/* Free a block; NULL is not passed. Foreign pointers go to the guard. */
void hk_free(void *ptr);

/* realloc's new block of size bytes for one of old bytes. */
static inline void *hk_alloc_grown(size_t size, size_t old)
{
	return hk_alloc(size);
}

/*
 * Allocate size bytes aligned to align (a power of two above 16).
 * NULL if out of memory.
 */
void *hk_alloc_aligned(size_t align, size_t size);

/* realloc's first question (see core.h): the arena always answers no. */
static inline size_t hk_own_size(const void *ptr)
{
	return 0;
}
#endif

/*
 * size zero bytes (calloc, after its overflow check); NULL with errno
 * ENOMEM if out of memory. Memory known to be zero is not cleared again.
 */
void *hk_alloc_zeroed(size_t size);

/*
 * Usable size of a block we own; 0 for a pointer we do not own (which the
 * guard has then recorded).
 */
size_t hk_usable_size(const void *ptr);

/* What realloc can do with a block of ours (hk_realloc_usable_size()). */
enum hk_realloc_way {
	HK_REALLOC_MOVE,	/* allocate, copy, free */
	HK_REALLOC_STAY,	/* the block holds the new size where it is */
	HK_REALLOC_RESIZE,	/* hk_resize() may resize it without a copy */
	HK_REALLOC_SAMPLE,	/* a heap profiler's slab sample its block holds: prof_unsample_bad() */
};

/*
 * realloc's one look at ptr before resizing it to size bytes: its usable
 * size, as hk_usable_size(), and in *way what realloc can do with it. A
 * pointer we do not own gives 0 and is recorded as passed to realloc by
 * caller (the program's return address).
 */
size_t hk_realloc_usable_size(const void *ptr, size_t size, const void *caller,
			      enum hk_realloc_way *way);

/*
 * Resize without copying: in place if the block can hold size bytes, or
 * (large blocks) by growing, shrinking or moving the mapping. Returns the
 * block, possibly at a new address with its contents, or NULL if the
 * caller must allocate, copy and free. ptr is known to be ours.
 */
void *hk_resize(void *ptr, size_t size);

/* Return free memory to the system. Returns 1 if any was returned. */
int hk_trim(size_t pad);

/* ------------------------------------------------------------------ */
/* Usage, for mallinfo(), malloc_stats(), malloc_info()               */
/* ------------------------------------------------------------------ */

#define HK_USAGE_BOXES		5	/* most boxes reported */
#define HK_USAGE_CLASSES	128	/* most size classes reported */

/* One box: bytes in blocks the program holds, and in free blocks. */
struct hk_box_usage {
	const char *name;		/* "tiny", "smallmid", "mid", "large", "arena" */
	unsigned long in_use;		/* bytes of the blocks handed out */
	unsigned long nr_in_use;	/* blocks handed out */
	unsigned long cached;		/* bytes of free blocks in thread caches */
	unsigned long nr_cached;	/* free blocks in thread caches */
	unsigned long free;		/* bytes of the other free blocks (slabs, Large cache) */
	unsigned long nr_free;		/* those free blocks */
	unsigned long system;		/* bytes held from the system: slab slots, mappings */
	int mapped;			/* each block has a mapping of its own (Large) */
};

/* One size class: its free blocks (malloc_info's <size> lines). */
struct hk_class_usage {
	unsigned long size;		/* block size */
	unsigned long nr_free;		/* free blocks, thread caches included */
	unsigned int box;		/* index of its box in hk_usage::box */
};

struct hk_usage {
	unsigned int nr_boxes;		/* entries of box[] */
	unsigned int nr_classes;	/* entries of cls[] */
	struct hk_box_usage box[HK_USAGE_BOXES];	/* per box */
	struct hk_class_usage cls[HK_USAGE_CLASSES];	/* per slab size class */
	unsigned long system;		/* bytes held in all: boxes + idle + overhead */
	unsigned long idle;		/* free memory of no box: EMPTY slots */
	unsigned long overhead;		/* metadata: SuperSlab headers */
	unsigned long releasable;	/* what malloc_trim() would return */
	unsigned long reserved;		/* address space kept without memory */
	unsigned long mmap_nr;		/* blocks with a mapping of their own (Large) */
	unsigned long mmap_bytes;	/* bytes mapped for them */
	unsigned long max_mmap_nr;	/* most such blocks at any time */
	unsigned long max_mmap_bytes;	/* most bytes mapped for them at any time */
};

/* A snapshot of what the allocator holds (CONFIG_MALLOC_INFO). */
void hk_usage(struct hk_usage *u);

#endif /* _HAKMEM_ALLOC_H */
