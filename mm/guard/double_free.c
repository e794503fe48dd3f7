// SPDX-License-Identifier: MIT
/*
 * mm/guard/double_free.c - the double-free check of the slab boxes
 * (CONFIG_DOUBLE_FREE_CHECK): the per-process key that a freed block
 * carries in its second word, drawn once at initialisation. The checks
 * themselves are a few inline instructions in the free and malloc paths
 * (mm/heap/heap.h, mm/tiny/ultrahot.h), compiled only with the option;
 * without it this object is absent and every slab's key is 0.
 * Documentation/architecture.md, "The double-free check".
 */
#include "os/os.h"
#include "box.h"
#include "heap/heap.h"

uintptr_t hk_dfkey;

static void double_free_init(void)
{
	/*
	 * The top bit set: the words a bin gives its blocks (below 2^63,
	 * dfkey_bin_base()) never equal the slabs' key or its marks.
	 */
	hk_dfkey = os_random_word() | DFKEY_SLAB_BIT;
}

HK_BOX(double_free) = {
	.name		= "double-free check",
	.stat_alloc	= -1,
	.init		= double_free_init,
};
