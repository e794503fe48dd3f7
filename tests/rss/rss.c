// SPDX-License-Identifier: MIT
/*
 * rss: memory goes back to the system.
 *
 *	rss [-f percent] [-s small_MiB] [-l large_MiB] [case...]
 *
 * Each case runs in a child process (fork), so that it starts from the
 * same baseline:
 *
 *   small	-s MiB (default 200) in blocks of 16 B ... 1 KiB
 *   large	-l MiB (default 200) in blocks of 64 KiB ... 1 MiB
 *   mixed	both, interleaved
 *   calloc	a 256 MiB calloc commits (almost) nothing; reused blocks are zero
 *   notrim	-s MiB of 1000 B blocks, all freed, no trim: while the
 *		program goes on working, the RSS must come down by itself
 *		to the floor of the hysteresis budget
 *		(CONFIG_SUPERSLAB_DIRTY_SLOTS slots of 64 KiB) plus 16 MiB
 *   remote	blocks of twelve sizes of 1-8 KiB, about two and a half slabs
 *		of each, written; another thread frees every other one; the
 *		owner allocates as many again: its anonymous RSS may grow by
 *		at most a sixteenth of the bytes freed (the freed blocks are
 *		used again before any slab's fresh memory, heap_fill_partial();
 *		needs CONFIG_THREADS, and not CONFIG_SUPERSLAB_THP's 2 MiB pages)
 *   reuse	8 buffers of 4-20 MiB replaced 100 times, each written in full:
 *		the large cache keeps freed buffers committed for reuse, but
 *		the resident set stays below 1.5 times the most bytes the
 *		program had live plus 64 MiB (CONFIG_LARGE_CACHE_MAX_MB), and
 *		after freeing all and malloc_trim below 16 MiB
 *
 * Each case allocates its working set and writes every byte (peak), frees
 * 90% of it and calls hak_malloc_trim(0): the resident set above the
 * baseline must then be below -f percent (default 50) of the peak working
 * set. It then frees the rest and trims again: below half that.
 *
 * The 10% that stays is kept in runs of consecutive allocations (one run
 * of count/100 blocks in every ten), not spread evenly: one live block in every
 * 64 KiB slot would pin every slot, and no allocator could return them.
 *
 * RSS is read from /proc/self/statm. Last line: "rss: N passed, M failed".
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "hk_api.h"

static double fraction = 50;
static size_t small_mb = 200, large_mb = 200;

#define MiB	(1024.0 * 1024.0)

static size_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2) {
		fprintf(stderr, "rss: cannot read /proc/self/statm\n");
		exit(3);
	}
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident anonymous memory: resident less file-backed (the code run first here). */
static size_t anon_bytes(void)
{
	unsigned long size = 0, resident = 0, shared = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu %lu %lu", &size, &resident, &shared) != 3) {
		fprintf(stderr, "rss: cannot read /proc/self/statm\n");
		exit(3);
	}
	fclose(f);
	return (resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct blocks {
	void **p;
	size_t *n;
	size_t count, cap;
};

/* Bookkeeping arrays from mmap, touched before the baseline. */
static void blocks_init(struct blocks *b, size_t cap)
{
	b->p = mmap(NULL, cap * sizeof(void *), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	b->n = mmap(NULL, cap * sizeof(size_t), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b->p == MAP_FAILED || b->n == MAP_FAILED) {
		fprintf(stderr, "rss: mmap: %s\n", strerror(errno));
		exit(3);
	}
	memset(b->p, 0, cap * sizeof(void *));
	memset(b->n, 0, cap * sizeof(size_t));
	b->count = 0;
	b->cap = cap;
}

static void add(struct blocks *b, size_t n)
{
	void *p = t_malloc(n);

	if (!p) {
		fprintf(stderr, "rss: malloc(%zu) failed after %zu blocks\n", n, b->count);
		exit(3);
	}
	memset(p, (int)(b->count & 0xff) | 1, n);
	b->p[b->count] = p;
	b->n[b->count] = n;
	b->count++;
}

/* Runs of count/100 consecutive blocks, one run in ten. */
static size_t run_len = 1;

static int kept(size_t i)
{
	return (i / run_len) % 10 == 0;
}

/* Free all blocks (kept == 0) or all but the kept runs (kept == 1). */
static int release(struct blocks *b, int keep)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < b->count; i++) {
		unsigned char *c = b->p[i];

		if (!c)
			continue;
		if (keep && kept(i))
			continue;
		if (c[0] != ((i & 0xff) | 1) || c[b->n[i] - 1] != ((i & 0xff) | 1)) {
			if (!bad)
				fprintf(stderr, "rss: block %zu (%p, %zu bytes) corrupted\n",
					i, (void *)c, b->n[i]);
			bad = 1;
		}
		t_free(c);
		b->p[i] = NULL;
	}
	return bad;
}

/*
 * calloc of a large block returns zeroed memory without touching it: a
 * 256 MiB calloc must not raise the RSS by more than a few MiB (the
 * program may use only part of it, as with glibc). Then the same block
 * size freed dirty and calloc'ed again must read as zero.
 */
static int run_calloc(void)
{
	size_t n = (size_t)256 << 20, i, base = rss_bytes(), after;
	unsigned char *p = t_calloc(1, n), *q;

	if (!p)
		return 1;
	after = rss_bytes();
	printf("calloc: calloc(1, 256 MiB) raised RSS by %.1f MiB\n",
	       after > base ? (after - base) / MiB : 0.0);
	for (i = 0; i < n; i += 4096)
		if (p[i])
			return 1;
	t_free(p);
	for (i = 0; i < 4; i++) {
		q = t_malloc((size_t)1 << 20);
		if (!q)
			return 1;
		memset(q, 0x5a, (size_t)1 << 20);
		t_free(q);
		q = t_calloc(1, (size_t)1 << 20);
		if (!q)
			return 1;
		for (n = 0; n < ((size_t)1 << 20); n++)
			if (q[n]) {
				printf("calloc: byte %zu of a reused block is %#x\n", n, q[n]);
				return 1;
			}
		t_free(q);
	}
	return after > base + ((size_t)16 << 20);
}

/*
 * Memory goes back without malloc_trim (the hysteresis of the README):
 * free slots stay committed up to the program's recent peak, which
 * decays; past that, freed slots are returned. Only the floor of the
 * budget (CONFIG_SUPERSLAB_DIRTY_SLOTS), the thread cache and partly used
 * slabs may stay resident.
 */
static int run_notrim(void)
{
	size_t n = small_mb << 20, count = n / 1000, i, base, peak, after, limit;
	struct blocks b;
	int bad;

	blocks_init(&b, count + 1);
	base = rss_bytes();
	for (i = 0; i < count; i++)
		add(&b, 1000);
	peak = rss_bytes();
	bad = release(&b, 0);
	limit = ((size_t)CONFIG_SUPERSLAB_DIRTY_SLOTS << 16) + ((size_t)16 << 20);
#ifdef CONFIG_SUPERSLAB_THP
	/*
	 * With huge pages a SuperSlab still partly in use may stay resident
	 * in 2 MiB units (22.9 MiB measured on thp_on): 16 MiB more, still far
	 * below what a build that returns slots only on trim keeps (208 MiB).
	 */
	limit += (size_t)16 << 20;
#endif
	/*
	 * Free slots stay committed up to the peak of slots in use over
	 * the decay window (dirty_decay_ms, 1 s), then go back an eighth of
	 * the peak per eighth of a second; the program's next refills and
	 * flushes return the excess (a program that works from its thread
	 * cache alone calls neither). The program goes on working (batches
	 * of 2048 blocks of 3000 B, 6 MiB: more than a bin may grow to,
	 * HEAP_BIN_MAX_BYTES and half of the thread's bound, so that every
	 * batch refills and flushes its thread cache) for up to 5 s; the RSS
	 * must come down in that time. Not a timing claim: the bound only
	 * keeps a broken return from hanging the suite.
	 */
	for (i = 0; i < 250; i++) {
		static void *v[2048];
		int j;

		after = rss_bytes();
		if (after <= base + limit)
			break;
		usleep(20000);
		for (j = 0; j < 2048; j++)
			v[j] = t_malloc(3000);
		for (j = 0; j < 2048; j++)
			t_free(v[j]);
	}
	after = rss_bytes();
	printf("notrim: %zu blocks of 1000 B, %.0f MiB; RSS above baseline: peak %.1f MiB, "
	       "all freed without trim %.1f MiB after %zu ms of further work (limit %.1f MiB)\n",
	       count, (double)count * 1000 / MiB, (peak - base) / MiB,
	       after > base ? (after - base) / MiB : 0.0, i * 20, limit / MiB);
	return bad || after > base + limit;
}

/*
 * Big buffers replaced one at a time (the large cache's use case): the
 * memory the cache keeps is bounded by the recent peak of the live
 * buffers, and malloc_trim gives all of it back.
 */
static int run_reuse(void)
{
	enum { LIVE = 8, OPS = 100 };
	size_t lo = (size_t)4 << 20, hi = (size_t)20 << 20, sz[LIVE], live = 0, most = 0;
	size_t base = rss_bytes(), peak = 0, r, all, limit;
	unsigned char *v[LIVE];
	int i, n;

	for (i = 0; i < LIVE; i++) {
		sz[i] = lo + (size_t)(rng() % (hi - lo));
		v[i] = t_malloc(sz[i]);
		if (!v[i])
			return 1;
		memset(v[i], i + 1, sz[i]);
		live += sz[i];
	}
	most = live;
	for (n = 0; n < OPS; n++) {
		i = (int)(rng() % LIVE);
		if (v[i][0] != v[i][sz[i] - 1])
			return 1;
		t_free(v[i]);
		live -= sz[i];
		sz[i] = lo + (size_t)(rng() % (hi - lo));
		v[i] = t_malloc(sz[i]);
		if (!v[i])
			return 1;
		memset(v[i], n + 1, sz[i]);
		live += sz[i];
		if (live > most)
			most = live;
		r = rss_bytes();
		if (r > peak)
			peak = r;
	}
	for (i = 0; i < LIVE; i++)
		t_free(v[i]);
	t_malloc_trim(0);
	all = rss_bytes();
	limit = most + most / 2 + ((size_t)64 << 20);
	printf("reuse: at most %.0f MiB live; RSS above baseline: peak %.1f MiB (limit %.0f MiB), "
	       "all freed and trimmed %.1f MiB (limit 16 MiB)\n", most / MiB,
	       peak > base ? (peak - base) / MiB : 0.0, limit / MiB,
	       all > base ? (all - base) / MiB : 0.0);
	return peak > base + limit || all > base + ((size_t)16 << 20);
}

/*
 * Blocks another thread freed are used again before fresh memory: each
 * class's current slab keeps its uncarved blocks while a partial slab of
 * the class has free ones (heap_fill_partial()). Before, the refills
 * carved the current slabs' rest first (their pages faulting in): about
 * half a slab per class. What may grow: the blocks a refill carved
 * before the frees and left in the bin, their first page only touched,
 * are handed out and written now.
 */
#if defined(CONFIG_SUPERSLAB_THP) || !defined(CONFIG_THREADS)
static const int remote_on = 0;
#else
static const int remote_on = 1;
#endif

#define REMOTE_SIZES	12
#define REMOTE_MAX	1024

static void *remote_v[REMOTE_MAX];
static size_t remote_sz[REMOTE_MAX], remote_n;

static void *remote_freer(void *arg)
{
	size_t i;

	for (i = 1; i < remote_n; i += 2)
		t_free(remote_v[i]);
	return arg;
}

static int run_remote(void)
{
	static const size_t sizes[REMOTE_SIZES] = {
		1100, 1400, 1650, 1900, 2300, 2800, 3300, 3800, 4600, 5600, 6600, 7600
	};
	size_t c, i, k, freed = 0, base, after, limit;
	pthread_t t;

	if (!remote_on) {
		printf("remote: needs threads and 4 KiB pages (CONFIG_THREADS, not CONFIG_SUPERSLAB_THP)\n");
		return 0;
	}
	remote_n = 0;
	for (c = 0; c < REMOTE_SIZES; c++) {
		/* About two and a half 64 KiB slabs of the class. */
		for (k = 0; k < 163840 / sizes[c] && remote_n < REMOTE_MAX; k++) {
			void *p = t_malloc(sizes[c]);

			if (!p)
				return 1;
			memset(p, 1, sizes[c]);
			remote_sz[remote_n] = sizes[c];
			remote_v[remote_n++] = p;
		}
	}
	for (i = 1; i < remote_n; i += 2)
		freed += remote_sz[i];
	if (pthread_create(&t, NULL, remote_freer, NULL))
		return 1;
	pthread_join(t, NULL);
	base = anon_bytes();
	for (i = 1; i < remote_n; i += 2) {
		remote_v[i] = t_malloc(remote_sz[i]);
		if (!remote_v[i])
			return 1;
		memset(remote_v[i], 2, remote_sz[i]);
	}
	after = anon_bytes();
	limit = freed / 16;
	printf("remote: %zu blocks, %.2f MiB freed by another thread and allocated again; "
	       "anonymous RSS grew by %.2f MiB (limit %.2f MiB)\n", remote_n, freed / MiB,
	       after > base ? (after - base) / MiB : 0.0, limit / MiB);
	for (i = 0; i < remote_n; i++)
		t_free(remote_v[i]);
	return after > base + limit;
}

/* Run one case in this (child) process; exit status 0 if it passed. */
static int run(const char *name)
{
	int do_small, do_large;
	size_t small_bytes, large_bytes;
	struct blocks b;
	size_t base, peak, part, all, total, small_total = 0, large_total = 0, limit1, limit2;
	int bad = 0;

	if (strcmp(name, "calloc") == 0)
		return run_calloc();
	if (strcmp(name, "notrim") == 0)
		return run_notrim();
	if (strcmp(name, "reuse") == 0)
		return run_reuse();
	if (strcmp(name, "remote") == 0)
		return run_remote();
	do_small = strcmp(name, "large") != 0;
	do_large = strcmp(name, "small") != 0;
	small_bytes = do_small ? small_mb << 20 : 0;
	large_bytes = do_large ? large_mb << 20 : 0;
	/* Upper bound of the block count: small blocks average ~500 B. */
	blocks_init(&b, small_bytes / 300 + large_bytes / 32768 + 1024);
	base = rss_bytes();

	/* Mixed: the ~400 small blocks per large one interleaved. */
	while (small_total < small_bytes || large_total < large_bytes) {
		int large = small_total >= small_bytes ||
			    (large_total < large_bytes && rng() % 1000 == 0);
		size_t n;

		if (large)
			n = 65536 + (size_t)(rng() % (1024 * 1024 - 65536));
		else
			n = 16 + (size_t)(rng() % (1024 - 16));
		if (b.count == b.cap)
			break;
		add(&b, n);
		if (large)
			large_total += n;
		else
			small_total += n;
	}
	total = small_total + large_total;
	peak = rss_bytes();

	run_len = b.count / 100 ? b.count / 100 : 1;
	bad |= release(&b, 1);
	t_malloc_trim(0);
	part = rss_bytes();

	bad |= release(&b, 0);
	t_malloc_trim(0);
	all = rss_bytes();

	limit1 = (size_t)((double)(peak - base) * fraction / 100);
	limit2 = limit1 / 2;
	printf("%s: %zu blocks, %.0f MiB; RSS above baseline: peak %.1f MiB, "
	       "90%% freed %.1f MiB (%.0f%%, limit %.0f%%), all freed %.1f MiB (%.0f%%, limit %.0f%%)\n",
	       name, b.count, total / MiB, (peak - base) / MiB,
	       part > base ? (part - base) / MiB : 0.0,
	       100.0 * (double)(part > base ? part - base : 0) / (double)(peak - base), fraction,
	       all > base ? (all - base) / MiB : 0.0,
	       100.0 * (double)(all > base ? all - base : 0) / (double)(peak - base), fraction / 2);
	if (bad)
		return 1;
	if (part > base + limit1 || all > base + limit2)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *all_cases[] = { "small", "large", "mixed", "calloc", "notrim", "remote", "reuse" };
	const char **cases = all_cases;
	int ncases = 6, i, opt, passed = 0, failed = 0;

	while ((opt = getopt(argc, argv, "f:s:l:")) != -1) {
		switch (opt) {
		case 'f': fraction = atof(optarg); break;
		case 's': small_mb = strtoul(optarg, NULL, 0); break;
		case 'l': large_mb = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: rss [-f percent] [-s small_MiB] [-l large_MiB] [small|large|mixed|calloc|notrim|remote|reuse...]\n");
			return 2;
		}
	}
	if (optind < argc) {
		cases = (const char **)argv + optind;
		ncases = argc - optind;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < ncases; i++) {
		int status;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid == 0)
			_exit(run(cases[i]));
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			perror("rss: fork/waitpid");
			return 3;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("PASS %s\n", cases[i]);
			passed++;
		} else {
			if (WIFSIGNALED(status))
				printf("FAIL %s: killed by signal %d\n", cases[i], WTERMSIG(status));
			else
				printf("FAIL %s\n", cases[i]);
			failed++;
		}
	}
	printf("rss: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
