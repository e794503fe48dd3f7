/* SPDX-License-Identifier: MIT */
/*
 * Generic bit operations on the compiler's built-ins, which give the
 * single instruction every supported architecture has (x86_64: lzcnt/bsr,
 * tzcnt/bsf; aarch64: clz, rbit+clz). An architecture with something
 * better defines the function and "#define hk_clz hk_clz" (etc.) in its
 * asm/bitops.h before including this file. Generic code calls these, not
 * the built-ins.
 */
#ifndef _ASM_GENERIC_BITOPS_H
#define _ASM_GENERIC_BITOPS_H

#include <stdint.h>

/* Number of leading zero bits of a non-zero word. */
#ifndef hk_clz
static inline unsigned int hk_clz(unsigned long x)
{
	return (unsigned int)__builtin_clzl(x);
}
#endif

/* Number of trailing zero bits of a non-zero word. */
#ifndef hk_ctz
static inline unsigned int hk_ctz(unsigned long x)
{
	return (unsigned int)__builtin_ctzl(x);
}
#endif

/* floor(log2(x)) of a non-zero word: the index of its highest set bit. */
#ifndef hk_log2
static inline unsigned int hk_log2(unsigned long x)
{
	return (unsigned int)(8 * sizeof(long) - 1) - hk_clz(x);
}
#endif

/*
 * hk_addr_index(x): x, for an address base + x * scale + disp (see the
 * x86_64 version: architectures whose loads take no base + index +
 * displacement keep the sum in a register, and x as it is).
 */
#ifndef hk_addr_index
#define hk_addr_index(x)	(x)
#endif

/* *p -= v; nonzero if the result is. */
#ifndef hk_sub_nz
static inline int hk_sub_nz(uintptr_t *p, uintptr_t v)
{
	*p -= v;
	return *p != 0;
}
#endif

#endif /* _ASM_GENERIC_BITOPS_H */
