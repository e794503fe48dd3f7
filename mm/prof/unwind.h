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

/* Reads of the stack a memo of the last unwind keeps, at most. */
#define PROF_MEMO_READS		40

/* One word that a walk read from the stack. */
struct prof_uw_read {
	uintptr_t addr;				/* its address */
	uintptr_t val;				/* the word read there */
};

/*
 * A thread's last unwind (mm/prof/unwind.c): prof_unwind() is a function
 * of the registers it starts from, of from, and of the words it reads from
 * the stack (each read's address follows from the words read before it),
 * so if those are the same, the stack is the same, and the profiler's
 * record of it (stack) serves again without a walk or a lookup. The reads
 * end with a sentinel that never matches (rd[nr]: the address of end, a
 * value end does not hold), so that the check of the reads has no count.
 */
struct prof_uw_memo {
	uintptr_t sp;				/* rsp where prof_unwind() started */
	uintptr_t bp;				/* rbp there */
	int bp_used;				/* the walk used that rbp (else any rbp is the same) */
	uintptr_t from;				/* its from argument */
	void *stack;				/* the profiler's record of the stack (NULL: no memo; set only with nr > 0) */
	unsigned int nr;			/* reads below (0: no memo) */
	const struct prof_uw_read *last;	/* &rd[nr], the sentinel (3 instructions less a check) */
	uintptr_t end;				/* 0: the word the sentinel reads */
	struct prof_uw_read rd[PROF_MEMO_READS + 1];	/* the reads, in order, and the sentinel */
};

/*
 * A thread's last two unwinds: m[0] the last stack (its walk, or the
 * memo that matched it), m[1] the one before. Two, so that a program
 * that allocates from two places in turn (or reaches the sampler by two
 * paths: realloc's fast path and its slow one) finds its stack in a memo
 * instead of walking it every time; m[1] is checked only if m[0] does
 * not match, and the two swap then, so that a match of m[0] costs what
 * the one memo did.
 */
#define PROF_MEMOS		2
struct prof_uw_memos {
	struct prof_uw_memo m[PROF_MEMOS];
};

/* The memo that describes the thread's last stack (its walk, or the match). */
static __always_inline struct prof_uw_memo *prof_memo_cur(struct prof_uw_memos *ms)
{
	return &ms->m[0];
}

/* prof_unwind(): the same stack as prof_memo_cur(memos)->stack. */
#define PROF_UNWIND_SAME	(-2)

#ifdef CONFIG_ARCH_X86_64
/*
 * The return addresses of the calling thread's stack, innermost first,
 * from the frame whose address is from (the first is inside prof_unwind()
 * itself if from is 0), at most max of them, into pc[]. Returns how many,
 * or -1 if a frame needs what this unwinder does not do (a signal frame,
 * a DWARF expression), if from is not among the first 16 frames, or if
 * the cache could not be mapped: then the caller asks _Unwind_Backtrace.
 * With a memo (the calling thread's): PROF_UNWIND_SAME if the registers,
 * from and every word the last walk read are the same (pc[] is not
 * written: memo->stack is the stack), else the walk, which the memo then
 * describes (its stack NULL until the caller sets it).
 */
int prof_unwind(uintptr_t *pc, unsigned int max, uintptr_t from, struct prof_uw_memos *memos);
/* Map the cache of frame rules (from the profiler's constructor). */
void prof_unwind_init(void);
/* fork's child: another thread may have held the cache's writer lock. */
void prof_unwind_fork_child(void);
#else
static inline int prof_unwind(uintptr_t *pc, unsigned int max, uintptr_t from,
			      struct prof_uw_memos *memos)
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
