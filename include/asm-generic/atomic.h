/* SPDX-License-Identifier: MIT */
/*
 * Generic atomics on the compiler's __atomic built-ins. An architecture's
 * asm/atomic.h defines what differs (an operation as a macro of the same
 * name, cpu_relax() followed by "#define cpu_relax cpu_relax") and then
 * includes this file, which fills in the rest. Generic code includes
 * <hakmem/atomic.h>, never this file or the built-ins.
 */
#ifndef _ASM_GENERIC_ATOMIC_H
#define _ASM_GENERIC_ATOMIC_H

#define A_RELAXED	__ATOMIC_RELAXED
#define A_ACQUIRE	__ATOMIC_ACQUIRE
#define A_RELEASE	__ATOMIC_RELEASE
#define A_ACQ_REL	__ATOMIC_ACQ_REL
#define A_SEQ_CST	__ATOMIC_SEQ_CST

#ifndef a_load
#define a_load(p, mo)		__atomic_load_n((p), (mo))
#endif
#ifndef a_store
#define a_store(p, v, mo)	__atomic_store_n((p), (v), (mo))
#endif
#ifndef a_swap
#define a_swap(p, v, mo)	__atomic_exchange_n((p), (v), (mo))
#endif
#ifndef a_fetch_add
#define a_fetch_add(p, v, mo)	__atomic_fetch_add((p), (v), (mo))
#endif
#ifndef a_fetch_sub
#define a_fetch_sub(p, v, mo)	__atomic_fetch_sub((p), (v), (mo))
#endif
#ifndef a_fetch_or
#define a_fetch_or(p, v, mo)	__atomic_fetch_or((p), (v), (mo))
#endif
#ifndef a_fetch_and
#define a_fetch_and(p, v, mo)	__atomic_fetch_and((p), (v), (mo))
#endif
/* Strong compare-exchange: on failure *expected receives the current value. */
#ifndef a_cas
#define a_cas(p, expected, desired, mo) \
	__atomic_compare_exchange_n((p), (expected), (desired), 0, (mo), A_RELAXED)
#endif
#ifndef a_fence
#define a_fence(mo)		__atomic_thread_fence(mo)
#endif

/*
 * d -= r[0], then d >= r[1] (relaxed loads): d's old value outside
 * [r[0], r[0] + r[1]); d keeps the offset from r[0].
 */
#ifndef a_sub_outside
#define a_sub_outside(d, r)						\
	(((d) -= __atomic_load_n(&(r)[0], A_RELAXED)) >=		\
	 __atomic_load_n(&(r)[1], A_RELAXED))
#endif

/* A spin-wait hint; without one, only a compiler barrier. */
#ifndef cpu_relax
static inline void cpu_relax(void)
{
	__asm__ __volatile__("" ::: "memory");
}
#endif

#endif /* _ASM_GENERIC_ATOMIC_H */
