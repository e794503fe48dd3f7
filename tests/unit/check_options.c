// SPDX-License-Identifier: MIT
/*
 * Run-time options (CONFIG_OPTIONS, Documentation/options.md):
 *
 *	parse		good, bad and unknown items of a HAKMEM_OPTIONS
 *			string: values, warnings (one line naming the
 *			item), defaults kept, no crash on garbage
 *	api		hak_option_get/set: values, ranges, errors,
 *			statistics
 *	effect		what dirty_slots, decay_ms, large_cache_mb and
 *			thp change, set through hak_option_set
 *
 * Options read only at start-up (tcache_pct, verbose, stats, stats_file,
 * the aliases) are tested by tests/options/options.c, which runs itself
 * with HAKMEM_OPTIONS set. Each test runs in its own child (Check's fork
 * mode), so what one sets does not leak into the next.
 */
#include "unit.h"

#ifdef CONFIG_OPTIONS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hakmem.h>
#include "options/options.h"

/* Slab classes serve small requests (the arena build: its own allocator). */
#ifdef CONFIG_BACKEND_MMAP
#include "boxes.h"
#include "os/os.h"
#include "superslab/superslab.h"
#define UNIT_SLAB_CLASSES	HK_NR_CLASSES
#define UNIT_SLAB_MAX		HEAP_MAX_SIZE
#else
#define UNIT_SLAB_CLASSES	1
#define UNIT_SLAB_MAX		20000UL
#endif

/* ------------------------------------------------------------------------
 * Capturing stderr
 */

/*
 * stderr goes to a memory file while captured: a tmpfile() per capture
 * cost test_parse_garbage 2000 file creations on the disk, and it once
 * ran past its 60 s timeout while the disk was busy (right after the
 * packages were installed).
 */
static int cap_fd = -1;
static int cap_saved = -1;
static char cap_buf[16384];

static void cap_start(void)
{
	if (cap_fd < 0)
		cap_fd = memfd_create("stderr", MFD_CLOEXEC);
	ck_assert_int_ge(cap_fd, 0);
	ck_assert_int_eq(ftruncate(cap_fd, 0), 0);
	ck_assert_int_eq(lseek(cap_fd, 0, SEEK_SET), 0);
	cap_saved = dup(2);
	dup2(cap_fd, 2);
}

/* Stop capturing; the text written meanwhile. */
static const char *cap_end(void)
{
	ssize_t n;

	dup2(cap_saved, 2);
	close(cap_saved);
	n = pread(cap_fd, cap_buf, sizeof(cap_buf) - 1, 0);
	cap_buf[n > 0 ? n : 0] = 0;
	return cap_buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static unsigned long opt(const char *name)
{
	unsigned long v = 12345;

	ck_assert_msg(hak_option_get(name, &v) == 0, "hak_option_get(%s): errno %d", name, errno);
	return v;
}

/* Parse s; the warnings it printed. */
static const char *parse(const char *s, int *warnings)
{
	cap_start();
	*warnings = hk_options_parse(s, "TEST");
	return cap_end();
}

/* ------------------------------------------------------------------------
 * parse
 */

START_TEST(test_parse_good)
{
	int w;
	/* decay_ms and large_cache_mb are the Large cache's (CONFIG_LARGE_CACHE). */
	const char *out = parse(IS_ENABLED(CONFIG_LARGE_CACHE) ?
				"decay_ms=200,dirty_slots=3, large_cache_mb = 7 ,,verbose=0,"
				"tcache_pct=50" : "dirty_slots=3,,verbose=0,tcache_pct=50", &w);

	ck_assert_int_eq(w, 0);
	ck_assert_str_eq(out, "");
	if (IS_ENABLED(CONFIG_LARGE_CACHE)) {
		ck_assert_uint_eq(hk_opt(OPT_DECAY_MS), 200);
		ck_assert_uint_eq(hk_opt(OPT_LARGE_CACHE_MB), 7);
	}
	ck_assert_uint_eq(hk_opt(OPT_DIRTY_SLOTS), 3);
	ck_assert_uint_eq(hk_opt(OPT_TCACHE_PCT), 50);
	out = parse("dirty_decay_ms=2500", &w);
	ck_assert_int_eq(w, 0);
	ck_assert_uint_eq(hk_opt(OPT_DIRTY_DECAY_MS), 2500);
	ck_assert_uint_eq(hk_opt(OPT_VERBOSE), 0);
	/* Booleans: words, any case, and a bare name. */
	out = parse("verbose=YES", &w);
	ck_assert_int_eq(w, 0);
	ck_assert_uint_eq(hk_opt(OPT_VERBOSE), 1);
	parse("verbose=off", &w);
	ck_assert_uint_eq(hk_opt(OPT_VERBOSE), 0);
	parse("verbose", &w);
	ck_assert_int_eq(w, 0);
	ck_assert_uint_eq(hk_opt(OPT_VERBOSE), 1);
	/* Later items win. */
	parse("dirty_slots=1,dirty_slots=9", &w);
	ck_assert_uint_eq(hk_opt(OPT_DIRTY_SLOTS), 9);
}
END_TEST

static const struct {
	const char *item;	/* a bad item */
	const char *says;	/* what its warning must contain */
} bad_values[] = {
	{ "decay_ms=abc", "decay_ms=abc: not a number from 0 to 3600000; using 50" },
	{ "decay_ms=-1", "decay_ms=-1: not a number" },
	{ "decay_ms=3600001", "decay_ms=3600001: not a number" },
	{ "decay_ms=99999999999999999999999", "not a number" },
	{ "decay_ms=", "decay_ms=: not a number" },
	{ "decay_ms", "decay_ms=: not a number" },
	{ "tcache_pct=5", "tcache_pct=5: not a number from 10 to 1000; using 100" },
	{ "tcache_pct=1001", "tcache_pct=1001" },
	{ "dirty_slots=1e3", "dirty_slots=1e3: not a number" },
	{ "dirty_decay_ms=3600001", "dirty_decay_ms=3600001: not a number from 0 to 3600000; using 1000" },
	{ "verbose=2", "verbose=2: not a boolean" },
	{ "verbose=maybe", "verbose=maybe: not a boolean" },
};

START_TEST(test_parse_bad_value)
{
	const char *item = bad_values[_i].item;
	unsigned long before[NR_HK_OPTS];
	unsigned int k;
	int w;
	const char *out;

	for (k = 0; k < NR_HK_OPTS; k++)
		before[k] = hk_opt((enum hk_opt_id)k);
	out = parse(item, &w);
	ck_assert_int_eq(w, 1);
	ck_assert_int_eq(count_lines(out), 1);
	/* Without the Large cache, decay_ms is refused whatever its value. */
	if (!IS_ENABLED(CONFIG_LARGE_CACHE) && strncmp(item, "decay_ms", 8) == 0)
		ck_assert_msg(strstr(out, "decay_ms: not built in (CONFIG_LARGE_CACHE=n); ignored"),
			      "'%s' printed '%s'", item, out);
	else
		ck_assert_msg(strstr(out, bad_values[_i].says), "'%s' printed '%s'", item, out);
	ck_assert_msg(strncmp(out, "hakmem: TEST: ", 14) == 0, "'%s' printed '%s'", item, out);
	/* Nothing changed: the default stays. */
	for (k = 0; k < NR_HK_OPTS; k++)
		ck_assert_uint_eq(hk_opt((enum hk_opt_id)k), before[k]);
}
END_TEST

START_TEST(test_parse_unknown)
{
	char longname[600];
	const char *out;
	int w;

	out = parse("bogus=1,dirty_slots=70", &w);
	ck_assert_int_eq(w, 1);
	ck_assert_str_eq(out, "hakmem: TEST: unknown option 'bogus'; ignored\n");
	/* The rest of the string still applies. */
	ck_assert_uint_eq(hk_opt(OPT_DIRTY_SLOTS), 70);
	out = parse("stat=1", &w);
	ck_assert_str_eq(out, "hakmem: TEST: unknown option 'stat'; ignored\n");
	out = parse("=5", &w);
	ck_assert_str_eq(out, "hakmem: TEST: unknown option ''; ignored\n");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	out = parse(longname, &w);
	ck_assert_int_eq(w, 1);
	ck_assert_int_eq(count_lines(out), 1);
	ck_assert_ptr_nonnull(strstr(out, "unknown option 'xxxx"));
}
END_TEST

/* Options whose box is configured out say so, once. */
START_TEST(test_parse_not_built)
{
	const char *out;
	int w;

	out = parse("thp=1", &w);
	if (IS_ENABLED(CONFIG_SUPERSLAB_THP)) {
		ck_assert_int_eq(w, 0);
		ck_assert_uint_eq(hk_opt(OPT_THP), 1);
	} else {
		ck_assert_int_eq(w, 1);
		ck_assert_str_eq(out, "hakmem: TEST: thp: not built in (CONFIG_SUPERSLAB_THP=n); ignored\n");
		ck_assert_uint_eq(hk_opt(OPT_THP), 0);
	}
	/* The threshold: a number of MiB, from 0 (every SuperSlab) to 2^20. */
	out = parse("thp_min_mb=64", &w);
	if (IS_ENABLED(CONFIG_SUPERSLAB_THP)) {
		ck_assert_int_eq(w, 0);
		ck_assert_uint_eq(hk_opt(OPT_THP_MIN_MB), 64);
		parse("thp_min_mb=0", &w);
		ck_assert_int_eq(w, 0);
		ck_assert_uint_eq(hk_opt(OPT_THP_MIN_MB), 0);
		out = parse("thp_min_mb=1048577", &w);
		ck_assert_int_eq(w, 1);
		ck_assert_ptr_nonnull(strstr(out, "thp_min_mb=1048577: not a number from 0 to 1048576"));
		ck_assert_uint_eq(hk_opt(OPT_THP_MIN_MB), 0);
	} else {
		ck_assert_int_eq(w, 1);
		ck_assert_str_eq(out, "hakmem: TEST: thp_min_mb: not built in (CONFIG_SUPERSLAB_THP=n); ignored\n");
		ck_assert_uint_eq(hk_opt(OPT_THP_MIN_MB), 0);
	}
	out = parse("stats=1", &w);
	if (IS_ENABLED(CONFIG_STATS)) {
		ck_assert_int_eq(w, 0);
		ck_assert_uint_eq(hk_opt(OPT_STATS), 1);
	} else {
		ck_assert_str_eq(out, "hakmem: TEST: stats: not built in (CONFIG_STATS=n); ignored\n");
	}
}
END_TEST

START_TEST(test_parse_stats_file)
{
	char path[400], buf[64];
	const char *out;
	int w;

	if (!IS_ENABLED(CONFIG_STATS))
		return;
	out = parse("stats_file=/tmp/hk.%p.txt", &w);
	ck_assert_int_eq(w, 0);
	ck_assert_uint_eq(hk_opt(OPT_STATS), 1);
	snprintf(path, sizeof(path), "/tmp/hk.%d.txt", (int)getpid());
	ck_assert_str_eq(hk_opt_stats_file(buf, sizeof(buf)), path);
	memset(path, 'a', sizeof(path));
	memcpy(path, "stats_file=", 11);
	path[sizeof(path) - 1] = 0;
	out = parse(path, &w);
	ck_assert_int_eq(w, 1);
	ck_assert_ptr_nonnull(strstr(out, "stats_file: needs a path of 1 to 255 bytes"));
}
END_TEST

/* Garbage never crashes, and every warning is one whole line. */
START_TEST(test_parse_garbage)
{
	static const char alphabet[] = "=,, ab_sdecay_mtsv01-9\t\x01\xff%=";
	char s[300];
	unsigned int seed = 12345;
	int i, n, k, w;
	const char *out;

	for (i = 0; i < hk_test_scale(2000); i++) {
		n = (int)(rand_r(&seed) % (sizeof(s) - 1));
		for (k = 0; k < n; k++)
			s[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		s[n] = 0;
		out = parse(s, &w);
		ck_assert_int_ge(w, 0);
		ck_assert_int_eq(count_lines(out), w);
		ck_assert_uint_le(hk_opt(OPT_TCACHE_PCT), 1000);
		ck_assert_uint_ge(hk_opt(OPT_TCACHE_PCT), 10);
		ck_assert_uint_le(hk_opt(OPT_DECAY_MS), 3600000);
	}
	ck_assert_int_eq(hk_options_parse(NULL, "TEST"), 0);
	ck_assert_int_eq(hk_options_parse("", "TEST"), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * api
 */

START_TEST(test_api_get_set)
{
	unsigned long v;

	ck_assert_uint_eq(opt("dirty_slots"), CONFIG_SUPERSLAB_DIRTY_SLOTS);
	ck_assert_uint_eq(opt("tcache_pct"), 100);
	ck_assert_int_eq(hak_option_set("dirty_slots", 0), 0);
	ck_assert_uint_eq(opt("dirty_slots"), 0);
	/* The SuperSlab decay window: always built in. */
	ck_assert_uint_eq(opt("dirty_decay_ms"), 1000);
	ck_assert_int_eq(hak_option_set("dirty_decay_ms", 0), 0);
	ck_assert_uint_eq(opt("dirty_decay_ms"), 0);
	errno = 0;
	ck_assert_int_eq(hak_option_set("dirty_decay_ms", 3600001), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(opt("dirty_decay_ms"), 0);
	if (IS_ENABLED(CONFIG_LARGE_CACHE)) {
		ck_assert_uint_eq(opt("decay_ms"), 50);
		ck_assert_int_eq(hak_option_set("decay_ms", 120), 0);
		ck_assert_uint_eq(opt("decay_ms"), 120);
		errno = 0;
		ck_assert_int_eq(hak_option_set("decay_ms", 3600001), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(opt("decay_ms"), 120);
	} else {
		/* An option of a box that is not built in. */
		errno = 0;
		ck_assert_int_eq(hak_option_get("decay_ms", &v), -1);
		ck_assert_int_eq(errno, ENOSYS);
	}
	errno = 0;
	ck_assert_int_eq(hak_option_set("no_such_option", 1), -1);
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_int_eq(hak_option_get("no_such_option", &v), -1);
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_int_eq(hak_option_set("tcache_pct", 200), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(hak_option_set("verbose", 1), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(hak_option_get(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(hak_option_get("decay_ms", NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(hak_option_set(NULL, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	if (!IS_ENABLED(CONFIG_SUPERSLAB_THP)) {
		errno = 0;
		ck_assert_int_eq(hak_option_get("thp", &v), -1);
		ck_assert_int_eq(errno, ENOSYS);
		errno = 0;
		ck_assert_int_eq(hak_option_set("thp", 1), -1);
		ck_assert_int_eq(errno, ENOSYS);
		errno = 0;
		ck_assert_int_eq(hak_option_set("thp_min_mb", 64), -1);
		ck_assert_int_eq(errno, ENOSYS);
	} else {
		errno = 0;
		ck_assert_int_eq(hak_option_set("thp", 2), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(opt("thp_min_mb"), OPT_DEF_THP_MIN_MB);
		ck_assert_int_eq(hak_option_set("thp_min_mb", 64), 0);
		ck_assert_uint_eq(opt("thp_min_mb"), 64);
		errno = 0;
		ck_assert_int_eq(hak_option_set("thp_min_mb", (1UL << 20) + 1), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
}
END_TEST

START_TEST(test_api_stats)
{
	unsigned long before, live, after, v;
	void *p;

	if (!IS_ENABLED(CONFIG_MALLOC_INFO)) {
		ck_assert_int_eq(hak_option_get("stat.in_use", &v), -1);
		return;
	}
	before = opt("stat.in_use");
	/* A Large block of at least 1 MiB (Mid may go up to 1 MiB). */
	p = hak_malloc(UNIT_LARGE(1 << 20));
	ck_assert_ptr_nonnull(p);
	live = opt("stat.in_use");
	ck_assert_uint_ge(live, before + (1 << 20));
	ck_assert_uint_ge(opt("stat.large_in_use"), 1 << 20);
	ck_assert_uint_ge(opt("stat.large_blocks"), 1);
	ck_assert_uint_ge(opt("stat.system"), live);
	hak_free(p);
	after = opt("stat.in_use");
	ck_assert_uint_le(after, live - (1 << 20));
	errno = 0;
	ck_assert_int_eq(hak_option_set("stat.in_use", 0), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(hak_option_get("stat.nothing", &v), -1);
	ck_assert_int_eq(errno, ENOENT);
	if (IS_ENABLED(CONFIG_STATS)) {
		unsigned long a = opt("stat.large_alloc");

		hak_free(hak_malloc(UNIT_LARGE(100000)));
		/* With no slab box, Check's own allocations are Large ones too. */
		if (UNIT_SLAB_CLASSES)
			ck_assert_uint_eq(opt("stat.large_alloc"), a + 1);
		else
			ck_assert_uint_ge(opt("stat.large_alloc"), a + 1);
	} else {
		ck_assert_int_eq(hak_option_get("stat.large_alloc", &v), -1);
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * effect
 */

/*
 * About 16 MB of blocks more than a thread's spare batches keep
 * (CONFIG_HEAP_SPARE_KB: 48 MB by default): more than its bins and
 * batches keep together (the bins grow to 4 MiB of a class,
 * HEAP_BIN_MAX_BYTES; 1 MiB and 8 MB here before branch batch, 16 MB
 * before branch bin16k, when a class kept four batches at most), so
 * that slabs go back to the pool whatever EFFECT_SIZE is.
 */
#define EFFECT_N	(((16UL << 20) + ((unsigned long)CONFIG_HEAP_SPARE_KB << 10)) / EFFECT_SIZE)

/* A slab class: Mid's 20000 B one, or the largest without Mid. */
/* (16 B without slab classes, where the tests that use it return at once) */
#define EFFECT_SIZE	(UNIT_SLAB_MAX == 0 ? 16 : UNIT_SLAB_MAX < 20000 ? UNIT_SLAB_MAX : 20000)

/* Fill slabs of a slab class, free them all: their slots go back to the pool. */
static void slab_cycle(void)
{
	static void *p[EFFECT_N];
	unsigned long i;

	for (i = 0; i < EFFECT_N; i++) {
		p[i] = hak_malloc(EFFECT_SIZE);
		ck_assert_ptr_nonnull(p[i]);
	}
	for (i = 0; i < EFFECT_N; i++)
		hak_free(p[i]);
	/* Return the caller's bins to the slabs too. */
}

START_TEST(test_effect_dirty_slots)
{
	size_t block;
	void *p;

	/* Slots come from slab boxes: none when Large serves every request. */
	if (!IS_ENABLED(CONFIG_MALLOC_INFO) || !UNIT_SLAB_CLASSES)
		return;
	/*
	 * A block of EFFECT_SIZE takes its class's size: up to twice as
	 * much with one class per doubling (randconfig KCONFIG_SEED=
	 * 0x58260307, CONFIG_MID_CLASSES_PER_DOUBLING=1: 32 KiB blocks, 26
	 * MB of idle slots against a bound of 21 MB counted at 20000 B).
	 */
	p = hak_malloc(EFFECT_SIZE);
	ck_assert_ptr_nonnull(p);
	block = hak_malloc_usable_size(p);
	hak_free(p);
	hak_malloc_trim(0);
	ck_assert_uint_eq(opt("stat.idle"), 0);
	ck_assert_int_eq(hak_option_set("dirty_slots", 0), 0);
	slab_cycle();
	ck_assert_uint_eq(opt("stat.idle"), 0);
	ck_assert_int_eq(hak_option_set("dirty_slots", 64), 0);
	slab_cycle();
	ck_assert_uint_gt(opt("stat.idle"), 0);
	/*
	 * The budget is the recent peak of slots in use (the cycle's own
	 * slabs) or the floor of 64 slots, whichever is more.
	 */
	ck_assert_uint_le(opt("stat.idle"),
			  (64UL << 16) + ((EFFECT_N * (block + 512UL) + (1UL << 16)) & ~0xffffUL) + (4UL << 16));
}
END_TEST

START_TEST(test_effect_large_cache)
{
	if (!IS_ENABLED(CONFIG_LARGE_CACHE) || !IS_ENABLED(CONFIG_MALLOC_INFO))
		return;
	hak_malloc_trim(0);
	ck_assert_int_eq(hak_option_set("decay_ms", 0), 0);
	hak_free(hak_malloc(UNIT_LARGE(300000)));
	ck_assert_uint_eq(opt("stat.large_cached"), 0);
	ck_assert_int_eq(hak_option_set("decay_ms", 50), 0);
	ck_assert_int_eq(hak_option_set("large_cache_mb", 0), 0);
	hak_free(hak_malloc(UNIT_LARGE(300000)));
	ck_assert_uint_eq(opt("stat.large_cached"), 0);
	ck_assert_int_eq(hak_option_set("large_cache_mb", 64), 0);
	hak_free(hak_malloc(UNIT_LARGE(300000)));
	ck_assert_uint_ge(opt("stat.large_cached"), UNIT_LARGE(300000));
}
END_TEST

#ifndef HK_TEST_EMULATED
/*
 * Not under qemu-user: /proc/self/smaps is the host's view there, where
 * the guest's madvise(MADV_HUGEPAGE) does not show (as for
 * test_large_hugepages; aarch64 randconfig KCONFIG_SEED=0xc0af8516,
 * CONFIG_SUPERSLAB_THP=y).
 */

/* A slab class's size: 512 B, or the largest slab class if that is smaller. */
#define THP_BLOCK_SIZE	(UNIT_SLAB_MAX == 0 ? 16 : UNIT_SLAB_MAX < 512 ? UNIT_SLAB_MAX : 512)

/* A block in a SuperSlab mapped after the call: a new SuperSlab's worth of slab blocks. */
static void *block_in_new_superslab(void)
{
	void *p = NULL;
	size_t i;

	for (i = 0; i < (4UL << 20) / THP_BLOCK_SIZE; i++)
		p = hak_malloc(THP_BLOCK_SIZE);	/* leaked: the test's child exits */
	return p;
}

START_TEST(test_effect_thp)
{
	void *p;

	/* No SuperSlab at all when Large serves every request. */
	if (!IS_ENABLED(CONFIG_SUPERSLAB_THP) || !UNIT_SLAB_CLASSES)
		return;
	/* A SuperSlab smaller than a huge page is never marked. */
	if (SS_SIZE < os_thp_size())
		return;
	ck_assert_int_eq(hak_option_set("thp", 1), 0);
	ck_assert_int_eq(hak_option_set("thp_min_mb", 0), 0);
	p = block_in_new_superslab();
	ck_assert_msg(hk_test_vma_flag(p, "hg"), "thp=1, thp_min_mb=0: no MADV_HUGEPAGE on the SuperSlab");
	/* Above the slabs in use: not yet. */
	ck_assert_int_eq(hak_option_set("thp_min_mb", 1UL << 20), 0);
	p = block_in_new_superslab();
	ck_assert_msg(!hk_test_vma_flag(p, "hg"), "thp_min_mb=2^20: MADV_HUGEPAGE on the SuperSlab");
	ck_assert_int_eq(hak_option_set("thp_min_mb", 0), 0);
	ck_assert_int_eq(hak_option_set("thp", 0), 0);
	p = block_in_new_superslab();
	ck_assert_msg(!hk_test_vma_flag(p, "hg"), "thp=0: MADV_HUGEPAGE on the SuperSlab");
}
END_TEST
#endif /* !HK_TEST_EMULATED */

/* guard_log and guard_threshold, changed while the program runs. */
START_TEST(test_effect_guard)
{
	char buf[64];
	const char *out;

	if (IS_ENABLED(CONFIG_EXTERNAL_GUARD_LOG)) {
		ck_assert_int_eq(hak_option_set("guard_log", 0), 0);
		cap_start();
		hak_free(buf + 16);
		out = cap_end();
		ck_assert_msg(!strstr(out, "hakmem: guard: free("), "guard_log=0 logged: '%s'", out);
		ck_assert_int_eq(hak_option_set("guard_log", 1), 0);
		cap_start();
		hak_free(buf + 32);
		out = cap_end();
		ck_assert_msg(count_lines(out) == 1 && strstr(out, "hakmem: guard: free("),
			      "guard_log=1: '%s'", out);
		ck_assert_int_eq(hak_option_set("guard_log", 2), 0);
	}
	if (IS_ENABLED(CONFIG_EXTERNAL_GUARD_STATS)) {
		unsigned long seen = 0;

		/* The report comes when the count reaches the threshold. */
		if (IS_ENABLED(CONFIG_STATS))
			seen = opt("stat.guard_events");
		ck_assert_int_eq(hak_option_set("guard_threshold", 3), 0);
		cap_start();
		hak_free(buf);
		hak_free(buf + 8);
		hak_free(buf + 24);
		out = cap_end();
		if (seen < 3)
			ck_assert_msg(strstr(out, "hakmem: guard: report (threshold)") != NULL,
				      "guard_threshold=3 after %lu events: '%s'", seen, out);
	}
}
END_TEST

static Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc;

	tc = tcase_create("parse");
	/*
	 * test_parse_garbage's 2000 parses run about 33 mallocs and frees
	 * each: with no slab box and no Large cache every one of them is a
	 * chunk of its own, decommitted on free (randconfig
	 * KCONFIG_SEED=0xc70d1a8f: 66,000 madvise calls, 6-10 s), past
	 * Check's default of 4 s.
	 */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_good);
	tcase_add_loop_test(tc, test_parse_bad_value, 0, (int)(sizeof(bad_values) / sizeof(bad_values[0])));
	tcase_add_test(tc, test_parse_unknown);
	tcase_add_test(tc, test_parse_not_built);
	tcase_add_test(tc, test_parse_stats_file);
	tcase_add_test(tc, test_parse_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_api_get_set);
	tcase_add_test(tc, test_api_stats);
	suite_add_tcase(s, tc);

	tc = tcase_create("effect");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_effect_dirty_slots);
	tcase_add_test(tc, test_effect_large_cache);
#ifndef HK_TEST_EMULATED
	tcase_add_test(tc, test_effect_thp);
#endif
	tcase_add_test(tc, test_effect_guard);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(options_suite);
#endif /* CONFIG_OPTIONS */
