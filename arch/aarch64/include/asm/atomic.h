/* SPDX-License-Identifier: MIT */
/*
 * aarch64 atomics. aarch64 is weakly ordered: acquire loads are LDAR,
 * release stores STLR, read-modify-write operations LSE instructions or
 * LL/SC loops (libgcc's outline atomics pick one at run time). The
 * compiler's __atomic built-ins produce exactly that, so the generic
 * definitions (asm-generic/atomic.h) are used; only the spin-wait hint
 * differs.
 */
#ifndef _ASM_AARCH64_ATOMIC_H
#define _ASM_AARCH64_ATOMIC_H

static inline void cpu_relax(void)
{
	__asm__ __volatile__("yield" ::: "memory");
}
#define cpu_relax cpu_relax

#ifndef HK_SANITIZED
/*
 * d -= r[0], then d >= r[1], the two words of r loaded by one LDP (each
 * of its 64-bit loads is single-copy atomic: relaxed loads): nonzero if
 * d's old value lies outside [r[0], r[0] + r[1]); d keeps the offset
 * from r[0]. gcc loads each atomic with its own adrp, add and ldr.
 * Free's fast path (ss_outside_region()). The sanitizers see no access
 * in an asm statement: their builds take the generic loads.
 */
#define a_sub_outside(d, r)	({					\
	uintptr_t __b, __s;						\
	__asm__("ldp %0, %1, [%2]"					\
		: "=&r" (__b), "=&r" (__s)				\
		: "r" (r), "m" (*(const uintptr_t (*)[2])(r)));		\
	(d) -= __b;							\
	(d) >= __s;							\
})
#endif

#include <asm-generic/atomic.h>

#endif /* _ASM_AARCH64_ATOMIC_H */
