/* SPDX-License-Identifier: MIT */
#ifndef _ASM_AARCH64_TLS_H
#define _ASM_AARCH64_TLS_H

/* Nothing differs from the generic definitions. */
#include <asm-generic/tls.h>

#endif /* _ASM_AARCH64_TLS_H */
