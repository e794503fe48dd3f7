/* SPDX-License-Identifier: MIT */
/*
 * The compile-time layout of the slab boxes' class table, from the
 * configuration. The per-thread front (struct heap_tls) is an array
 * indexed by class, so the number of classes is a constant; the boxes
 * registered with HK_BOX() (mm/box.h) fill the classes at run time and
 * heap_classes_init() checks that they agree with this layout.
 *
 * The slab boxes are consecutive ranges, in this order; one that is off
 * has no classes, and its neighbour takes its range:
 *
 *   Tiny       16 B .. TINY_MAX_SIZE         1, 2 or 4 classes per doubling
 *   Small-Mid  .. 4 KiB                      (needs Tiny)
 *   Mid        .. 32 KiB                     geometric classes
 *   (Large)    above HEAP_MAX_SIZE
 *
 * Only this header and the boxes' own headers name boxes; the engine
 * uses the generic names at the bottom.
 */
#ifndef _MM_BOXES_H
#define _MM_BOXES_H

#include "tiny/tiny.h"
#include "smallmid/smallmid.h"

/* Mid starts above the box below it. */
#if SMALLMID_NR_CLASSES
#define MID_BASE_SHIFT		12
#elif TINY_NR_CLASSES
#define MID_BASE_SHIFT		(TINY_MIN_SHIFT + CONFIG_TINY_MAX_CLASS)
#else
#define MID_BASE_SHIFT		TINY_MIN_SHIFT	/* from 16 B */
#endif
#include "mid/mid.h"

#define SMALLMID_FIRST_CLASS	TINY_NR_CLASSES
#define MID_FIRST_CLASS		(TINY_NR_CLASSES + SMALLMID_NR_CLASSES)

/* --- what the engine uses --- */

/* Classes of all slab boxes. */
#define HK_NR_CLASSES		(MID_FIRST_CLASS + MID_NR_CLASSES)

/* Slab boxes configured in (those with classes). */
#define HK_NR_SLAB_BOXES	(!!TINY_NR_CLASSES + !!SMALLMID_NR_CLASSES + !!MID_NR_CLASSES)

/* Largest request served by a slab class (above: the Large box); 0: none. */
#define HEAP_MAX_SIZE		(MID_MAX_SIZE ? MID_MAX_SIZE : \
				 SMALLMID_MAX_SIZE ? SMALLMID_MAX_SIZE : TINY_MAX_SIZE)

/*
 * realloc() keeps a block in a slab class up to this size; a block that
 * realloc grows beyond it by a big step (an eighth of it or more) goes
 * to the Large box, and a Large block resized to more than it stays there:
 * a buffer grown once by a big step is likely to grow again, which Large
 * does in place (within its mapping or with mremap) where Mid's big
 * classes (above 32 KiB) would copy it at every class.
 */
#define HEAP_REALLOC_MAX	(HEAP_MAX_SIZE < 32768 ? HEAP_MAX_SIZE : 32768UL)

/*
 * A block that realloc grows past HEAP_REALLOC_MAX by a small step, less
 * than an eighth of its size (1 << HEAP_REALLOC_STEP_SHIFT: appends),
 * stays in a slab class up to HEAP_REALLOC_STEP_MAX, moved with a
 * quarter of room (hk_grown_large(), hk_grown_size(), mm/core.h), so
 * that at least one more such step fits in place. Large's growth in
 * place maps new pages and faults them in (bench_strbuild 32 262144: 31 K
 * page faults per 10 M appends, tcmalloc 3.6 K), and the realloc of a
 * Large block that stays leaves the inline path that a slab block's
 * takes (hak_realloc(): its branch on the region mispredicted where a
 * program grows slab and Large blocks in turn). A bigger step (a buffer
 * doubled, or grown by a quarter) still goes to Large.
 */
#define HEAP_REALLOC_STEP_MAX	HEAP_MAX_SIZE
#define HEAP_REALLOC_STEP_SHIFT	3

/*
 * Requests of 0 .. HEAP_FIRST_MAX_SIZE bytes are in the HEAP_FIRST_NR_CLASSES
 * classes that start the table (0: none; size_to_class() then uses its
 * tables only), which malloc tests first. HEAP_FIRST_POW2: they are the
 * powers of two 1 << (HEAP_FIRST_MIN_SHIFT + i) (their class is a bit
 * scan); otherwise multiples of 16 B found in the 16-byte-step table.
 */
#define HEAP_FIRST_NR_CLASSES	TINY_NR_CLASSES
#define HEAP_FIRST_MIN_SHIFT	TINY_MIN_SHIFT
#define HEAP_FIRST_MAX_SIZE	(TINY_NR_CLASSES ? TINY_MAX_SIZE : 16UL)	/* unused if none */
#define HEAP_FIRST_POW2		(TINY_PER_DOUBLING == 1)

/*
 * The boxes' per-thread state, a member of the engine's TLS block
 * (struct heap_tls) so that a box's fast path reaches it from the same
 * TLS base as the bins: a TLS variable of its own would cost the shared
 * library one more GOT load per call (5 instructions per malloc+free with
 * UltraHot, callgrind). Empty without such a box.
 */
struct boxes_tls {
#ifdef CONFIG_TINY_ULTRAHOT
	struct ultrahot ultrahot;	/* mm/tiny/ultrahot.h */
#endif
#ifdef CONFIG_HEAP_PROFILE
	unsigned long prof_left;	/* mm/prof/prof.h: bytes to the next sample */
#endif
};

#endif /* _MM_BOXES_H */
