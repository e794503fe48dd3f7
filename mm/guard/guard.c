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
 *   CONFIG_EXTERNAL_GUARD_LOG      one line per event on stderr: the
 *                                  first few by default, every one with
 *                                  HAKMEM_EXTERNAL_GUARD_LOG=1, none =0
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
#include "options/options.h"
#include "box.h"
#include "guard.h"
#include "guard_internal.h"

/* ------------------------------------------------------------------ */
/* Classification                                                     */
/* ------------------------------------------------------------------ */

#if defined(CONFIG_EXTERNAL_GUARD_STATS) || defined(CONFIG_EXTERNAL_GUARD_LOG)
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
#endif

/*
 * Whether the page of p is mapped, by mincore(2) (CONFIG_EXTERNAL_GUARD_MINCORE).
 * Length 1: one page, one byte of vec, whatever page size the kernel
 * uses. (qemu-user emulating 64 KiB pages on a 4 KiB host hands the
 * length through, and a 64 KiB length made the host write 16 bytes into
 * vec.)
 */
static enum guard_outcome guard_mincore(uintptr_t p)
{
	enum guard_outcome out = GUARD_UNCHECKED;
	int saved_errno = errno;
	unsigned char vec;

	if (mincore((void *)ALIGN_DOWN(p, os_page_size), 1, &vec) == 0)
		out = GUARD_MAPPED;
	else if (errno == ENOMEM)
		out = GUARD_UNMAPPED;
	errno = saved_errno;
	return out;
}

/* Where ptr points, found without dereferencing it. */
enum guard_outcome guard_classify(const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;

	if (p >> ARCH_VA_BITS)
		return GUARD_NONCANONICAL;
	if (p < os_page_size)
		return GUARD_NULL_PAGE;
	if (IS_ENABLED(CONFIG_EXTERNAL_GUARD_MINCORE))
		return guard_mincore(p);
	return GUARD_UNCHECKED;
}

/* ------------------------------------------------------------------ */
/* Event log (CONFIG_EXTERNAL_GUARD_LOG)                              */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_EXTERNAL_GUARD_LOG

#define GUARD_LOG_FIRST	CONFIG_EXTERNAL_GUARD_LOG_FIRST

/* What HAKMEM_EXTERNAL_GUARD_LOG asks for. */
enum guard_log_mode {
	GUARD_LOG_OFF,		/* =0: nothing */
	GUARD_LOG_ALL,		/* =1: every event */
	GUARD_LOG_DEFAULT,	/* unset: the first GUARD_LOG_FIRST, then a count at exit */
};

/* -1 until HAKMEM_EXTERNAL_GUARD_LOG was read, then an enum guard_log_mode. */
static int guard_log_mode = -1;
/* Events seen so far (atomic): numbers them for the default mode. */
static unsigned long guard_log_events;

static int guard_log_read_mode(void)
{
	int mode = a_load(&guard_log_mode, A_RELAXED);
	unsigned long v;

	/* An option (hak_option_set may change it): read it every time. */
	if (!IS_ENABLED(CONFIG_OPTIONS) && likely(mode >= 0))
		return mode;
	v = hk_opt(OPT_GUARD_LOG);
	mode = v == 0 ? GUARD_LOG_OFF : v == 1 ? GUARD_LOG_ALL : GUARD_LOG_DEFAULT;
	if (mode != a_load(&guard_log_mode, A_RELAXED))
		a_store(&guard_log_mode, mode, A_RELAXED);
	return mode;
}

/* Number this event; does it get a line? */
static unsigned long guard_log_event(void)
{
	int mode = guard_log_read_mode();
	unsigned long n;

	if (mode == GUARD_LOG_OFF)
		return 0;
	n = a_fetch_add(&guard_log_events, 1UL, A_RELAXED) + 1;
	if (mode == GUARD_LOG_ALL || n <= GUARD_LOG_FIRST)
		return n;
	if (n == GUARD_LOG_FIRST + 1)
		hk_dprintf(STDERR_FILENO, "hakmem: guard: more foreign pointers: not logged, "
			   "counted (HAKMEM_EXTERNAL_GUARD_LOG=1 logs every one, =0 none)\n");
	return 0;
}

static void guard_log(const void *ptr, enum guard_outcome out, enum guard_op op,
		      const void *caller)
{
	hk_dprintf(STDERR_FILENO, "hakmem: guard: %s(%p) from %p: foreign pointer (%s), %s\n",
		   guard_op_name[op], ptr, caller, guard_outcome_name[out],
		   op == GUARD_USABLE_SIZE ? "size 0" : "leaked");
}

/* The count of the events that were not logged (the default mode). */
__attribute__((destructor)) static void guard_log_exit(void)
{
	unsigned long n = a_load(&guard_log_events, A_RELAXED);

	if (a_load(&guard_log_mode, A_RELAXED) == GUARD_LOG_DEFAULT && n > GUARD_LOG_FIRST)
		hk_dprintf(STDERR_FILENO, "hakmem: guard: %lu foreign pointer(s) seen, "
			   "the first %d logged\n", n, GUARD_LOG_FIRST);
}

/* Read the option early: the program may change its environment. */
static void guard_box_init(void)
{
	guard_log_read_mode();
}

#else /* !CONFIG_EXTERNAL_GUARD_LOG */

static inline unsigned long guard_log_event(void)
{
	return 0;
}

static inline void guard_log(const void *ptr, enum guard_outcome out, enum guard_op op,
			     const void *caller)
{
}

static inline void guard_box_init(void)
{
}

#endif /* CONFIG_EXTERNAL_GUARD_LOG */

/* ------------------------------------------------------------------ */
/* Interface                                                          */
/* ------------------------------------------------------------------ */

void guard_foreign(const void *ptr, enum guard_op op, const void *caller)
{
	enum guard_outcome out;
	unsigned long logged;

	STAT_INC(STAT_GUARD_EVENTS);
	logged = guard_log_event();
	/* Spare the mincore call when nothing records the outcome. */
	if (!logged && !guard_stats_on())
		return;
	out = guard_classify(ptr);
	guard_count(out, op, caller);
	if (logged)
		guard_log(ptr, out, op, caller);
}

void guard_double_free(const void *ptr)
{
	hk_fatal("double free or corruption detected: free(%p), aborting", ptr);
}

static void guard_box_report(int fd, const unsigned long *s)
{
	hk_dprintf(fd, "hakmem: stats: %s\n", "Guard");
	hk_dprintf(fd, "hakmem: stats:   %-24s %14lu\n", "foreign pointers",
		   s[STAT_GUARD_EVENTS]);
}

HK_BOX(guard) = {
	.name		= "ExternalGuard",
	.stat_alloc	= -1,
	.init		= IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG) ? guard_box_init : NULL,
	.stats_report	= IS_ENABLED(CONFIG_STATS) ? guard_box_report : NULL,
};
