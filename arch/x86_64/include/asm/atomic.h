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
 * x - r[0] >= r[1], with relaxed loads of both words: nonzero if x lies
 * outside [r[0], r[0] + r[1]). One "sub" and one "cmp" with the words
 * as memory operands (and a copy of x), where the compiler loads each
 * atomic into a register first (a lea and two movs more). Free's fast
 * path (ss_in_region()). The sanitizers see no access in an asm
 * statement: their builds take the generic loads (HK_SANITIZED, also
 * under clang, which does not define __SANITIZE_THREAD__).
 */
#define a_outside(x, r)	({						\
	uintptr_t __d = (x);						\
	int __out;							\
	__asm__("sub %2, %0\n\tcmp %3, %0"				\
		: "+r" (__d), "=@ccae" (__out)				\
		: "m" ((r)[0]), "m" ((r)[1]));				\
	__out;								\
})
#endif

#include <asm-generic/atomic.h>

#endif /* _ASM_X86_64_ATOMIC_H */
