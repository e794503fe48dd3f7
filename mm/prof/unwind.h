/* SPDX-License-Identifier: MIT */
/*
 * The heap profiler's own unwinder (mm/prof/unwind.c, x86-64): the call
 * frame information of .eh_frame, read once per return address and kept
 * in a cache, so that a sample's stack costs a few loads per frame instead
 * of libgcc's _Unwind_Backtrace, which parses the tables anew every time.
 * Private to mm/prof.
 */
#ifndef _MM_PROF_UNWIND_H
#define _MM_PROF_UNWIND_H

#include <hakmem/compiler.h>

#ifdef CONFIG_ARCH_X86_64
/*
 * The return addresses of the calling thread's stack, innermost first,
 * from the frame whose address is from (the first is inside prof_unwind()
 * itself if from is 0), at most max of them, into pc[]. Returns how many,
 * or -1 if a frame needs what this unwinder does not do (a signal frame,
 * a DWARF expression), if from is not among the first 16 frames, or if
 * the cache could not be mapped: then the caller asks _Unwind_Backtrace.
 */
int prof_unwind(uintptr_t *pc, unsigned int max, uintptr_t from);
/* Map the cache of frame rules (from the profiler's constructor). */
void prof_unwind_init(void);
/* fork's child: another thread may have held the cache's writer lock. */
void prof_unwind_fork_child(void);
#else
static inline int prof_unwind(uintptr_t *pc, unsigned int max, uintptr_t from)
{
	return -1;
}

static inline void prof_unwind_init(void)
{
}

static inline void prof_unwind_fork_child(void)
{
}
#endif

#endif /* _MM_PROF_UNWIND_H */
