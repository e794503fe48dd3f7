/* SPDX-License-Identifier: MIT */
/*
 * x86_64 atomics. x86 is TSO: acquire loads and release stores are plain
 * moves; read-modify-write operations are LOCK-prefixed. The compiler's
 * __atomic built-ins produce exactly that, so the generic definitions
 * (asm-generic/atomic.h) are used; only the spin-wait hint differs.
 */
#ifndef _ASM_X86_64_ATOMIC_H
#define _ASM_X86_64_ATOMIC_H

static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}
#define cpu_relax cpu_relax

#ifndef HK_SANITIZED
/*
 * d -= r[0], then d >= r[1], with relaxed loads of both words: nonzero if
 * d's old value lies outside [r[0], r[0] + r[1]); d keeps the offset from
 * r[0]. One "sub" and one "cmp" with the words as memory operands, where
 * the compiler loads each atomic into a register first (a lea and two
 * movs more). Free's fast path (ss_outside_region()). The sanitizers see
 * no access in an asm statement: their builds take the generic loads
 * (HK_SANITIZED, also under clang, which does not define
 * __SANITIZE_THREAD__).
 */
#define a_sub_outside(d, r)	({					\
	int __out;							\
	__asm__("sub %2, %0\n\tcmp %3, %0"				\
		: "+r" (d), "=@ccae" (__out)				\
		: "m" ((r)[0]), "m" ((r)[1]));				\
	__out;								\
})
#endif

#include <asm-generic/atomic.h>

#endif /* _ASM_X86_64_ATOMIC_H */
