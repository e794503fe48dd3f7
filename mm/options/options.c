// SPDX-License-Identifier: MIT
/*
 * mm/options/options.c - run-time options (CONFIG_OPTIONS).
 *
 *	HAKMEM_OPTIONS="stats=1,verbose=1,decay_ms=200,thp=0"
 *
 * is read once, on the first allocation or at the latest by a
 * constructor, with getenv() (which only walks environ) and parsed here
 * without allocating and without locale data. An unknown name, a bad
 * value or an option whose box is not built in gets one line on stderr
 * naming it, and the default stays. The variables that came before,
 * HAKMEM_STATS and HAKMEM_EXTERNAL_GUARD_LOG, are aliases of stats= and
 * guard_log=, read first so that HAKMEM_OPTIONS wins.
 *
 * hak_option_get/set read and change the tunables, and read statistics
 * ("stat.*"), from the program. See Documentation/options.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <hakmem.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>
#include "prof/prof.h"
#include "stats/stats.h"
#include "superslab/registry.h"
#include "options.h"

/* ------------------------------------------------------------------ */
/* The options                                                        */
/* ------------------------------------------------------------------ */

enum opt_kind {
	OPT_BOOL,		/* 0/1, y/n, yes/no, on/off, true/false */
	OPT_NUM,		/* decimal, within [min, max] */
};

struct opt_desc {
	const char *name;	/* in HAKMEM_OPTIONS and hak_option_get/set */
	const char *alias;	/* environment variable of its own, or NULL */
	const char *needs;	/* the Kconfig option that builds it in */
	unsigned long min;	/* OPT_NUM: smallest value */
	unsigned long max;	/* OPT_NUM: largest value */
	uint8_t kind;		/* enum opt_kind */
	uint8_t built;		/* its box is configured in */
	uint8_t settable;	/* hak_option_set may change it */
};

static const struct opt_desc opt_desc[NR_HK_OPTS] = {
	[OPT_STATS] = {
		.name = "stats", .alias = "HAKMEM_STATS", .needs = "CONFIG_STATS",
		.kind = OPT_BOOL, .built = IS_ENABLED(CONFIG_STATS), .settable = 1,
	},
	[OPT_VERBOSE] = {
		.name = "verbose", .kind = OPT_BOOL, .built = 1,
	},
	[OPT_DECAY_MS] = {
		.name = "decay_ms", .needs = "CONFIG_LARGE_CACHE", .kind = OPT_NUM,
		.min = 0, .max = 3600000, .built = IS_ENABLED(CONFIG_LARGE_CACHE), .settable = 1,
	},
	[OPT_DIRTY_SLOTS] = {
		.name = "dirty_slots", .kind = OPT_NUM, .min = 0, .max = 1UL << 20,
		.built = 1, .settable = 1,
	},
	[OPT_DIRTY_DECAY_MS] = {
		.name = "dirty_decay_ms", .kind = OPT_NUM, .min = 0, .max = 3600000,
		.built = 1, .settable = 1,
	},
	[OPT_LARGE_CACHE_MB] = {
		.name = "large_cache_mb", .needs = "CONFIG_LARGE_CACHE", .kind = OPT_NUM,
		.min = 0, .max = 1UL << 20, .built = IS_ENABLED(CONFIG_LARGE_CACHE), .settable = 1,
	},
	[OPT_TCACHE_PCT] = {
		.name = "tcache_pct", .kind = OPT_NUM, .min = 10, .max = 1000, .built = 1,
	},
	[OPT_THP] = {
		.name = "thp", .needs = "CONFIG_SUPERSLAB_THP", .kind = OPT_BOOL,
		.built = IS_ENABLED(CONFIG_SUPERSLAB_THP), .settable = 1,
	},
	[OPT_THP_MIN_MB] = {
		.name = "thp_min_mb", .needs = "CONFIG_SUPERSLAB_THP", .kind = OPT_NUM,
		.min = 0, .max = 1UL << 20, .built = IS_ENABLED(CONFIG_SUPERSLAB_THP), .settable = 1,
	},
	[OPT_GUARD_THRESHOLD] = {
		.name = "guard_threshold", .needs = "CONFIG_EXTERNAL_GUARD_STATS",
		.kind = OPT_NUM, .min = 1, .max = 100000000,
		.built = IS_ENABLED(CONFIG_EXTERNAL_GUARD_STATS), .settable = 1,
	},
	[OPT_GUARD_LOG] = {
		.name = "guard_log", .alias = "HAKMEM_EXTERNAL_GUARD_LOG",
		.needs = "CONFIG_EXTERNAL_GUARD_LOG", .kind = OPT_NUM, .min = 0, .max = 2,
		.built = IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG), .settable = 1,
	},
};

unsigned long hk_opt_val[NR_HK_OPTS] = {
	[OPT_DECAY_MS] = OPT_DEF_DECAY_MS,
	[OPT_DIRTY_SLOTS] = CONFIG_SUPERSLAB_DIRTY_SLOTS,
	[OPT_DIRTY_DECAY_MS] = OPT_DEF_DIRTY_DECAY_MS,
	[OPT_LARGE_CACHE_MB] = OPT_DEF_LARGE_CACHE_MB,
	[OPT_TCACHE_PCT] = 100,
	[OPT_THP] = IS_ENABLED(CONFIG_SUPERSLAB_THP),
	[OPT_THP_MIN_MB] = OPT_DEF_THP_MIN_MB,
	[OPT_GUARD_THRESHOLD] = OPT_DEF_GUARD_THRESHOLD,
	/* 0: no report, 1: every foreign pointer, 2: the first few, then a count */
	[OPT_GUARD_LOG] = 2,
};

/* stats_file=: a path, kept here (no allocation). */
#define OPT_PATH_MAX	256
static char opt_stats_file[OPT_PATH_MAX];

/* 0: environment not read, 1: being read, 2: done. */
static int opt_state;
int hk_opt_ready;

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

static char opt_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* [s, s + n) equals word, ignoring the case of s. */
static int opt_eq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!word[i] || opt_lower(s[i]) != word[i])
			return 0;
	return word[n] == 0;
}

static int opt_parse_bool(const char *s, size_t n, unsigned long *out)
{
	static const char *const yes[] = { "1", "y", "yes", "on", "true" };
	static const char *const no[] = { "0", "n", "no", "off", "false" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (opt_eq(s, n, yes[i])) {
			*out = 1;
			return 1;
		}
		if (opt_eq(s, n, no[i])) {
			*out = 0;
			return 1;
		}
	}
	return 0;
}

static int opt_parse_num(const char *s, size_t n, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (!n || n > 19)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Parse a value for option d; 1 if it is one. */
static int opt_value(const struct opt_desc *d, const char *s, size_t n, unsigned long *v)
{
	if (d->kind == OPT_BOOL)
		return opt_parse_bool(s, n, v);
	return opt_parse_num(s, n, v) && *v >= d->min && *v <= d->max;
}

static void opt_warn_value(const char *src, const struct opt_desc *d, const char *s,
			   size_t n, unsigned long def)
{
	if (d->kind == OPT_BOOL)
		hk_dprintf(STDERR_FILENO,
			   "hakmem: %s: %s=%.*s: not a boolean (0/1, no/yes, off/on); using %lu\n",
			   src, d->name, (int)(n > 64 ? 64 : n), s, def);
	else
		hk_dprintf(STDERR_FILENO,
			   "hakmem: %s: %s=%.*s: not a number from %lu to %lu; using %lu\n",
			   src, d->name, (int)(n > 64 ? 64 : n), s, d->min, d->max, def);
}

static const struct opt_desc *opt_find(const char *s, size_t n)
{
	unsigned int i;

	for (i = 0; i < NR_HK_OPTS; i++)
		if (opt_eq(s, n, opt_desc[i].name))
			return &opt_desc[i];
	return NULL;
}

/* One "name=value" (or a bare boolean "name") of src; returns 1 if it warned. */
static int opt_item(const char *src, const char *s, size_t n)
{
	const char *eq = s, *val;
	const struct opt_desc *d;
	size_t name_len, val_len;
	unsigned long v;

	while (eq < s + n && *eq != '=')
		eq++;
	name_len = (size_t)(eq - s);
	val = eq < s + n ? eq + 1 : NULL;
	val_len = val ? (size_t)(s + n - val) : 0;
	/* Blanks around the '=' */
	while (name_len && (s[name_len - 1] == ' ' || s[name_len - 1] == '\t'))
		name_len--;
	while (val_len && (*val == ' ' || *val == '\t'))
		val++, val_len--;

	if (opt_eq(s, name_len, "stats_file")) {
		if (!IS_ENABLED(CONFIG_STATS)) {
			hk_dprintf(STDERR_FILENO,
				   "hakmem: %s: stats_file: not built in (CONFIG_STATS=n); ignored\n",
				   src);
			return 1;
		}
		if (!val || !val_len || val_len >= OPT_PATH_MAX) {
			hk_dprintf(STDERR_FILENO,
				   "hakmem: %s: stats_file: needs a path of 1 to %d bytes; ignored\n",
				   src, OPT_PATH_MAX - 1);
			return 1;
		}
		__builtin_memcpy(opt_stats_file, val, val_len);
		opt_stats_file[val_len] = 0;
		/* A file to write to means: write. */
		a_store(&hk_opt_val[OPT_STATS], 1UL, A_RELAXED);
		return 0;
	}
	d = opt_find(s, name_len);
	if (!d) {
		hk_dprintf(STDERR_FILENO, "hakmem: %s: unknown option '%.*s'; ignored\n", src,
			   (int)(name_len > 64 ? 64 : name_len), s);
		return 1;
	}
	if (!d->built) {
		hk_dprintf(STDERR_FILENO, "hakmem: %s: %s: not built in (%s=n); ignored\n", src,
			   d->name, d->needs);
		return 1;
	}
	if (!val && d->kind == OPT_BOOL) {
		v = 1;
	} else if (!val || !opt_value(d, val, val_len, &v)) {
		opt_warn_value(src, d, val ? val : "", val_len,
			       a_load(&hk_opt_val[d - opt_desc], A_RELAXED));
		return 1;
	}
	a_store(&hk_opt_val[d - opt_desc], v, A_RELAXED);
	return 0;
}

/*
 * Apply a HAKMEM_OPTIONS string: items separated by commas, blanks
 * around them ignored. src names the source in warnings. Returns the
 * number of warnings. (Also called by the unit tests.)
 */
int hk_options_parse(const char *s, const char *src)
{
	int warned = 0;

	while (s && *s) {
		const char *end = s;

		while (*end && *end != ',')
			end++;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > s)
			warned += opt_item(src, s, (size_t)(end - s));
		while (*end && *end != ',')
			end++;
		s = *end ? end + 1 : end;
	}
	return warned;
}

/* An option's variable of its own (HAKMEM_STATS=1). */
static void opt_alias(enum hk_opt_id id)
{
	const struct opt_desc *d = &opt_desc[id];
	const char *s = getenv(d->alias);
	size_t n = 0;
	unsigned long v;

	if (!s || !*s || !d->built)
		return;
	while (s[n])
		n++;
	if (!opt_parse_bool(s, n, &v)) {
		/* As before HAKMEM_OPTIONS: a number above 0 is on. */
		if (opt_parse_num(s, n, &v)) {
			v = v > 0;
		} else if (s[0] == '-' && opt_parse_num(s + 1, n - 1, &v)) {
			v = 0;
		} else {
			opt_warn_value(d->alias, d, s, n, 0);
			v = 0;
		}
	}
	a_store(&hk_opt_val[id], v, A_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Start-up                                                           */
/* ------------------------------------------------------------------ */

#ifndef HK_VERSION
#define HK_VERSION	"?"
#endif

static void opt_report(void)
{
	unsigned int i;
	int fd = STDERR_FILENO;

	hk_dprintf(fd, "hakmem: config: hakmem %s, %s, pid %d, page %zu B\n", HK_VERSION,
		   IS_ENABLED(CONFIG_ARCH_AARCH64) ? "aarch64" : "x86_64", (int)getpid(),
		   (size_t)sysconf(_SC_PAGESIZE));
	hk_dprintf(fd, "hakmem: config: boxes: tiny%s mid large%s superslab %lu KiB%s%s, guard%s%s\n",
		   IS_ENABLED(CONFIG_SMALLMID) ? " smallmid" : "",
		   IS_ENABLED(CONFIG_LARGE_CACHE) ? " (cache)" : "",
		   (unsigned long)(SS_SIZE >> 10),
		   IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE) ? " lock-free" : "",
		   IS_ENABLED(CONFIG_SUPERSLAB_THP) ? " thp" : "",
		   IS_ENABLED(CONFIG_EXTERNAL_GUARD_STATS) ? " stats" : "",
		   IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG) ? " log" : "");
	hk_dprintf(fd, "hakmem: config: threads %s, export_malloc %s, c++ new %s, malloc_info %s, "
		   "stats %s, ultrahot %s, double-free check %s, assertions %s\n",
		   IS_ENABLED(CONFIG_THREADS) ? "y" : "n", IS_ENABLED(CONFIG_EXPORT_MALLOC) ? "y" : "n",
		   IS_ENABLED(CONFIG_CXX_NEW) ? "y" : "n", IS_ENABLED(CONFIG_MALLOC_INFO) ? "y" : "n",
		   IS_ENABLED(CONFIG_STATS) ? "y" : "n", IS_ENABLED(CONFIG_TINY_ULTRAHOT) ? "y" : "n",
		   IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK) ? "y" : "n",
		   IS_ENABLED(CONFIG_DEBUG_ASSERT) ? "y" : "n");
	for (i = 0; i < NR_HK_OPTS; i++) {
		if (opt_desc[i].built)
			hk_dprintf(fd, "hakmem: config: option %-16s %lu\n", opt_desc[i].name,
				   a_load(&hk_opt_val[i], A_RELAXED));
		else
			hk_dprintf(fd, "hakmem: config: option %-16s (not built in: %s=n)\n",
				   opt_desc[i].name, opt_desc[i].needs);
	}
	if (IS_ENABLED(CONFIG_STATS))
		hk_dprintf(fd, "hakmem: config: option %-16s %s\n", "stats_file",
			   opt_stats_file[0] ? opt_stats_file : "(stderr)");
}

void hk_options_init(void)
{
	int state = 0;

	if (!a_cas(&opt_state, &state, 1, A_ACQUIRE)) {
		/* Another thread reads the environment: wait for it. */
		while (a_load(&opt_state, A_ACQUIRE) != 2)
			cpu_relax();
		return;
	}
	opt_alias(OPT_STATS);
	opt_alias(OPT_GUARD_LOG);
	hk_options_parse(getenv("HAKMEM_OPTIONS"), "HAKMEM_OPTIONS");
	if (hk_opt_val[OPT_VERBOSE])
		opt_report();
	a_store(&opt_state, 2, A_RELEASE);
	a_store(&hk_opt_ready, 1, A_RELEASE);
}

/* Read the environment before main() even if nothing allocates. */
__attribute__((constructor)) static void opt_ctor(void)
{
	hk_options_init();
}

const char *hk_opt_stats_file(char *buf, size_t len)
{
	const char *s = opt_stats_file;
	size_t n = 0;

	hk_options_init();
	if (!*s)
		return "";
	/* %p: the pid, so that the processes of a tree do not share a file. */
	for (; *s && n + 1 < len; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			char digits[12];
			unsigned int pid = (unsigned int)getpid(), k = 0;

			do {
				digits[k++] = (char)('0' + pid % 10);
				pid /= 10;
			} while (pid);
			while (k && n + 1 < len)
				buf[n++] = digits[--k];
			s++;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n] = 0;
	return buf;
}

/* ------------------------------------------------------------------ */
/* hak_option_get, hak_option_set                                     */
/* ------------------------------------------------------------------ */

/* name equals word exactly. */
static int opt_streq(const char *name, const char *word)
{
	while (*word)
		if (*name++ != *word++)
			return 0;
	return *name == 0;
}

/* "stat.*": figures of hk_usage() (CONFIG_MALLOC_INFO). */
static int opt_get_usage(const char *name, unsigned long *value)
{
	struct hk_usage u;
	unsigned long in_use = 0, cached = 0, free_b = 0, large = 0, large_cached = 0;
	unsigned int i;

	if (!IS_ENABLED(CONFIG_MALLOC_INFO))
		return -ENOENT;
	hk_usage(&u);
	for (i = 0; i < u.nr_boxes; i++) {
		in_use += u.box[i].in_use;
		cached += u.box[i].cached;
		free_b += u.box[i].free;
		if (u.box[i].mapped) {
			large = u.box[i].in_use;
			large_cached = u.box[i].free;
		}
	}
	if (opt_streq(name, "in_use"))
		*value = in_use;
	else if (opt_streq(name, "system"))
		*value = u.system;
	else if (opt_streq(name, "cached"))
		*value = cached;
	else if (opt_streq(name, "free"))
		*value = free_b;
	else if (opt_streq(name, "idle"))
		*value = u.idle;
	else if (opt_streq(name, "releasable"))
		*value = u.releasable;
	else if (opt_streq(name, "large_in_use"))
		*value = large;
	else if (opt_streq(name, "large_cached"))
		*value = large_cached;
	else if (opt_streq(name, "large_blocks"))
		*value = u.mmap_nr;
	else
		return -ENOENT;
	return 0;
}

/* "stat.<counter>": the CONFIG_STATS counters (exited threads and the caller's). */
static int opt_get_counter(const char *name, unsigned long *value)
{
	unsigned long sum[NR_HK_STATS] = { 0 };
	int i = stats_index(name);

	if (i < 0)
		return -ENOENT;
	stats_sum(sum);
	*value = sum[i];
	return 0;
}

static int opt_get(const char *name, unsigned long *value)
{
	const struct opt_desc *d;
	int rc;

	if (name[0] == 's' && name[1] == 't' && name[2] == 'a' && name[3] == 't' &&
	    name[4] == '.') {
		rc = opt_get_usage(name + 5, value);
		if (rc == -ENOENT)
			rc = opt_get_counter(name + 5, value);
		if (rc == -ENOENT)
			rc = prof_stat(name + 5, value);
		return rc;
	}
	for (d = opt_desc; d < opt_desc + NR_HK_OPTS; d++) {
		if (!opt_streq(name, d->name))
			continue;
		if (!d->built)
			return -ENOSYS;
		*value = hk_opt((enum hk_opt_id)(d - opt_desc));
		return 0;
	}
	return -ENOENT;
}

__export int hak_option_get(const char *name, unsigned long *value)
{
	int rc = name && value ? opt_get(name, value) : -EINVAL;

	if (rc) {
		hk_set_errno(-rc);
		return -1;
	}
	return 0;
}

__export int hak_option_set(const char *name, unsigned long value)
{
	const struct opt_desc *d;
	int rc = -ENOENT;

	hk_options_init();
	for (d = name ? opt_desc : opt_desc + NR_HK_OPTS; d < opt_desc + NR_HK_OPTS; d++) {
		if (!opt_streq(name, d->name))
			continue;
		if (!d->built)
			rc = -ENOSYS;
		else if (!d->settable)
			rc = -EPERM;
		else if (d->kind == OPT_BOOL ? value > 1 : value < d->min || value > d->max)
			rc = -EINVAL;
		else
			rc = 0;
		if (!rc)
			a_store(&hk_opt_val[d - opt_desc], value, A_RELAXED);
		break;
	}
	if (!name)
		rc = -EINVAL;
	else if (rc == -ENOENT && name[0] == 's' && opt_get(name, &value) == 0)
		rc = -EPERM;	/* a statistic: read-only */
	if (rc) {
		hk_set_errno(-rc);
		return -1;
	}
	return 0;
}
