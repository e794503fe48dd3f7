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

#include <asm-generic/atomic.h>

#endif /* _ASM_AARCH64_ATOMIC_H */
