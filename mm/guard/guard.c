// SPDX-License-Identifier: MIT
/*
 * mm/guard/guard.c - ExternalGuard: pointers that no box owns.
 *
 * A box hands a pointer here when the registry says nobody in hakmem owns
 * it, or when its header check fails (interior pointers). The pointer is
 * classified without ever reading through it, counted, optionally logged,
 * and leaked: freeing memory we do not own is never safe, leaking it is.
 *
 *   CONFIG_EXTERNAL_GUARD_MINCORE  ask mincore(2) whether the page is mapped
 *   CONFIG_EXTERNAL_GUARD_STATS    counters, top callers, automatic report
 *   CONFIG_EXTERNAL_GUARD_LOG      one line per event if
 *                                  HAKMEM_EXTERNAL_GUARD_LOG=1
 *
 * Double frees found by the boxes are reported here too; those abort.
 * See Documentation/guard.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <hakmem/lock.h>
#include <hakmem/print.h>
#include "os/os.h"
#include "stats/stats.h"
#include "box.h"
#include "guard.h"
#include "guard_internal.h"

/* ------------------------------------------------------------------ */
/* Classification                                                     */
/* ------------------------------------------------------------------ */

const char *const guard_outcome_name[NR_GUARD_OUTCOMES] = {
	[GUARD_MAPPED]		= "mapped",
	[GUARD_UNMAPPED]	= "unmapped",
	[GUARD_NULL_PAGE]	= "NULL page",
	[GUARD_NONCANONICAL]	= "non-canonical",
	[GUARD_UNCHECKED]	= "unchecked",
};

const char *const guard_op_name[NR_GUARD_OPS] = {
	[GUARD_FREE]		= "free",
	[GUARD_REALLOC]		= "realloc",
	[GUARD_USABLE_SIZE]	= "malloc_usable_size",
};

/* Where ptr points, found without dereferencing it. */
static inline enum guard_outcome guard_classify(const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;

	if (p >> ARCH_VA_BITS)
		return GUARD_NONCANONICAL;
	if (p < os_page_size)
		return GUARD_NULL_PAGE;
	if (IS_ENABLED(CONFIG_EXTERNAL_GUARD_MINCORE)) {
		enum guard_outcome out = GUARD_UNCHECKED;
		int saved_errno = errno;
		unsigned char vec;

		if (mincore((void *)ALIGN_DOWN(p, os_page_size), os_page_size, &vec) == 0)
			out = GUARD_MAPPED;
		else if (errno == ENOMEM)
			out = GUARD_UNMAPPED;
		errno = saved_errno;
		return out;
	}
	return GUARD_UNCHECKED;
}

/* ------------------------------------------------------------------ */
/* Event log (CONFIG_EXTERNAL_GUARD_LOG)                              */
/* ------------------------------------------------------------------ */

/* -1 until HAKMEM_EXTERNAL_GUARD_LOG was read, then 0 or 1. */
static int guard_log_on = -1;

static int guard_log_enabled(void)
{
	int on = a_load(&guard_log_on, A_RELAXED);

	if (!IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG))
		return 0;
	if (unlikely(on < 0)) {
		on = hk_env_long("HAKMEM_EXTERNAL_GUARD_LOG", 0) > 0;
		a_store(&guard_log_on, on, A_RELAXED);
	}
	return on;
}

static void guard_log(const void *ptr, enum guard_outcome out, enum guard_op op,
		      const void *caller)
{
	if (!guard_log_enabled())
		return;
	hk_dprintf(STDERR_FILENO, "hakmem: guard: %s(%p) from %p: foreign pointer (%s), %s\n",
		   guard_op_name[op], ptr, caller, guard_outcome_name[out],
		   op == GUARD_USABLE_SIZE ? "size 0" : "leaked");
}

/* ------------------------------------------------------------------ */
/* Interface                                                          */
/* ------------------------------------------------------------------ */

/* Does anything record the outcome? If not, spare the mincore call. */
static inline int guard_wants_outcome(void)
{
	return IS_ENABLED(CONFIG_EXTERNAL_GUARD_STATS) || guard_log_enabled();
}

void guard_foreign(const void *ptr, enum guard_op op, const void *caller)
{
	enum guard_outcome out;

	STAT_INC(STAT_GUARD_EVENTS);
	if (!guard_wants_outcome())
		return;
	out = guard_classify(ptr);
	if (IS_ENABLED(CONFIG_EXTERNAL_GUARD_STATS))
		guard_count(out, op, caller);
	guard_log(ptr, out, op, caller);
}

void guard_double_free(const void *ptr)
{
	hk_fatal("double free or corruption detected: free(%p), aborting", ptr);
}

/* Read HAKMEM_EXTERNAL_GUARD_LOG early: the program may change its environment. */
static void guard_box_init(void)
{
	guard_log_enabled();
}

static void guard_box_report(const unsigned long *s)
{
	hk_dprintf(STDERR_FILENO, "hakmem: stats: %s\n", "Guard");
	hk_dprintf(STDERR_FILENO, "hakmem: stats:   %-24s %14lu\n", "foreign pointers",
		   s[STAT_GUARD_EVENTS]);
}

HK_BOX(guard) = {
	.name		= "ExternalGuard",
	.stat_alloc	= -1,
	.init		= IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG) ? guard_box_init : NULL,
	.stats_report	= IS_ENABLED(CONFIG_STATS) ? guard_box_report : NULL,
};
