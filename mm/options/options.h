/* SPDX-License-Identifier: MIT */
/*
 * Run-time options (CONFIG_OPTIONS): HAKMEM_OPTIONS="name=value,...",
 * read once at start-up without allocating, and hak_option_get/set.
 * See Documentation/options.md.
 *
 * Every reader is a slow path: hk_opt() is a load (and, before the
 * first read of the environment, a call). Without CONFIG_OPTIONS it is
 * the built-in default, a constant, except for the two switches that
 * predate HAKMEM_OPTIONS (HAKMEM_STATS, HAKMEM_EXTERNAL_GUARD_LOG),
 * which are still read from their own variables.
 */
#ifndef _MM_OPTIONS_H
#define _MM_OPTIONS_H

#include <hakmem/atomic.h>
#include <hakmem/print.h>

enum hk_opt_id {
	OPT_STATS,		/* print the statistics at exit (CONFIG_STATS) */
	OPT_VERBOSE,		/* start-up report of the configuration */
	OPT_DECAY_MS,		/* Large cache: decay epoch, 0 = keep nothing */
	OPT_DIRTY_SLOTS,	/* SuperSlab: free slots kept committed */
	OPT_DIRTY_DECAY_MS,	/* SuperSlab: the dirty budget's window, ms */
	OPT_LARGE_CACHE_MB,	/* Large cache: most memory it may hold */
	OPT_TCACHE_PCT,		/* thread cache (bin) limits, percent of the built-in ones */
	OPT_THP,		/* MADV_HUGEPAGE on SuperSlabs (CONFIG_SUPERSLAB_THP) */
	OPT_THP_MIN_MB,		/* slab MiB in use before new SuperSlabs get huge pages */
	OPT_GUARD_THRESHOLD,	/* guard events before its report (CONFIG_EXTERNAL_GUARD_STATS) */
	OPT_GUARD_LOG,		/* log each guard event (CONFIG_EXTERNAL_GUARD_LOG) */
	NR_HK_OPTS
};

/* Built-in defaults, from the configuration. */
#define OPT_DEF_DECAY_MS		50
#define OPT_DEF_DIRTY_DECAY_MS		1000
#ifdef CONFIG_LARGE_CACHE_MAX_MB
#define OPT_DEF_LARGE_CACHE_MB		CONFIG_LARGE_CACHE_MAX_MB
#else
#define OPT_DEF_LARGE_CACHE_MB		0
#endif
#ifdef CONFIG_SUPERSLAB_THP_MIN_MB
#define OPT_DEF_THP_MIN_MB		CONFIG_SUPERSLAB_THP_MIN_MB
#else
#define OPT_DEF_THP_MIN_MB		0
#endif
#ifdef CONFIG_EXTERNAL_GUARD_REPORT_THRESHOLD
#define OPT_DEF_GUARD_THRESHOLD		CONFIG_EXTERNAL_GUARD_REPORT_THRESHOLD
#else
#define OPT_DEF_GUARD_THRESHOLD		0
#endif

static __always_inline unsigned long hk_opt_default(enum hk_opt_id id)
{
	switch (id) {
	case OPT_DECAY_MS:
		return OPT_DEF_DECAY_MS;
	case OPT_DIRTY_SLOTS:
		return CONFIG_SUPERSLAB_DIRTY_SLOTS;
	case OPT_DIRTY_DECAY_MS:
		return OPT_DEF_DIRTY_DECAY_MS;
	case OPT_LARGE_CACHE_MB:
		return OPT_DEF_LARGE_CACHE_MB;
	case OPT_TCACHE_PCT:
		return 100;
	case OPT_THP:
		return IS_ENABLED(CONFIG_SUPERSLAB_THP);
	case OPT_THP_MIN_MB:
		return OPT_DEF_THP_MIN_MB;
	case OPT_GUARD_THRESHOLD:
		return OPT_DEF_GUARD_THRESHOLD;
	default:
		return 0;
	}
}

#ifdef CONFIG_OPTIONS
extern unsigned long hk_opt_val[NR_HK_OPTS];
extern int hk_opt_ready;

/* Read the environment (once; later calls return at once). */
void hk_options_init(void);

/*
 * Apply "name=value,..." as HAKMEM_OPTIONS would; warnings name src.
 * Returns the number of warnings printed.
 */
int hk_options_parse(const char *s, const char *src);

static inline unsigned long hk_opt(enum hk_opt_id id)
{
	if (unlikely(!a_load(&hk_opt_ready, A_ACQUIRE)))
		hk_options_init();
	return a_load(&hk_opt_val[id], A_RELAXED);
}

/*
 * The same where the environment is known to have been read: on paths
 * that only run after heap_init() (which reads it first), such as the
 * Large box and the SuperSlab pool. One load.
 */
static inline unsigned long hk_opt_inited(enum hk_opt_id id)
{
	return a_load(&hk_opt_val[id], A_RELAXED);
}

/* stats_file=path ("" if unset), with %p replaced by the pid into buf. */
const char *hk_opt_stats_file(char *buf, size_t len);
#else
static inline void hk_options_init(void)
{
}

static inline unsigned long hk_opt(enum hk_opt_id id)
{
	if (id == OPT_STATS)
		return hk_env_long("HAKMEM_STATS", 0) > 0;
	if (id == OPT_GUARD_LOG) {
		long v = hk_env_long("HAKMEM_EXTERNAL_GUARD_LOG", -1);

		/* unset: 2, the first reports only; 0: none; above 0: all */
		return v < 0 ? 2 : v > 0;
	}
	return hk_opt_default(id);
}

static inline unsigned long hk_opt_inited(enum hk_opt_id id)
{
	return hk_opt(id);
}

static inline const char *hk_opt_stats_file(char *buf, size_t len)
{
	return "";
}
#endif

#endif /* _MM_OPTIONS_H */
