/* SPDX-License-Identifier: MIT */
/*
 * Generic thread-local storage attribute; an architecture includes this
 * from its asm/tls.h after defining what differs.
 */
#ifndef _ASM_GENERIC_TLS_H
#define _ASM_GENERIC_TLS_H

/*
 * Thread-local storage in the initial-exec model: a fixed offset from the
 * thread pointer (%fs on x86_64, TPIDR_EL0 on aarch64), no __tls_get_addr
 * call, no allocation when a thread starts.
 */
#ifndef __arch_tls
#define __arch_tls	__thread __attribute__((tls_model("initial-exec")))
#endif

/*
 * Thread-pointer-relative access, for fast paths that keep the offset of
 * a per-thread object in shared data (a slab records where its class's
 * bin is): hk_tp_offset(sym) is the offset of the TLS variable sym from
 * the thread pointer, the same in every thread (initial-exec TLS is a
 * fixed block); hk_tp_ptr(type, off) points to the object at offset off
 * from the calling thread's thread pointer; __hk_tp_seg qualifies such a
 * pointer (x86_64: the %fs address space, so that the access is one
 * instruction and the thread pointer is never loaded). An architecture
 * may define any of them in its asm/tls.h. Sparse sees plain pointers.
 */
#ifdef __CHECKER__
#undef hk_tp_offset
#undef hk_tp_ptr
#undef __hk_tp_seg
#define hk_tp_offset(sym)	((uintptr_t)&(sym))
#endif

#ifndef hk_tp_offset
#define hk_tp_offset(sym)	((uintptr_t)&(sym) - (uintptr_t)__builtin_thread_pointer())
#endif

#ifndef __hk_tp_seg
#define __hk_tp_seg
#ifdef __CHECKER__
#define hk_tp_ptr(type, off)	((type *)(uintptr_t)(off))
#else
#define hk_tp_ptr(type, off)	((type *)((char *)__builtin_thread_pointer() + (off)))
#endif
#endif

#endif /* _ASM_GENERIC_TLS_H */
