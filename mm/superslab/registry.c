// SPDX-License-Identifier: MIT
/*
 * mm/superslab/registry.c - the chunk ownership map (see registry.h).
 */
#include "registry.h"

unsigned char hk_registry[REG_ENTRIES] __aligned(4096);
