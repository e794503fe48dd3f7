// SPDX-License-Identifier: MIT
/*
 * mm/large/large.c - the Large box: blocks above Mid's largest class.
 *
 * Every block has a mapping of its own in a SuperSlab-sized chunk (base)
 * whose registry byte says where the header is. Usually the mapping
 * starts at base and its first chunk is mapped in full, so that once the
 * registry says REG_LARGE, any address in that chunk can be read without
 * faulting. The 48-byte header sits right before the block, in the same
 * cache line as its first bytes:
 *
 *   align < SS_SIZE:   registry(user & ~SS_MASK) = REG_LARGE, hdr = user - 48
 *
 *     base            hdr   user                      hdr + size
 *     | ... colour ... | hdr | block ................... | ... | base + map_len
 *
 *   exactly mapped (the first LARGE_EXACT_MAX blocks of up to a quarter of a
 *   chunk, align 16; large_map_coloured): hdr = base + j * REG_LARGE_STEP,
 *                      registry(base) = REG_LARGE_OFF(j), 0 < j; mapped
 *                      from hdr's page to twice the block's end, the rest
 *                      of the chunk is not ours (large_gap())
 *
 *   align >= SS_SIZE:  user = base + align, k = align >> SS_SHIFT = 2^i, hdr = base
 *                      registry(base) = REG_LARGE, registry(user) = REG_LARGE_BACK(i)
 *                      base = ((user >> SS_SHIFT) - k) << SS_SHIFT
 *
 *   address space short: mapped exactly (large_map_exact), hdr = base,
 *                      registry(base) = REG_LARGE_OFF(0); the rest of the
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
 * keeps freed blocks in one bin per class, pages committed, to serve later
 * requests without a system call or a page fault (a block of the class, a
 * larger one cut to size, a smaller one grown; neighbours coalesce), with
 * O(1) operations, bounded by the recent peak of the live blocks, and
 * gives them back when they stay unused. Blocks of several MiB get
 * transparent huge pages. See Documentation/large.md.
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

/*
 * A link of a doubly linked list of cached blocks, and the list: O(1) to
 * add the newest, to take any block out and to find the oldest.
 */
struct large_link {
	struct large_link *newer;	/* the next newer block, or NULL */
	struct large_link *older;	/* the next older block, or NULL */
};

struct large_list {
	struct large_link *newest;	/* most recently added, or NULL */
	struct large_link *oldest;	/* least recently added, or NULL */
};

struct large_hdr {
	uint32_t magic;			/* LARGE_MAGIC */
	uint32_t state;			/* enum large_state (atomic) */
	void *user;			/* the block handed to the program */
	size_t size;			/* bytes from the header to the end of the block */
	size_t map_len;			/* bytes mapped from base (page multiple) */
	union {
		struct large_link bin;	/* cached: place in its bin (unmapping: next victim) */
		size_t held;		/* live: bytes from the header its pages may fill (>= size) */
	};
};

BUILD_BUG_ON(sizeof(struct large_hdr) != LARGE_HDR_SIZE);
BUILD_BUG_ON(LARGE_HDR_SIZE % HK_MIN_ALIGN);
/* A coloured header and its block start in the chunk the registry names. */
BUILD_BUG_ON((REG_LARGE_OFF_NR - 1) * REG_LARGE_STEP + LARGE_HDR_SIZE + 64 > SS_SIZE);

/*
 * The header the registry value of ptr's chunk names: right below ptr
 * (REG_LARGE), at a colour offset in the chunk (REG_LARGE_OFF(j)), or
 * 2^i chunks below it (REG_LARGE_BACK(i)). Only REG_LARGE depends on ptr
 * beyond its chunk: the others are read whatever ptr is.
 */
static __always_inline struct large_hdr *large_hdr_of(const void *ptr, unsigned int reg)
{
	uintptr_t p = (uintptr_t)ptr, chunk = p & ~SS_MASK;

	if (reg == REG_LARGE)
		return (struct large_hdr *)(p - LARGE_HDR_SIZE);
	if (reg < REG_LARGE_BACK(0))
		return (struct large_hdr *)(chunk + (reg - REG_LARGE_OFF(0)) * REG_LARGE_STEP);
	return (struct large_hdr *)(chunk - (SS_SIZE << (reg - REG_LARGE_BACK(0))));
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

/*
 * Bytes at the start of h's chunk that are not mapped: an exactly mapped
 * coloured block (REG_LARGE_OFF(j), j > 0) is mapped from its header's
 * page on; every other block from its chunk's start (base). Its map_len
 * counts from base all the same, so that base + map_len is its end.
 */
static __always_inline size_t large_gap(const struct large_hdr *h)
{
	unsigned int reg = registry_lookup(large_base(h));

	if (reg > REG_LARGE_OFF(0) && reg < REG_LARGE_BACK(0))
		return ALIGN_DOWN((uintptr_t)h - large_base(h), os_page_size);
	return 0;
}

/* Bytes mapped for h (its gap left out). */
static __always_inline size_t large_map_bytes(const struct large_hdr *h)
{
	return h->map_len - large_gap(h);
}

/*
 * CONFIG_VALGRIND: the header of a live block is no-access to memcheck (a
 * program's underflow into it is reported, and its pointer to the block
 * does not make a leaked block look reachable); the functions that read
 * it open it first. A freed block's header is the cache's to use.
 */
static __always_inline void large_hdr_open(const void *ptr, unsigned int reg)
{
	if (large_hdr_readable(ptr, reg))
		vg_open(large_hdr_of(ptr, reg), LARGE_HDR_SIZE);
}

/* The block of h goes (back) to the program: close the header, return the block. */
static __always_inline void *large_hdr_close(struct large_hdr *h)
{
	void *user = h->user;

	vg_close(h, LARGE_HDR_SIZE);
	return user;
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

/*
 * A live block's bytes as the cache's limit counts them: its size, or
 * more when its pages past it may be committed (held, a cached block
 * taken far below its size by a grown buffer: large_reuse_keep()).
 */
static __always_inline size_t large_held(const struct large_hdr *h)
{
	return h->held > h->size ? h->held : h->size;
}

/*
 * A block handed out by malloc: CONFIG_VALGRIND, all of it no-access to
 * memcheck, until the front announces the bytes asked for
 * (VALGRIND_MALLOCLIKE_BLOCK), so that a write past them is reported as
 * it is in a slab block. A fresh mapping is addressable to memcheck, and
 * the rest of a block stayed so: a write one byte past a 40-byte block
 * went unseen with only the Large box (randconfig KCONFIG_SEED=0x50f6daa3),
 * and past any Large block elsewhere.
 */
static __always_inline void *large_hand_out(struct large_hdr *h)
{
	h->held = 0;
	vg_noaccess(h->user, large_usable(h));
	return large_hdr_close(h);
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

/* ------------------------------------------------------------------ */
/* Mappings                                                           */
/* ------------------------------------------------------------------ */

/*
 * Transparent huge pages (CONFIG_LARGE_HUGEPAGES): a mapping of more than
 * one chunk and at least one huge page is placed on a huge-page boundary
 * and madvised MADV_HUGEPAGE, so that a first touch faults a whole huge
 * page (2 MiB with 4 KiB pages: one fault instead of 512) and the TLB
 * holds 512 times more of the block. One-chunk mappings never get them
 * (see the reserve below): a 40 KiB block must not commit 2 MiB.
 */
#ifdef CONFIG_LARGE_HUGEPAGES
#define LARGE_HUGEPAGES		1
#else
#define LARGE_HUGEPAGES		0
#endif

static __always_inline int large_wants_thp(size_t map_len)
{
	return LARGE_HUGEPAGES && map_len > SS_SIZE &&
	       map_len >= os_thp_size();
}

/* Alignment of a new mapping of map_len bytes: a chunk, or a huge page. */
static __always_inline size_t large_map_align(size_t map_len)
{
	return large_wants_thp(map_len) && os_thp_size() > SS_SIZE ? os_thp_size() : SS_SIZE;
}

/* The mapping at base grew from old_len to map_len bytes: ask for huge pages. */
static void large_thp(uintptr_t base, size_t old_len, size_t map_len)
{
	if (large_wants_thp(map_len) && !large_wants_thp(old_len))
		os_hugepage((void *)base, map_len);
}

/*
 * Register a new block whose first chunk is mapped in full. The user
 * chunk of a block aligned to 2^i chunks may be only partly ours (the
 * block may end inside it): a coloured block may have claimed it, with
 * its header past our end. 0, or -1 (nothing registered) then.
 */
static int large_register(struct large_hdr *h)
{
	if (large_huge_align(h) &&
	    !registry_claim((uintptr_t)h->user,
			    REG_LARGE_BACK(hk_log2(((uintptr_t)h->user - (uintptr_t)h) >> SS_SHIFT))))
		return -1;
	registry_set(large_base(h), REG_LARGE);
	return 0;
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

/*
 * A reserved chunk for a new block of need bytes aligned to align, or 0.
 * Under an address-space limit (os_vm_tight()) only for a block whose
 * exact mapping (large_map_exact()) would take the whole chunk anyway: a
 * smaller block in a reserved chunk holds the rest of it for as long as
 * it lives, where core_reclaim() could have unmapped the idle chunk and
 * the block have cost its own pages. With 1 MiB chunks and no Large
 * cache, blocks of 1 MiB freed into the reserve went to the first small
 * blocks of the next round of tests/aslimit, one chunk more a round
 * (randconfig KCONFIG_SEED=0x449dfeb9: VmSize 35.2, 36.1, 37.1 MiB at
 * the rounds' starts, 1.4 MiB less served in the third).
 */
static uintptr_t large_reserve_take(size_t need, size_t align)
{
	if (!a_load(&large_reserve.nr, A_RELAXED))
		return 0;
	if (ALIGN_UP(ALIGN_UP(LARGE_HDR_SIZE, align) + need, os_page_size) < SS_SIZE &&
	    unlikely(os_vm_tight()))
		return 0;
	return large_reserve_get();
}

/* ------------------------------------------------------------------ */
/* Usage counters (CONFIG_MALLOC_INFO)                                */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_MALLOC_INFO
/*
 * Live blocks, counted where a block goes to the program (a new mapping,
 * a cached block handed out) and where it comes back (large_release()),
 * with the figures of its header at that moment; a resize counts its
 * change (large_resize_accounted()). The cache counts what it holds
 * under its lock (large_cache_held()). What happens to a block between
 * its lives (the cache cuts it, merges it with its neighbours, lends its
 * pages, unmaps it) is the cache's and changes nothing here. Until the
 * forty-second session these counted mapped blocks, live or cached, and
 * live = mapped - cached: every cut, merge and growth of a cached block
 * had to be counted too, several were not, and mallinfo2() went wild
 * (hblkhd -128 MB after 100,000 random frees and mallocs of 0.3-4 MB,
 * tests/info). Three relaxed atomic adds per Large malloc and free,
 * beside the cache's lock.
 */
static struct {
	unsigned long nr;		/* live blocks */
	unsigned long bytes;		/* their usable bytes */
	unsigned long map;		/* their mapped bytes */
	unsigned long max_nr;		/* most live blocks so far */
	unsigned long max_map;		/* most mapped bytes of live blocks so far */
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

/* Block h goes to the program (dir = 1) or comes back from it (dir = -1). */
static inline void large_account(const struct large_hdr *h, long dir)
{
	if (IS_ENABLED(CONFIG_MALLOC_INFO))
		large_account_add(dir, dir * (long)large_usable(h), dir * (long)large_map_bytes(h));
}

/* Most exactly mapped coloured blocks at a time (CONFIG_LARGE_EXACT_MAX). */
#ifdef CONFIG_LARGE_EXACT_MAX
#define LARGE_EXACT_MAX		CONFIG_LARGE_EXACT_MAX
#else
#define LARGE_EXACT_MAX		0
#endif
/* An exactly mapped block has address space for this many times its size. */
#define LARGE_EXACT_ROOM	2
/* ... and once it grew past that, four times (large_grow()). */
#define LARGE_EXACT_GROW_ROOM	4
/*
 * The largest block mapped exactly: beyond a quarter of a chunk, its
 * mapping with room is about as large as a whole chunk anyway.
 */
#define LARGE_EXACT_SIZE	(SS_SIZE / 4)

/*
 * Exactly mapped coloured blocks (REG_LARGE_OFF(j), j > 0) now mapped:
 * each is a VMA of its own, so there are at most LARGE_EXACT_MAX.
 */
static unsigned long large_exact_nr;

/*
 * Exactly mapped blocks that left the cache, decommitted but still mapped
 * and registered, for the next new coloured block that fits (what the
 * reserve does for whole chunks): a program that keeps replacing its
 * blocks pays one madvise per block instead of an munmap and an mmap (and
 * the page tables of a fresh mapping). A stale pointer into one reads a
 * zero header and goes to the guard. Under the reserve's lock; still
 * counted in large_exact_nr (each is a VMA).
 */
#define LARGE_EXACT_KEEP	32

static struct {
	struct large_hdr *h[LARGE_EXACT_KEEP];	/* their headers (zero pages) */
	size_t map_len[LARGE_EXACT_KEEP];	/* their map_len */
	unsigned int nr;			/* entries in use (atomic: peeked at unlocked) */
} large_kept;

/* Keep the exactly mapped block h (gap bytes unmapped below it). 0 if it must go. */
static int large_keep_put(struct large_hdr *h, size_t gap)
{
	uintptr_t base = large_base(h);
	size_t map_len = h->map_len;
	int kept = 0;

	if (a_load(&large_kept.nr, A_RELAXED) >= LARGE_EXACT_KEEP)
		return 0;
	os_decommit((void *)(base + gap), map_len - gap);
	hk_lock(&large_reserve.lock);
	if (large_kept.nr < LARGE_EXACT_KEEP) {
		large_kept.h[large_kept.nr] = h;
		large_kept.map_len[large_kept.nr] = map_len;
		a_store(&large_kept.nr, large_kept.nr + 1, A_RELAXED);
		kept = 1;
	}
	hk_unlock(&large_reserve.lock);
	return kept;
}

/*
 * A kept block with room for size bytes (LARGE_EXACT_ROOM times), its
 * map_len in *map_len; NULL if none.
 */
static struct large_hdr *large_keep_get(size_t size, size_t *map_len)
{
	struct large_hdr *h = NULL;
	unsigned int i;

	if (!a_load(&large_kept.nr, A_RELAXED))
		return NULL;
	hk_lock(&large_reserve.lock);
	for (i = 0; i < large_kept.nr; i++) {
		uintptr_t off = (uintptr_t)large_kept.h[i] & SS_MASK;

		if (off + LARGE_EXACT_ROOM * size <= large_kept.map_len[i]) {
			h = large_kept.h[i];
			*map_len = large_kept.map_len[i];
			large_kept.h[i] = large_kept.h[large_kept.nr - 1];
			large_kept.map_len[i] = large_kept.map_len[large_kept.nr - 1];
			a_store(&large_kept.nr, large_kept.nr - 1, A_RELAXED);
			break;
		}
	}
	hk_unlock(&large_reserve.lock);
	return h;
}

/* Unmap every kept block (lock not held). Returns 1 if there was any. */
static int large_keep_drain(void)
{
	int done = 0;

	hk_lock(&large_reserve.lock);
	while (large_kept.nr) {
		unsigned int i = large_kept.nr - 1;
		uintptr_t base = (uintptr_t)large_kept.h[i] & ~SS_MASK;
		size_t gap = ALIGN_DOWN((uintptr_t)large_kept.h[i] - base, os_page_size);

		a_store(&large_kept.nr, i, A_RELAXED);
		registry_set(base, REG_FOREIGN);
		os_unmap((void *)(base + gap), large_kept.map_len[i] - gap);
		a_fetch_sub(&large_exact_nr, 1, A_RELAXED);
		done = 1;
	}
	hk_unlock(&large_reserve.lock);
	return done;
}

/*
 * Clear the registry first: from then on no free can reach the header.
 * The header's words are read before either put: both decommit its page,
 * which reads zero after, also when the put then fails (the kept list
 * filled meanwhile; the reserve's array could not grow, under an
 * address-space limit), and the block is unmapped after all. With
 * map_len read from the zeroed header, munmap(base, 0) failed and the
 * chunk stayed mapped, unregistered and in no list: leaked for good
 * (randconfig KCONFIG_SEED=0x497b9c90 under qemu, where mmap failed now
 * and then; test_large_reserve_full_unmaps).
 */
static void large_unmap(struct large_hdr *h)
{
	uintptr_t base = large_base(h), user = (uintptr_t)h->user;
	size_t gap = large_gap(h), map_len = h->map_len;
	int whole = !gap && map_len == SS_SIZE && !large_huge_align(h);

	if (gap && large_keep_put(h, gap))
		return;
	if (gap)
		a_fetch_sub(&large_exact_nr, 1, A_RELAXED);
	if ((user - base) >> SS_SHIFT)
		registry_set(user, REG_FOREIGN);
	registry_set(base, REG_FOREIGN);
	if (whole && large_reserve_put(base))
		return;
	os_unmap((void *)(base + gap), map_len - gap);
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

/* The largest class whose size is at most m, or -1 (the cache's bins). */
static inline int large_class_floor(size_t m)
{
	unsigned int c;

	if (m < large_class_size(0) || m > LARGE_CLASS_MAX)
		return -1;
	c = large_class_index(m);
	return large_class_size(c) == m ? (int)c : (int)c - 1;
}

/*
 * Most bytes the cache may hold (large_cache_mb=, CONFIG_LARGE_CACHE_MAX_MB),
 * the least its budget shrinks to, and the length of a decay epoch
 * (decay_ms=; 0: nothing is kept).
 */
#define LARGE_CACHE_MAX		((size_t)hk_opt_inited(OPT_LARGE_CACHE_MB) << 20)
#define LARGE_CACHE_FLOOR	(LARGE_CACHE_MAX < (1UL << 20) ? LARGE_CACHE_MAX : (1UL << 20))
#define LARGE_DECAY_MS		hk_opt_inited(OPT_DECAY_MS)
#define LARGE_DECAY_CHECK	31	/* read the clock every 32 large operations */
#define LARGE_DECAY_EPOCHS	20	/* a block cached this many epochs ago goes (1 s) */
#define LARGE_PEAK_EPOCHS	20	/* the limit follows the live peak of this many epochs */
#define LARGE_PEAK_RING		32	/* entries of the peak ring (a power of two) */
BUILD_BUG_ON(LARGE_PEAK_RING & (LARGE_PEAK_RING - 1));
BUILD_BUG_ON(LARGE_PEAK_EPOCHS > LARGE_PEAK_RING);
#define LARGE_PEAK_SHIFT	4	/* the cache may hold a sixteenth of that peak more */
/*
 * The adaptive budget counts in the limit for at most the live peak
 * shifted by this (half of it), or its floor if that is more. Blocks
 * realloc growth leaves behind (large_regrow_copy()) are committed in
 * full, copied into: with the budget alone (raised by each miss in a bin
 * that dropped a block, up to CONFIG_LARGE_CACHE_MAX_MB) the cache held
 * 36 MB of them beside a live peak of 16 MB in bench_realloc, peak RSS
 * above jemalloc's and mimalloc's (Documentation/benchmarks.md).
 */
#define LARGE_BUDGET_PEAK_SHIFT	1

/*
 * A request takes a cached block of its own class; else one of up to
 * LARGE_REUSE_UP classes above, as it is (at most half as much again as
 * the class asked for, the bound on the waste); else one of up to
 * LARGE_REUSE_DOWN classes below (at least half the size), which the
 * caller grows: only the pages past its old end are new.
 */
#define LARGE_REUSE_UP		2
#define LARGE_REUSE_DOWN	(1 << LARGE_CLASS_BITS)

/*
 * A block realloc moves because it grew (large_alloc_grown()) takes a
 * cached block of up to one doubling above its class, as it is: it is a
 * buffer that grows, which realloc then grows into without a call
 * (hk_realloc_usable_size() keeps a block at most half empty where it
 * is), and the cached block's pages are committed already. Its mapping
 * has as much room when it is new (LARGE_EXACT_ROOM). Without this, a
 * program that grows strings by small appends past 32 KiB freed them in
 * the classes they reached (56-80 KiB) while every new one asked for the
 * first class (40 KiB): the big ones stayed cached until the limit
 * evicted them (an madvise each) and the new ones faulted their pages in
 * again (bench_strbuild: 3908 page faults, 766 with this;
 * Documentation/benchmarks.md).
 */
#define LARGE_REUSE_UP_GROWN	(1 << LARGE_CLASS_BITS)

/*
 * Else the first chunk (or two) of a cached block of more than two
 * chunks (classes from this size up), cut off: the rest, more than a
 * chunk, stays cached as a block of its own (large_cache_split()).
 */
#define LARGE_REUSE_CUT_MIN	(2 * SS_SIZE + LARGE_CLASS_MIN)

/*
 * Beyond that doubling, a grown buffer that would otherwise be mapped
 * anew, or grown into fresh pages, takes the nearest larger cached block
 * too small to be cut (up to this bin), whole: its size becomes room to
 * grow to twice the buffer (large_grown_keep()), and the pages past it
 * stay committed, held by the block (large_reuse_keep()). The pages
 * realloc copies the buffer into are the first of that block, committed
 * in its last life. Before, the freed buffers of bench_realloc, at their
 * targets (up to 4 MiB), fitted no new buffer crossing into Large (32-40
 * KiB): 29% of large requests hit the cache, each miss faulted the copy's
 * pages of a fresh mapping, and the cached blocks left by the limit, an
 * madvise each. Up to a chunk only (blocks of one to two chunks were
 * left to requests past a chunk), a buffer of 0.5-2 MiB grew by mremap
 * into fresh pages while blocks of 2-5 MiB stayed cached until the limit
 * unmapped them: bench_realloc with FILL=1 faulted 87 MB of growth in
 * and the limit dropped 72 MB of cached blocks (Documentation/
 * benchmarks.md, "twenty-eighth session").
 */
#define LARGE_REUSE_FAR_TOP	(large_class_index(LARGE_REUSE_CUT_MIN) - 1)

/* The bins' bitmaps are 64-bit words. */
BUILD_BUG_ON(LARGE_NR_CLASSES > 64);

/*
 * While a block is cached, its first bytes (the program no longer owns
 * them) hold its place in the age list, in the header's cache line, and
 * when it was cached. A cached block always has its header right before
 * it (align < SS_SIZE).
 */
struct large_age {
	struct large_link link;		/* place in the age list */
	unsigned long epoch;		/* decay epoch in which it was cached */
};

/*
 * Every operation on the cache is O(1): a put adds to the head of a bin
 * (one per class, newest first) and of the age list, a get takes the
 * head of the nearest non-empty bin a bitmap names, and making room or
 * decay drops the tail of the age list (the block cached longest ago,
 * whatever its class); bins and the age list are doubly linked.
 */
struct large_cache {
	struct hk_lock lock;				/* protects every field below but live */
	size_t live;					/* sum of size of the live blocks (atomic) */
	size_t bytes;					/* sum of size of the cached blocks (stored atomically: large_epoch() peeks) */
	size_t budget;					/* adaptive allowance beyond the peak */
	size_t peak[LARGE_PEAK_RING];			/* most live bytes seen in each recent epoch */
	size_t hi;					/* the largest of them */
	size_t tpeak[LARGE_PEAK_RING];			/* most bytes in use (large_in_use()) in each */
	size_t thi;					/* the largest of them */
	int tight;					/* atomic: address space short (os_vm_tight()): keep nothing */
	unsigned long clock;				/* large operations so far */
	unsigned long epoch_ms;				/* when the decay epoch began */
	unsigned long epoch;				/* decay epochs so far */
	uint64_t nonempty;				/* bit c: bin c holds blocks */
	uint64_t dropped;				/* bit c: a block of bin c went for want of room this epoch */
	struct large_list age;				/* every cached block, newest first */
	unsigned long *heads;				/* bit per chunk: a cached block starts there */
	struct large_list bin[LARGE_NR_CLASSES];	/* by class (floor) of the block size, newest first */
};

static struct large_cache large_cache = {
	.lock = HK_LOCK_INIT,
	/* The floor of the built-in maximum; adapted to the options on use. */
	.budget = (size_t)CONFIG_LARGE_CACHE_MAX_MB << 20 < (1UL << 20) ?
		  (size_t)CONFIG_LARGE_CACHE_MAX_MB << 20 : (1UL << 20),
};
HK_LOCK_REGISTER(&large_cache.lock, HK_LOCK_LARGE_CACHE);

/* Count delta more live bytes (wrapping: -size for fewer); returns the count before. */
static __always_inline size_t large_live_add(size_t delta)
{
	return a_fetch_add(&large_cache.live, delta, A_RELAXED);
}

static __always_inline void large_list_add(struct large_list *q, struct large_link *l)
{
	l->newer = NULL;
	l->older = q->newest;
	if (q->newest)
		q->newest->newer = l;
	else
		q->oldest = l;
	q->newest = l;
}

static __always_inline void large_list_del(struct large_list *q, struct large_link *l)
{
	if (l->newer)
		l->newer->older = l->older;
	else
		q->newest = l->older;
	if (l->older)
		l->older->newer = l->newer;
	else
		q->oldest = l->newer;
}

static __always_inline struct large_age *large_age_of(struct large_hdr *h)
{
	return (struct large_age *)((char *)h + LARGE_HDR_SIZE);
}

static __always_inline struct large_hdr *large_of_age(struct large_link *l)
{
	return (struct large_hdr *)((char *)l - LARGE_HDR_SIZE);
}

static __always_inline struct large_hdr *large_of_bin(struct large_link *l)
{
	return (struct large_hdr *)((char *)l - __builtin_offsetof(struct large_hdr, bin));
}

/*
 * The heads map (for coalescing): one bit per chunk of the address space,
 * set where a cached block of more than a chunk begins with its header
 * at the chunk start. It changes under the cache lock only, so a block
 * whose bit is set is cached and mapped: its header can be read. It is
 * mapped on the first free that could coalesce (address space only: one
 * bit per chunk is 8 MiB for 47-bit addresses and 2 MiB chunks, 16 MiB
 * for 1 MiB chunks, and untouched pages cost nothing, but the range
 * counts against RLIMIT_AS); until then, nothing coalesces.
 */
#define LARGE_HEADS_BYTES	((1UL << (ARCH_VA_BITS - SS_SHIFT)) / 8)
#define LARGE_HEAD_BITS		(8 * sizeof(unsigned long))

static __always_inline void large_head_mark(struct large_cache *c, struct large_hdr *h, int on)
{
	unsigned long i = (uintptr_t)h >> SS_SHIFT;

	if (h->map_len <= SS_SIZE || !c->heads || (uintptr_t)h != large_base(h))
		return;
	if (on)
		c->heads[i / LARGE_HEAD_BITS] |= 1UL << (i % LARGE_HEAD_BITS);
	else
		c->heads[i / LARGE_HEAD_BITS] &= ~(1UL << (i % LARGE_HEAD_BITS));
}

/* Add the freed block h to bin cls (lock held). */
static __always_inline void large_cache_add(struct large_cache *c, unsigned int cls,
					    struct large_hdr *h)
{
	struct large_age *a = large_age_of(h);

	/* Cache metadata in a freed block (CONFIG_VALGRIND: addressable). */
	vg_defined(h, LARGE_HDR_SIZE + sizeof(*a));
	large_head_mark(c, h, 1);
	large_list_add(&c->bin[cls], &h->bin);
	large_list_add(&c->age, &a->link);
	a->epoch = c->epoch;
	c->nonempty |= 1ULL << cls;
	a_store(&c->bytes, c->bytes + h->size, A_RELAXED);
}

/* Take h out of bin cls (lock held). */
static __always_inline void large_cache_del(struct large_cache *c, unsigned int cls,
					    struct large_hdr *h)
{
	large_head_mark(c, h, 0);
	large_list_del(&c->bin[cls], &h->bin);
	large_list_del(&c->age, &large_age_of(h)->link);
	if (!c->bin[cls].newest)
		c->nonempty &= ~(1ULL << cls);
	a_store(&c->bytes, c->bytes - h->size, A_RELAXED);
}

/* Take h out of the cache onto the victims list (to unmap once unlocked). */
static void large_cache_evict(struct large_cache *c, unsigned int cls, struct large_hdr *h,
			      struct large_hdr **victims)
{
	large_cache_del(c, cls, h);
	h->bin.older = *victims ? &(*victims)->bin : NULL;
	*victims = h;
}

/*
 * Bytes in use in the whole process as the cache sees them: the live
 * large bytes and the slab slots in use (SuperSlab pool).
 */
static __always_inline size_t large_in_use(size_t live)
{
	unsigned long active, dirty;

	ss_slot_counts(&active, &dirty);
	return live + active * SLOT_SIZE;
}

/* Note the bytes in use now in the current epoch's peaks. */
static __always_inline void large_note_peak(struct large_cache *c, size_t live)
{
	size_t total = large_in_use(live);
	unsigned int e = c->epoch % LARGE_PEAK_RING;

	if (live > c->peak[e]) {
		c->peak[e] = live;
		if (live > c->hi)
			c->hi = live;
	}
	if (total > c->tpeak[e]) {
		c->tpeak[e] = total;
		if (total > c->thi)
			c->thi = total;
	}
}

/*
 * Bytes the cache may hold while live bytes are in use: what the live
 * blocks fall short of their peak in the last LARGE_PEAK_EPOCHS epochs
 * (but no more than the process's bytes in use, slabs included, fall
 * short of theirs: memory the slabs took since then is not there to be
 * held again), plus a sixteenth of that peak (LARGE_PEAK_SHIFT), plus the
 * adaptive budget. Live and cached blocks together never exceed the
 * recent peak by more than a sixteenth of it and the budget, and the
 * process's footprint never exceeds its own recent peak by more either:
 * python3 building JSON documents (large strings grown by realloc, then
 * freed, while its objects fill slabs) held 8 MB of cached blocks above
 * its peak (93.9 MB against 85.6 MB with the cache off).
 */
static __always_inline size_t large_cache_limit(const struct large_cache *c, size_t live)
{
	size_t total = large_in_use(live);
	size_t spare = c->hi > live ? c->hi - live : 0;
	size_t tspare = c->thi > total ? c->thi - total : 0;
	size_t budget = c->budget;

	/*
	 * The budget counts for at most half the live peak (and at least
	 * its floor): see LARGE_BUDGET_PEAK_SHIFT.
	 */
	if (budget > c->hi >> LARGE_BUDGET_PEAK_SHIFT)
		budget = c->hi >> LARGE_BUDGET_PEAK_SHIFT > LARGE_CACHE_FLOOR ?
			 c->hi >> LARGE_BUDGET_PEAK_SHIFT : LARGE_CACHE_FLOOR;
	return budget + (c->hi >> LARGE_PEAK_SHIFT) + (spare < tspare ? spare : tspare);
}

/* Drop the least recently cached block (the tail of the age list). */
static void large_cache_evict_oldest(struct large_cache *c, struct large_hdr **victims)
{
	struct large_hdr *h = large_of_age(c->age.oldest);

	large_cache_evict(c, (unsigned int)large_class_floor(h->size), h, victims);
}

/* Drop the least recently cached blocks until the cache holds at most limit bytes. */
static void large_cache_shrink(struct large_cache *c, size_t limit, struct large_hdr **victims)
{
	while (c->bytes > limit) {
		c->dropped |= 1ULL << large_class_floor(large_of_age(c->age.oldest)->size);
		large_cache_evict_oldest(c, victims);
	}
}

/*
 * Decay, at the end of each epoch: a block that stayed in the cache for
 * LARGE_DECAY_EPOCHS epochs was not needed and goes (oldest first, from
 * the tail of the age list); the peak of the live bytes moves on (so the
 * limit follows a program whose heap shrinks); the budget halves once the
 * cache holds less than a quarter of it. Blocks a program reused within
 * the last second (20 epochs of 50 ms) stay, so that one that needs a
 * big buffer every few hundred milliseconds does not fault it in again
 * each time; the memory of sizes it stopped asking for goes back after
 * about a second of further large traffic.
 */
static void large_cache_decay(struct large_cache *c, unsigned long now,
			      struct large_hdr **victims)
{
	size_t live = a_load(&c->live, A_RELAXED);
	unsigned int i;

	c->epoch++;
	/*
	 * Under an address-space limit, or strict overcommit, a cached
	 * block holds address space a new request may need, and a reused
	 * larger one wastes it: keep nothing (read once per epoch, so a
	 * limit set at run time is seen within one).
	 */
	a_store(&c->tight, os_vm_tight(), A_RELAXED);
	while (c->age.oldest &&
	       large_age_of(large_of_age(c->age.oldest))->epoch + LARGE_DECAY_EPOCHS <= c->epoch)
		large_cache_evict_oldest(c, victims);
	c->dropped = 0;
	c->peak[c->epoch % LARGE_PEAK_RING] = live;
	c->tpeak[c->epoch % LARGE_PEAK_RING] = large_in_use(live);
	c->hi = live;
	c->thi = 0;
	for (i = 0; i < LARGE_PEAK_EPOCHS; i++) {
		if (c->peak[(c->epoch - i) % LARGE_PEAK_RING] > c->hi)
			c->hi = c->peak[(c->epoch - i) % LARGE_PEAK_RING];
		if (c->tpeak[(c->epoch - i) % LARGE_PEAK_RING] > c->thi)
			c->thi = c->tpeak[(c->epoch - i) % LARGE_PEAK_RING];
	}
	large_cache_shrink(c, large_cache_limit(c, live), victims);
	if (c->bytes < c->budget / 4)
		c->budget = c->budget / 2 > LARGE_CACHE_FLOOR ? c->budget / 2 : LARGE_CACHE_FLOOR;
	c->epoch_ms = now;
}

/* Read the clock; end the epoch if it is over (lock held). */
static void large_cache_clock(struct large_cache *c, struct large_hdr **victims)
{
	unsigned long now = os_now_ms();

	if (now - c->epoch_ms >= LARGE_DECAY_MS)
		large_cache_decay(c, now, victims);
}

/* Count one large operation; now and then see whether an epoch ended. */
static __always_inline void large_cache_tick(struct large_cache *c, struct large_hdr **victims)
{
	if (unlikely(!(++c->clock & LARGE_DECAY_CHECK)))
		large_cache_clock(c, victims);
}

static void large_unmap_victims(struct large_hdr *victims)
{
	while (victims) {
		struct large_hdr *h = victims;

		victims = h->bin.older ? large_of_bin(h->bin.older) : NULL;
		large_unmap(h);
	}
}

#ifdef CONFIG_DEBUG_ASSERT
/*
 * Walk the cache (lock held): every entry of a bin is a cached block
 * (magic, state LARGE_CACHED, header right before the block, mapping
 * registered and large enough) of that bin's class; the age list holds
 * as many blocks as the bins; the byte count is the sum of the entries
 * and the non-empty bitmap names exactly the non-empty bins.
 */
static void large_cache_check_locked(struct large_cache *c)
{
	size_t bytes = 0, n = 0, aged = 0;
	struct large_link *l;
	unsigned int i;

	for (i = 0; i < LARGE_NR_CLASSES; i++) {
		HK_ASSERT(!!c->bin[i].newest == !!(c->nonempty & (1ULL << i)));
		for (l = c->bin[i].newest; l; l = l->older) {
			const struct large_hdr *h = large_of_bin(l);

			if (unlikely(h->magic != LARGE_MAGIC ||
				     a_load(&h->state, A_RELAXED) != LARGE_CACHED ||
				     large_huge_align(h) ||
				     large_class_floor(h->size) != (int)i ||
				     (registry_lookup((uintptr_t)h) != REG_LARGE &&
				      (registry_lookup((uintptr_t)h) < REG_LARGE_OFF(0) ||
				       registry_lookup((uintptr_t)h) >= REG_LARGE_BACK(0))) ||
				     (uintptr_t)h - large_base(h) + h->size > h->map_len))
				hk_fatal("large cache: bad entry %p in bin %u: magic %x, state %u, size %zu, map_len %zu",
					 (const void *)h, i, h->magic, h->state, h->size, h->map_len);
			HK_ASSERT(!l->older || l->older->newer == l);
			bytes += h->size;
			n++;
		}
	}
	for (l = c->age.newest; l; l = l->older)
		aged++;
	HK_ASSERT(aged == n);
	if (unlikely(bytes != c->bytes))
		hk_fatal("large cache: holds %zu bytes, counts %zu", bytes, c->bytes);
}

void large_cache_check(void)
{
	hk_lock(&large_cache.lock);
	large_cache_check_locked(&large_cache);
	hk_unlock(&large_cache.lock);
}
#else
static inline void large_cache_check_locked(struct large_cache *c)
{
}
#endif

/*
 * Cut the cached block h, taken for bsize bytes, at the first chunk
 * (huge-page) boundary past bsize, when more than a chunk lies beyond:
 * that rest becomes a cached block of its own, header at its start (lock
 * held). No system call: the pages stay where they are, committed.
 */
static void large_cache_split(struct large_cache *c, struct large_hdr *h, size_t bsize)
{
	uintptr_t base = large_base(h), end = base + h->map_len;
	uintptr_t cut = ALIGN_UP((uintptr_t)h + bsize, large_map_align(h->map_len));
	struct large_hdr *t;

	if (end <= cut || end - cut <= SS_SIZE)
		return;
	t = (struct large_hdr *)cut;
	vg_defined(t, LARGE_HDR_SIZE);
	t->magic = LARGE_MAGIC;
	t->user = (char *)t + LARGE_HDR_SIZE;
	t->size = end - cut;
	t->map_len = end - cut;
	a_store(&t->state, LARGE_CACHED, A_RELAXED);
	registry_set(cut, REG_LARGE);
	h->map_len = cut - base;
	h->size = cut - (uintptr_t)h;
	large_cache_add(c, (unsigned int)large_class_floor(t->size), t);
}

/*
 * Take a cached block for a request of size bytes (a class size): the
 * newest of its class, else of the nearest larger class, else of the
 * nearest smaller class within reuse_down classes (LARGE_REUSE_DOWN, or
 * 0 for none; then h->size < size: the caller grows it). A larger block is taken as it is within reuse_up
 * classes (LARGE_REUSE_UP, or LARGE_REUSE_UP_GROWN); beyond, only for a
 * request of more than a chunk and from classes large enough to be cut
 * (large_cache_split). NULL if there is none.
 */
static struct large_hdr *large_cache_get(size_t size, unsigned int reuse_up,
					 unsigned int reuse_down)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL, *h = NULL;
	uint64_t want = (2ULL << reuse_up) - 1, far = 0, head = 0, up, down;
	unsigned int cls, lo, i;

	if (unlikely(size > LARGE_CLASS_MAX))
		return NULL;
	cls = large_class_index(size);
	lo = cls > reuse_down ? cls - reuse_down : 0;
	/*
	 * A grown buffer takes, after its own and the nearer classes, any
	 * larger cached block too small to be cut (LARGE_REUSE_FAR_TOP): the
	 * caller keeps what it needs (large_reuse_keep()).
	 */
	if (reuse_up == LARGE_REUSE_UP_GROWN && cls + reuse_up < LARGE_REUSE_FAR_TOP) {
		far = ((2ULL << (LARGE_REUSE_FAR_TOP - cls)) - 1) & ~want;
		/*
		 * Then the first chunk of a block of more than two: cut off
		 * (large_cache_split()), the rest stays cached.
		 */
		if (size <= SS_SIZE && large_map_align(LARGE_REUSE_CUT_MIN) == SS_SIZE)
			head = ~0ULL << (large_class_index(LARGE_REUSE_CUT_MIN) - cls);
	}
	if (size > SS_SIZE) {
		/* Classes whose blocks leave more than a chunk once cut. */
		size_t cuttable = size + large_map_align(size + 2 * SS_SIZE) + SS_SIZE + 1;

		if (cuttable <= LARGE_CLASS_MAX)
			want |= ~0ULL << (large_class_index(cuttable) - cls);
	}
	hk_lock(&c->lock);
	large_cache_tick(c, &victims);
	up = (c->nonempty >> cls) & want;
	down = c->nonempty & ((1ULL << cls) - (1ULL << lo));
	far = (c->nonempty >> cls) & far;
	head = (c->nonempty >> cls) & head;
	if (likely(up | down | far | head)) {
		if (up)
			i = cls + (unsigned int)__builtin_ctzll(up);
		else if (down)
			i = 63 - (unsigned int)__builtin_clzll(down);
		else if (far)
			i = cls + (unsigned int)__builtin_ctzll(far);
		else
			i = cls + (unsigned int)__builtin_ctzll(head);
		h = large_of_bin(c->bin[i].newest);
		if (unlikely(h->magic != LARGE_MAGIC ||
			     a_load(&h->state, A_RELAXED) != LARGE_CACHED))
			hk_fatal("large cache: bad entry %p taken: magic %x, state %u",
				 (const void *)h, h->magic, h->state);
		large_cache_del(c, i, h);
		if ((size > SS_SIZE || !(up | down | far)) && h->size > size)
			large_cache_split(c, h, size);
	} else if (c->dropped & ((want << cls) | ((1ULL << cls) - (1ULL << lo)))) {
		/* We dropped one of these this epoch and it is wanted again. */
		c->budget = c->budget + 2 * size < LARGE_CACHE_MAX ?
			    c->budget + 2 * size : LARGE_CACHE_MAX;
	}
	hk_unlock(&c->lock);

	/* The first chunk of a cut block: one chunk now, no huge pages (the reserve). */
	if (unlikely(head && !(up | down | far)) && LARGE_HUGEPAGES)
		os_nohugepage((void *)large_base(h), SS_SIZE);
	if (unlikely(victims))
		large_unmap_victims(victims);
	return h;
}

/* The cached block that starts at chunk i (its head bit is set), or NULL. */
static __always_inline struct large_hdr *large_head_at(struct large_cache *c, unsigned long i)
{
	if (!(c->heads[i / LARGE_HEAD_BITS] & (1UL << (i % LARGE_HEAD_BITS))))
		return NULL;
	return (struct large_hdr *)(i << SS_SHIFT);
}

/* The cached block whose mapping ends at base: the nearest head below, checked. */
static struct large_hdr *large_head_below(struct large_cache *c, uintptr_t base)
{
	unsigned long i = base >> SS_SHIFT, span = LARGE_CLASS_MAX >> SS_SHIFT;
	unsigned long lo = i > span ? i - span : 0, w;
	struct large_hdr *n;

	while (i > lo) {
		i--;
		/* Bits 0 .. i % 64 of i's word. */
		w = c->heads[i / LARGE_HEAD_BITS] &
		    (~0UL >> (LARGE_HEAD_BITS - 1 - i % LARGE_HEAD_BITS));
		if (!w) {
			i -= i % LARGE_HEAD_BITS;
			continue;
		}
		i = i - i % LARGE_HEAD_BITS + LARGE_HEAD_BITS - 1 - (unsigned long)__builtin_clzl(w);
		if (i < lo)
			return NULL;
		n = (struct large_hdr *)(i << SS_SHIFT);
		return (uintptr_t)n + n->map_len == base ? n : NULL;
	}
	return NULL;
}

/*
 * Coalescing (lock held): the freed block h, of more than a chunk, takes
 * over the cached block whose mapping follows its own, and is taken over
 * by the cached block whose mapping ends where its own begins; only
 * blocks whose head bit is set are considered (their headers are safe to
 * read). The pages stay committed; a merged block is cut again when a
 * smaller request takes it. Returns the merged block: h, or the block
 * below it.
 */
static struct large_hdr *large_cache_merge(struct large_cache *c, struct large_hdr *h)
{
	uintptr_t base = large_base(h), end;
	struct large_hdr *n;

	if (unlikely(!c->heads)) {
		/* Not os_map_aligned(): its core_reclaim() takes this lock. */
		c->heads = os_map_pages(LARGE_HEADS_BYTES);
		if (!c->heads)
			return h;
	}
	for (;;) {
		end = base + h->map_len;
		if ((end & SS_MASK) || !(n = large_head_at(c, end >> SS_SHIFT)) ||
		    h->map_len + n->map_len > LARGE_CLASS_MAX)
			break;
		large_cache_del(c, (unsigned int)large_class_floor(n->size), n);
		registry_set((uintptr_t)n, REG_FOREIGN);
		n->magic = 0;
		h->map_len += n->map_len;
		h->size = h->map_len;
	}
	n = large_head_below(c, base);
	if (!n || n->size + h->map_len > LARGE_CLASS_MAX)
		return h;
	large_cache_del(c, (unsigned int)large_class_floor(n->size), n);
	registry_set(base, REG_FOREIGN);
	h->magic = 0;
	n->map_len += h->map_len;
	n->size = n->map_len;
	return n;
}

/*
 * Keep the freed block h; live: the live bytes before it was freed.
 * Returns 0 if the caller must unmap it.
 */
static int large_cache_put(struct large_hdr *h, size_t live)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL, *m = h;
	int cls = large_class_floor(h->size), kept = 0;
	size_t max = LARGE_CACHE_MAX, limit;

	/* decay_ms=0 or large_cache_mb=0 or little address space: keep nothing. */
	if (unlikely(cls < 0 || !max || !LARGE_DECAY_MS ||
		     a_load(&c->tight, A_RELAXED)))
		return 0;
	hk_lock(&c->lock);
	large_cache_tick(c, &victims);
	/* The live bytes peak just before a free. */
	large_note_peak(c, live);
	/* large_cache_mb= may have been lowered (hak_option_set). */
	if (unlikely(c->budget > max))
		c->budget = max;
	HK_ASSERT(a_load(&h->state, A_RELAXED) == LARGE_FREED && !large_huge_align(h));
	limit = large_cache_limit(c, live - h->size);
	if (h->map_len > SS_SIZE && (uintptr_t)h == large_base(h))
		m = large_cache_merge(c, h);
	cls = large_class_floor(m->size);
	if (likely(m->size <= limit)) {
		if (unlikely(c->bytes + m->size > limit))
			large_cache_shrink(c, limit - m->size, &victims);
		a_store(&m->state, LARGE_CACHED, A_RELAXED);
		large_cache_add(c, (unsigned int)cls, m);
		kept = 1;
	} else {
		c->dropped |= 1ULL << cls;
		if (m != h) {
			/* h is part of m now: m goes. */
			m->bin.older = victims ? &victims->bin : NULL;
			victims = m;
			kept = 1;
		}
	}
	hk_unlock(&c->lock);

	if (unlikely(victims))
		large_unmap_victims(victims);
	return kept;
}

/*
 * A block was mapped anew (the cache had none to give; counted live
 * already, size 0) or size more bytes are about to be live (a block grown
 * by realloc): the cached blocks must fit the limit that the live bytes,
 * with it, leave. Without this the bound was kept only when blocks were freed
 * into the cache, and a program whose new large blocks fit none of the
 * cached ones held both, above its peak: python3 building and dropping
 * JSON documents, 145 MB peak RSS against 127 MB with the cache off.
 * Evicted before the program touches the new pages, so that the peak
 * does not see both; after the mapping, so that donation (large_donate())
 * takes the oldest blocks' pages before they would be unmapped here.
 */
static void large_cache_make_room(size_t size)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;
	size_t limit;

	/* The lock, even to see an empty cache: a miss maps memory anyway. */
	hk_lock(&c->lock);
	large_note_peak(c, a_load(&c->live, A_RELAXED));
	limit = large_cache_limit(c, a_load(&c->live, A_RELAXED) + size);
	if (c->bytes > limit)
		large_cache_shrink(c, limit, &victims);
	hk_unlock(&c->lock);
	if (unlikely(victims))
		large_unmap_victims(victims);
}

/*
 * The slabs committed new memory: the footprint went above what it was
 * when blocks were last cached, and the limit (large_cache_limit(), which
 * counts the slabs in use) is kept here too. Without this it was kept
 * only at large frees and misses, and a program whose slabs grew after
 * it freed its big buffers held both at its peak: sqlite3's sorter
 * buffers, 5.2 MB cached at the peak of `bench_real.sh sqlite 40000`.
 * One lock per claim of new slots, which fault 64 KiB each anyway.
 */
void large_slabs_grew(size_t bytes)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;
	size_t live, limit;

	hk_lock(&c->lock);
	if (c->bytes) {
		live = a_load(&c->live, A_RELAXED);
		limit = large_cache_limit(c, live);
		/*
		 * The footprint is at its recent peak: the slabs' new memory
		 * takes the place of as much cached memory (oldest first),
		 * so that the cache's allowance is not added on top of a
		 * peak the slabs make.
		 */
		if (large_in_use(live) >= c->thi)
			limit = c->bytes > limit + bytes ? limit : c->bytes > bytes ? c->bytes - bytes : 0;
		if (c->bytes > limit)
			large_cache_shrink(c, limit, &victims);
	}
	hk_unlock(&c->lock);
	if (unlikely(victims))
		large_unmap_victims(victims);
}

/*
 * The SuperSlab clock began a new epoch (the box's epoch hook): the
 * cache's own clock is read every 32 large operations only, so a
 * program that made no more of them kept what the cache held at its
 * last one (its bound, large_cache_limit(), at that moment) for good.
 * z3 frees one of its three 8 MiB tables at start-up and then allocates
 * from the slabs only; what the bound left of it stayed cached to the
 * end. Now the slabs' traffic ends the cache's epochs as well: the bound
 * follows the window, and what no large request took within
 * LARGE_DECAY_EPOCHS goes. Nothing to do (no lock taken) while the
 * cache is empty.
 */
void large_epoch(void)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;

	if (!a_load(&c->bytes, A_RELAXED))
		return;
	hk_lock(&c->lock);
	if (c->bytes)
		large_cache_clock(c, &victims);
	hk_unlock(&c->lock);
	if (unlikely(victims))
		large_unmap_victims(victims);
}

int large_trim(void)
{
	struct large_cache *c = &large_cache;
	struct large_hdr *victims = NULL;

	hk_lock(&c->lock);
	large_cache_check_locked(c);
	large_cache_shrink(c, 0, &victims);
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

#ifdef CONFIG_MALLOC_INFO
/*
 * Blocks, block bytes and mapped bytes the cache holds, for mallinfo():
 * counted here, walking the bins (at most the budget's worth of blocks),
 * so that caching a block and handing it out count nothing. Only
 * large_usage() reads them (clang's -Wunused-function, an error with
 * -Werror, when it is not there).
 */
static void large_cache_held(unsigned long *nr, size_t *bytes, size_t *map)
{
	struct large_cache *c = &large_cache;
	struct large_link *l;
	unsigned int i;

	*nr = 0;
	*map = 0;
	hk_lock(&c->lock);
	for (i = 0; i < LARGE_NR_CLASSES; i++) {
		for (l = c->bin[i].newest; l; l = l->older) {
			++*nr;
			*map += large_map_bytes(large_of_bin(l));
		}
	}
	*bytes = c->bytes;
	hk_unlock(&c->lock);
}
#endif /* CONFIG_MALLOC_INFO */

#else /* !CONFIG_LARGE_CACHE */

#define LARGE_REUSE_UP		0
#define LARGE_REUSE_UP_GROWN	0
#define LARGE_REUSE_DOWN	0

static inline size_t large_live_add(size_t delta)
{
	return 0;
}

static inline struct large_hdr *large_cache_get(size_t size, unsigned int reuse_up,
						unsigned int reuse_down)
{
	return NULL;
}

static inline int large_cache_put(struct large_hdr *h, size_t live)
{
	return 0;
}

static inline void large_cache_make_room(size_t size)
{
}

void large_slabs_grew(size_t bytes)
{
}

void large_epoch(void)
{
}

int large_trim(void)
{
	return 0;
}

size_t large_cached_bytes(void)
{
	return 0;
}

#ifdef CONFIG_MALLOC_INFO
static void large_cache_held(unsigned long *nr, size_t *bytes, size_t *map)
{
	*nr = 0;
	*bytes = 0;
	*map = 0;
}
#endif

#endif /* CONFIG_LARGE_CACHE */

/* ------------------------------------------------------------------ */
/* Donation (CONFIG_LARGE_DONATE)                                     */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_LARGE_DONATE
/*
 * A block of more than a chunk that needs new pages (a new mapping, a
 * block grown by realloc or for a request) takes whole chunks of
 * committed pages from the least recently cached blocks with mremap,
 * instead of faulting fresh zero pages while the cache still holds the
 * old ones: the peak RSS does not count both, and moving page tables
 * costs less than faulting and zeroing. A donor gives the chunks at its
 * start (the pages its program wrote) and what stays, a chunk or more,
 * is a cached block of its own; when the receiver needs all of it, it
 * goes whole. Its last, partial chunk (a class size need not be a chunk
 * multiple) is unmapped first, so that every piece moved is whole chunks
 * and every boundary between the pieces of a block (each a VMA of its
 * own: the kernel merges no two anonymous mappings faulted apart) lies on
 * a chunk boundary. A donor made of pieces cannot move in one mremap
 * (EFAULT across VMAs): it moves chunk by chunk, from its start, so that
 * what stays is still one range; a chunk that cannot move ends the
 * donation there.
 *
 * At most LARGE_DONOR_SCAN blocks from the old end of the age list are
 * looked at (one-chunk blocks and exactly mapped ones give nothing).
 * The moves happen under the cache lock: the donors must not be taken
 * meanwhile, and a move of page tables is short (a huge page or a page
 * table page moves as one entry when both ends are aligned).
 */
#define LARGE_DONOR_SCAN	16

static __always_inline void large_list_add_oldest(struct large_list *q, struct large_link *l)
{
	l->older = NULL;
	l->newer = q->oldest;
	if (q->oldest)
		q->oldest->older = l;
	else
		q->newest = l;
	q->oldest = l;
}

/* Put the shrunk donor h back at the old ends of its bin and of the age list (lock held). */
static void large_cache_add_oldest(struct large_cache *c, struct large_hdr *h, unsigned long epoch)
{
	unsigned int cls = (unsigned int)large_class_floor(h->size);
	struct large_age *a = large_age_of(h);

	/* A new remainder's first bytes were the freed block's (CONFIG_VALGRIND). */
	vg_defined(h, LARGE_HDR_SIZE + sizeof(*a));
	large_head_mark(c, h, 1);
	large_list_add_oldest(&c->bin[cls], &h->bin);
	large_list_add_oldest(&c->age, &a->link);
	a->epoch = epoch;
	c->nonempty |= 1ULL << cls;
	c->bytes += h->size;
}

/*
 * Move chunks of the cached block d to dst, at most want bytes (a chunk
 * multiple; lock held), from its start: the pages a program touched
 * (a block is written from its start; the top of its class often never
 * is). What stays becomes a cached block of its own with a new header at
 * the first chunk left (as large_cache_split() cuts), with d's age.
 * Returns the bytes of dst it was given (some may have stayed fresh if a
 * move failed), 0 if d gives nothing.
 */
static size_t large_donate_from(struct large_cache *c, struct large_hdr *d, uintptr_t dst,
				size_t want)
{
	uintptr_t b = large_base(d), e = b + d->map_len, top = ALIGN_DOWN(e, SS_SIZE), at;
	unsigned int reg = registry_lookup(b);
	unsigned long epoch = large_age_of(d)->epoch;
	struct large_hdr *t = d;
	size_t take;

	if (large_gap(d) || top - b < 2 * SS_SIZE)
		return 0;
	take = want >= top - b ? top - b : (want < top - b - SS_SIZE ? want : top - b - SS_SIZE);
	large_cache_del(c, (unsigned int)large_class_floor(d->size), d);
	if (e != top)
		os_unmap((void *)top, e - top);
	/* The header moves away: no free may find it, now or in dst. */
	registry_set(b, REG_FOREIGN);
	d->magic = 0;
	if (os_remap_fixed((void *)b, take, (void *)dst)) {
		/* Pieces of several mappings: chunk by chunk, so that what stays is one range. */
		for (at = b; at < b + take; at += SS_SIZE)
			if (os_remap_fixed((void *)at, SS_SIZE, (void *)(dst + (at - b))))
				break;
	} else {
		at = b + take;
	}
	STAT_INC(STAT_LARGE_MREMAP);
	if (at == top)
		return take;
	if (at == b) {
		registry_set(b, reg);
	} else {
		t = (struct large_hdr *)at;
		vg_defined(t, LARGE_HDR_SIZE);
		t->user = (char *)t + LARGE_HDR_SIZE;
		a_store(&t->state, LARGE_CACHED, A_RELAXED);
		registry_set(at, REG_LARGE);
	}
	t->magic = LARGE_MAGIC;
	t->map_len = top - large_base(t);
	t->size = top - (uintptr_t)t;
	/* A one-chunk block may go to the reserve: no huge pages there. */
	if (LARGE_HUGEPAGES && t->map_len == SS_SIZE)
		os_nohugepage((void *)large_base(t), SS_SIZE);
	large_cache_add_oldest(c, t, epoch);
	return take;
}

/*
 * Fill the whole chunks of [from, to) (ours to replace: fresh, untouched
 * pages of a block being made) with pages of the oldest cached blocks.
 * Returns the bytes moved in or left fresh for want of donors' pages.
 */
static size_t large_donate(uintptr_t from, uintptr_t to)
{
	struct large_cache *c = &large_cache;
	uintptr_t dst = ALIGN_UP(from, SS_SIZE), end = ALIGN_DOWN(to, SS_SIZE);
	struct large_link *l, *newer;
	unsigned int scan;
	size_t done = 0;

	if (end <= dst)
		return 0;
	hk_lock(&c->lock);
	for (l = c->age.oldest, scan = 0; l && dst + done < end && scan < LARGE_DONOR_SCAN;
	     l = newer, scan++) {
		newer = l->newer;
		done += large_donate_from(c, large_of_age(l), dst + done, end - dst - done);
	}
	hk_unlock(&c->lock);
	return done;
}
#else
static inline size_t large_donate(uintptr_t from, uintptr_t to)
{
	return 0;
}
#endif /* CONFIG_LARGE_DONATE */

/* ------------------------------------------------------------------ */
/* Usage (CONFIG_MALLOC_INFO)                                         */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_MALLOC_INFO
/* Live = mapped - cached; a cached block's usable size is h->size - 48. */
/* A live count: one that another thread took down first may read below 0. */
static unsigned long large_count_read(const unsigned long *v)
{
	unsigned long x = a_load(v, A_RELAXED);

	return (long)x < 0 ? 0 : x;
}

void large_usage(struct large_usage *u)
{
	unsigned long c_nr;
	size_t c_bytes, c_map;

	large_cache_held(&c_nr, &c_bytes, &c_map);
	/* Read while other threads allocate: a sum taken mid-change is clamped. */
	u->nr = large_count_read(&large_count.nr);
	u->bytes = large_count_read(&large_count.bytes);
	u->map = large_count_read(&large_count.map);
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
	done |= large_keep_drain();
	return large_reserve_drain() | done;
}

/* ------------------------------------------------------------------ */
/* Growing a mapping                                                  */
/* ------------------------------------------------------------------ */

/*
 * Move the len bytes at src to dst (a chunk boundary, dst ours to
 * replace) when one mremap cannot: a block made of pieces of several
 * mappings (large_donate()), whose boundaries lie on chunk boundaries,
 * moves chunk by chunk. If a chunk does not move, the chunks moved so far
 * go back: 0, or -1 with everything where it was.
 */
static int large_remap_pieces(uintptr_t src, size_t len, uintptr_t dst)
{
	size_t off, n = 0;

	for (off = 0; off < len; off += n) {
		n = len - off < SS_SIZE ? len - off : SS_SIZE;
		if (os_remap_fixed((void *)(src + off), n, (void *)(dst + off)))
			break;
	}
	if (off >= len)
		return 0;
	while (off) {
		off -= SS_SIZE;
		/* The reverse of a move that just worked, into the hole it left. */
		if (unlikely(os_remap_fixed((void *)(dst + off), SS_SIZE, (void *)(src + off))))
			hk_fatal("large: cannot move %p back to %p", (void *)(dst + off),
				 (void *)(src + off));
	}
	return -1;
}

/*
 * A block made of pieces (os_remap_move() failed: EFAULT across VMAs)
 * moves to a new mapping of map_len bytes piece by piece. The new
 * mapping's base, or 0 (nothing moved).
 */
static __slowpath uintptr_t large_move_pieces(uintptr_t base, size_t old_len, size_t map_len)
{
	uintptr_t nbase = (uintptr_t)os_map_aligned_charged(map_len, large_map_align(map_len));

	if (!nbase)
		return 0;
	if (large_remap_pieces(base, old_len, nbase)) {
		os_unmap((void *)nbase, map_len);
		return 0;
	}
	return nbase;
}

/*
 * Grow by moving the pages elsewhere (no copy); NULL if that fails too.
 * map_len counts from base. The new mapping starts on a chunk boundary
 * and its first chunk is mapped in full (REG_LARGE): an exactly mapped
 * coloured block becomes an ordinary one, its header at the same offset
 * in its page.
 */
static __slowpath struct large_hdr *large_move(struct large_hdr *h, size_t map_len, size_t size)
{
	uintptr_t base = large_base(h), gap = large_gap(h), off = (uintptr_t)h - base - gap, nbase;
	unsigned int reg = registry_lookup(base);
	size_t old_len = h->map_len - gap;
	struct large_hdr *n;

	map_len -= gap;
	if (map_len < SS_SIZE)
		map_len = SS_SIZE;
	registry_set(base, REG_FOREIGN);
	nbase = (uintptr_t)os_remap_move((void *)(base + gap), old_len, map_len,
					 large_map_align(map_len));
	if (unlikely(!nbase) && !gap)
		nbase = large_move_pieces(base, old_len, map_len);
	if (unlikely(!nbase)) {
		registry_set(base, reg);
		return NULL;
	}
	if (gap) {
		a_fetch_sub(&large_exact_nr, 1, A_RELAXED);
		/* A one-chunk mapping: no huge page for a small block (see the reserve). */
		if (map_len == SS_SIZE)
			os_nohugepage((void *)nbase, map_len);
	}
	large_thp(nbase, old_len, map_len);
	n = (struct large_hdr *)(nbase + off);
	n->user = (char *)n + LARGE_HDR_SIZE;
	n->size = size;
	n->map_len = map_len;
	registry_set(nbase, REG_LARGE);
	STAT_INC(STAT_LARGE_MREMAP);
	return n;
}

/*
 * Make the block h (header right before it) bsize bytes long: inside its
 * mapping (a whole first chunk has room) without a system call, else by
 * growing the mapping in place, else by moving it. Returns the header,
 * moved or not, or NULL (h unchanged) if the kernel refused.
 */
static struct large_hdr *large_grow_map(struct large_hdr *h, size_t bsize)
{
	uintptr_t base = large_base(h);
	size_t end = (uintptr_t)h - base + bsize, old_len = h->map_len, gap = large_gap(h);
	size_t map_len = ALIGN_UP(end > SS_SIZE || gap ? end : SS_SIZE, os_page_size);

	if (map_len <= old_len) {
		h->size = bsize;
		return h;
	}
	/*
	 * An exactly mapped block that keeps growing (realloc) grows with
	 * room for four times its size, or once that would pass its chunk,
	 * moves to a whole chunk, where it grows to 2 MiB without a system
	 * call (large_move).
	 */
	if (gap) {
		map_len = ALIGN_UP((uintptr_t)h - base + LARGE_EXACT_GROW_ROOM * bsize, os_page_size);
		if (map_len > SS_SIZE && end <= SS_SIZE / 2)
			return large_move(h, end, bsize);
	}
	/*
	 * The grown range's chunks may be cut off as blocks of their own
	 * later (large_cache_split() registers them): their registry
	 * tables must exist, as os_map_aligned() makes sure for new
	 * mappings. A block made of pieces of several mappings
	 * (large_donate()) cannot grow by mremap (EFAULT across VMAs): a
	 * mapping placed right past its end grows it the same.
	 */
	if (registry_prepare(base + old_len, map_len - old_len) == 0 &&
	    (os_remap_inplace((void *)(base + gap), old_len - gap, map_len - gap) == 0 ||
	     os_map_at_charged((void *)(base + old_len), map_len - old_len) == 0)) {
		large_thp(base + gap, old_len - gap, map_len - gap);
		h->map_len = map_len;
		h->size = bsize;
		STAT_INC(STAT_LARGE_MREMAP);
		return h;
	}
	/* A block made of pieces moves chunk by chunk (large_move_pieces()). */
	return large_move(h, map_len, bsize);
}

/*
 * large_grow_map(), then the whole chunks of the new part up to want
 * bytes from the header (what the program may touch) take the pages of
 * the oldest cached blocks (large_donate()). The old part keeps its
 * bytes, and the pages it held (large_reuse_keep()) stay: they are
 * committed already.
 */
static struct large_hdr *large_grow(struct large_hdr *h, size_t bsize, size_t want)
{
	size_t old = large_held(h);
	struct large_hdr *n = large_grow_map(h, bsize);

	if (n)
		large_donate((uintptr_t)n + old, (uintptr_t)n + want);
	return n;
}

/*
 * A cached block smaller than the request (bsize): grow it. Its pages
 * stay committed and only those past its old end are new. If the kernel
 * refuses, the block goes and NULL sends the caller to a new mapping.
 */
static __slowpath struct large_hdr *large_reuse_grow(struct large_hdr *h, size_t bsize,
						     size_t want)
{
	struct large_hdr *n = large_grow(h, bsize, want);

	if (unlikely(!n))
		large_unmap(h);
	return n;
}

#ifdef CONFIG_LARGE_CACHE
/*
 * What a cached block taken for a buffer of size bytes keeps as its size
 * (bsize: the class asked for): room to grow to twice the buffer, a
 * class, and no more, so that the buffer's next growth does not find it
 * more than half empty: large_resize_block() would give its tail back
 * (an madvise, and a fault per page when the buffer grows into them
 * again). One doubling above the class kept a buffer of just past a
 * class more than half empty (bench_realloc: up to 2 MiB of held pages
 * at a time given back that way).
 */
static inline size_t large_grown_keep(size_t size, size_t bsize)
{
	int c = large_class_floor(LARGE_HDR_SIZE + 2 * size);
	size_t keep = c < 0 ? bsize : large_class_size((unsigned int)c);

	return keep > bsize ? keep : bsize;
}

/*
 * A cached block larger than that (far larger for a grown buffer,
 * LARGE_REUSE_FAR_TOP): its size becomes large_grown_keep() (header
 * included), and the pages past it stay as they are, held by the block
 * (h->held, counted live: large_held()): the buffer grows into them
 * without a system call or a page fault. They go back with the block
 * when it is freed (it is cached whole again), or when realloc shrinks
 * it. Giving them back here instead (an madvise) cost the buffer that
 * then grew into them a fault per page: bench_realloc with every byte
 * written (FILL=1), 238,000 page faults against 168,000
 * (Documentation/benchmarks.md).
 */
static void large_reuse_keep(struct large_hdr *h, size_t size, size_t bsize)
{
	size_t keep = large_grown_keep(size, bsize);

	if (h->size <= keep)
		return;
	h->held = h->size;
	h->size = keep;
}
#else
static inline void large_reuse_keep(struct large_hdr *h, size_t size, size_t bsize)
{
}
#endif /* CONFIG_LARGE_CACHE */

/* ------------------------------------------------------------------ */
/* Allocation and free                                                */
/* ------------------------------------------------------------------ */

/*
 * Colours: where in its chunk the next new block goes. Successive blocks
 * step by a page and a cache line, so their first lines and pages spread
 * over the sets of the caches and of the TLB.
 */
#define LARGE_COLOUR_STEP	REG_LARGE_STEP


static unsigned long large_colour;		/* blocks placed so far (racy, a hint) */

static size_t large_pick_offset(size_t size, size_t align)
{
	size_t room = SS_SIZE - size, n;

	n = a_load(&large_colour, A_RELAXED);
	a_store(&large_colour, n + 1, A_RELAXED);
	return ALIGN_DOWN((n * LARGE_COLOUR_STEP) % (room + 1), align > 64 ? align : 64);
}

/*
 * large_map_claim() walks down from the chunk it claimed last: at most
 * this many chunks (their registry bytes), and this many mmap attempts
 * on chunks the registry says are free, before it asks the kernel.
 * Every chunk of ours below the hint may be an exactly mapped block's:
 * the walk passes over LARGE_EXACT_MAX of them and more. The mmap
 * attempts fail (EEXIST) on ranges someone else mapped, which the
 * registry cannot know: the Large cache's own 16 MiB bitmap with 1 MiB
 * chunks is 16 of them (4 attempts were too few: randconfig
 * KCONFIG_SEED=0x65912167, only Large, under RLIMIT_AS).
 */
#define LARGE_CLAIM_SCAN	(LARGE_EXACT_MAX + 64)
#define LARGE_CLAIM_MAPS	32

/*
 * ... and this many ranges the kernel placed in chunks of ours, kept
 * mapped while it looks for another one (then given back).
 */
#define LARGE_CLAIM_PLUGS	16

/*
 * Map len bytes at offset gap of a chunk that nothing of ours is
 * registered in, and register the chunk as value. Returns the chunk's
 * base, or 0. The rest of the chunk is not ours: the kernel may place
 * someone else's mappings there, and a coloured block may have its header
 * past our end (registry_claim() fails then: we try elsewhere, keeping
 * the range we could not use until the next attempt is placed).
 */
static uintptr_t large_map_claim(size_t gap, size_t len, unsigned int value)
{
	static uintptr_t hint;		/* the chunk claimed last (racy, a hint) */
	uintptr_t base = a_load(&hint, A_RELAXED), busy[LARGE_CLAIM_PLUGS];
	unsigned int scan, maps = 0, nbusy = 0;
	int tries;

	/*
	 * First the chunks below the last one, mapped where the block goes:
	 * one mmap, where os_map_aligned() and unmapping the gap take two.
	 * Chunks of ours are passed over by their registry byte, without a
	 * system call: below the hint lie the chunks of the blocks claimed
	 * before, and the start of a coloured block's chunk is not mapped,
	 * so the kernel would hand it out again and again to a block whose
	 * header goes there (gap 0: under an address-space limit, the test
	 * runner's 12-byte mallocs failed with 64 MiB left; randconfig
	 * KCONFIG_SEED=0xc4536f1a, only Large).
	 */
	for (scan = 0; scan < LARGE_CLAIM_SCAN && maps < LARGE_CLAIM_MAPS &&
	     base > SS_SIZE + (1UL << 32); scan++) {
		base -= SS_SIZE;
		if (registry_lookup(base) != REG_FOREIGN)
			continue;
		maps++;
		if (registry_prepare(base + gap, len) || os_map_at_charged((void *)(base + gap), len))
			continue;
		if (likely(registry_claim(base, value))) {
			a_store(&hint, base, A_RELAXED);
			return base;
		}
		os_unmap((void *)(base + gap), len);
	}
	/*
	 * Then the kernel's choice. A range it hands out in a chunk of ours
	 * (the unmapped start of a coloured block's chunk) stays mapped
	 * until the end, so that the next attempt lands elsewhere: with
	 * only one kept, the kernel walked through the same few holes
	 * (randconfig KCONFIG_SEED=0x65912167, only Large, 1 MiB chunks,
	 * under RLIMIT_AS: three attempts, three holes of ours, malloc(12)
	 * NULL with address space left).
	 */
	for (tries = 0; tries <= LARGE_CLAIM_PLUGS; tries++) {
		base = (uintptr_t)os_map_aligned_charged(gap + len, SS_SIZE);
		if (unlikely(!base))
			break;
		if (gap)
			os_unmap((void *)base, gap);
		if (likely(registry_claim(base, value))) {
			a_store(&hint, base, A_RELAXED);
			break;
		}
		if (nbusy < LARGE_CLAIM_PLUGS)
			busy[nbusy++] = base;
		else
			os_unmap((void *)(base + gap), len);
		base = 0;
	}
	while (nbusy)
		os_unmap((void *)(busy[--nbusy] + gap), len);
	return base;
}

/*
 * The address space is short (os_vm_tight(), or not even the first chunk
 * of a block could be mapped in full after core_reclaim()). Map only what
 * the block needs (need bytes for the program, no class rounding, no
 * colour), with the header at the start of the chunk: REG_LARGE_OFF(0)
 * finds it there whatever the pointer into the chunk, so no read ever
 * goes past the mapping into the rest of the chunk (unmapped, or someone
 * else's).
 */
static __slowpath void *large_map_exact(size_t need, size_t align)
{
	size_t uoff = ALIGN_UP(LARGE_HDR_SIZE, align);
	size_t map_len = ALIGN_UP(uoff + need, os_page_size);
	struct large_hdr *h;
	uintptr_t base;

	base = large_map_claim(0, map_len, REG_LARGE_OFF(0));
	if (unlikely(!base))
		return NULL;
	h = (struct large_hdr *)base;
	h->user = (char *)base + uoff;
	h->size = map_len;
	h->magic = LARGE_MAGIC;
	h->map_len = map_len;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	large_account(h, 1);
	large_live_add(h->size);
	return large_hand_out(h);
}

/*
 * A new block of size bytes (header included, a class size) mapped
 * exactly, in the normal case: the header at colour j > 0 of a chunk
 * (REG_LARGE_OFF(j)), mapped from the header's page to the block's end.
 * A whole chunk per block (the layout below) costs 2 MiB of address space
 * for a 40 KiB block: python3 starts with six such blocks. The colour
 * keeps what the whole-chunk layout's colour gives (headers and first
 * lines spread over the sets of the caches and the TLB). Each such block
 * is a VMA of its own: at most LARGE_EXACT_MAX of them, beyond which
 * blocks take whole chunks, which merge into few VMAs and go to the
 * reserve when freed. NULL if it could not be mapped this way.
 */
static __slowpath void *large_map_coloured(size_t size)
{
	unsigned long n = a_load(&large_colour, A_RELAXED);
	size_t hoff, gap, map_len;
	struct large_hdr *h;
	uintptr_t base;

	h = large_keep_get(size, &map_len);
	if (h) {
		/* Decommitted: reads as zero, like a new mapping. */
		vg_defined(h, LARGE_HDR_SIZE);
		goto found;
	}
	if (!(a_load(&large_exact_nr, A_RELAXED) + 1 <= LARGE_EXACT_MAX))
		return NULL;
	a_store(&large_colour, n + 1, A_RELAXED);
	hoff = (1 + n % (REG_LARGE_OFF_NR - 1)) * REG_LARGE_STEP;
	gap = ALIGN_DOWN(hoff, os_page_size);
	/*
	 * Room to grow to twice the size in place, as the cache grows a
	 * block of up to LARGE_REUSE_DOWN classes below the request (one
	 * doubling), without a system call; untouched, it costs nothing.
	 */
	map_len = ALIGN_UP(hoff + LARGE_EXACT_ROOM * size, os_page_size);
	base = large_map_claim(gap, map_len - gap, REG_LARGE_OFF(hoff / REG_LARGE_STEP));
	if (unlikely(!base))
		return NULL;
	a_fetch_add(&large_exact_nr, 1, A_RELAXED);
	h = (struct large_hdr *)(base + hoff);
found:
	h->user = (char *)h + LARGE_HDR_SIZE;
	h->size = size;
	h->magic = LARGE_MAGIC;
	h->map_len = map_len;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	large_account(h, 1);
	large_live_add(h->size);
	return large_hand_out(h);
}

/*
 * Map a new block of size bytes (header included) for alignment align;
 * need: the bytes the program asked for.
 */
/*
 * A new mapping for a block of size bytes (need asked for) aligned to
 * align. whole_chunks: a block aligned to chunks gets the whole chunk its
 * user pointer is in, not only the pages it reaches into (the retry when
 * another block claimed the rest of that chunk, large_register()).
 */
static void *large_map_new_chunks(size_t size, size_t need, size_t align, int whole_chunks,
				  int zero)
{
	size_t map_len, off = 0;
	struct large_hdr *h;
	uintptr_t base;

	if (align >= SS_SIZE) {
		/* Header at base, block at base + align. */
		map_len = ALIGN_UP(align + size - LARGE_HDR_SIZE,
				   whole_chunks ? SS_SIZE : os_page_size);
		base = (uintptr_t)os_map_aligned_charged(map_len, align > large_map_align(map_len) ?
						 align : large_map_align(map_len));
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
		base = map_len == SS_SIZE ? large_reserve_take(need, align) : 0;
		if (!base) {
			void *p;

			/* Address space is short: no chunk wasted on colour. */
			if (unlikely(os_vm_tight()))
				return large_map_exact(need, align);
			if (LARGE_EXACT_MAX && align == HK_MIN_ALIGN && size <= LARGE_EXACT_SIZE &&
			    (p = large_map_coloured(size)))
				return p;
			base = (uintptr_t)os_map_aligned_charged(map_len, large_map_align(map_len));
			if (unlikely(!base))
				return large_map_exact(need, align);
			if (map_len == SS_SIZE)
				os_nohugepage((void *)base, map_len);
			large_thp(base, 0, map_len);
			/*
			 * Untouched yet: the chunks the program's bytes fill
			 * may take committed pages of cached blocks (not for
			 * calloc: they are not zero).
			 */
			if (!zero)
				large_donate(base, ALIGN_UP(base + off + LARGE_HDR_SIZE, align) + need);
		}
		h = (struct large_hdr *)(ALIGN_UP(base + off + LARGE_HDR_SIZE, align) - LARGE_HDR_SIZE);
		/* A reused reserved chunk may hold a block memcheck saw freed. */
		vg_defined(h, LARGE_HDR_SIZE);
		h->user = (char *)h + LARGE_HDR_SIZE;
		h->size = base + off + size - (uintptr_t)h;
	}
	if (align >= SS_SIZE)
		large_thp(base, 0, map_len);
	h->magic = LARGE_MAGIC;
	h->map_len = map_len;
	a_store(&h->state, LARGE_LIVE, A_RELEASE);
	if (unlikely(large_register(h))) {
		os_unmap((void *)base, map_len);
		/*
		 * Aligned to chunks, the block ends inside its user chunk,
		 * and an exactly mapped block took the rest of that chunk
		 * (and its registry byte): map the whole chunk this time,
		 * which no other block can then share.
		 */
		if (align >= SS_SIZE && !whole_chunks)
			return large_map_new_chunks(size, need, align, 1, zero);
		return NULL;
	}
	large_account(h, 1);
	large_live_add(h->size);
	return large_hand_out(h);
}

static void *large_map_new(size_t size, size_t need, size_t align, int zero)
{
	return large_map_new_chunks(size, need, align, 0, zero);
}

/*
 * zero: the caller wants size zero bytes (calloc). New mappings and
 * reserved chunks read as zero already (fresh or MADV_DONTNEED): only a
 * block from the cache is cleared, so a large calloc touches no page it
 * does not have to.
 */
static void *large_alloc_common(size_t size, size_t align, int zero, unsigned int reuse_up)
{
	struct large_hdr *h;
	size_t bsize;
	void *p;

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
		h = large_cache_get(bsize, reuse_up, LARGE_REUSE_DOWN);
		if (h) {
			/* Its bin links were there. */
			h->held = 0;
			if (unlikely(h->size < bsize))
				h = large_reuse_grow(h, bsize, LARGE_HDR_SIZE + size);
			else
				large_reuse_keep(h, size, bsize);
		}
		if (h) {
			/* Still registered from its last life; user = h + 48. */
			STAT_INC(STAT_LARGE_ALLOC);
			STAT_INC(STAT_LARGE_CACHE_HIT);
			large_live_add(large_held(h));
			a_store(&h->state, LARGE_LIVE, A_RELEASE);
			large_account(h, 1);
			vg_noaccess(h->user, large_usable(h));
			if (zero) {
				/* No-access to memcheck until the front announces it. */
				vg_undefined(h->user, size);
				memset(h->user, 0, size);
			}
			return large_hdr_close(h);
		}
	}
	STAT_INC(STAT_LARGE_ALLOC);
	/*
	 * Mapped (and given the oldest cached blocks' pages) first, then
	 * the cache shrinks to the limit the new block leaves: both before
	 * the program touches a page of it.
	 */
	p = large_map_new(bsize, size, align, zero);
	if (likely(p))
		large_cache_make_room(0);
	return p;
}

void *large_alloc(size_t size, size_t align)
{
	return large_alloc_common(size, align, 0, LARGE_REUSE_UP);
}

void *large_alloc_grown(size_t size)
{
	return large_alloc_common(size, HK_MIN_ALIGN, 0, LARGE_REUSE_UP_GROWN);
}

void *large_calloc(size_t size)
{
	return large_alloc_common(size, HK_MIN_ALIGN, 1, LARGE_REUSE_UP);
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

/* A block no longer live (state LARGE_FREED): into the cache, or unmapped. */
static void large_release(struct large_hdr *h)
{
	size_t live = large_live_add(-large_held(h));

	large_account(h, -1);
	if (unlikely(h->held > h->size)) {
		/* Its held pages: cached (or unmapped) with it, whole again. */
		h->size = h->held;
	}
	if (!large_huge_align(h) && large_cache_put(h, live))
		return;
	large_unmap(h);
}

void large_free(void *ptr, unsigned int reg, const void *caller)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	uint32_t state = LARGE_LIVE;

	large_hdr_open(ptr, reg);
	/* The state changes once, so two racing frees cannot both pass. */
	if (unlikely(!large_hdr_readable(ptr, reg) || h->magic != LARGE_MAGIC ||
		     h->user != ptr || !a_cas(&h->state, &state, LARGE_FREED, A_ACQ_REL))) {
		large_free_bad(ptr, reg, caller);
		return;
	}
	STAT_INC(STAT_LARGE_FREE);
	large_release(h);
}

size_t large_usable_size(const void *ptr, unsigned int reg)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	size_t n;

	large_hdr_open(ptr, reg);
	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)))
		return 0;
	n = large_usable(h);
	large_hdr_close(h);
	return n;
}

/* ------------------------------------------------------------------ */
/* Resize                                                             */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_LARGE_CACHE
/*
 * Growth that would fault pages in: the old bytes are copied into a
 * cached block of at least the new size (bsize), whose pages its last
 * life committed, and the old block goes to the cache. Only up to this
 * old size: a copied page costs 0.1-0.3 us here, a page faulted in
 * about 8 us, and past a few MiB the move by mremap (no copy) and the
 * donated chunks (large_donate()) do better.
 */
#define LARGE_REGROW_COPY_MAX	(4UL << 20)

static __slowpath struct large_hdr *large_regrow_copy(struct large_hdr *h, size_t size,
						      size_t bsize)
{
	size_t usable = large_usable(h), map = large_map_bytes(h);
	struct large_hdr *n;

	/*
	 * Only when the growth would reach pages not committed: past the
	 * block's end and the pages it holds (large_reuse_keep()).
	 */
	if (usable > LARGE_REGROW_COPY_MAX || large_held(h) >= bsize)
		return NULL;
	/* memcheck: the bytes past those asked for are no-access to the copy. */
	if (IS_ENABLED(CONFIG_VALGRIND))
		return NULL;
	/* At least bsize: a smaller block would be grown into fresh pages. */
	n = large_cache_get(bsize, LARGE_REUSE_UP_GROWN, 0);
	if (!n)
		return NULL;
	n->held = 0;
	large_reuse_keep(n, size, bsize);
	STAT_INC(STAT_LARGE_CACHE_HIT);
	large_live_add(large_held(n));
	a_store(&n->state, LARGE_LIVE, A_RELEASE);
	large_account(n, 1);
	memcpy(n->user, h->user, usable);
	/*
	 * n comes live here and h leaves (large_release()), while
	 * large_resize_accounted() counts the change from h to n as the
	 * resize of one block: this takes its difference back.
	 */
	large_account_add(0, (long)usable - (long)large_usable(n),
			  (long)map - (long)large_map_bytes(n));
	a_store(&h->state, LARGE_FREED, A_RELEASE);
	large_release(h);
	return n;
}
#else
static inline struct large_hdr *large_regrow_copy(struct large_hdr *h, size_t size,
						 size_t bsize)
{
	return NULL;
}
#endif /* CONFIG_LARGE_CACHE */

static void *large_resize_block(void *ptr, unsigned int reg, size_t size)
{
	struct large_hdr *h = large_hdr_of(ptr, reg), *n;
	size_t bsize, usable, old;

	/* Small enough for a slab class: the caller moves it there. */
	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)) ||
	    size <= HEAP_REALLOC_MAX)
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
	/* What the cache's limit counts of it (its held pages too). */
	old = large_held(h);

	if (size < usable) {
		/* Shrink by more than half: give the tail back. */
		uintptr_t end = (uintptr_t)h - large_base(h) + bsize, gap = large_gap(h);
		size_t map_len = ALIGN_UP(end > SS_SIZE || gap ? end : SS_SIZE, os_page_size);
		uintptr_t from = ALIGN_UP((uintptr_t)h + bsize, os_page_size);
		uintptr_t to = ALIGN_UP((uintptr_t)h + old, os_page_size);

		if (map_len < h->map_len &&
		    os_remap_inplace((void *)(large_base(h) + gap), h->map_len - gap,
				     map_len - gap) == 0) {
			/* A one-chunk mapping goes to the reserve: no huge pages there. */
			if (large_wants_thp(h->map_len - gap) && !large_wants_thp(map_len - gap))
				os_nohugepage((void *)(large_base(h) + gap), map_len - gap);
			h->map_len = map_len;
			STAT_INC(STAT_LARGE_MREMAP);
		}
		if (to > large_base(h) + h->map_len)
			to = large_base(h) + h->map_len;
		if (to > from)
			os_decommit((void *)from, to - from);
		h->size = bsize;
		h->held = 0;
		large_live_add(bsize - old);
		return ptr;
	}
	n = large_regrow_copy(h, size, bsize);
	if (n)
		return n->user;
	n = large_grow(h, bsize, LARGE_HDR_SIZE + size);
	if (unlikely(!n))
		return NULL;
	/* Before the program touches the new pages (large_alloc_common()). */
	large_cache_make_room(large_held(n) - old);
	large_live_add(large_held(n) - old);
	return n->user;
}

/* The resize, accounted: the old figures leave, the new ones come. */
static void *large_resize_accounted(void *ptr, unsigned int reg, size_t size)
{
	struct large_hdr *h = large_hdr_of(ptr, reg);
	size_t usable, map_len;
	void *p;

	if (!IS_ENABLED(CONFIG_MALLOC_INFO))
		return large_resize_block(ptr, reg, size);
	if (unlikely(!large_hdr_readable(ptr, reg) || !large_live(h, ptr)))
		return NULL;
	usable = large_usable(h);
	map_len = large_map_bytes(h);
	p = large_resize_block(ptr, reg, size);
	if (p) {
		/* A block that was resized has its header right below it. */
		h = (struct large_hdr *)((char *)p - LARGE_HDR_SIZE);
		large_account_add(0, (long)large_usable(h) - (long)usable,
				  (long)large_map_bytes(h) - (long)map_len);
	}
	return p;
}

void *large_resize(void *ptr, unsigned int reg, size_t size)
{
	void *p;

	large_hdr_open(ptr, reg);
	p = large_resize_accounted(ptr, reg, size);
	/* A resized block has its header right below it. */
	if (p)
		large_hdr_close((struct large_hdr *)((char *)p - LARGE_HDR_SIZE));
	else if (IS_ENABLED(CONFIG_VALGRIND) && large_hdr_readable(ptr, reg) &&
		 large_live(large_hdr_of(ptr, reg), ptr))
		large_hdr_close(large_hdr_of(ptr, reg));
	return p;
}
