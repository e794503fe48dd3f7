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

#endif /* _ASM_GENERIC_TLS_H */
