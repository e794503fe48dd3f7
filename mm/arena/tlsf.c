// SPDX-License-Identifier: MIT
/*
 * Two-level segregated fit over one region: size classes, free lists,
 * bitmaps, boundary tags and coalescing. Every operation here is O(1):
 * a class is found with two find-first-set instructions, never by
 * walking a list or the region. The caller holds the arena lock.
 */
#include <string.h>

#include "arena.h"

/* ------------------------------------------------------------------------
 * Size classes
 */

/*
 * Class of a block of the given size, rounding down: row log2(size) - 7
 * (row 0 below ARENA_SMALL), column the next ARENA_SL_SHIFT bits.
 * Or-ing ARENA_SMALL in makes sizes below it land in row 0 with exact
 * 16-byte classes, without a branch.
 */
static unsigned int arena_class(size_t size)
{
	unsigned int k = hk_log2(size | ARENA_SMALL);

	return ((k - ARENA_SL_SHIFT - ARENA_ALIGN_SHIFT) << ARENA_SL_SHIFT) +
	       (unsigned int)(size >> (k - ARENA_SL_SHIFT));
}

/* ------------------------------------------------------------------------
 * Free lists
 */

/* Push a free block on the list of its class and mark the class. */
static void arena_file(struct arena_ctl *a, struct arena_block *b,
		       size_t size)
{
	unsigned int c = arena_class(size);
	unsigned int sl = c & (ARENA_SL_COUNT - 1);
	struct arena_row *row = &a->row[c >> ARENA_SL_SHIFT];
	struct arena_block *n = row->head[sl];

	b->next = n;
	b->prev = NULL;
	if (n)
		n->prev = b;
	row->head[sl] = b;
	row->map |= 1U << sl;
	a->map |= 1UL << (c >> ARENA_SL_SHIFT);
}

/* Take a free block off its list; clear the bits of a list left empty. */
void arena_unlink(struct arena_ctl *a, struct arena_block *b)
{
	struct arena_block *n = b->next, *p = b->prev;
	struct arena_row *row;
	unsigned int c;

	if (n)
		n->prev = p;
	if (p) {
		p->next = n;
		return;
	}
	c = arena_class(arena_size(b));
	row = &a->row[c >> ARENA_SL_SHIFT];
	row->head[c & (ARENA_SL_COUNT - 1)] = n;
	if (n)
		return;
	row->map &= ~(1U << (c & (ARENA_SL_COUNT - 1)));
	if (!row->map)
		a->map &= ~(1UL << (c >> ARENA_SL_SHIFT));
}

/* ------------------------------------------------------------------------
 * Allocation
 */

/*
 * Find a free block of at least size bytes (a block size), take it off
 * its list and mark it used. The request is rounded up to the next class
 * boundary, so the head of any non-empty class at or above it fits: the
 * first such class is found in the bitmaps, never by a search. If there
 * is none, the head of the request's own class may still be big enough
 * (the last chance for a request as big as the largest free block); no
 * other block is looked at. NULL if nothing fits.
 */
struct arena_block *arena_take(struct arena_ctl *a, size_t size)
{
	struct arena_block *b;
	unsigned int c, fl, map;
	unsigned long rows;

	if (unlikely(size > (size_t)(a->hi - a->lo)))
		return NULL;
	c = arena_class(size + ((size_t)1 << (hk_log2(size | ARENA_SMALL) -
					      ARENA_SL_SHIFT)) - 1);
	fl = c >> ARENA_SL_SHIFT;
	map = a->row[fl].map & (~0U << (c & (ARENA_SL_COUNT - 1)));
	if (!map) {
		rows = a->map & (~1UL << fl);
		if (!rows)
			goto last_chance;
		fl = hk_ctz(rows);
		map = a->row[fl].map;
	}
	b = a->row[fl].head[hk_ctz(map)];
found:
	/* A free block's header is the arena's own: a broken one is a write after free. */
	if (unlikely(!arena_sealed(a, b) || !(b->size & ARENA_FREE)))
		arena_corrupt("malloc", arena_payload(b));
	arena_unlink(a, b);
	b->size &= ~ARENA_FREE;
	arena_at(b, arena_size(b))->size &= ~ARENA_PREV_FREE;
	return b;

last_chance:
	c = arena_class(size);
	b = a->row[c >> ARENA_SL_SHIFT].head[c & (ARENA_SL_COUNT - 1)];
	if (b && arena_size(b) >= size)
		goto found;
	return NULL;
}

/* Cut a used block down to size bytes; free the tail if it can stand. */
void arena_trim(struct arena_ctl *a, struct arena_block *b, size_t size)
{
	size_t rest = arena_size(b) - size;
	struct arena_block *r;

	if (rest >= ARENA_MIN_BLOCK) {
		b->size -= rest;
		r = arena_at(b, size);
		arena_set(a, r, rest);
		arena_release(a, r);
	}
}

/* ------------------------------------------------------------------------
 * Free
 */

/*
 * Free a block (its size word holds its size and ARENA_PREV_FREE):
 * merge it with a free neighbour on either side, write the boundary tag
 * and file it. Two free blocks are never neighbours, so the merged
 * block has a used block below it. A header merged away is cleared: it
 * is no block any more. The block below is found through the boundary
 * tag, in memory the program may have written after freeing it: it must
 * be a free block of exactly that size.
 */
void arena_release(struct arena_ctl *a, struct arena_block *b)
{
	size_t size = arena_size(b);
	struct arena_block *n = arena_at(b, size), *p;

	if (b->size & ARENA_PREV_FREE) {
		p = (struct arena_block *)((char *)b - b->prev_size);
		if (unlikely(b->prev_size > (size_t)((char *)b - a->lo) ||
			     !arena_sealed(a, p) ||
			     (p->size & (ARENA_SIZE_MASK | ARENA_FREE)) !=
			     (b->prev_size | ARENA_FREE)))
			arena_corrupt("free", arena_payload(b));
		b->size = 0;
		b = p;
		arena_unlink(a, b);
		size += arena_size(b);
	}
	if (n->size & ARENA_FREE) {
		arena_unlink(a, n);
		size += arena_size(n);
		n->size = 0;
	}
	arena_set(a, b, size | ARENA_FREE);
	n = arena_at(b, size);
	n->prev_size = size;
	n->size |= ARENA_PREV_FREE;
	arena_file(a, b, size);
}

/* ------------------------------------------------------------------------
 * Setup
 */

/*
 * Lay an arena out over [base, base + len): the control block, one free
 * block, and an end sentinel (a used block of size 0). NULL if the
 * region cannot hold a smallest block.
 */
struct arena_ctl *arena_setup(void *base, size_t len)
{
	char *lo = (char *)ALIGN_UP((uintptr_t)base, ARENA_ALIGN);
	size_t skip = (size_t)(lo - (char *)base);
	struct arena_ctl *a = (struct arena_ctl *)lo;
	struct arena_block *b, *end;
	size_t ctl;

	if (unlikely(!base || len < skip))
		return NULL;
	/* Below 2^48 (the address space): sizes stay below the seals. */
	len = ALIGN_DOWN(len - skip, ARENA_ALIGN);
	/* Rows up to that of the whole region, and one empty above it. */
	ctl = sizeof(*a) + ((arena_class(len) >> ARENA_SL_SHIFT) + 2) *
			   sizeof(a->row[0]);
	ctl = ALIGN_UP(ctl, ARENA_ALIGN);
	if (unlikely(len < ctl + ARENA_ALIGN + ARENA_MIN_BLOCK))
		return NULL;
	memset(a, 0, ctl);
	b = arena_block_of(lo + ctl + ARENA_ALIGN);
	end = arena_block_of(lo + len);
	a->lo = (char *)b;
	a->hi = (char *)end;
	/*
	 * The secret of the seals: without a system call, what varies from
	 * run to run is where things are (ASLR): the region, the stack, the
	 * code. Odd, so that it multiplies without losing address bits.
	 */
	a->secret = (((uintptr_t)base ^ (uintptr_t)&ctl) * 0x9e3779b97f4a7c15UL ^
		     (uintptr_t)arena_setup) | 1;
	arena_set(a, b, (size_t)((char *)end - (char *)b));
	arena_set(a, end, 0);
	arena_release(a, b);
	return a;
}

/* ------------------------------------------------------------------------
 * Consistency check (CONFIG_DEBUG_ASSERT)
 */

#ifdef CONFIG_DEBUG_ASSERT
/*
 * Walk the region and every free list: seals, flags and lists agree, no
 * two free blocks touch, every bit of the maps matches its list. O(n).
 */
void arena_check(struct arena_ctl *a)
{
	struct arena_block *b, *n;
	unsigned int c, rows;
	size_t free_blocks = 0, listed = 0, prev_free = 0;

	if (!a)
		return;
	for (b = (struct arena_block *)a->lo; (char *)b < a->hi; b = n) {
		ARENA_BUG_ON(!arena_sealed(a, b));
		ARENA_BUG_ON(arena_size(b) < ARENA_MIN_BLOCK);
		ARENA_BUG_ON(arena_size(b) & ARENA_FLAGS);
		ARENA_BUG_ON(!(b->size & ARENA_PREV_FREE) != !prev_free);
		n = arena_at(b, arena_size(b));
		ARENA_BUG_ON((char *)n > a->hi);
		prev_free = b->size & ARENA_FREE;
		if (prev_free) {
			ARENA_BUG_ON(b->size & ARENA_PREV_FREE);
			ARENA_BUG_ON(n->prev_size != arena_size(b));
			free_blocks++;
		}
	}
	ARENA_BUG_ON((char *)b != a->hi || arena_size(b) || !arena_sealed(a, b));
	ARENA_BUG_ON(!(b->size & ARENA_PREV_FREE) != !prev_free);

	rows = (arena_class((size_t)(a->hi - a->lo)) >> ARENA_SL_SHIFT) + 2;
	for (c = 0; c < rows * ARENA_SL_COUNT; c++) {
		struct arena_row *row = &a->row[c >> ARENA_SL_SHIFT];
		unsigned int sl = c & (ARENA_SL_COUNT - 1);

		ARENA_BUG_ON(!row->head[sl] != !(row->map & (1U << sl)));
		ARENA_BUG_ON(!row->map != !(a->map & (1UL << (c >> ARENA_SL_SHIFT))));
		for (b = row->head[sl], n = NULL; b; n = b, b = b->next) {
			ARENA_BUG_ON(b->prev != n);
			ARENA_BUG_ON(!(b->size & ARENA_FREE));
			ARENA_BUG_ON(arena_class(arena_size(b)) != c);
			ARENA_BUG_ON(++listed > free_blocks);
		}
	}
	ARENA_BUG_ON(listed != free_blocks);
}
#endif /* CONFIG_DEBUG_ASSERT */
