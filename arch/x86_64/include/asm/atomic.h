/* SPDX-License-Identifier: MIT */
/*
 * x86_64 atomics. x86 is TSO: acquire loads and release stores are plain
 * moves; read-modify-write operations are LOCK-prefixed. The compiler's
 * __atomic built-ins produce exactly that, so they are used here and
 * nowhere in generic code.
 */
#ifndef _ASM_X86_64_ATOMIC_H
#define _ASM_X86_64_ATOMIC_H

#define A_RELAXED	__ATOMIC_RELAXED
#define A_ACQUIRE	__ATOMIC_ACQUIRE
#define A_RELEASE	__ATOMIC_RELEASE
#define A_ACQ_REL	__ATOMIC_ACQ_REL
#define A_SEQ_CST	__ATOMIC_SEQ_CST

#define a_load(p, mo)		__atomic_load_n((p), (mo))
#define a_store(p, v, mo)	__atomic_store_n((p), (v), (mo))
#define a_swap(p, v, mo)	__atomic_exchange_n((p), (v), (mo))
#define a_fetch_add(p, v, mo)	__atomic_fetch_add((p), (v), (mo))
#define a_fetch_sub(p, v, mo)	__atomic_fetch_sub((p), (v), (mo))
#define a_fetch_or(p, v, mo)	__atomic_fetch_or((p), (v), (mo))
#define a_fetch_and(p, v, mo)	__atomic_fetch_and((p), (v), (mo))
/* Strong compare-exchange: on failure *expected receives the current value. */
#define a_cas(p, expected, desired, mo) \
	__atomic_compare_exchange_n((p), (expected), (desired), 0, (mo), A_RELAXED)
#define a_fence(mo)		__atomic_thread_fence(mo)

static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

#endif /* _ASM_X86_64_ATOMIC_H */
