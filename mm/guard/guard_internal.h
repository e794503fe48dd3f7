/* SPDX-License-Identifier: MIT */
/*
 * Inside ExternalGuard: what guard.c shares with guard_stats.c
 * (CONFIG_EXTERNAL_GUARD_STATS).
 */
#ifndef _MM_GUARD_INTERNAL_H
#define _MM_GUARD_INTERNAL_H

#include "guard.h"

enum guard_outcome {
	GUARD_MAPPED,		/* page is mapped: stack, static data, another allocator */
	GUARD_UNMAPPED,		/* nothing mapped there: stale or garbage pointer */
	GUARD_NULL_PAGE,	/* inside the first page: NULL plus an offset */
	GUARD_NONCANONICAL,	/* outside the user address space */
	GUARD_UNCHECKED,	/* mapping not checked (no mincore, or it failed) */
	NR_GUARD_OUTCOMES
};

extern const char *const guard_outcome_name[NR_GUARD_OUTCOMES];
extern const char *const guard_op_name[NR_GUARD_OPS];

/* Count an event, remember its caller, report past the threshold (guard_stats.c). */
void guard_count(enum guard_outcome out, enum guard_op op, const void *caller);

#endif /* _MM_GUARD_INTERNAL_H */
