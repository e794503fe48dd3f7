/* SPDX-License-Identifier: MIT */
/*
 * The Large box: blocks above Mid's largest class, each in its own mapping
 * aligned to the SuperSlab size so that its header is found by masking,
 * like a SuperSlab's. Recently freed mappings are cached.
 */
#ifndef _MM_LARGE_H
#define _MM_LARGE_H

#include <hakmem/compiler.h>

/* Allocate size bytes aligned to align (any power of two >= 16). */
void *large_alloc(size_t size, size_t align);
/*
 * Allocate size bytes for a block that realloc moves because it grew:
 * the cache may hand out a block up to twice the size, for it to grow
 * into in place.
 */
void *large_alloc_grown(size_t size);
/* Allocate size zeroed bytes; clears only memory that is not zero already. */
void *large_calloc(size_t size);

/*
 * ptr's registry value was REG_LARGE or above (REG_LARGE_OFF(j), REG_LARGE_BACK(i)). These check the header
 * and hand pointers that are not the start of a live large block to the
 * guard (free) or return 0 / NULL.
 */
void large_free(void *ptr, unsigned int reg, const void *caller);
size_t large_usable_size(const void *ptr, unsigned int reg);
/* Resize (mremap in place or moving); NULL if the caller must copy. */
void *large_resize(void *ptr, unsigned int reg, size_t size);

/* Drop every cached mapping. Returns 1 if any memory was returned. */
int large_trim(void);

/*
 * Unmap every cached and reserved mapping: address space for a mapping
 * the kernel refused (core_reclaim). Returns 1 if anything was unmapped.
 */
int large_reclaim(void);

/*
 * The slabs committed bytes of new memory (the box's slabs_grew hook):
 * the cache shrinks to its limit, which counts the slabs in use, and at
 * a new peak of the footprint gives up at least as much as they took.
 */
void large_slabs_grew(size_t bytes);

/*
 * The SuperSlab clock began a new epoch (the box's epoch hook): the
 * cache's decay runs if its own epoch is over, so that blocks no large
 * request takes go back while the program allocates only from slabs.
 */
void large_epoch(void);

/* Bytes of the mappings the cache holds now (for tests and statistics). */
size_t large_cached_bytes(void);

#if defined(CONFIG_DEBUG_ASSERT) && defined(CONFIG_LARGE_CACHE)
/*
 * Walk the cache and abort on a malformed entry (header, state, class,
 * bin counts, byte count). large_trim() runs it too.
 */
void large_cache_check(void);
#else
static inline void large_cache_check(void)
{
}
#endif

/* Live and cached Large memory, for mallinfo() and friends. */
struct large_usage {
	unsigned long nr;		/* live blocks */
	unsigned long bytes;		/* their usable bytes */
	unsigned long map;		/* bytes mapped for them */
	unsigned long max_nr;		/* most blocks mapped at any time (cached ones included) */
	unsigned long max_map;		/* most bytes mapped at any time */
	unsigned long cached;		/* bytes mapped for the blocks the cache keeps */
	unsigned long reserved;		/* decommitted chunks kept mapped (address space) */
};

void large_usage(struct large_usage *u);


#endif /* _MM_LARGE_H */
