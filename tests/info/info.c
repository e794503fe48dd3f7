// SPDX-License-Identifier: MIT
/*
 * info: mallinfo2(), mallinfo(), malloc_stats() and malloc_info() report
 * what the program allocated (CONFIG_MALLOC_INFO,
 * Documentation/mallinfo.md).
 *
 * For each tier (Tiny, Mid, Large) the program allocates about 10 MB in
 * blocks of one size and checks that mallinfo2().uordblks grew by at
 * least the bytes asked for and by the blocks' usable sizes give or take
 * INFO_SLACK (allocations of the C library meanwhile), that Large blocks
 * show in hblks/hblkhd, that arena = uordblks + fordblks, and that after
 * the frees uordblks is back where it was. Then the text of malloc_stats
 * and the XML of malloc_info are parsed and compared with mallinfo2.
 * With only the Large box (no slab box: HAVE_SLABS) there are no thread
 * caches, no "Arena N:" and no <heap>, and that is what is checked.
 *
 * Built on the hak_* API (static library) and, with -DHK_USE_LIBC, on the
 * C library names to run under LD_PRELOAD=libhakmem.so: there the calls
 * must reach hakmem, not glibc's arena. Last line: "info: N passed, M
 * failed".
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "hk_api.h"

/*
 * A box whose blocks share slabs (Tiny, Small-Mid, Mid): thread caches,
 * an "Arena N:" in malloc_stats, a <heap> in malloc_info. With only the
 * Large box there is none of them (Documentation/mallinfo.md), and the
 * checks say so instead (randconfig KCONFIG_SEED=0x50f6daa3).
 */
#if defined(CONFIG_TINY) || defined(CONFIG_SMALLMID) || defined(CONFIG_MID)
#define HAVE_SLABS	1
#else
#define HAVE_SLABS	0
#endif

/* mallinfo() is deprecated in glibc, and tested here all the same. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define INFO_TOTAL	(10UL << 20)	/* bytes allocated per tier */
#define INFO_SLACK	(64UL << 10)	/* other allocations meanwhile */

static int passed, failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
} while (0)

static void tier(const char *name, size_t size)
{
	size_t n = INFO_TOTAL / size, i, usable = 0;
	struct mallinfo2 before, live, after;
	void **p = t_malloc(n * sizeof(void *));
	size_t grew;

	before = t_mallinfo2();
	for (i = 0; i < n; i++) {
		p[i] = t_malloc(size);
		if (!p[i])
			break;
		memset(p[i], 1, size);
		usable += t_malloc_usable_size(p[i]);
	}
	CHECK(i == n, "%s: malloc failed after %zu blocks", name, i);
	n = i;
	live = t_mallinfo2();
	grew = live.uordblks - before.uordblks;
	printf("%s: %zu x %zu B = %zu B asked, %zu B usable: uordblks %zu -> %zu (+%zu)\n",
	       name, n, size, n * size, usable, before.uordblks, live.uordblks, grew);
	CHECK(live.uordblks >= before.uordblks + n * size,
	      "%s: uordblks grew by %zu, less than the %zu bytes allocated", name, grew, n * size);
	CHECK(grew + INFO_SLACK >= usable && grew <= usable + INFO_SLACK,
	      "%s: uordblks grew by %zu, usable sizes add up to %zu", name, grew, usable);
	CHECK(live.arena == live.uordblks + live.fordblks,
	      "%s: arena %zu != uordblks %zu + fordblks %zu", name, live.arena,
	      live.uordblks, live.fordblks);
	/* Large blocks: above Mid's maximum (CONFIG_MID_MAX_KB, 1 MiB at most). */
	if (size > (1 << 20)) {
		CHECK(live.hblks >= before.hblks + n, "%s: hblks %zu -> %zu for %zu blocks",
		      name, before.hblks, live.hblks, n);
		CHECK(live.hblkhd >= before.hblkhd + usable, "%s: hblkhd %zu -> %zu for %zu bytes",
		      name, before.hblkhd, live.hblkhd, usable);
	}
	for (i = 0; i < n; i++)
		t_free(p[i]);
	after = t_mallinfo2();
	printf("%s: after free: uordblks %zu, fsmblks %zu, keepcost %zu\n", name,
	       after.uordblks, after.fsmblks, after.keepcost);
	CHECK(after.uordblks <= before.uordblks + INFO_SLACK &&
	      after.uordblks + INFO_SLACK >= before.uordblks,
	      "%s: uordblks %zu after the frees, %zu before", name, after.uordblks,
	      before.uordblks);
	if (size > (1 << 20))
		CHECK(after.hblks <= before.hblks, "%s: hblks %zu after the frees, %zu before",
		      name, after.hblks, before.hblks);
	t_free(p);
}

/* Free memory is held, then malloc_trim gives it back: keepcost says how much. */
static void trim(void)
{
	struct mallinfo2 mi;
	void *p[64];
	int i;

	for (i = 0; i < 64; i++)
		p[i] = t_malloc(20000);
	for (i = 0; i < 64; i++)
		t_free(p[i]);
	p[0] = t_malloc(2 << 20);	/* Large whatever Mid's maximum */
	t_free(p[0]);
	mi = t_mallinfo2();
	CHECK(mi.keepcost > 0, "keepcost 0 with free slabs and a cached Large block");
	if (HAVE_SLABS)
		CHECK(mi.fsmblks > 0 && mi.smblks > 0, "thread caches empty: fsmblks %zu smblks %zu",
		      mi.fsmblks, mi.smblks);
	else
		CHECK(mi.fsmblks == 0 && mi.smblks == 0,
		      "no slab box, yet thread caches: fsmblks %zu smblks %zu", mi.fsmblks, mi.smblks);
	t_malloc_trim(0);
	mi = t_mallinfo2();
	CHECK(mi.keepcost == 0, "keepcost %zu after malloc_trim", mi.keepcost);
}

/*
 * Large blocks that the cache cuts, merges, grows and lends pages of:
 * 40,000 random mallocs, reallocs and frees of 1-9 MiB in 32 slots (a
 * fixed sequence). hblks and hblkhd count exactly the live Large blocks
 * all along, uordblks follows their usable sizes, and all of it falls
 * back after the frees and after malloc_trim. Until the forty-second
 * session the Large box counted mapped blocks and subtracted the cached
 * ones, missed the cache's cuts and merges, and these read hblkhd -128
 * MB (wrapped) after such a sequence.
 */
#define RESHAPE_SLOTS	32
#define RESHAPE_OPS	40000

static void large_reshaped(void)
{
	void *p[RESHAPE_SLOTS] = { NULL };
	size_t use[RESHAPE_SLOTS] = { 0 };
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	struct mallinfo2 before, mi;
	size_t live_nr = 0, live_bytes = 0;
	int i, k, bad = 0;

	before = t_mallinfo2();
	for (i = 0; i < RESHAPE_OPS; i++) {
		size_t size;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (int)((x >> 33) % RESHAPE_SLOTS);
		/* Large whatever Mid's maximum (1 MiB at most) */
		size = (1UL << 20) + 4096 + (size_t)((x >> 13) % (8UL << 20));
		if (p[k]) {
			live_nr--;
			live_bytes -= use[k];
		}
		if (p[k] && (x & 0x300)) {
			void *q = t_realloc(p[k], size);

			if (!q) {
				bad++;
				continue;
			}
			p[k] = q;
		} else {
			t_free(p[k]);
			p[k] = t_malloc(size);
			if (!p[k]) {
				bad++;
				continue;
			}
		}
		memset(p[k], 1, 64);
		use[k] = t_malloc_usable_size(p[k]);
		live_nr++;
		live_bytes += use[k];
		if (i % 4000 == 3999) {
			mi = t_mallinfo2();
			CHECK(mi.hblks == before.hblks + live_nr,
			      "reshaped, step %d: hblks %zu, %zu live Large blocks (%zu before)",
			      i, mi.hblks, live_nr, before.hblks);
			CHECK(mi.hblkhd >= before.hblkhd + live_bytes &&
			      mi.hblkhd <= before.hblkhd + 2 * live_bytes + (64UL << 20),
			      "reshaped, step %d: hblkhd %zu for %zu live usable bytes (%zu before)",
			      i, mi.hblkhd, live_bytes, before.hblkhd);
			CHECK(mi.uordblks + INFO_SLACK >= before.uordblks + live_bytes &&
			      mi.uordblks <= before.uordblks + live_bytes + INFO_SLACK,
			      "reshaped, step %d: uordblks %zu, %zu before, %zu live usable bytes",
			      i, mi.uordblks, before.uordblks, live_bytes);
			CHECK(mi.arena == mi.uordblks + mi.fordblks,
			      "reshaped, step %d: arena %zu != uordblks %zu + fordblks %zu", i,
			      mi.arena, mi.uordblks, mi.fordblks);
		}
	}
	CHECK(bad == 0, "reshaped: %d mallocs or reallocs failed", bad);
	for (k = 0; k < RESHAPE_SLOTS; k++)
		t_free(p[k]);
	mi = t_mallinfo2();
	printf("reshaped: after the frees hblks %zu hblkhd %zu uordblks %zu (before %zu %zu %zu)\n",
	       mi.hblks, mi.hblkhd, mi.uordblks, before.hblks, before.hblkhd, before.uordblks);
	CHECK(mi.hblks == before.hblks && mi.hblkhd == before.hblkhd,
	      "reshaped: hblks %zu hblkhd %zu after the frees, %zu %zu before", mi.hblks,
	      mi.hblkhd, before.hblks, before.hblkhd);
	CHECK(mi.uordblks <= before.uordblks + INFO_SLACK &&
	      mi.uordblks + INFO_SLACK >= before.uordblks,
	      "reshaped: uordblks %zu after the frees, %zu before", mi.uordblks, before.uordblks);
	t_malloc_trim(0);
	mi = t_mallinfo2();
	CHECK(mi.hblks == before.hblks && mi.hblkhd == before.hblkhd &&
	      mi.uordblks <= before.uordblks + INFO_SLACK &&
	      mi.uordblks + INFO_SLACK >= before.uordblks,
	      "reshaped: after malloc_trim hblks %zu hblkhd %zu uordblks %zu, before %zu %zu %zu",
	      mi.hblks, mi.hblkhd, mi.uordblks, before.hblks, before.hblkhd, before.uordblks);
	CHECK(mi.arena == mi.uordblks + mi.fordblks && mi.arena < (1UL << 40),
	      "reshaped: after malloc_trim arena %zu, uordblks %zu, fordblks %zu", mi.arena,
	      mi.uordblks, mi.fordblks);
}

static void old_mallinfo(void)
{
	void *p = t_malloc(2 << 20);
	struct mallinfo2 m2 = t_mallinfo2();
	struct mallinfo m = t_mallinfo();

	CHECK(m.uordblks > 0 && (size_t)m.uordblks + INFO_SLACK >= m2.uordblks &&
	      (size_t)m.uordblks <= m2.uordblks + INFO_SLACK,
	      "mallinfo().uordblks %d, mallinfo2().uordblks %zu", m.uordblks, m2.uordblks);
	CHECK((size_t)m.hblks == m2.hblks, "mallinfo().hblks %d, mallinfo2().hblks %zu",
	      m.hblks, m2.hblks);
	t_free(p);
}

/* The value after "label = " on the first line at or after from. */
static long field(const char *text, const char *from, const char *label)
{
	const char *s = strstr(text, from), *v;

	if (!s || !(v = strstr(s, label)) || !(v = strchr(v, '=')))
		return -1;
	return strtol(v + 1, NULL, 10);
}

/* Read everything f holds. */
static char *slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	return buf;
}

static void stats_text(void)
{
	static char buf[8192];
	FILE *f = tmpfile();
	void *p = t_malloc(3 << 20), *q = t_malloc(5000);
	struct mallinfo2 mi;
	int saved;
	long in_use, regions;

	fflush(stderr);
	saved = dup(2);
	dup2(fileno(f), 2);
	mi = t_mallinfo2();
	t_malloc_stats();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	slurp(f, buf, sizeof(buf));
	fclose(f);
	printf("malloc_stats:\n%s", buf);
	if (HAVE_SLABS)
		CHECK(strncmp(buf, "Arena 0:\nsystem bytes     = ",
			      strlen("Arena 0:\nsystem bytes     = ")) == 0, "starts: %.40s", buf);
	else
		CHECK(strncmp(buf, "Total (incl. mmap):\n", strlen("Total (incl. mmap):\n")) == 0 &&
		      !strstr(buf, "Arena"), "no slab box, no arena: starts: %.40s", buf);
	in_use = field(buf, "Total (incl. mmap):", "in use bytes     =");
	regions = field(buf, "Total (incl. mmap):", "max mmap regions =");
	CHECK(in_use >= 0 && (size_t)in_use + INFO_SLACK >= mi.uordblks &&
	      (size_t)in_use <= mi.uordblks + INFO_SLACK,
	      "Total in use bytes %ld, mallinfo2 %zu", in_use, mi.uordblks);
	CHECK(regions >= 1, "max mmap regions %ld with a 3 MiB block live", regions);
	CHECK(field(buf, "Total (incl. mmap):", "max mmap bytes   =") >= 3 << 20,
	      "max mmap bytes below 3 MiB");
	t_free(p);
	t_free(q);
}

/* attr="N" of the last element that starts with tag. */
static long xml_size(const char *text, const char *tag, const char *attr)
{
	const char *s = NULL, *v;

	for (v = strstr(text, tag); v; v = strstr(v + 1, tag))
		s = v;

	if (!s || !(v = strstr(s, attr)))
		return -1;
	return strtol(v + strlen(attr), NULL, 10);
}

static void info_xml(void)
{
	static char buf[16384];
	FILE *f = tmpfile();
	void *p = t_malloc(3 << 20);
	struct mallinfo2 mi;
	int rc;

	mi = t_mallinfo2();
	rc = t_malloc_info(0, f);
	fflush(f);
	slurp(f, buf, sizeof(buf));
	printf("malloc_info:\n%s", buf);
	CHECK(rc == 0, "malloc_info returned %d", rc);
	if (HAVE_SLABS)
		CHECK(strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\"", 33) == 0,
		      "starts: %.40s", buf);
	else
		CHECK(strncmp(buf, "<malloc version=\"1\">\n<total type=", 33) == 0 &&
		      !strstr(buf, "<heap"), "no slab box, no <heap>: starts: %.40s", buf);
	CHECK(strstr(buf, "</malloc>\n") != NULL, "no </malloc>");
	CHECK(xml_size(buf, "<total type=\"mmap\"", "count=\"") == (long)mi.hblks,
	      "mmap count != hblks %zu", mi.hblks);
	CHECK(xml_size(buf, "<total type=\"mmap\"", "size=\"") == (long)mi.hblkhd,
	      "mmap size != hblkhd %zu", mi.hblkhd);
	CHECK(xml_size(buf, "<total type=\"inuse\"", "size=\"") + (long)INFO_SLACK >=
	      (long)mi.uordblks, "inuse size below uordblks %zu", mi.uordblks);
	errno = 0;
	rc = t_malloc_info(1, f);
	CHECK(rc == -1 && errno == EINVAL, "malloc_info(1, f) = %d, errno %d", rc, errno);
	fclose(f);
	t_free(p);
}

/*
 * Threads that start, allocate, free and exit while mallinfo2 reads
 * their thread caches: no crash, and the figures stay consistent.
 * Without CONFIG_THREADS the allocator serves one thread (no locks, no
 * atomics: Kconfig), so there is nothing to run: two threads in such a
 * build corrupt its lists, as they are allowed to.
 */
#ifdef CONFIG_THREADS
static volatile int churn_stop;
static int churn_threads;

static void *churn_one(void *arg)
{
	void *p[256];
	int i;

	for (i = 0; i < 256; i++)
		p[i] = t_malloc((size_t)(i % 64 + 1) * 16);
	for (i = 0; i < 256; i += 2)
		t_free(p[i]);
	for (i = 1; i < 256; i += 2)
		t_free(p[i]);
	return NULL;
}

static void *churn(void *arg)
{
	while (!churn_stop) {
		pthread_t t;

		if (pthread_create(&t, NULL, churn_one, NULL) == 0) {
			pthread_join(t, NULL);
			__atomic_fetch_add(&churn_threads, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void threads(void)
{
	pthread_t t[3];
	int i, bad = 0, n;

	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	/* Until 300 threads came and went (or 10^7 calls, if they cannot start). */
	for (n = 0; n < 10000000 && __atomic_load_n(&churn_threads, __ATOMIC_RELAXED) < 300; n++) {
		struct mallinfo2 mi = t_mallinfo2();

		if (mi.arena != mi.uordblks + mi.fordblks || mi.uordblks > (1UL << 40))
			bad++;
	}
	churn_stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("threads: %d mallinfo2 calls while %d threads started and exited\n", n,
	       churn_threads);
	CHECK(churn_threads >= 300, "only %d threads ran", churn_threads);
	CHECK(bad == 0, "%d of %d snapshots inconsistent while threads come and go", bad, n);
}
#else
static void threads(void)
{
	printf("threads: needs CONFIG_THREADS (a build without it serves one thread)\n");
}
#endif

#ifdef HK_USE_LIBC
/*
 * glibc's other names of its allocator (mm/api/api.h): under LD_PRELOAD
 * they must reach hakmem, or a program calling one gets glibc's block
 * and hands it to hakmem's free (or the other way round). hakmem's
 * mallinfo2() counting their blocks says they did. cfree, a compat
 * symbol that no new program links to, is looked up as an old binary's
 * reference would find it.
 */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static void libc_names(void)
{
	const size_t n = 100000;	/* in uordblks whichever box serves it */
	uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
	size_t i;
	struct mallinfo2 before = mallinfo2(), live, after;
	void (*cfree_fn)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
	unsigned char *p[6];
	void *q;

	p[0] = __libc_malloc(n);
	p[1] = __libc_calloc(n / 4, 4);
	p[2] = __libc_realloc(NULL, n / 2);
	if (p[2])
		memset(p[2], 7, n / 2);
	p[2] = __libc_realloc(p[2], n);
	p[3] = __libc_memalign(4096, n);
	p[4] = __libc_valloc(n);
	p[5] = __libc_pvalloc(n);
	for (i = 0; i < 6; i++)
		CHECK(p[i] != NULL, "__libc_* block %zu: NULL", i);
	if (failed)
		return;
	CHECK(cfree_fn != NULL, "cfree: not found");
	if (!cfree_fn)
		cfree_fn = free;
	live = mallinfo2();
	printf("libc names: 6 blocks of %zu B: uordblks %zu -> %zu\n", n,
	       before.uordblks, live.uordblks);
	CHECK(live.uordblks >= before.uordblks + 6 * n,
	      "uordblks grew by %zu for 6 blocks of %zu B from __libc_*: not hakmem's",
	      live.uordblks - before.uordblks, n);
	for (i = 0; i < 6; i++)
		CHECK(malloc_usable_size(p[i]) >= n, "block %zu: usable size %zu < %zu", i,
		      malloc_usable_size(p[i]), n);
	for (i = 0; i < n; i++)
		if (p[1][i])
			break;
	CHECK(i == n, "__libc_calloc: byte %zu not zero", i);
	CHECK(p[2][0] == 7 && p[2][n / 2 - 1] == 7, "__libc_realloc lost the contents");
	CHECK((uintptr_t)p[3] % 4096 == 0, "__libc_memalign(4096): %p", (void *)p[3]);
	CHECK((uintptr_t)p[4] % ps == 0 && (uintptr_t)p[5] % ps == 0,
	      "__libc_valloc %p, __libc_pvalloc %p: not page-aligned", (void *)p[4], (void *)p[5]);
	/* Each free by another name than its malloc. */
	free(p[0]);
	__libc_free(p[1]);
	cfree_fn(p[2]);
	__libc_free(p[3]);
	free(p[4]);
	cfree_fn(p[5]);
	q = malloc(n);
	CHECK(q != NULL, "malloc(%zu): NULL", n);
	__libc_free(q);
	after = mallinfo2();
	CHECK(after.uordblks <= before.uordblks + INFO_SLACK,
	      "uordblks %zu after the frees by other names, %zu before", after.uordblks,
	      before.uordblks);
}
#else
static void libc_names(void)
{
}
#endif

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	libc_names();
	tier("tiny", 64);
	tier("mid", 10000);
	tier("large", (1 << 20) + 4096);	/* Large whatever Mid's maximum */
	trim();
	large_reshaped();
	old_mallinfo();
	stats_text();
	info_xml();
	threads();
	printf("info: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
