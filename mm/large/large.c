// SPDX-License-Identifier: MIT
/*
 * mm/large/large.c - the Large box: blocks above Mid's largest class.
 *
 * Every block has a mapping of its own that starts on a SuperSlab
 * boundary (base) and is registered there. Its first chunk is always
 * mapped in full, so that once the registry says "large", any address in
 * that chunk can be read without faulting. The 48-byte header sits right
 * before the block, in the same cache line as its first bytes:
 *
 *   align < SS_SIZE:   registry(user & ~SS_MASK) = REG_LARGE, hdr = user - 48
 *
 *     base            hdr   user                      hdr + size
 *     | ... colour ... | hdr | block ................... | ... | base + map_len
 *
 *   align >= SS_SIZE:  user = base + align, k = align >> SS_SHIFT, hdr = base
 *                      registry(base) = REG_LARGE, registry(user) = REG_LARGE_AT(k)
 *                      base = ((user >> SS_SHIFT) - k) << SS_SHIFT
 *
 *   address space short: mapped exactly (large_map_exact), hdr = base,
 *                      registry(base) = REG_LARGE_AT(0); the rest of the
 *                      chunk is not ours and may be unmapped
 *
 * A block of up to half a chunk is placed at a varying offset (its
 * colour) in a whole-chunk mapping. Were every block to start on a 2 MiB
 * boundary, all first pages would compete for one set of the TLB and all
 * first lines for one set of the caches: freeing and reusing blocks would
 * miss there every time.
 *
 * Only the chunk of the header and the chunk of a 2 MiB-aligned user
 * pointer are registered; a pointer anywhere else is foreign, and one in
 * a registered chunk that is not the user pointer fails the header check.
 * Both go to the guard.
 *
 * Sizes are rounded up to classes (four per doubling); CONFIG_LARGE_CACHE
 * keeps freed blocks in one bin per class, pages committed, to serve the
 * next request of the class without a system call or a page fault, and
 * gives them back when they stay unused. See Documentation/large.md.
 */
#include <string.h>
#include <hakmem/alloc.h>
#include <hakmem/lock.h>
#include "os/os.h"
#include "superslab/registry.h"
#include "stats/stats.h"
#include "guard/guard.h"
#include "heap/heap.h"
#include "options/options.h"
#include "large.h"

/* ------------------------------------------------------------------ */
/* Header                                                             */
/* ------------------------------------------------------------------ */

#define LARGE_MAGIC	0x48414b4cu	/* "HAKL" */
#define LARGE_HDR_SIZE	48		/* header right before a block (align < SS_SIZE) */

enum large_state {
	LARGE_LIVE = 1,		/* handed to the program */
	LARGE_CACHED,		/* freed, kept in the cache */
	LARGE_FREED,		/* freed, being unmapped or cached */
};

struct large_hdr {
	uint32_t magic;			/* LARGE_MAGIC */
	uint32_t state;			/* enum large_state (atomic) */
	void *user;			/* the block handed to the program */
	size_t size;			/* bytes from the header to the end of the block */
	size_t map_len;			/* bytes mapped from base (page multiple) */
	struct large_hdr *next;		/* cached: next older block of the bin */
	unsigned long cached_at;	/* cached: cache clock when it was cached */
};

BUILD_BUG_ON(sizeof(struct large_hdr) != LARGE_HDR_SIZE);
BUILD_BUG_ON(LARGE_HDR_SIZE % HK_MIN_ALIGN);
BUILD_BUG_ON(REG_LARGE_AT(REG_LARGE_BACK_MAX) > 255);

static __always_inline struct large_hdr *large_hdr_of(const void *ptr, unsigned int reg)
{
	uintptr_t p = (uintptr_t)ptr;

	if (reg == REG_LARGE)
		return (struct large_hdr *)(p - LARGE_HDR_SIZE);
	return (struct large_hdr *)(((p >> SS_SHIFT) - (reg - REG_LARGE_AT(0))) << SS_SHIFT);
}

/*
 * The header of ptr may be read: it lies in ptr's registered chunk, which
 * is mapped in full. (A pointer in the first 48 bytes of a chunk is never
 * a block start, and its header would lie in the chunk below.)
 */
static __always_inline int large_hdr_readable(const void *ptr, unsigned int reg)
{
	return reg != REG_LARGE || ((uintptr_t)ptr & SS_MASK) >= LARGE_HDR_SIZE;
}

static __always_inline uintptr_t large_base(const struct large_hdr *h)
{
	return (uintptr_t)h & ~SS_MASK;
}

/* The block is aligned to SS_SIZE or more (header at base, two registry entries). */
static __always_inline int large_huge_align(const struct large_hdr *h)
{
	return (uintptr_t)h->user != (uintptr_t)h + LARGE_HDR_SIZE;
}

/* ptr is the start of the live block of h. */
static __always_inline int large_live(const struct large_hdr *h, const void *ptr)
{
	return h->magic == LARGE_MAGIC && h->user == ptr &&
	       a_load(&h->state, A_ACQUIRE) == LARGE_LIVE;
}

/* Bytes from the block to its end (malloc_usable_size). */
static __always_inline size_t large_usable(const struct large_hdr *h)
{
	return h->size - ((uintptr_t)h->user - (uintptr_t)h);
}

/* ------------------------------------------------------------------ */
/* Size classes                                                       */
/* ------------------------------------------------------------------ */

/*
 * Blocks up to LARGE_CLASS_MAX are rounded up to one of four sizes per
 * doubling (40, 48, 56, 64, 80, 96, ... KiB, header included): a freed
 * block then serves every later request of its class exactly, the cache
 * is an array of bins indexed by class, and realloc growth finds room at
 * the end. The rounding costs address space, not memory: pages are only
 * committed when touched. Class c covers (2^(lg-1), 2^lg], lg = c / 4 + 16.
 */
#define LARGE_CLASS_BITS	2			/* log2 of classes per doubling */
#define LARGE_CLASS_LG_MIN	16			/* first doubling: (32, 64] KiB */
#define LARGE_CLASS_LG_MAX	30			/* last doubling: (512 MiB, 1 GiB] */
#define LARGE_CLASS_MIN		(1UL << (LARGE_CLASS_LG_MIN - 1))
#define LARGE_CLASS_MAX		(1UL << LARGE_CLASS_LG_MAX)
#define LARGE_NR_CLASSES	((LARGE_CLASS_LG_MAX - LARGE_CLASS_LG_MIN + 1) << LARGE_CLASS_BITS)

/* Class steps are multiples of the largest page size. */
BUILD_BUG_ON((1UL << (LARGE_CLASS_LG_MIN - 1 - LARGE_CLASS_BITS)) % ARCH_PAGE_SIZE_MAX &&
	     ARCH_PAGE_SIZE_MAX % (1UL << (LARGE_CLASS_LG_MIN - 1 - LARGE_CLASS_BITS)));

/* Index of the smallest class of at least m bytes (LARGE_CLASS_MIN < m <= MAX). */
static __always_inline unsigned int large_class_index(size_t m)
{
	unsigned int lg = hk_log2(m - 1) + 1;
	unsigned int shift = lg - 1 - LARGE_CLASS_BITS;

	return ((lg - LARGE_CLASS_LG_MIN) << LARGE_CLASS_BITS) +
	       (unsigned int)((m - 1) >> shift) - (1U << LARGE_CLASS_BITS);
}

static __always_inline size_t large_class_size(unsigned int c)
{
	unsigned int lg = (c >> LARGE_CLASS_BITS) + LARGE_CLASS_LG_MIN;
	size_t k = (c & ((1U << LARGE_CLASS_BITS) - 1)) + (1U << LARGE_CLASS_BITS) + 1;

	return k << (lg - 1 - LARGE_CLASS_BITS);
}

/*
 * Block size (header included) for size bytes at offset from the header:
 * a class size, which is a page multiple too (a page is never larger than
 * a class step, or a multiple of it) or, above the classes, whole pages.
 * 0 if that is more than we map.
 */
static inline size_t large_block_size(size_t offset, size_t size)
{
	size_t m;

	if (unlikely(size > HK_OS_MAX_MAP - offset - 2 * SS_SIZE))
		return 0;
	m = offset + size;
	if (m <= LARGE_CLASS_MIN)
		m = LARGE_CLASS_MIN + 1;
	if (likely(m <= LARGE_CLASS_MAX))
		m = large_class_size(large_class_index(m));
	return ALIGN_UP(m, os_page_size);
}

/* The largest class whose size is at most m, or -1. */
static inline int large_class_floor(size_t m)
{
	unsigned int c;

	if (m < large_class_size(0) || m > LARGE_CLASS_MAX)
		return -1;
	c = large_class_index(m);
	return large_class_size(c) == m ? (int)c : (int)c - 1;
}

/* ------------------------------------------------------------------ */
/* Mappings                                                           */
/* ------------------------------------------------------------------ */

static void large_register(struct large_hdr *h)
{
	registry_set(large_base(h), REG_LARGE);
	if (large_huge_align(h))
		registry_set((uintptr_t)h->user,
			     REG_LARGE_AT(((uintptr_t)h->user - (uintptr_t)h) >> SS_SHIFT));
}

/*
 * The reserve: freed one-chunk mappings (the usual block up to 1 MiB),
 * decommitted but kept mapped for the next new block. Unmapping them
 * would punch holes in the merged mapping that neighbouring blocks form
 * (they are placed next to each other), and every hole is one more VMA:
 * a program that frees every other of 70,000 blocks would exhaust
 * vm.max_map_count (65530), after which even mmap for a SuperSlab fails.
 * A reserved region costs address space only. Its bases are kept in an
 * array that lives in a mapping of its own and doubles when full.
 */
struct large_reserve {
	struct hk_lock lock;		/* protects every field below */
	uintptr_t *base;		/* bases of the reserved chunks */
	size_t nr;			/* entries in use */
	size_t cap;			/* entries the array holds */
};

static struct large_reserve large_reserve = {
	.lock = HK_LOCK_INIT,
};
HK_LOCK_REGISTER(&large_reserve.lock, HK_LOCK_LARGE_RESERVE);

/* Double the array (lock held). Returns 0 on success. */
static int large_reserve_grow(struct large_reserve *r)
{
	size_t cap = r->cap ? 2 * r->cap : os_page_size / sizeof(uintptr_t);
	/* Not os_map_aligned(): its core_reclaim() takes this lock. */
	uintptr_t *n = os_map_pages(cap * sizeof(uintptr_t));

	if (!n)
		return -1;
	if (r->nr)
		memcpy(n, r->base, r->nr * sizeof(uintptr_t));
	if (r->base)
		os_unmap(r->base, ALIGN_UP(r->cap * sizeof(uintptr_t), os_page_size));
	r->base = n;
	r->cap = cap;
	return 0;
}

/* Keep the chunk at base (already unregistered). 0 if it must be unmapped. */
static int large_reserve_put(uintptr_t base)
{
	struct large_reserve *r = &large_reserve;
	int kept = 0;

	os_decommit((void *)base, SS_SIZE);
	hk_lock(&r->lock);
	if (r->nr < r->cap || large_reserve_grow(r) == 0) {
		r->base[r->nr] = base;
		/* Atomic: large_reserve_get() peeks at nr without the lock. */
		a_store(&r->nr, r->nr + 1, A_RELAXED);
		kept = 1;
	}
	hk_unlock(&r->lock);
	return kept;
}

/* A reserved chunk (mapped, zero, never huge pages), or 0. */
static uintptr_t large_reserve_get(void)
{
	struct large_reserve *r = &large_reserve;
	uintptr_t base = 0;

	if (!a_load(&r->nr, A_RELAXED))
		return 0;
	hk_lock(&r->lock);
	if (r->nr) {
		base = r->base[r->nr - 1];
		a_store(&r->nr, r->nr - 1, A_RELAXED);
	}
	hk_unlock(&r->lock);
	return base;
}

/* ------------------------------------------------------------------ */
/* Usage counters (CONFIG_MALLOC_INFO)                                */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_MALLOC_INFO
/*
 * Mapped blocks (live or in the cache), counted where they are mapped,
 * unmapped and resized: next to a system call, so relaxed atomics cost
 * nothing there. The cache counts what it holds under its lock; live =
 * mapped - cached (large_usage). Handing a block out of the cache or
 * caching it adds no atomic operation.
 */
static struct {
	unsigned long nr;		/* mapped blocks */
	unsigned long bytes;		/* their usable bytes */
	unsigned long map;		/* their mapped bytes */
	unsigned long max_nr;		/* most mapped blocks so far */
	unsigned long max_map;		/* most mapped bytes so far */
} large_count __aligned(L1_CACHE_BYTES);

static void large_max(unsigned long *max, unsigned long v)
{
	unsigned long old = a_load(max, A_RELAXED);

	while (old < v && !a_cas(max, &old, v, A_RELAXED))
		;
}

/* Add (or, with negative figures, take away) blocks, usable bytes, mapped bytes. */
static void large_account_add(long nr, long bytes, long map)
{
	unsigned long n, m;

	n = a_fetch_add(&large_count.nr, (unsigned long)nr, A_RELAXED) + (unsigned long)nr;
	a_fetch_add(&large_count.bytes, (unsigned long)bytes, A_RELAXED);
	m = a_fetch_add(&large_count.map, (unsigned long)map, A_RELAXED) + (unsigned long)map;
	if (nr > 0 || map > 0) {
		large_max(&large_count.max_nr, n);
		large_max(&large_count.max_map, m);
	}
}
#else
static inline void large_account_add(long nr, long bytes, long map)
{
}
#endif

/* Block h was mapped (dir = 1) or is being unmapped (dir = -1). */
static inline void large_account(const struct large_hdr *h, long dir)
{
	if (IS_ENABLED(CONFIG_MALLOC_INFO))
		large_account_add(dir, dir * (long)large_usable(h), dir * (long)h->map_len);
}

/* Clear the registry first: from then on no free can reach the header. */
static void large_unmap(struct large_hdr *h)
{
	uintptr_t base = large_base(h);

	large_account(h, -1);
	if (((uintptr_t)h->user - base) >> SS_SHIFT)
		registry_set((uintptr_t)h->user, REG_FOREIGN);
	registry_set(base, REG_FOREIGN);
	if (h->map_len == SS_SIZE && !large_huge_align(h) && large_reserve_put(base))
		return;
	os_unmap((void *)base, h->map_len);
}

/* Unmap every reserved chunk (lock not held). Returns 1 if there was any. */
static int large_reserve_drain(void)
{
	struct large_reserve *r = &large_reserve;
	int done = 0;

	hk_lock(&r->lock);
	while (r->nr) {
		uintptr_t base = r->base[r->nr - 1];

		a_store(&r->nr, r->nr - 1, A_RELAXED);
		os_unmap((void *)base, SS_SIZE);
		done = 1;
	}
	hk_unlock(&r->lock);
	return done;
}

/* ------------------------------------------------------------------ */
/* Cache (CONFIG_LARGE_CACHE)                                         */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_LARGE_CACHE

/*
 * Most bytes the cache may hold (large_cache_mb=, CONFIG_LARGE_CACHE_MAX_MB),
 * the least its budget shrinks to, and the length of a decay epoch
 * (decay_ms=; 0: nothing is kept).
 */
#define LARGE_CACHE_MAX		((size_t)hk_opt_inited(OPT_LARGE_CACHE_MB) << 20)
#define LARGE_CACHE_FLOOR	(LARGE_CACHE_MAX < (4UL << 20) ? LARGE_CACHE_MAX : (4UL << 20))
#define LARGE_DECAY_MS		hk_opt_inited(OPT_DECAY_MS)
#define LARGE_DECAY_CHECK	31	/* read the clock every 32 large operations */

/*
 * The cached mappings of one class: a stack, newest first, linked through
 * the headers, so that a put or a get touches no header but the one it
 * moves. Only the rare drops of the oldest walk the list.
 */
struct large_bin {
	struct large_hdr *head;		/* most recently cached */
	unsigned int nr;		/* mappings in the bin */
	unsigned int low;		/* fewest mappings since the epoch began */
	unsigned long oldest;		/* cached_at of the last mapping (valid if nr) */
	unsigned int dropped;		/* one was dropped for want of budget this epoch */
};

struct large_cache {
	struct hk_lock lock;				/* protects every field below */
	size_t bytes;					/* sum of the cached block sizes (h->size) */
	size_t budget;					/* current limit of bytes (adaptive) */
	unsigned long clock;				/* large operations so far */
	unsigned long epoch_ms;				/* when the decay epoch began */
	struct large_bin bin[LARGE_NR_CLASSES];		/* by class of the map size */
};

static struct large_cache large_cache = {
	.lock = HK_LOCK_INIT,
	/* The floor of the built-in maximum; adapted to the options on use. */
	.budget = (size_t)CONFIG_LARGE_CACHE_MAX_MB << 20 < (4UL << 20) ?
		  (size_t)CONFIG_LARGE_CACHE_MAX_MB << 20 : (4UL << 20),
};
HK_LOCK_REGISTER(&large_cache.lock, HK_LOCK_LARGE_CACHE);


static __always_inline struct large_hdr *large_bin_pop(struct large_cache *c,
							struct large_bin *b)
{
	struct large_hdr *h = b->head;

	b->head = h->next;
	if (--b->nr < b->low)
		b->low = b->nr;
	c->bytes -= h->size;
	return h;
}

static __always_inline void large_bin_push(struct large_cache *c, struct large_bin *b,
					   struct large_hdr *h)
{
	h->next = b->head;
	h->cached_at = c->clock;
	if (!b->nr++)
		b->oldest = h->cached_at;
	b->head = h;
	c->bytes += h->size;
}

/* Move the n oldest mappings of b (n <= b->nr) to the victims list. */
static void large_bin_drop_oldest(struct large_cache *c, struct large_bin *b,
				  unsigned int n, struct large_hdr **victims)
{
	struct large_hdr **link = &b->head, *h, *last = NULL;
	unsigned int keep = b->nr - n, i;

	if (!n)
		return;
	for (i = 0; i < keep; i++) {
		last = *link;
		link = &last->next;
	}
	for (h = *link; h; h = h->next) {
		c->bytes -= h->size;
		if (!h->next) {
			h->next = *victims;
			*victims = *link;
			break;
		}
	}
	*link = NULL;
	b->nr = keep;
	if (b->low > keep)
		b->low = keep;
	if (last)
		b->oldest = last->cached_at;
}

/* Make room for need bytes: drop the least recently cached mappings. */
static void large_cache_make_room(struct large_cache *c, size_t need,
				  struct large_hdr **victims)
{
	while (c->bytes && c->bytes + need > c->budget) {
		struct large_bin *old = NULL;
		unsigned int i;

		for (i = 0; i < LARGE_NR_CLASSES; i++) {
			struct large_bin *b = &c->bin[i];

			if (b->nr && (!old || b->oldest < old->oldest))
				old = b;
		}
		old->dropped = 1;
		large_bin_drop_oldest(c, old, 1, victims);
	}
}

/*
 * Decay: a mapping that stayed in its bin for a whole epoch was not
 * needed. At the end of each epoch every bin gives back half of the
 * mappings it never dipped into (half again for every further epoch that
 * passed unseen), oldest first; the budget halves once the cache holds
 * less than a quarter of it. A program that keeps reusing its sizes
 * keeps them, one that stops gets the memory back within a few epochs.
 */
static void large_cache_decay(struct large_cache *c, unsigned long now,
			      struct large_hdr **victims)
{
	unsigned long epochs = (now - c->epoch_ms) / (LARGE_DECAY_MS ? LARGE_DECAY_MS : 1);
	unsigned int i;

	if (epochs > 16)
		epochs = 16;
	for (i = 0; i < LARGE_NR_CLASSES; i++) {
		struct large_bin *b = &c->bin[i];

		large_bin_drop_oldest(c, b, b->low - (b->low >> epochs), victims);
		b->low = b->nr;
		b->dropped = 0;
	}
	if (c->bytes < c->budget / 4)
		c->budget = c->budget / 2 > LARGE_CACHE_FLOOR ? c->budget / 2 : LARGE_CACHE_FLOOR;
	c->epoch_ms = now;
}

/* Count one large operation; now and then see whether an epoch ended. */
static __always_inline void large_cache_tick(struct large_cache *c, struct large_hdr **victims)
{
	unsigned long now;

	if (likely(++c->clock & LARGE_DECAY_CHECK))
		return;
	now = os_now_ms();
	if (now - c->epoch_ms >= LARGE_DECAY_MS)
		large_cache_decay(c, now, victims);
}

static void large_unmap_victims(struct large_hdr *victims)
{
	while (victims) {
		struct large_hdr *h = victims;

		victims = h->next;
		large_unmap(h);
	}
}

/* Take a cached block of exactly size bytes (a class size), or NULL. */
static struct large_hdr *large_cache_get(size_t size)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL, *h = NULL;
	struct large_bin *b;

	if (unlikely(size > LARGE_CLASS_MAX))
		return NULL;
	b = &c->bin[large_class_index(size)];
	hk_lock(&c->lock);
	large_cache_tick(c, &victims);
	if (likely(b->head)) {
		h = large_bin_pop(c, b);
	} else if (b->dropped) {
		/* We dropped one of these this epoch and it is wanted again. */
		c->budget = c->budget + 2 * size < LARGE_CACHE_MAX ?
			    c->budget + 2 * size : LARGE_CACHE_MAX;
	}
	hk_unlock(&c->lock);

	if (unlikely(victims))
		large_unmap_victims(victims);
	return h;
}

/* Keep the freed mapping h. Returns 0 if the caller must unmap it. */
static int large_cache_put(struct large_hdr *h)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;
	int cls = large_class_floor(h->size), kept = 0;
	size_t max = LARGE_CACHE_MAX;

	/* decay_ms=0 or large_cache_mb=0: keep nothing. */
	if (unlikely(cls < 0 || !max || !LARGE_DECAY_MS))
		return 0;
	hk_lock(&c->lock);
	large_cache_tick(c, &victims);
	/* large_cache_mb= may have been lowered (hak_option_set). */
	if (unlikely(c->budget > max))
		c->budget = max;
	if (likely(h->size <= c->budget)) {
		if (unlikely(c->bytes + h->size > c->budget))
			large_cache_make_room(c, h->size, &victims);
		a_store(&h->state, LARGE_CACHED, A_RELAXED);
		large_bin_push(c, &c->bin[cls], h);
		kept = 1;
	} else {
		c->bin[cls].dropped = 1;
	}
	hk_unlock(&c->lock);

	if (unlikely(victims))
		large_unmap_victims(victims);
	return kept;
}

int large_trim(void)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;
	unsigned int i;

	hk_lock(&c->lock);
	for (i = 0; i < LARGE_NR_CLASSES; i++)
		large_bin_drop_oldest(c, &c->bin[i], c->bin[i].nr, &victims);
	hk_unlock(&c->lock);

	large_unmap_victims(victims);
	return victims != NULL;
}

size_t large_cached_bytes(void)
{
	size_t n;

	hk_lock(&large_cache.lock);
	n = large_cache.bytes;
	hk_unlock(&large_cache.lock);
	return n;
}

/*
 * Blocks, block bytes and mapped bytes the cache holds, for mallinfo():
 * counted here, walking the bins (at most the budget's worth of blocks),
 * so that caching a block and handing it out count nothing.
 */
static inline void large_cache_held(unsigned long *nr, size_t *bytes, size_t *map)
{
	struct large_cache *c = &large_cache;
	const struct large_hdr *h;
	unsigned int i;

	*nr = 0;
	*map = 0;
	hk_lock(&c->lock);
	for (i = 0; i < LARGE_NR_CLASSES; i++) {
		for (h = c->bin[i].head; h; h = h->next) {
			++*nr;
			*map += h->map_len;
		}
	}
	*bytes = c->bytes;
	hk_unlock(&c->lock);
}

#else /* !CONFIG_LARGE_CACHE */

static inline struct large_hdr *large_cache_get(size_t size)
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

size_t large_cached_bytes(void)
{
	return 0;
}

static inline void large_cache_held(unsigned long *nr, size_t *bytes, size_t *map)
{
	*nr = 0;
	*bytes = 0;
	*map = 0;
}

#endif /* CONFIG_LARGE_CACHE */

/* ------------------------------------------------------------------ */
/* Usage (CONFIG_MALLOC_INFO)                                         */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_MALLOC_INFO
/* Live = mapped - cached; a cached block's usable size is h->size - 48. */
void large_usage(struct large_usage *u)
{
	unsigned long nr = a_load(&large_count.nr, A_RELAXED);
	unsigned long bytes = a_load(&large_count.bytes, A_RELAXED);
	unsigned long map = a_load(&large_count.map, A_RELAXED);
	unsigned long c_nr;
	size_t c_bytes, c_map, c_usable;

	large_cache_held(&c_nr, &c_bytes, &c_map);
	c_usable = c_bytes - c_nr * LARGE_HDR_SIZE;
	u->nr = nr > c_nr ? nr - c_nr : 0;
	u->bytes = bytes > c_usable ? bytes - c_usable : 0;
	u->map = map > c_map ? map - c_map : 0;
	u->max_nr = a_load(&large_count.max_nr, A_RELAXED);
	u->max_map = a_load(&large_count.max_map, A_RELAXED);
	u->cached = c_map;
	u->reserved = a_load(&large_reserve.nr, A_RELAXED) * SS_SIZE;
}
#endif

int large_reclaim(void)
{
	int done = large_trim();

	/* The cache's blocks of one chunk went to the reserve: drain it last. */
	return large_reserve_drain() | done;
}

/* ------------------------------------------------------------------ */
/* Allocation and free                                                */
/* ------------------------------------------------------------------ */

/*
 * Colours: where in its chunk the next new block goes. Successive blocks
 * step by a page and a cache line, so their first lines and pages spread
 * over the sets of the caches and of the TLB.
 */
#define LARGE_COLOUR_STEP	(4096 + 64)

static unsigned long large_colour;		/* blocks placed so far (racy, a hint) */

static size_t large_pick_offset(size_t size, size_t align)
{
	size_t room = SS_SIZE - size, n;

	n = a_load(&large_colour, A_RELAXED);
	a_store(&large_colour, n + 1, A_RELAXED);
	return ALIGN_DOWN((n * LARGE_COLOUR_STEP) % (room + 1), align > 64 ? align : 64);
}

/*
 * The address space is short (os_vm_tight(), or not even the first chunk
 * of a block could be mapped in full after core_reclaim()). Map only what
 * the block needs (need bytes for the program, no class rounding, no
 * colour), with the header at the start of the chunk: REG_LARGE_AT(0) finds it there
 * whatever the pointer into the chunk, so no read ever goes past the
 * mapping into the rest of the chunk (unmapped, or someone else's).
 */
static __slowpath void *large_map_exact(size_t need, size_t align)
{
	size_t uoff = ALIGN_UP(LARGE_HDR_SIZE, align);
	size_t map_len = ALIGN_UP(uoff + need, os_page_size);
	struct large_hdr *h;
	uintptr_t base;

	base = (uintptr_t)os_map_aligned(map_len, SS_SIZE);
	if (unlikely(!base))
		return NULL;
	h = (struct large_hdr *)base;
	h->user = (char *)base + uoff;
	h->size = map_len;
	h->magic = LARGE_MAGIC;
	h->map_len = map_len;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	registry_set(base, REG_LARGE_AT(0));
	return h->user;
}

/*
 * Map a new block of size bytes (header included) for alignment align;
 * need: the bytes the program asked for.
 */
static void *large_map_new(size_t size, size_t need, size_t align)
{
	size_t map_len, off = 0;
	struct large_hdr *h;
	uintptr_t base;

	if (align >= SS_SIZE) {
		/* Header at base, block at base + align. */
		map_len = ALIGN_UP(align + size - LARGE_HDR_SIZE, os_page_size);
		base = (uintptr_t)os_map_aligned(map_len, align);
		if (unlikely(!base))
			return NULL;
		h = (struct large_hdr *)base;
		h->user = (char *)base + align;
		h->size = map_len;
	} else {
		/* The first chunk is mapped in full (see the top of the file). */
		map_len = size > SS_SIZE ? size : SS_SIZE;
		if (size + align <= SS_SIZE / 2)
			off = large_pick_offset(size + align, align);
		base = map_len == SS_SIZE ? large_reserve_get() : 0;
		if (!base) {
			/* Address space is short: no chunk wasted on colour. */
			if (unlikely(os_vm_tight()))
				return large_map_exact(need, align);
			base = (uintptr_t)os_map_aligned(map_len, SS_SIZE);
			if (unlikely(!base))
				return large_map_exact(need, align);
			if (map_len == SS_SIZE)
				os_nohugepage((void *)base, map_len);
		}
		h = (struct large_hdr *)(ALIGN_UP(base + off + LARGE_HDR_SIZE, align) - LARGE_HDR_SIZE);
		h->user = (char *)h + LARGE_HDR_SIZE;
		h->size = base + off + size - (uintptr_t)h;
	}
	h->magic = LARGE_MAGIC;
	h->map_len = map_len;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	large_register(h);
	large_account(h, 1);
	return h->user;
}

/*
 * zero: the caller wants size zero bytes (calloc). New mappings and
 * reserved chunks read as zero already (fresh or MADV_DONTNEED): only a
 * block from the cache is cleared, so a large calloc touches no page it
 * does not have to.
 */
static void *large_alloc_common(size_t size, size_t align, int zero)
{
	struct large_hdr *h;
	size_t bsize;

	if (align < HK_MIN_ALIGN)
		align = HK_MIN_ALIGN;
	/* The block must reach past the user pointer, even for 0 bytes. */
	if (unlikely(!size))
		size = 1;
	if (unlikely(align >= SS_SIZE && (align >> SS_SHIFT) > REG_LARGE_BACK_MAX))
		return NULL;
	/* Room to move the block up to its alignment. */
	bsize = large_block_size(LARGE_HDR_SIZE + (align < SS_SIZE ? align - HK_MIN_ALIGN : 0), size);
	if (unlikely(!bsize))
		return NULL;

	if (likely(align == HK_MIN_ALIGN)) {
		h = large_cache_get(bsize);
		if (h) {
			/* Still registered from its last life; user = h + 48. */
			STAT_INC(STAT_LARGE_ALLOC);
			STAT_INC(STAT_LARGE_CACHE_HIT);
			a_store(&h->state, LARGE_LIVE, A_RELEASE);
			if (zero)
				memset(h->user, 0, size);
			return h->user;
		}
	}
	STAT_INC(STAT_LARGE_ALLOC);
	return large_map_new(bsize, size, align);
}

void *large_alloc(size_t size, size_t align)
{
	return large_alloc_common(size, align, 0);
}

void *large_calloc(size_t size)
{
	return large_alloc_common(size, HK_MIN_ALIGN, 1);
}

/* Not the start of a live block: a double free, or a pointer we never gave out. */
static __slowpath void large_free_bad(void *ptr, unsigned int reg, const void *caller)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);

	if (large_hdr_readable(ptr, reg) && h->magic == LARGE_MAGIC && h->user == ptr) {
		unsigned int state = a_load(&h->state, A_ACQUIRE);

		if (state == LARGE_CACHED || state == LARGE_FREED)
			guard_double_free(ptr);
	}
	guard_foreign(ptr, GUARD_FREE, caller);
}

void large_free(void *ptr, unsigned int reg, const void *caller)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	uint32_t live = LARGE_LIVE;

	/* The state changes once, so two racing frees cannot both pass. */
	if (unlikely(!large_hdr_readable(ptr, reg) || h->magic != LARGE_MAGIC ||
		     h->user != ptr || !a_cas(&h->state, &live, LARGE_FREED, A_ACQ_REL))) {
		large_free_bad(ptr, reg, caller);
		return;
	}
	STAT_INC(STAT_LARGE_FREE);
	if (!large_huge_align(h) && large_cache_put(h))
		return;
	large_unmap(h);
}

size_t large_usable_size(const void *ptr, unsigned int reg)
{
	const struct large_hdr *h = large_hdr_of(ptr, reg);

	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)))
		return 0;
	return large_usable(h);
}

/* ------------------------------------------------------------------ */
/* Resize                                                             */
/* ------------------------------------------------------------------ */

/* Grow by moving the pages elsewhere (no copy); NULL if that fails too. */
static __slowpath void *large_move(struct large_hdr *h, size_t map_len, size_t size)
{
	uintptr_t base = large_base(h), off = (uintptr_t)h - base, nbase;
	struct large_hdr *n;

	registry_set(base, REG_FOREIGN);
	nbase = (uintptr_t)os_remap_move((void *)base, h->map_len, map_len, SS_SIZE);
	if (unlikely(!nbase)) {
		registry_set(base, REG_LARGE);
		return NULL;
	}
	n = (struct large_hdr *)(nbase + off);
	n->user = (char *)n + LARGE_HDR_SIZE;
	n->size = size;
	n->map_len = map_len;
	registry_set(nbase, REG_LARGE);
	STAT_INC(STAT_LARGE_MREMAP);
	return n->user;
}

static void *large_resize_block(void *ptr, unsigned int reg, size_t size)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	size_t bsize, usable, end, map_len;

	/* Small enough for a slab class: the caller moves it there. */
	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)) ||
	    size <= HEAP_MAX_SIZE)
		return NULL;
	usable = large_usable(h);
	if (size <= usable && size >= usable / 2)
		return ptr;
	/* The user chunk of such a block is registered; keep it simple. */
	if (large_huge_align(h))
		return NULL;
	bsize = large_block_size(LARGE_HDR_SIZE, size);
	if (unlikely(!bsize))
		return NULL;
	/* The mapping must reach the new end; its first chunk stays whole. */
	end = (uintptr_t)h - large_base(h) + bsize;
	map_len = ALIGN_UP(end > SS_SIZE ? end : SS_SIZE, os_page_size);

	if (size < usable) {
		/* Shrink by more than half: give the tail back. */
		uintptr_t from = ALIGN_UP((uintptr_t)h + bsize, os_page_size);
		uintptr_t to = ALIGN_UP((uintptr_t)h + h->size, os_page_size);

		if (map_len < h->map_len &&
		    os_remap_inplace((void *)large_base(h), h->map_len, map_len) == 0) {
			h->map_len = map_len;
			STAT_INC(STAT_LARGE_MREMAP);
		}
		if (to > large_base(h) + h->map_len)
			to = large_base(h) + h->map_len;
		if (to > from)
			os_decommit((void *)from, to - from);
		h->size = bsize;
		return ptr;
	}
	if (map_len <= h->map_len) {
		/* The mapping (the whole first chunk) has room already. */
		h->size = bsize;
		return ptr;
	}
	if (os_remap_inplace((void *)large_base(h), h->map_len, map_len) == 0) {
		h->map_len = map_len;
		h->size = bsize;
		STAT_INC(STAT_LARGE_MREMAP);
		return ptr;
	}
	return large_move(h, map_len, bsize);
}

/* The resize, accounted: the old figures leave, the new ones come. */
void *large_resize(void *ptr, unsigned int reg, size_t size)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	size_t usable, map_len;
	void *p;

	if (!IS_ENABLED(CONFIG_MALLOC_INFO))
		return large_resize_block(ptr, reg, size);
	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)))
		return NULL;
	usable = large_usable(h);
	map_len = h->map_len;
	p = large_resize_block(ptr, reg, size);
	if (p) {
		/* A block that was resized has its header right below it. */
		h = (struct large_hdr *)((char *)p - LARGE_HDR_SIZE);
		large_account_add(0, (long)large_usable(h) - (long)usable,
				  (long)h->map_len - (long)map_len);
	}
	return p;
}
