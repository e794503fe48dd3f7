/* SPDX-License-Identifier: MIT */
/*
 * Inside ExternalGuard: what guard.c shares with guard_stats.c
 * (CONFIG_EXTERNAL_GUARD_STATS).
 */
#ifndef _MM_GUARD_INTERNAL_H
#define _MM_GUARD_INTERNAL_H

#include "guard.h"

extern const char *const guard_outcome_name[NR_GUARD_OUTCOMES];
extern const char *const guard_op_name[NR_GUARD_OPS];

#ifdef CONFIG_EXTERNAL_GUARD_STATS
/* Count an event, remember its caller, report past the threshold (guard_stats.c). */
void guard_count(enum guard_outcome out, enum guard_op op, const void *caller);

/* The statistics record every outcome (the log decides per event). */
static inline int guard_stats_on(void)
{
	return 1;
}
#else
static inline void guard_count(enum guard_outcome out, enum guard_op op, const void *caller)
{
}

static inline int guard_stats_on(void)
{
	return 0;
}
#endif

#endif /* _MM_GUARD_INTERNAL_H */
