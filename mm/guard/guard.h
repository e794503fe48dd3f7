/* SPDX-License-Identifier: MIT */
/*
 * ExternalGuard: the last box. A pointer that no box owns is handed here
 * instead of to a box: its page is checked (mincore), the event counted,
 * and the pointer leaked. It is never dereferenced and never crashes the
 * process.
 */
#ifndef _MM_GUARD_H
#define _MM_GUARD_H

#include <hakmem/compiler.h>

/* Entry point through which the foreign pointer arrived. */
enum guard_op {
	GUARD_FREE,
	GUARD_REALLOC,
	GUARD_USABLE_SIZE,
	NR_GUARD_OPS
};

/* Where a foreign pointer points (found without dereferencing it). */
enum guard_outcome {
	GUARD_MAPPED,		/* page is mapped: stack, static data, another allocator */
	GUARD_UNMAPPED,		/* nothing mapped there: stale or garbage pointer */
	GUARD_NULL_PAGE,	/* inside the first page: NULL plus an offset */
	GUARD_NONCANONICAL,	/* outside the user address space */
	GUARD_UNCHECKED,	/* mapping not checked (no mincore, or it failed) */
	NR_GUARD_OUTCOMES
};

/* Classify ptr (mincore with CONFIG_EXTERNAL_GUARD_MINCORE); never reads it. */
enum guard_outcome guard_classify(const void *ptr);

/* Record (and leak) a foreign pointer. caller = the program's return address. */
void guard_foreign(const void *ptr, enum guard_op op, const void *caller);

/* Report a double free detected by a box, then abort. */
__noreturn __cold void guard_double_free(const void *ptr);

#endif /* _MM_GUARD_H */
