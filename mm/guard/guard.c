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
#include "guard.h"

/* ------------------------------------------------------------------ */
/* Classification                                                     */
/* ------------------------------------------------------------------ */

#if defined(CONFIG_EXTERNAL_GUARD_STATS) || defined(CONFIG_EXTERNAL_GUARD_LOG)
static const char *const guard_outcome_name[NR_GUARD_OUTCOMES] = {
	[GUARD_MAPPED]		= "mapped",
	[GUARD_UNMAPPED]	= "unmapped",
	[GUARD_NULL_PAGE]	= "NULL page",
	[GUARD_NONCANONICAL]	= "non-canonical",
	[GUARD_UNCHECKED]	= "unchecked",
};

static const char *const guard_op_name[NR_GUARD_OPS] = {
	[GUARD_FREE]		= "free",
	[GUARD_REALLOC]		= "realloc",
	[GUARD_USABLE_SIZE]	= "malloc_usable_size",
};
#endif

/* Where ptr points, found without dereferencing it. */
enum guard_outcome guard_classify(const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;

	if (p >> ARCH_VA_BITS)
		return GUARD_NONCANONICAL;
	if (p < os_page_size)
		return GUARD_NULL_PAGE;
#ifdef CONFIG_EXTERNAL_GUARD_MINCORE
	{
		enum guard_outcome out = GUARD_UNCHECKED;
		int saved_errno = errno;
		unsigned char vec;

		/*
		 * Length 1: one page, one byte of vec, whatever page size the
		 * kernel uses. (qemu-user emulating 64 KiB pages on a 4 KiB
		 * host hands the length through, and a 64 KiB length made
		 * the host write 16 bytes into vec.)
		 */
		if (mincore((void *)ALIGN_DOWN(p, os_page_size), 1, &vec) == 0)
			out = GUARD_MAPPED;
		else if (errno == ENOMEM)
			out = GUARD_UNMAPPED;
		errno = saved_errno;
		return out;
	}
#else
	return GUARD_UNCHECKED;
#endif
}

/* ------------------------------------------------------------------ */
/* Statistics and report (CONFIG_EXTERNAL_GUARD_STATS)                */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_EXTERNAL_GUARD_STATS

#define GUARD_TOP	CONFIG_EXTERNAL_GUARD_TOP_CALLERS

struct guard_caller {
	const void *addr;		/* return address into the program */
	unsigned long count;		/* events (an upper bound, see guard_count_caller) */
};

struct guard_stats {
	unsigned long total;				/* atomic: every event */
	unsigned long by_outcome[NR_GUARD_OUTCOMES];	/* atomic: events per outcome */
	unsigned long by_op[NR_GUARD_OPS];		/* atomic: events per entry point */
	struct hk_lock lock;				/* protects top and nr_top */
	struct guard_caller top[GUARD_TOP];		/* most frequent callers, unordered */
	unsigned int nr_top;				/* entries of top in use */
};

static struct guard_stats guard_stats = {
	.lock = HK_LOCK_INIT,
};
HK_LOCK_REGISTER(&guard_stats.lock, HK_LOCK_GUARD_STATS);

/*
 * Space-saving count of the callers: a new caller that finds the table
 * full replaces the smallest entry and inherits its count, so a frequent
 * caller cannot be pushed out by a stream of rare ones. A count is exact
 * for a caller that never left the table, an upper bound otherwise.
 */
static void guard_count_caller(struct guard_stats *gs, const void *caller)
{
	unsigned int i, min = 0;

	hk_lock(&gs->lock);
	for (i = 0; i < gs->nr_top; i++) {
		if (gs->top[i].addr == caller) {
			gs->top[i].count++;
			goto out;
		}
		if (gs->top[i].count < gs->top[min].count)
			min = i;
	}
	if (gs->nr_top < GUARD_TOP) {
		gs->top[gs->nr_top].addr = caller;
		gs->top[gs->nr_top].count = 1;
		gs->nr_top++;
	} else {
		gs->top[min].addr = caller;
		gs->top[min].count++;
	}
out:
	hk_unlock(&gs->lock);
}

static unsigned long guard_hex(const char **s)
{
	unsigned long v = 0;
	const char *p = *s;

	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (unsigned long)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v << 4 | (unsigned long)(*p - 'a' + 10);
		else
			break;
	}
	*s = p;
	return v;
}

/*
 * One line of /proc/self/maps: "start-end perms offset dev inode   path".
 * If it covers addr, copy the path to name and set *off to addr's offset
 * in the file (what addr2line wants).
 */
static int guard_maps_line(const char *s, uintptr_t addr, char *name, size_t size,
			   unsigned long *off)
{
	unsigned long start, end, foff;
	unsigned int field;
	size_t n = 0;

	start = guard_hex(&s);
	if (*s++ != '-')
		return 0;
	end = guard_hex(&s);
	if (addr < start || addr >= end)
		return 0;
	while (*s == ' ')
		s++;
	while (*s && *s != ' ')		/* perms */
		s++;
	while (*s == ' ')
		s++;
	foff = guard_hex(&s);
	for (field = 0; field < 2; field++) {	/* dev, inode */
		while (*s == ' ')
			s++;
		while (*s && *s != ' ')
			s++;
	}
	while (*s == ' ')
		s++;
	while (*s && n + 1 < size)
		name[n++] = *s++;
	name[n] = 0;
	*off = addr - start + foff;
	return 1;
}

/*
 * Find the module (executable or shared object) holding addr by reading
 * /proc/self/maps with a stack buffer: no allocation and no loader lock,
 * unlike dladdr(), so it is safe inside free().
 */
static int guard_module_of(uintptr_t addr, char *name, size_t size, unsigned long *off)
{
	char buf[1024], line[512];
	size_t len = 0;
	int fd, found = 0;
	ssize_t n, i;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (!found && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n && !found; i++) {
			if (buf[i] != '\n') {
				if (len + 1 < sizeof(line))
					line[len++] = buf[i];
				continue;
			}
			line[len] = 0;
			found = guard_maps_line(line, addr, name, size, off);
			len = 0;
		}
	}
	close(fd);
	return found;
}

static __cold void guard_report(const char *why)
{
	struct guard_stats *gs = &guard_stats;
	/* Zeroed: gcc cannot see that only the nr copied entries are read. */
	struct guard_caller top[GUARD_TOP] = { { 0 } }, t;
	unsigned int i, j, nr;
	int saved_errno = errno;
	unsigned long off;
	char name[256];

	hk_lock(&gs->lock);
	nr = gs->nr_top;
	for (i = 0; i < nr; i++)
		top[i] = gs->top[i];
	hk_unlock(&gs->lock);

	/* Most frequent first. */
	for (i = 1; i < nr; i++) {
		t = top[i];
		for (j = i; j > 0 && top[j - 1].count < t.count; j--)
			top[j] = top[j - 1];
		top[j] = t;
	}

	hk_dprintf(STDERR_FILENO, "hakmem: guard: report (%s): %lu foreign pointer(s) leaked\n",
		   why, a_load(&gs->total, A_RELAXED));
	hk_dprintf(STDERR_FILENO, "hakmem: guard:   by outcome:");
	for (i = 0; i < NR_GUARD_OUTCOMES; i++)
		hk_dprintf(STDERR_FILENO, "%s %s %lu", i ? "," : "", guard_outcome_name[i],
			   a_load(&gs->by_outcome[i], A_RELAXED));
	hk_dprintf(STDERR_FILENO, "\nhakmem: guard:   by call:   ");
	for (i = 0; i < NR_GUARD_OPS; i++)
		hk_dprintf(STDERR_FILENO, "%s %s %lu", i ? "," : "", guard_op_name[i],
			   a_load(&gs->by_op[i], A_RELAXED));
	hk_dprintf(STDERR_FILENO, "\nhakmem: guard:   top callers:\n");
	hk_dprintf(STDERR_FILENO, "hakmem: guard:     %10s  %-18s  %s\n", "count", "caller", "module+offset");
	for (i = 0; i < nr; i++) {
		if (guard_module_of((uintptr_t)top[i].addr, name, sizeof(name), &off))
			hk_dprintf(STDERR_FILENO, "hakmem: guard:     %10lu  %-18p  %s+0x%lx\n",
				   top[i].count, top[i].addr, name[0] ? name : "[anonymous]", off);
		else
			hk_dprintf(STDERR_FILENO, "hakmem: guard:     %10lu  %-18p  ?\n",
				   top[i].count, top[i].addr);
	}
	hk_dprintf(STDERR_FILENO, "hakmem: guard:   resolve a caller with: addr2line -f -i -e <module> <offset>\n");
	errno = saved_errno;
}

static void guard_count(enum guard_outcome out, enum guard_op op, const void *caller)
{
	struct guard_stats *gs = &guard_stats;
	unsigned long n;

	n = a_fetch_add(&gs->total, 1UL, A_RELAXED) + 1;
	a_fetch_add(&gs->by_outcome[out], 1UL, A_RELAXED);
	a_fetch_add(&gs->by_op[op], 1UL, A_RELAXED);
	guard_count_caller(gs, caller);
	if (unlikely(n == hk_opt(OPT_GUARD_THRESHOLD)))
		guard_report("threshold");
}

__attribute__((destructor)) static void guard_exit_report(void)
{
	if (a_load(&guard_stats.total, A_RELAXED))
		guard_report("at exit");
}

/* The statistics record every outcome (the log decides per event). */
static inline int guard_stats_on(void)
{
	return 1;
}

#else /* !CONFIG_EXTERNAL_GUARD_STATS */

static inline void guard_count(enum guard_outcome out, enum guard_op op, const void *caller)
{
}

static inline int guard_stats_on(void)
{
	return 0;
}

#endif /* CONFIG_EXTERNAL_GUARD_STATS */

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

#else /* !CONFIG_EXTERNAL_GUARD_LOG */

static inline unsigned long guard_log_event(void)
{
	return 0;
}

static inline void guard_log(const void *ptr, enum guard_outcome out, enum guard_op op,
			     const void *caller)
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
