/* SPDX-License-Identifier: MIT */
/*
 * UltraHot (CONFIG_TINY_ULTRAHOT): an L0 stack per thread for the 16 B and
 * 32 B classes (C0, C1), checked ahead of the normal Tiny front. A free of
 * an owned 16/32 B block lands here without touching its slab; the next
 * malloc of that class takes it back. Only these two classes: the memo's
 * extension to larger classes starved the others.
 *
 * Blocks held here count as used by their slabs; the box's thread_flush
 * hook (mm/tiny/ultrahot.c) hands them back at thread exit and trim.
 * Without the option, the two functions are stubs that return 0 and fold
 * away: no code, no branch.
 */
#ifndef _MM_TINY_ULTRAHOT_H
#define _MM_TINY_ULTRAHOT_H

#include "heap/heap.h"

#ifdef CONFIG_TINY_ULTRAHOT
BUILD_BUG_ON(TINY_NR_CLASSES < 2);

/* Serve a 1..32 byte request from the L0 stack; 0 if it is empty. */
static __always_inline int ultrahot_alloc(size_t size, void **out)
{
	struct ultrahot *u = &hk_tls.boxes.ultrahot;
	unsigned int i = size > 16;
	void *p;

	if (size - 1 > 32 - 1 || !u->count[i])
		return 0;
	p = u->slot[i][--u->count[i]];
	vg_open(p, FL_WORDS);
	if (unlikely(dfkey_take(p, hk_tls.dfkey)))
		heap_free_list_corrupt(p);
	vg_close(p, FL_WORDS);
	STAT_INC_TLS(STAT_ULTRAHOT_HIT);
	*out = p;
	return 1;
}

/*
 * Keep a C0/C1 block of this thread's (free checked that it is a block
 * start of its own slab); 0 if it is not one or the stack is full.
 */
static __always_inline int ultrahot_free(struct slab *s, void *p)
{
	struct ultrahot *u = &hk_tls.boxes.ultrahot;
	unsigned int i = s->class_idx;

	if (i > 1 || u->count[i] == ULTRAHOT_CAP)
		return 0;
	vg_open(p, FL_WORDS);
	dfkey_owner_free(s, p);
	dfkey_put(s, p);
	vg_close(p, FL_WORDS);
	u->slot[i][u->count[i]++] = p;
	return 1;
}
#else
static __always_inline int ultrahot_alloc(size_t size, void **out)
{
	return 0;
}

static __always_inline int ultrahot_free(struct slab *s, void *p)
{
	return 0;
}
#endif

#endif /* _MM_TINY_ULTRAHOT_H */
