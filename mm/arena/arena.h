/* SPDX-License-Identifier: MIT */
/*
 * The static-arena box (CONFIG_BACKEND_ARENA): a two-level segregated-fit
 * allocator over one region of memory.
 *
 * tlsf.c keeps the blocks and their free lists and knows nothing of
 * threads or of where the region came from; arena.c owns the region, the
 * lock and the functions of <hakmem/alloc.h>. See Documentation/embedded.md
 * for the design and its bounds.
 */
#ifndef _MM_ARENA_ARENA_H
#define _MM_ARENA_ARENA_H

#include <hakmem/compiler.h>
#include <hakmem/alloc.h>

/* ------------------------------------------------------------------------
 * Blocks
 *
 * The region is cut into blocks that tile it from the first block up to
 * an end sentinel. A block is a size word followed by the caller's data:
 *
 *   b + 0                  prev_size  (tail of the block below)
 *   b + sizeof(size_t)     size | flags
 *   b + ARENA_HDR          payload, 16-aligned ... up to b + size + 8
 *
 * prev_size is the boundary tag of the block below: written only while
 * that block is free, it lies in its payload while it is in use, so a
 * used block costs one word. Sizes are multiples of ARENA_ALIGN, which
 * leaves the low bits of the size word for flags.
 *
 * The top 16 bits of the size word are the block's seal: the top
 * bits of its address times the arena's secret. Every header the arena
 * writes carries it, and a header it takes apart (a block merged into
 * its neighbour) is cleared, so a word the program wrote, a stale header
 * or a header copied elsewhere is told from a real one (see
 * arena_owned() and Documentation/embedded.md).
 */

/* One block header; the link words exist only while the block is free. */
struct arena_block {
	size_t prev_size;		/* size of the block below, valid if it is free */
	size_t size;			/* size of this block | ARENA_FREE | ARENA_PREV_FREE */
	struct arena_block *next;	/* next free block of the same class */
	struct arena_block *prev;	/* previous free block of the same class */
};

#define ARENA_ALIGN		HK_MIN_ALIGN
#define ARENA_ALIGN_SHIFT	4
#define ARENA_FREE		1UL	/* this block is free */
#define ARENA_PREV_FREE		2UL	/* the block below is free */
#define ARENA_FLAGS		(ARENA_ALIGN - 1)
#define ARENA_SEAL_SHIFT		48	/* seal above, size below: 256 TiB at most */
#define ARENA_SIZE_MASK		(((size_t)1 << ARENA_SEAL_SHIFT) - ARENA_ALIGN)

/* From a block to its payload: the two header words. */
#define ARENA_HDR		offsetof(struct arena_block, next)

/* Smallest block: a free one must hold its header and both links. */
#define ARENA_MIN_BLOCK		ALIGN_UP(sizeof(struct arena_block), ARENA_ALIGN)

BUILD_BUG_ON(ARENA_ALIGN != 1 << ARENA_ALIGN_SHIFT);
BUILD_BUG_ON(sizeof(size_t) != 8);
BUILD_BUG_ON(ARENA_PREV_FREE != ARENA_FREE << 1);	/* arena_owned() */

static inline size_t arena_size(const struct arena_block *b)
{
	return b->size & ARENA_SIZE_MASK;
}

static inline struct arena_block *arena_at(const void *p, size_t off)
{
	return (struct arena_block *)((char *)p + off);
}

static inline struct arena_block *arena_block_of(const void *ptr)
{
	return (struct arena_block *)((char *)ptr - ARENA_HDR);
}

static inline void *arena_payload(struct arena_block *b)
{
	return (char *)b + ARENA_HDR;
}

/*
 * Block size for a request of n bytes: the payload runs into the
 * prev_size word of the next block, so only the size word is overhead.
 */
static inline size_t arena_block_size(size_t n)
{
	size_t size = ALIGN_UP(n + sizeof(size_t), ARENA_ALIGN);

	return size < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : size;
}

/* ------------------------------------------------------------------------
 * Size classes and the control block
 *
 * A block of size s below ARENA_SMALL sits in class s / 16 of row 0
 * (exact classes). Above, row fl = log2(s) - 7 covers [2^k, 2^(k+1)),
 * k = fl + 7, split into ARENA_SL_COUNT equal classes. Class number
 * fl * ARENA_SL_COUNT + sl indexes one flat array of list heads.
 */

#define ARENA_SL_SHIFT		4
#define ARENA_SL_COUNT		(1U << ARENA_SL_SHIFT)
#define ARENA_SMALL		(ARENA_SL_COUNT << ARENA_ALIGN_SHIFT)

/* One first-level size range. */
struct arena_row {
	unsigned int map;				/* bit sl: head[sl] not empty */
	struct arena_block *head[ARENA_SL_COUNT];	/* free lists by second-level class */
};

/* The control block, at the start of the region it manages. */
struct arena_ctl {
	char *lo;			/* the first block: payloads lie above it */
	char *hi;			/* the end sentinel: payloads lie below it */
	size_t secret;			/* odd multiplier of the header seals */
	unsigned long map;		/* bit fl: row[fl].map not 0 */
	struct arena_row row[];		/* one per first level in use, plus one empty */
};

/* ------------------------------------------------------------------------
 * Header seals
 */

/* Whether the size word at b carries b's seal. */
static inline int arena_sealed(const struct arena_ctl *a, const struct arena_block *b)
{
	return !((b->size ^ (uintptr_t)b * a->secret) >> ARENA_SEAL_SHIFT);
}

/* Write the header of a block at b: size and flags, and b's seal. */
static inline void arena_set(const struct arena_ctl *a, struct arena_block *b,
			     size_t size_flags)
{
	b->size = size_flags |
		  ((uintptr_t)b * a->secret) >> ARENA_SEAL_SHIFT << ARENA_SEAL_SHIFT;
}

/* ------------------------------------------------------------------------
 * Operations (tlsf.c); the caller holds the arena lock.
 */

struct arena_ctl *arena_setup(void *base, size_t len);
struct arena_block *arena_take(struct arena_ctl *a, size_t size);
void arena_trim(struct arena_ctl *a, struct arena_block *b, size_t size);
void arena_release(struct arena_ctl *a, struct arena_block *b);
void arena_unlink(struct arena_ctl *a, struct arena_block *b);

/* A header the arena wrote is broken (arena.c): report and abort. */
__noreturn __cold void arena_corrupt(const char *op, const void *ptr);

#ifdef CONFIG_DEBUG_ASSERT
#define ARENA_BUG_ON(cond)	do { if (unlikely(cond)) __builtin_trap(); } while (0)
void arena_check(struct arena_ctl *a);
#else
#define ARENA_BUG_ON(cond)	do { } while (0)
static inline void arena_check(struct arena_ctl *a) { (void)a; }
#endif

#endif /* _MM_ARENA_ARENA_H */
