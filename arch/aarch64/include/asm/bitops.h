/* SPDX-License-Identifier: MIT */
#ifndef _ASM_AARCH64_BITOPS_H
#define _ASM_AARCH64_BITOPS_H

/* Nothing differs from the generic definitions. */
#include <asm-generic/bitops.h>

#endif /* _ASM_AARCH64_BITOPS_H */
