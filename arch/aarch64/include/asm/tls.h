/* SPDX-License-Identifier: MIT */
#ifndef _ASM_AARCH64_TLS_H
#define _ASM_AARCH64_TLS_H

/*
 * Thread-local storage in the initial-exec model: a fixed offset from the
 * thread pointer (%fs on x86_64, TPIDR_EL0 on aarch64), no __tls_get_addr
 * call, no allocation when a thread starts.
 */
#define __arch_tls	__thread __attribute__((tls_model("initial-exec")))

#endif /* _ASM_AARCH64_TLS_H */
