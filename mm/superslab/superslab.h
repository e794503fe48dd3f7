/* SPDX-License-Identifier: MIT */
/*
 * SuperSlabs: naturally aligned regions (CONFIG_SUPERSLAB_SHIFT) carved
 * into 64 KiB slots. Slot 0 holds the header below; the others are slabs
 * of any size class, one or more slots each. The owner of a pointer is
 * found by masking: base = p & ~SS_MASK, slot = (p >> SLOT_SHIFT) & mask.
 *
 * The header sits at a colour offset in slot 0 (SS_COLORS, below).
 *
 * Slot states: UNUSED (never touched, or returned to the kernel), ACTIVE
 * (part of a slab), EMPTY (free again but still committed), UNMAPPED (free,
 * and its address space given back: ss_unmap_free(), when the address
 * space runs short; mapped again when claimed). The free-slot mask says
 * which slots may be claimed; a claimer owns a slot's metadata from the
 * moment it clears the bit until it sets it again.
 */
#ifndef _MM_SUPERSLAB_H
#define _MM_SUPERSLAB_H

#include <hakmem/atomic.h>
#include <hakmem/lock.h>
#include <asm/cache.h>
#include "box.h"
#include "os/os.h"
#include "registry.h"

#define SLOT_SHIFT	16
#define SLOT_SIZE	(1UL << SLOT_SHIFT)
#define SS_SLOTS	(SS_SIZE >> SLOT_SHIFT)

enum slot_state {
	SLOT_UNUSED = 0,
	SLOT_ACTIVE,
	SLOT_EMPTY,
	SLOT_UNMAPPED,
};

enum slab_kind {
	SLAB_FREE = 0,		/* slot not in use */
	SLAB_BLOCKS,		/* first slot of a slab of blocks */
	SLAB_TAIL,		/* later slot of a multi-slot slab */
};

/* Bits in the low end of slab::remote */
#define REMOTE_FULL	1UL	/* owner wants a notification on the next remote free */
#define REMOTE_QUEUED	2UL	/* slab sits in its owner's notify stack */
#define REMOTE_BITS	3UL
/*
 * The high 16 bits of slab::remote count the blocks on the list, so that
 * the owner hands a list that fits its bin to the bin whole, without
 * reading a block (slab_remote_to_bin(), mm/heap/heap.c). Block addresses
 * are below 2^48 and a slab holds fewer than 2^16 blocks (both checked by
 * slab_new()).
 */
#define REMOTE_COUNT_SHIFT	48
#define REMOTE_COUNT_ONE	(1UL << REMOTE_COUNT_SHIFT)
#define REMOTE_PTR_MASK		((REMOTE_COUNT_ONE - 1) & ~REMOTE_BITS)
#define REMOTE_PTR(w)		((void *)((w) & REMOTE_PTR_MASK))
#define REMOTE_COUNT(w)		((uint32_t)((w) >> REMOTE_COUNT_SHIFT))

/* slab::flags (owner-private) */
#define SLAB_IN_PARTIAL		0x01	/* linked in the owner's partial list */
#define SLAB_RETIRE_PENDING	0x02	/* all free, release once dequeued */
#define SLAB_CARVED		0x04	/* every block carved since the bump was set (heap.h, slab_carved()) */
#define SLAB_WARM		0x08	/* released: every block was carved; in use: carved at these addresses before, slots kept committed (heap.c, slab_warm()) */
#define SLAB_UNSWEPT		0x10	/* released, its blocks' words not read yet (heap.c, dfkey_retire(); ss_slot_sweep()) */
#define SLAB_COLD		0x20	/* in use: claimed with slots not committed, its uncarved blocks never touched (heap.c, "Resident memory before a fresh tail") */

struct heap;
struct ss_pool;

/* Owner value of slots that belong to no heap (free slots). */
#define HEAP_NONE	((struct heap *)1)

/*
 * Per-slot metadata: despite its name, one struct slab per 64 KiB slot of
 * a SuperSlab (ss->slabs[SS_SLOTS], found by masking a pointer), not one
 * per slab. A slab of one slot uses its record alone; a slab spanning
 * several slots keeps its state in the record of its first slot (the head,
 * kind SLAB_BLOCKS) and the others are tail records (kind SLAB_TAIL) that
 * mirror what the free fast path reads and point back with head_off. A
 * free slot's record has kind SLAB_FREE. The first cache line is the
 * owner's; the second is where other threads push remote frees.
 */
struct slab {
	/* --- owner's cache line: what every free reads, the owner's list --- */
	void *local_free;		/* blocks freed by the owner (LIFO) */
	struct heap *owner;		/* owning heap record, or HEAP_NONE */
	uintptr_t dfkey;		/* double-free key written into freed blocks; 0 = check off */
	uintptr_t bin_tpoff;		/* thread-pointer offset of the class's bin (ss_slot_tpoff if none yet) */
	uint64_t start_mul;		/* block-start check: 2^64 / size + 1, rounded down */
	uint64_t start_limit;		/* block-start check: the last block's offset times start_mul */
	uint32_t used;			/* blocks not in local_free and not uncarved */
	uint32_t tbase;			/* low 32 bits of the first block's address + the owner's tag */
	uint8_t class_idx;		/* size class */
	uint8_t kind;			/* enum slab_kind */
	uint8_t span;			/* slots covered (head slot only) */
	uint8_t flags;			/* SLAB_IN_PARTIAL, SLAB_RETIRE_PENDING, SLAB_CARVED, SLAB_WARM, SLAB_UNSWEPT */
	uint8_t state;			/* enum slot_state (guarded by the free-slot bit) */
	uint8_t head_off;		/* tail slots: distance to the head slot */
#ifdef CONFIG_MID_LEND
	/*
	 * The first line's last two bytes: the second line has no room
	 * beside check_end. Written only at a lend's mincore and at a
	 * decommit or unmap of the slot, never on a fast path.
	 */
	uint16_t resident;		/* every slot, head or tail: its pages known resident (ss_resident_known()) */
#endif
	/*
	 * A tail slot of a span mirrors the head's owner, dfkey, bin_tpoff,
	 * start_mul, start_limit, tbase and class_idx, so that the owner's free of
	 * a block in any slot of the span takes the same fast path.
	 */
	/* --- shared cache line: remote frees, and the owner's slow paths --- */
	uintptr_t remote __aligned(L1_CACHE_BYTES);	/* atomic: count << 48 | list | REMOTE_* */
	struct slab *notify_next;	/* link in the owner's notify stack */
	char *bump;			/* next uncarved block */
	struct slab *next;		/* owner's partial list */
	struct slab *prev;		/* owner's partial list */
	uint32_t capacity;		/* blocks in the slab */
	uint32_t block_size;		/* bytes from one block to the next (class_stride()) */
	uint32_t uncarved;		/* blocks not yet carved from bump */
#ifdef CONFIG_HEAP_PURGE
	uint32_t dirty;			/* blocks atop local_free whose pages may be resident (heap.c, "Purge") */
	uint32_t dirty_old;		/* the lowest of them, there at the heap's last purge pass */
#endif
#ifdef CONFIG_DOUBLE_FREE_CHECK
	uint32_t check_end;		/* bytes from the slot's start: blocks below it not carved again must hold the list's mark (heap.c, dfkey_carve_check()) */
#endif
} __aligned(L1_CACHE_BYTES);

/*
 * The header is the slot metadata array alone: slot 0 (the header's own
 * slot) has no slab, and its record's second cache line, where a slab
 * keeps the fields of its slow paths (remote, bump, lists, counts), holds
 * the SuperSlab's own fields. Its first line is what free() reads of a
 * slot; set up as a free slot's (ss_setup_header()), it refuses any
 * pointer into slot 0. Nothing reads the second line of a record before
 * the first says the slot is a slab's, so the header is SS_SLOTS * 128
 * bytes: one page with 2 MiB SuperSlabs (4160 bytes, two pages, before:
 * 4 KiB resident per SuperSlab, 0.2% of the memory the pool maps).
 */
struct superslab {
	union {
		struct slab slabs[SS_SLOTS];	/* per-slot metadata (slot 0's: below) */
		struct {
			char slot0_owner_line[L1_CACHE_BYTES];	/* slabs[0]'s first line: a free slot's */
			struct ss_pool *pool;		/* pool this SuperSlab belongs to */
			struct superslab *next;		/* pool's list (append-only) */
			unsigned long free_mask;	/* atomic: bit i = slot i claimable */
			unsigned long dirty_mask;	/* atomic: bit i = free slot i still committed */
			unsigned long unmapped_mask;	/* atomic: bit i = free slot i is not mapped (SLOT_UNMAPPED) */
			unsigned long hdr_trimmed;	/* slot 0's pages around the header unmapped (pool lock) */
			unsigned long seq;		/* SuperSlabs of the pool mapped before it: higher is nearer the list's head */
			unsigned long thp;		/* atomic: SS_THP_* (CONFIG_SUPERSLAB_THP) */
		};
	};
};

/*
 * Header colouring. Every SuperSlab is aligned to SS_SIZE, so a header
 * at the start of each would put slot i's metadata of every SuperSlab at
 * the same offset modulo SS_SIZE: the same few sets of every cache level
 * indexed with more than 12 address bits (an L2 of 1 MiB, 8-way, has 2048
 * sets; the owner lines of 32 slots sit in 32 of them, so ten SuperSlabs
 * give ten lines per set for eight ways, and a free of a Mid block in a
 * 20 MiB working set missed L2 on its slot metadata). The header of a
 * SuperSlab therefore sits at SS_COLOR_STRIDE times its colour, the low
 * bits of its number (address >> SS_SHIFT), inside slot 0. The stride is
 * the size of the slabs[] array, so that one shift and one mask of a
 * block's address give the slot index and the colour together: slab_of()
 * costs no instruction more than without colouring.
 */
#define SLAB_SHIFT	7		/* log2(sizeof(struct slab)) */
#define SS_COLOR_STRIDE	(SS_SLOTS << SLAB_SHIFT)
/* As many colours (a power of two) as slot 0 holds headers. */
#define SS_COLORS	(SLOT_SIZE / SS_COLOR_STRIDE / 2)
#define SS_SLABS_OFF	offsetof(struct superslab, slabs)

BUILD_BUG_ON(sizeof(struct slab) != 2 * L1_CACHE_BYTES);
BUILD_BUG_ON(sizeof(struct slab) != 1UL << SLAB_SHIFT);
BUILD_BUG_ON(offsetof(struct slab, remote) != L1_CACHE_BYTES);
BUILD_BUG_ON(SS_SLOTS > 8 * sizeof(unsigned long));
/* The SuperSlab's own fields end within slot 0's record. */
BUILD_BUG_ON(offsetof(struct superslab, thp) + sizeof(unsigned long) > sizeof(struct slab));
BUILD_BUG_ON(SS_COLORS < 1 || (SS_COLORS & (SS_COLORS - 1)));
BUILD_BUG_ON((SS_COLORS - 1) * SS_COLOR_STRIDE + sizeof(struct superslab) > SLOT_SIZE);
/* The SuperSlab's fields lie in slot 0's record, past its first line. */
BUILD_BUG_ON(sizeof(struct superslab) != SS_SLOTS * sizeof(struct slab));
BUILD_BUG_ON(offsetof(struct superslab, pool) != offsetof(struct slab, remote));
BUILD_BUG_ON(offsetof(struct superslab, seq) + sizeof(unsigned long) > sizeof(struct slab));

/*
 * A pool of SuperSlabs. ss_pool_main is the shared one; a box may bring
 * its own (struct hk_box::pool, e.g. Small-Mid's ss_pool_smallmid): the
 * backend purges, trims and unmaps every registered pool, and the box
 * registers the pool's lock for fork (HK_LOCK_REGISTER) where it defines
 * the pool.
 */
struct ss_pool {
	struct hk_lock lock;		/* list growth; every claim if !LOCKFREE */
	struct superslab *head;		/* atomic: newest SuperSlab first */
	struct superslab *hint;		/* atomic (release/acquire): where claims look first (the last claim's, or an earlier release's) */
	unsigned long claim_visits;	/* atomic: SuperSlabs looked at by claims (tests, statistics) */
	unsigned long hdr_unmapped;	/* bytes of header slots unmapped (pool lock; tests) */
	unsigned long nr_superslabs;	/* SuperSlabs mapped */
	struct ss_pool *all_next;	/* list of pools that mapped a SuperSlab (ss_check_counts) */
};

#define SS_POOL_INIT	{ .lock = HK_LOCK_INIT }

extern struct ss_pool ss_pool_main;
/*
 * slab::bin_tpoff of a slot that never held a slab (set by the heap at
 * initialisation): free reads the bin at that offset before it finds
 * that the slot has no owner, so it must be a bin's.
 */
extern uintptr_t ss_slot_tpoff;
/* Defined by the Small-Mid box (CONFIG_SMALLMID) only. */
extern struct ss_pool ss_pool_smallmid;

/* The next registered box after *b (NULL: the first) with its own pool. */
static inline struct ss_pool *ss_next_pool(const struct hk_box **b)
{
	for (*b = *b ? *b + 1 : __start_hakmem_box; *b < __stop_hakmem_box; (*b)++)
		if ((*b)->pool)
			return (*b)->pool;
	return NULL;
}

/*
 * Every SuperSlab pool: the shared one first, then the registered boxes'
 * own pools in link order; b (const struct hk_box *) is the cursor.
 */
#define for_each_ss_pool(pool, b)					\
	for ((b) = NULL, (pool) = &ss_pool_main; (pool); (pool) = ss_next_pool(&(b)))

/*
 * The SuperSlab region: the SuperSlabs mapped one after another upwards
 * from one address, base, far below the kernel's mmap area (ss_map()).
 * Every chunk of [base, base + span) is a SuperSlab, its header mapped
 * and initialised, and stays one (SuperSlabs are never unmapped), so
 * free's question "is p in a SuperSlab of ours" is ss_in_region(p): a
 * subtraction and a comparison with two words that do not depend on p,
 * where the registry costs two dependent loads (the directory entry, then
 * the chunk's byte). A SuperSlab mapped elsewhere (the next chunk was
 * taken, or could not be mapped) is in the registry only, and free finds
 * it there on its slow path (core_free_slow()). The registry knows the
 * region's SuperSlabs too: every other lookup (realloc's, usable size,
 * the guard) works as before. Documentation/superslab.md, "The region".
 */
struct ss_region {
	uintptr_t base;		/* atomic: the lowest chunk (SS_REGION_NONE until chosen; set once) */
	uintptr_t span;		/* atomic (release): bytes of live SuperSlabs from base, only grows */
} __aligned(2 * sizeof(uintptr_t));

/* a_sub_outside() takes the two words as an array: base, then span. */
BUILD_BUG_ON(offsetof(struct ss_region, span) != sizeof(uintptr_t));

/*
 * base before the region is chosen: an address above the user address
 * space, so that p - base is at least 2^63 for every user-space pointer
 * and a free that reads a new span with the old base still finds
 * nothing.
 */
#define SS_REGION_NONE	(1UL << 63)

extern struct ss_region hk_ss_region __hidden;
/*
 * Set when the chunk above the region was someone else's: new SuperSlabs
 * are mapped anywhere from then on (a test may set it).
 */
extern int ss_region_closed;

/*
 * The region's base is aligned to every colour of a header (SS_SIZE
 * times SS_COLORS): an offset from it has the slot and colour bits of
 * the address, and slab_off() of either is the same.
 */
#define SS_REGION_ALIGN	(SS_SIZE * SS_COLORS)

/*
 * *off (p on entry) is outside the region: p is not in a SuperSlab of the
 * region. Otherwise its header is mapped and set up, and *off is left as
 * p - base, whose slab_off() is p's (free takes it from there: no copy
 * of p to shift).
 */
static __always_inline int ss_outside_region(uintptr_t *off)
{
	return a_sub_outside(*off, &hk_ss_region.base);
}

/* p lies in a SuperSlab of the region (its header is mapped and set up). */
static __always_inline int ss_in_region(uintptr_t p)
{
	return !ss_outside_region(&p);
}

/* First byte of the SuperSlab holding p (its slot 0). */
static __always_inline uintptr_t ss_base(const void *p)
{
	return (uintptr_t)p & ~SS_MASK;
}

/* Offset of the header of the SuperSlab holding p (its colour). */
static __always_inline uintptr_t ss_color_off(const void *p)
{
	return (((uintptr_t)p >> SS_SHIFT) & (SS_COLORS - 1)) * SS_COLOR_STRIDE;
}

/* The header of the SuperSlab holding p (a block or a struct slab). */
static __always_inline struct superslab *ss_of(const void *p)
{
	return (struct superslab *)(ss_base(p) + ss_color_off(p));
}

/*
 * ss_of(p)->slabs[slot of p], in one shift and one mask: the slot index
 * (bits SLOT_SHIFT..SS_SHIFT-1 of p) lands on bits SLAB_SHIFT.. of the
 * offset and the colour (the next bits of p) right above it, on the
 * multiples of SS_COLOR_STRIDE.
 */
static __always_inline struct slab *slab_of(const void *p)
{
	uintptr_t off = ((uintptr_t)p >> (SLOT_SHIFT - SLAB_SHIFT)) &
			((SS_COLORS * SS_SLOTS - 1) << SLAB_SHIFT);

	return ((struct superslab *)(ss_base(p) + off))->slabs;
}

/*
 * slab_of(p) in two parts, for free's fast path: the SuperSlab
 * (ss_base(p), a copy and a mask) and slab_off(p), the offset of p's slot
 * metadata in it. SLAB_FIELD() reads a field of that metadata with the
 * offset hidden at each access (hk_addr_index()), so that x86_64
 * addresses it as disp(base, offset) every time and adds no pointer of
 * its own.
 */
static __always_inline uintptr_t slab_off(const void *p)
{
	return ((uintptr_t)p >> (SLOT_SHIFT - SLAB_SHIFT)) &
	       ((SS_COLORS * SS_SLOTS - 1) << SLAB_SHIFT);
}

#define SLAB_AT(ss, off)		(((struct superslab *)((ss) + hk_addr_index(off)))->slabs)
#define SLAB_FIELD(ss, off, field)	(SLAB_AT(ss, off)->field)

/* The head slab of the slot holding block p. */
static __always_inline struct slab *slab_block_head(const void *p)
{
	struct slab *s = slab_of(p);

	return s->kind == SLAB_TAIL ? s - s->head_off : s;
}

/* First byte of the memory of slab s (its head slot). */
static inline char *slab_start(struct slab *s)
{
	struct superslab *ss = ss_of(s);

	return (char *)ss_base(s) + ((size_t)(s - ss->slabs) << SLOT_SHIFT);
}

/*
 * The block-start test's constants (slab::start_mul, start_limit; the
 * test itself is in mm/heap/heap.h, Documentation/architecture.md "The
 * block-start check"): m = floor(2^64 / size) + 2, so that
 * e = m * size - 2^64 lies in (size, 2 * size], and the limit of a slab of
 * capacity blocks, (capacity - 1) * e.
 */
static inline uint64_t slab_start_mul(uint32_t size)
{
	return UINT64_MAX / size + 2 + IS_POWER_OF_2(size);
}

static inline uint64_t slab_start_limit(uint32_t size, uint32_t capacity)
{
	return (uint64_t)(capacity - 1) * (slab_start_mul(size) * size);
}

/*
 * Owner tags. free's block-start test adds the freeing thread's tag (its
 * bins', bin::tag) to the offset of the pointer from slab::tbase, which
 * is the slab's start plus its owner heap's tag: the offset is the true
 * one when the tags are equal, and at least SLAB_TAG_UNIT (2^(SS_SHIFT +
 * 1)) when they differ, above any offset the test accepts with any
 * slab's constants (every slab is smaller than a SuperSlab, and e is
 * below 2 * size). So the test is the owner test too. Tags are multiples
 * of SLAB_TAG_UNIT in 32 bits: 0 is the tag of a thread without a heap
 * (and of one whose heap got none), SLAB_TAG_NONE that of free slots
 * (and of the slabs of a heap without a tag), and the heaps get the ones
 * between, as long as they last (mm/heap/heap.c).
 */
#define SLAB_TAG_SHIFT	(SS_SHIFT + 1)
#define SLAB_TAG_UNIT	(1U << SLAB_TAG_SHIFT)
#define SLAB_NR_TAGS	(1U << (32 - SLAB_TAG_SHIFT))
#define SLAB_TAG_NONE	((SLAB_NR_TAGS - 1) << SLAB_TAG_SHIFT)
BUILD_BUG_ON(SLAB_NR_TAGS < 4);

/*
 * A slot in no slab: a tbase that no thread's tag matches, relative to
 * the slot's own start (the offset of any pointer into it from there is
 * below SLAB_TAG_UNIT). start_mul/start_limit stay a slab's, or are set
 * by ss_map(): any slab's constants reject every offset that a foreign
 * tag makes.
 */
static inline void slab_set_free_tag(struct slab *s)
{
	s->tbase = (uint32_t)(uintptr_t)slab_start(s) + SLAB_TAG_NONE;
}

/*
 * Claim nr contiguous free slots of pool; returns the head slab (the
 * fields of each slot still as their last owner left them), or NULL if
 * out of memory. *fresh (if not NULL): how many of the slots were not
 * committed (never used, or given back to the kernel since).
 */
struct slab *ss_claim_run(struct ss_pool *pool, unsigned int nr, unsigned int *fresh);

/*
 * Claim nr contiguous free slots of pool that are all still committed
 * (their pages resident, no fault to use them again); NULL if there is
 * no such run. Never maps or faults in anything.
 */
struct slab *ss_claim_committed(struct ss_pool *pool, unsigned int nr);

static inline struct slab *ss_claim(struct ss_pool *pool, unsigned int nr)
{
	return ss_claim_run(pool, nr, NULL);
}

/* Give back the nr slots starting at head; keeps them committed if allowed. */
void ss_release(struct slab *head, unsigned int nr);

/*
 * A slab of one slot given back with SLAB_UNSWEPT (mm/heap/heap.c,
 * dfkey_retire()): the double-free check has not read its blocks' words
 * yet. They are read (heap_released_sweep(), which aborts on a block
 * not on the slab's list: a block freed twice and live) before anything
 * else uses the slot's bytes: its next claim (slab_new()), a decommit or
 * an unmap. The caller holds the slot (its free bit claimed, or not yet
 * set by the release).
 */
#ifdef CONFIG_DOUBLE_FREE_CHECK
void heap_released_sweep(struct slab *s);

static inline void ss_slot_sweep(struct slab *s)
{
	if (unlikely(s->flags & SLAB_UNSWEPT))
		heap_released_sweep(s);
}
#else
static inline void ss_slot_sweep(struct slab *s)
{
}
#endif

/*
 * The dirty budget's clock: apply the decay if an epoch went by. Called
 * now and then from the heap's slow paths, so that a program that keeps
 * allocating from its bins also gets memory back.
 */
void ss_tick(void);
/* The decay clock's current epoch (the heaps' purge passes, CONFIG_HEAP_PURGE). */
#ifdef CONFIG_HEAP_PURGE
unsigned long ss_epoch_now(void);
#endif

/*
 * Huge pages (CONFIG_SUPERSLAB_THP): a SuperSlab's thp word says whether
 * it was madvised MADV_HUGEPAGE when it was mapped (SS_THP_ON) and
 * whether a return of memory has split its huge page since and madvised
 * it MADV_NOHUGEPAGE (SS_THP_SPLIT), so that khugepaged does not fault
 * the returned pages in again by collapsing the range.
 */
#define SS_THP_NONE	0UL
#define SS_THP_ON	1UL
#define SS_THP_SPLIT	2UL

#ifdef CONFIG_MID_LEND
/*
 * Pages known resident (CONFIG_MID_LEND: Mid lends a free block to a
 * smaller class only where the pages the request covers are resident,
 * mm/heap/heap.c). Bit i of a slot's slab::resident: page i of the
 * slot was seen resident (mincore, heap_lend_resident()) and hakmem has
 * not given it back since. Private anonymous memory leaves a process
 * only where the process returns it, and hakmem returns SuperSlab
 * memory through ss_decommit() (the purge of free big blocks, the
 * pool's decommits) and the pool's unmapping of free slots
 * (ss_unmap_pool()), which clear the bits of the pages they return. A
 * fork copies the bits with the pages they describe (the child's
 * mappings are the parent's). Only the kernel's reclaim (swap, under
 * memory pressure) takes away a page that the map still calls
 * resident; a block lent there faults it in, as a block of the
 * request's own class would: the map decides where a block is lent,
 * never what a block holds. Slot 0 holds the header, no block: its
 * record's second line is the SuperSlab's own fields, never touched
 * here. The bits live in each slot's own record (the last two bytes
 * of its first line: the second has no room beside check_end; written
 * only here, never on a fast path), so a slab's tail slots carry those
 * of their pages.
 */
BUILD_BUG_ON(SLOT_SIZE / ARCH_PAGE_SIZE_MIN > 16);

static inline int ss_slot_is_header(uintptr_t slot)
{
	return !((slot >> SLOT_SHIFT) & (SS_SLOTS - 1));
}

/* The bits of the pages of the slot at slot that [from, to) overlaps. */
static inline uint32_t ss_resident_bits(uintptr_t slot, uintptr_t from, uintptr_t to)
{
	unsigned int a, b;

	if (from < slot)
		from = slot;
	if (to > slot + SLOT_SIZE)
		to = slot + SLOT_SIZE;
	a = (unsigned int)((from - slot) / os_page_size);
	b = (unsigned int)((to - slot + os_page_size - 1) / os_page_size);
	return (1U << b) - (1U << a);
}

/* [addr, addr + len) of one SuperSlab goes back to the kernel: not resident. */
static inline void ss_resident_clear(void *addr, size_t len)
{
	uintptr_t from = (uintptr_t)addr, to = from + len, slot;

	for (slot = ALIGN_DOWN(from, SLOT_SIZE); slot < to; slot += SLOT_SIZE)
		if (!ss_slot_is_header(slot))
			slab_of((void *)slot)->resident &= (uint16_t)~ss_resident_bits(slot, from, to);
}

/* Are the pages of [from, to) (one SuperSlab's) all known resident? */
static inline int ss_resident_known(uintptr_t from, uintptr_t to)
{
	uintptr_t slot;

	for (slot = ALIGN_DOWN(from, SLOT_SIZE); slot < to; slot += SLOT_SIZE) {
		uint32_t m = ss_resident_bits(slot, from, to);

		if (ss_slot_is_header(slot) || (slab_of((void *)slot)->resident & m) != m)
			return 0;
	}
	return 1;
}

/* The page at page (page aligned) was seen resident. */
static inline void ss_resident_note(uintptr_t page)
{
	uintptr_t slot = ALIGN_DOWN(page, SLOT_SIZE);

	if (!ss_slot_is_header(slot))
		slab_of((void *)slot)->resident |= (uint16_t)(1U << ((page - slot) / os_page_size));
}
#else
static inline void ss_resident_clear(void *addr, size_t len)
{
}
#endif

#ifdef CONFIG_SUPERSLAB_THP
void ss_thp_split(struct superslab *ss);

/* Decommit [addr, addr + len) of the SuperSlab that holds it (a slab's slots or pages). */
static inline void ss_decommit(void *addr, size_t len)
{
	struct superslab *ss = ss_of(addr);

	if (unlikely(a_load(&ss->thp, A_RELAXED) == SS_THP_ON))
		ss_thp_split(ss);
	ss_resident_clear(addr, len);
	os_decommit(addr, len);
}
#else
static inline void ss_thp_split(struct superslab *ss)
{
}

static inline void ss_decommit(void *addr, size_t len)
{
	ss_resident_clear(addr, len);
	os_decommit(addr, len);
}
#endif

/* The fork child's reset of the purge in progress (mm/fork.c). */
void ss_fork_child(void);

/*
 * The decay window (dirty_decay_ms=) is SS_DECAY_HOLD epochs of
 * dirty_decay_ms / SS_DECAY_HOLD ms each; a peak older than that counts
 * less each epoch and not at all after SS_DECAY_EPOCHS.
 * ss_clock_skew_ms is added to the decay clock: a test hook (the unit
 * tests move time on with it), 0 otherwise.
 */
#define SS_DECAY_EPOCHS	16
#define SS_DECAY_HOLD	8
extern unsigned long ss_clock_skew_ms;
/* Set while a thread returns the excess (a test may set it). */
extern int ss_purging;

/*
 * Slots in use (ACTIVE, headers excluded) and free slots still committed
 * (EMPTY), over all pools: a racy snapshot.
 */
void ss_slot_counts(unsigned long *active, unsigned long *dirty);

/* Return every EMPTY slot's memory to the kernel. Returns slots returned. */
unsigned long ss_trim(struct ss_pool *pool);
/* The same for the shared pool and every registered box's own pool. */
unsigned long ss_trim_all(void);

/*
 * Unmap every free slot of every pool (address space for a mapping the
 * kernel refused: core_reclaim). A pool whose lock is held (by this thread,
 * mapping a SuperSlab) is skipped. Returns the slots unmapped.
 */
unsigned long ss_unmap_free(void);
/* The same for one pool (0 if its lock is held). */
unsigned long ss_unmap_pool(struct ss_pool *pool);

/*
 * What a pool holds, for mallinfo() and friends (CONFIG_MALLOC_INFO).
 * A racy snapshot: slots change hands while it is taken.
 */
struct ss_usage {
	unsigned long superslabs;	/* SuperSlabs mapped */
	unsigned long header_slots;	/* slot 0 of each: the header */
	unsigned long empty_slots;	/* free slots still committed (EMPTY) */
	unsigned long unused_slots;	/* free slots returned to the kernel */
};

/*
 * Called for each slab of blocks (head slot) of a pool by ss_usage():
 * its class, blocks in use (bins included), capacity and slots.
 */
typedef void (*ss_slab_fn)(void *arg, unsigned int cls, unsigned long used,
			   unsigned long capacity, unsigned int span);

/* Add pool's figures to *u and report each slab to fn. */
void ss_usage(struct ss_pool *pool, struct ss_usage *u, ss_slab_fn fn, void *arg);

#ifdef CONFIG_DEBUG_ASSERT
/*
 * Self-checks; abort on the first violation.
 *
 * ss_check_pool(): every free slot of pool (its bit set in free_mask;
 * claimed for the time of the check, SuperSlab by SuperSlab, so that it
 * is safe while other threads claim and release) is not ACTIVE, belongs
 * to no slab (kind SLAB_FREE, owner HEAP_NONE), has its dirty bit if and
 * only if it is EMPTY and its unmapped bit if and only if it is
 * UNMAPPED; slot 0 is the header and never free; and the EMPTY slots
 * of each SuperSlab are no more than ss_dirty_slots. ss_trim() runs it.
 *
 * ss_check_counts(): with no claim or release in flight (a test), every
 * slot of every pool: free bit set if and only if not ACTIVE, dirty and
 * unmapped bits as above; ss_dirty_slots is the number of EMPTY slots
 * and ss_active_slots the number of ACTIVE ones (headers excluded); and
 * every chunk of the region is a registered SuperSlab whose header slot
 * is set up.
 */
void ss_check_pool(struct ss_pool *pool);
void ss_check_counts(void);
#else
static inline void ss_check_pool(struct ss_pool *pool)
{
}

static inline void ss_check_counts(void)
{
}
#endif


#endif /* _MM_SUPERSLAB_H */
