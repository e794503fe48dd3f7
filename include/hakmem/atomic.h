/* SPDX-License-Identifier: MIT */
/*
 * Atomics and thread-local storage for generic code.
 *
 * With CONFIG_THREADS the architecture supplies them (asm/atomic.h,
 * asm/tls.h), which take what does not differ from include/asm-generic/.
 * Without threads every operation is a plain load or store: no atomic
 * instruction, no TLS, nothing from libpthread.
 */
#ifndef _HAKMEM_ATOMIC_H
#define _HAKMEM_ATOMIC_H

#include <hakmem/compiler.h>

#ifdef CONFIG_THREADS

#include <asm/atomic.h>
#include <asm/tls.h>

#define __hk_tls	__arch_tls

#else /* !CONFIG_THREADS */

#define A_RELAXED	0
#define A_ACQUIRE	0
#define A_RELEASE	0
#define A_ACQ_REL	0
#define A_SEQ_CST	0

#define a_load(p, mo)		(*(p))
#define a_store(p, v, mo)	((void)(*(p) = (v)))
#define a_swap(p, v, mo)	({ __typeof__(*(p)) __o = *(p); *(p) = (v); __o; })
#define a_fetch_add(p, v, mo)	({ __typeof__(*(p)) __o = *(p); *(p) = __o + (v); __o; })
#define a_fetch_sub(p, v, mo)	({ __typeof__(*(p)) __o = *(p); *(p) = __o - (v); __o; })
#define a_fetch_or(p, v, mo)	({ __typeof__(*(p)) __o = *(p); *(p) = __o | (v); __o; })
#define a_fetch_and(p, v, mo)	({ __typeof__(*(p)) __o = *(p); *(p) = __o & (v); __o; })
#define a_cas(p, e, d, mo)	({ int __ok = (*(p) == *(e)); \
				   if (__ok) *(p) = (d); else *(e) = *(p); __ok; })
#define a_fence(mo)		((void)0)
#define a_sub_outside(d, r)	(((d) -= (r)[0]) >= (r)[1])

static inline void cpu_relax(void)
{
}

#define __hk_tls

/* No thread pointer: the "offset" of a variable is its address. */
#define __hk_tp_seg
#define hk_tp_offset(sym)	((uintptr_t)&(sym))
#define hk_tp_ptr(type, off)	((type *)(uintptr_t)(off))

#endif /* CONFIG_THREADS */

#endif /* _HAKMEM_ATOMIC_H */
