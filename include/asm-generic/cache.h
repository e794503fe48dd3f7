/* SPDX-License-Identifier: MIT */
/*
 * Generic cache geometry; an architecture includes this from its
 * asm/cache.h after defining what differs.
 */
#ifndef _ASM_GENERIC_CACHE_H
#define _ASM_GENERIC_CACHE_H

/* Size of a cache line; used to keep shared atomics apart. */
#ifndef L1_CACHE_SHIFT
#define L1_CACHE_SHIFT		6
#endif
#define L1_CACHE_BYTES		(1 << L1_CACHE_SHIFT)

#endif /* _ASM_GENERIC_CACHE_H */
