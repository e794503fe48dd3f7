// SPDX-License-Identifier: MIT
/*
 * mm/large/large.c - the Large box: blocks above Mid's largest class.
 *
 * Every block has a mapping of its own whose start is aligned to the
 * SuperSlab size and holds the header. The header is found from a pointer
 * through the registry, never by trusting the pointer:
 *
 *   align < SS_SIZE:   base = user & ~SS_MASK            registry(base) = REG_LARGE
 *
 *     base                    user = base + ALIGN_UP(64, align)
 *     | struct large_hdr | pad | usable bytes ...................| page end
 *
 *   align >= SS_SIZE:  user = base + align, k = align >> SS_SHIFT
 *                      registry(base) = REG_LARGE, registry(user) = 2 + k
 *                      base = ((user >> SS_SHIFT) - k) << SS_SHIFT
 *
 * Only the chunk of the header and the chunk of the user pointer are
 * registered; a pointer anywhere else in the mapping is foreign, and one
 * in a registered chunk that is not the user pointer fails the header
 * check. Both go to the guard.
 *
 * CONFIG_LARGE_CACHE keeps recently freed mappings (align < SS_SIZE) to
 * serve the next request of a similar size without mmap and page faults.
 * See Documentation/large.md.
 */
#include <hakmem/alloc.h>
#include <hakmem/lock.h>
#include "os/os.h"
#include "superslab/registry.h"
#include "stats/stats.h"
#include "guard/guard.h"
#include "heap/heap.h"
#include "large.h"

/* ------------------------------------------------------------------ */
/* Header                                                             */
/* ------------------------------------------------------------------ */

#define LARGE_MAGIC	0x48414b4cu	/* "HAKL" */
#define LARGE_HDR_SIZE	64		/* header space before an unaligned block */

enum large_state {
	LARGE_LIVE = 1,		/* handed to the program */
	LARGE_CACHED,		/* freed, kept in the cache */
	LARGE_FREED,		/* freed, being unmapped or cached */
};

struct large_hdr {
	uint32_t magic;			/* LARGE_MAGIC */
	uint32_t state;			/* enum large_state (atomic) */
	void *user;			/* the block handed to the program */
	size_t map_size;		/* bytes mapped from the header (page multiple) */
	size_t usable;			/* bytes from user to the end of the mapping */
	size_t align;			/* alignment of the current block */
	unsigned long cached_at;	/* cache clock when the mapping was cached */
};

BUILD_BUG_ON(sizeof(struct large_hdr) > LARGE_HDR_SIZE);
BUILD_BUG_ON(REG_LARGE + REG_LARGE_BACK_MAX > 255);

static __always_inline struct large_hdr *large_hdr_of(const void *ptr, unsigned int reg)
{
	uintptr_t p = (uintptr_t)ptr;

	if (reg == REG_LARGE)
		return (struct large_hdr *)(p & ~SS_MASK);
	return (struct large_hdr *)(((p >> SS_SHIFT) - (reg - REG_LARGE)) << SS_SHIFT);
}

/* ptr is the start of the live block of h. */
static __always_inline int large_live(const struct large_hdr *h, const void *ptr)
{
	return h->magic == LARGE_MAGIC && h->user == ptr &&
	       a_load(&h->state, A_ACQUIRE) == LARGE_LIVE;
}

/* Distance from the header to the block. */
static inline size_t large_offset(size_t align)
{
	return align < SS_SIZE ? ALIGN_UP((size_t)LARGE_HDR_SIZE, align) : align;
}

/* Pages needed for size bytes at offset; 0 if that is more than we map. */
static inline size_t large_map_size(size_t offset, size_t size)
{
	if (unlikely(size > HK_OS_MAX_MAP - offset - os_page_size))
		return 0;
	return ALIGN_UP(offset + size, os_page_size);
}

/* Make h describe a live block of size map_size at offset. */
static void *large_setup(struct large_hdr *h, size_t map_size, size_t offset, size_t align)
{
	h->magic = LARGE_MAGIC;
	h->user = (char *)h + offset;
	h->map_size = map_size;
	h->usable = map_size - offset;
	h->align = align;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	return h->user;
}

static void large_register(struct large_hdr *h)
{
	registry_set((uintptr_t)h, REG_LARGE);
	if (h->align >= SS_SIZE)
		registry_set((uintptr_t)h->user, REG_LARGE + (h->align >> SS_SHIFT));
}

/* Clear the registry first: from then on no free can reach the header. */
static void large_unmap(struct large_hdr *h)
{
	if (h->align >= SS_SIZE)
		registry_set((uintptr_t)h->user, REG_FOREIGN);
	registry_set((uintptr_t)h, REG_FOREIGN);
	os_unmap(h, h->map_size);
}

/* ------------------------------------------------------------------ */
/* Cache (CONFIG_LARGE_CACHE)                                         */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_LARGE_CACHE

#define LARGE_CACHE_SLOTS	32			/* mappings kept at most */
#define LARGE_CACHE_MAX		((size_t)CONFIG_LARGE_CACHE_MAX_MB << 20)
#define LARGE_CACHE_FLOOR	(LARGE_CACHE_MAX < (4UL << 20) ? LARGE_CACHE_MAX : (4UL << 20))
#define LARGE_CACHE_TTL		256			/* large operations a mapping may wait */
#define LARGE_CACHE_SLACK	(64UL << 10)		/* fit: at most need / 4 + this more */
#define LARGE_EVICT_RING	8			/* evicted sizes remembered */

struct large_cache {
	struct hk_lock lock;				/* protects every field below */
	struct large_hdr *slot[LARGE_CACHE_SLOTS];	/* cached mappings, unordered */
	unsigned int nr;				/* slots in use */
	size_t bytes;					/* sum of the cached map sizes */
	size_t budget;					/* current limit of bytes (adaptive) */
	unsigned long clock;				/* large operations so far */
	size_t evicted[LARGE_EVICT_RING];		/* map sizes dropped for want of room, 0 = none */
	unsigned int evict_pos;				/* next ring entry to overwrite */
};

static struct large_cache large_cache = {
	.lock = HK_LOCK_INIT,
	.budget = LARGE_CACHE_FLOOR,
};

/* A mapping of have bytes may serve a request that needs need bytes. */
static inline int large_fits(size_t have, size_t need)
{
	return have >= need && have - need <= need / 4 + LARGE_CACHE_SLACK;
}

static inline int large_cacheable(const struct large_hdr *h)
{
	return h->align < SS_SIZE;
}

static void large_cache_remove(struct large_cache *c, unsigned int i)
{
	c->bytes -= c->slot[i]->map_size;
	c->slot[i] = c->slot[--c->nr];
}

/* Remember a size we had to drop: a miss on it later grows the budget. */
static void large_cache_note_evicted(struct large_cache *c, size_t map_size)
{
	if (map_size > LARGE_CACHE_MAX)
		return;
	c->evicted[c->evict_pos] = map_size;
	c->evict_pos = (c->evict_pos + 1) % LARGE_EVICT_RING;
}

/* A miss: if we dropped a mapping of this size recently, hold more. */
static void large_cache_note_miss(struct large_cache *c, size_t need)
{
	unsigned int i;

	for (i = 0; i < LARGE_EVICT_RING; i++) {
		if (c->evicted[i] && large_fits(c->evicted[i], need)) {
			c->evicted[i] = 0;
			if (c->budget < LARGE_CACHE_MAX)
				c->budget = c->budget * 2 < LARGE_CACHE_MAX ?
					    c->budget * 2 : LARGE_CACHE_MAX;
			return;
		}
	}
}

/* Move the least recently cached mapping to victims. */
static void large_cache_evict_oldest(struct large_cache *c, struct large_hdr **victims,
				     unsigned int *nv, int remember)
{
	unsigned int i, old = 0;

	for (i = 1; i < c->nr; i++)
		if (c->slot[i]->cached_at < c->slot[old]->cached_at)
			old = i;
	if (remember)
		large_cache_note_evicted(c, c->slot[old]->map_size);
	victims[(*nv)++] = c->slot[old];
	large_cache_remove(c, old);
}

/*
 * Count one large operation and drop the mappings that waited longer than
 * LARGE_CACHE_TTL operations; the budget halves when that happens.
 */
static void large_cache_tick(struct large_cache *c, struct large_hdr **victims,
			     unsigned int *nv)
{
	unsigned int i = 0, expired = 0;

	c->clock++;
	while (i < c->nr) {
		if (c->clock - c->slot[i]->cached_at > LARGE_CACHE_TTL) {
			victims[(*nv)++] = c->slot[i];
			large_cache_remove(c, i);
			expired = 1;
		} else {
			i++;
		}
	}
	if (expired) {
		c->budget = c->budget / 2 > LARGE_CACHE_FLOOR ? c->budget / 2 : LARGE_CACHE_FLOOR;
		while (c->bytes > c->budget)
			large_cache_evict_oldest(c, victims, nv, 0);
	}
}

static void large_unmap_victims(struct large_hdr **victims, unsigned int nv)
{
	while (nv)
		large_unmap(victims[--nv]);
}

/* Take the best-fitting cached mapping of at least need bytes, or NULL. */
static struct large_hdr *large_cache_get(size_t need)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims[LARGE_CACHE_SLOTS], *best = NULL;
	unsigned int i, best_i = 0, nv = 0;

	hk_lock(&c->lock);
	large_cache_tick(c, victims, &nv);
	for (i = 0; i < c->nr; i++) {
		struct large_hdr *h = c->slot[i];

		if (large_fits(h->map_size, need) && (!best || h->map_size < best->map_size)) {
			best = h;
			best_i = i;
		}
	}
	if (best)
		large_cache_remove(c, best_i);
	else
		large_cache_note_miss(c, need);
	hk_unlock(&c->lock);

	large_unmap_victims(victims, nv);
	return best;
}

/* Keep the freed mapping h. Returns 0 if the caller must unmap it. */
static int large_cache_put(struct large_hdr *h)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims[LARGE_CACHE_SLOTS];
	unsigned int nv = 0;
	int kept = 0;

	hk_lock(&c->lock);
	large_cache_tick(c, victims, &nv);
	if (h->map_size <= c->budget) {
		while (c->nr == LARGE_CACHE_SLOTS || c->bytes + h->map_size > c->budget)
			large_cache_evict_oldest(c, victims, &nv, 1);
		a_store(&h->state, LARGE_CACHED, A_RELAXED);
		h->cached_at = c->clock;
		c->slot[c->nr++] = h;
		c->bytes += h->map_size;
		kept = 1;
	} else {
		large_cache_note_evicted(c, h->map_size);
	}
	hk_unlock(&c->lock);

	large_unmap_victims(victims, nv);
	return kept;
}

int large_trim(void)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims[LARGE_CACHE_SLOTS];
	unsigned int nv = 0;

	hk_lock(&c->lock);
	while (c->nr) {
		victims[nv++] = c->slot[c->nr - 1];
		large_cache_remove(c, c->nr - 1);
	}
	hk_unlock(&c->lock);

	large_unmap_victims(victims, nv);
	return nv != 0;
}

void large_fork_prepare(void)
{
	hk_lock(&large_cache.lock);
}

void large_fork_parent(void)
{
	hk_unlock(&large_cache.lock);
}

void large_fork_child(void)
{
	hk_lock_reset(&large_cache.lock);
}

#else /* !CONFIG_LARGE_CACHE */

static inline int large_cacheable(const struct large_hdr *h)
{
	return 0;
}

static inline struct large_hdr *large_cache_get(size_t need)
{
	return NULL;
}

static inline int large_cache_put(struct large_hdr *h)
{
	return 0;
}

int large_trim(void)
{
	return 0;
}

void large_fork_prepare(void)
{
}

void large_fork_parent(void)
{
}

void large_fork_child(void)
{
}

#endif /* CONFIG_LARGE_CACHE */

/* ------------------------------------------------------------------ */
/* Allocation and free                                                */
/* ------------------------------------------------------------------ */

void *large_alloc(size_t size, size_t align)
{
	struct large_hdr *h;
	size_t offset, map_size;

	if (align < HK_MIN_ALIGN)
		align = HK_MIN_ALIGN;
	/* The mapping must reach past the user pointer, even for 0 bytes. */
	if (unlikely(!size))
		size = 1;
	if (unlikely(align >= SS_SIZE && (align >> SS_SHIFT) > REG_LARGE_BACK_MAX))
		return NULL;
	offset = large_offset(align);
	map_size = large_map_size(offset, size);
	if (unlikely(!map_size))
		return NULL;

	if (align < SS_SIZE) {
		h = large_cache_get(map_size);
		if (h) {
			/* Still registered as REG_LARGE from its last life. */
			STAT_INC(STAT_LARGE_ALLOC);
			STAT_INC(STAT_LARGE_CACHE_HIT);
			return large_setup(h, h->map_size, offset, align);
		}
	}

	h = os_map_aligned(map_size, align < SS_SIZE ? SS_SIZE : align);
	if (unlikely(!h))
		return NULL;
	large_setup(h, map_size, offset, align);
	large_register(h);
	STAT_INC(STAT_LARGE_ALLOC);
	return h->user;
}

/* Not the start of a live block: a double free, or a pointer we never gave out. */
static __slowpath void large_free_bad(struct large_hdr *h, void *ptr, const void *caller)
{
	unsigned int state = a_load(&h->state, A_ACQUIRE);

	if (h->magic == LARGE_MAGIC && h->user == ptr &&
	    (state == LARGE_CACHED || state == LARGE_FREED))
		guard_double_free(ptr);
	guard_foreign(ptr, GUARD_FREE, caller);
}

void large_free(void *ptr, unsigned int reg, const void *caller)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	uint32_t live = LARGE_LIVE;

	/* The state changes once, so two racing frees cannot both pass. */
	if (unlikely(h->magic != LARGE_MAGIC || h->user != ptr ||
		     !a_cas(&h->state, &live, LARGE_FREED, A_ACQ_REL))) {
		large_free_bad(h, ptr, caller);
		return;
	}
	STAT_INC(STAT_LARGE_FREE);
	if (large_cacheable(h) && large_cache_put(h))
		return;
	large_unmap(h);
}

size_t large_usable_size(const void *ptr, unsigned int reg)
{
	const struct large_hdr *h = large_hdr_of(ptr, reg);

	if (unlikely(!large_live(h, ptr)))
		return 0;
	return h->usable;
}

/* ------------------------------------------------------------------ */
/* Resize                                                             */
/* ------------------------------------------------------------------ */

static void large_set_map_size(struct large_hdr *h, size_t map_size)
{
	h->map_size = map_size;
	h->usable = map_size - ((uintptr_t)h->user - (uintptr_t)h);
}

/* Grow by moving the pages elsewhere (no copy); NULL if that fails too. */
static __slowpath void *large_move(struct large_hdr *h, size_t map_size)
{
	size_t offset = (uintptr_t)h->user - (uintptr_t)h;
	struct large_hdr *n;

	registry_set((uintptr_t)h, REG_FOREIGN);
	n = os_remap_move(h, h->map_size, map_size, SS_SIZE);
	if (unlikely(!n)) {
		registry_set((uintptr_t)h, REG_LARGE);
		return NULL;
	}
	n->user = (char *)n + offset;
	large_set_map_size(n, map_size);
	registry_set((uintptr_t)n, REG_LARGE);
	STAT_INC(STAT_LARGE_MREMAP);
	return n->user;
}

void *large_resize(void *ptr, unsigned int reg, size_t size)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	size_t map_size;

	/* Small enough for a slab class: the caller moves it there. */
	if (unlikely(!large_live(h, ptr)) || size <= HEAP_MAX_SIZE)
		return NULL;
	if (size <= h->usable && size >= h->usable / 2)
		return ptr;
	/* The user chunk of such a block is registered; keep it simple. */
	if (h->align >= SS_SIZE)
		return NULL;
	map_size = large_map_size((uintptr_t)ptr - (uintptr_t)h, size);
	if (unlikely(!map_size))
		return NULL;

	if (size < h->usable) {
		/* Shrink by more than half: give the tail back. */
		if (os_remap_inplace(h, h->map_size, map_size) == 0) {
			large_set_map_size(h, map_size);
			STAT_INC(STAT_LARGE_MREMAP);
		}
		return ptr;
	}
	if (os_remap_inplace(h, h->map_size, map_size) == 0) {
		large_set_map_size(h, map_size);
		STAT_INC(STAT_LARGE_MREMAP);
		return ptr;
	}
	return large_move(h, map_size);
}
