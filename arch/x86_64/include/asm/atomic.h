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

/*
 * A relaxed load of the byte at p compared with the constant v: nonzero
 * if they differ. One "cmpb $v, (p)", where the compiler keeps an atomic
 * load apart from the compare (a movzbl and a cmp). Used on free's fast
 * path (registry_lookup_is()). The sanitizers see no access in an asm
 * statement: their builds take the generic load (HK_SANITIZED, also
 * under clang, which does not define __SANITIZE_THREAD__).
 */
#ifndef HK_SANITIZED
#define a_load_u8_ne(p, v)	({					\
	int __ne;							\
	__asm__("cmpb %2, %1" : "=@ccne" (__ne)				\
		: "m" (*(const unsigned char *)(p)), "i" ((unsigned char)(v))); \
	__ne;								\
})
#endif

#include <asm-generic/atomic.h>

#endif /* _ASM_X86_64_ATOMIC_H */
