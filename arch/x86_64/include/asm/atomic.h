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

#include <asm-generic/atomic.h>

#endif /* _ASM_X86_64_ATOMIC_H */
