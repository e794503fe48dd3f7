/* SPDX-License-Identifier: MIT */
#ifndef _ASM_AARCH64_CACHE_H
#define _ASM_AARCH64_CACHE_H

/* Nothing differs from the generic definitions. */
#include <asm-generic/cache.h>

#endif /* _ASM_AARCH64_CACHE_H */
