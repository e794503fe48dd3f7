/* SPDX-License-Identifier: MIT */
#ifndef _ASM_X86_64_TLS_H
#define _ASM_X86_64_TLS_H

/* Nothing differs from the generic definitions. */
#include <asm-generic/tls.h>

#endif /* _ASM_X86_64_TLS_H */
