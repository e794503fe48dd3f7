/* SPDX-License-Identifier: MIT */
#ifndef _ASM_X86_64_BITOPS_H
#define _ASM_X86_64_BITOPS_H

#include <stdint.h>

/*
 * *p -= v, and nonzero if the result is: one "subq %reg, (p)" whose flags
 * the caller branches on, where the compiler loads, subtracts and stores
 * (malloc's double-free key, dfkey_take()). The sanitizers see no access
 * in an asm statement: their builds take the generic version.
 */
#ifndef HK_SANITIZED
static inline int hk_sub_nz(uintptr_t *p, uintptr_t v)
{
	int nz;

	__asm__("subq %2, %0" : "+m" (*p), "=@ccnz" (nz) : "r" (v));
	return nz;
}
#define hk_sub_nz hk_sub_nz
#endif

/*
 * hk_addr_index(x): the integer variable x, hidden from the compiler in
 * place (the same register, a value it cannot follow). An address
 * base + x * scale + disp written with hk_addr_index(x) at every access
 * is then reached with the addressing mode disp(base, x, scale) each
 * time, where the compiler would add base and x once into a third
 * register and address through that: one instruction less on malloc's
 * fast path (a bin: the front's offset from the thread pointer plus the
 * bin's index) and on free's (a slot's metadata: the SuperSlab plus the
 * slot's offset). Costs nothing itself: the asm is empty.
 */
#define hk_addr_index(x)	({ __asm__("" : "+r" (x)); (x); })

#include <asm-generic/bitops.h>

#endif /* _ASM_X86_64_BITOPS_H */
