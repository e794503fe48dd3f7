/* SPDX-License-Identifier: MIT */
#ifndef _ASM_AARCH64_CACHE_H
#define _ASM_AARCH64_CACHE_H

/* Size of a cache line; used to keep shared atomics apart. */
#define L1_CACHE_SHIFT		6
#define L1_CACHE_BYTES		(1 << L1_CACHE_SHIFT)

#endif /* _ASM_AARCH64_CACHE_H */
