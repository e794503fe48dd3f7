// SPDX-License-Identifier: MIT
/*
 * mm/guard/guard_stats.c - ExternalGuard statistics
 * (CONFIG_EXTERNAL_GUARD_STATS): counts of foreign pointers by outcome
 * and entry point, the most frequent callers, and a report to stderr once
 * the threshold (option guard_threshold, HAKMEM_EXTERNAL_GUARD_THRESHOLD)
 * of events was seen, and at exit. Without the option this object is not
 * built and guard.c only classifies (if logging) and leaks. See
 * Documentation/guard.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <hakmem/lock.h>
#include <hakmem/print.h>
#include "options/options.h"
#include "guard_internal.h"

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

void guard_count(enum guard_outcome out, enum guard_op op, const void *caller)
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
