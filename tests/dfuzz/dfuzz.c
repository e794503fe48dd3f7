// SPDX-License-Identifier: MIT
/*
 * dfuzz: the double-free guarantee searched for, not shown by example.
 * Documentation/testing.md ("Double-free search") and
 * Documentation/architecture.md ("The double-free check").
 *
 * Each case is a child process (fork) running a random sequence of
 * malloc and free, reproducible from its seed, over a few size classes
 * (Tiny, Small-Mid or Mid, Large) with working sets from one block to
 * more than a bin holds, so that refills, flushes, overflows, bin growth,
 * swaps and spare batches happen. A second thread frees some blocks
 * remotely and allocates some of its own, and short-lived threads
 * allocate, free and exit (their bins are saved and adopted). The model
 * keeps every live block; a pointer returned while it is live, or a block
 * overlapping the injected one while that is live, is a failure.
 *
 * With CONFIG_DOUBLE_FREE_CHECK (or for a Large block, CONFIG_LARGE_CACHE)
 * one free is repeated at a random step: a block the model holds free,
 * freed recently or long ago, first by its owner, the second thread or an
 * exiting thread, and freed again by one of them. The sequence goes on,
 * then allocates bursts of the block's size in all three kinds of thread.
 * Outcomes:
 *
 *   detected     SIGABRT with "double free" on stderr (with
 *                CONFIG_DEBUG_ASSERT also a self-check's "assertion
 *                failed" after the double free)
 *   reissued     the run completed; the block was handed out once again
 *   not reached  the run completed; the block never came back
 *   FAIL         a block handed out twice (seed and step printed), or any
 *                other exit or signal
 *
 * Without the check nothing is injected into slab classes (a double free
 * there is not a supported input): the cases still check that no block is
 * handed out twice.
 *
 *	dfuzz [-v] [-K] [-n cases] [-t seconds] [-s seed] [-c case-seed] [-l steps]
 *
 * -c runs one case (its seed as printed on failure, with the same -K and
 * -l). -K leaves out the one case documented as not detected: a block
 * its slab has not carved since it was set up anew (white-box: the slab's
 * bump pointer), which the owner's free does not check; without -K such
 * a case can fail (about 1 in 1500 on defconfig). -t stops starting
 * new cases after that many seconds. Last line: "dfuzz: N passed, M failed".
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "child.h"
#include "hk_api.h"
#ifdef CONFIG_TINY
#define DFUZZ_SLABS 1
#elif defined(CONFIG_MID) || defined(CONFIG_SMALL_MID)
#define DFUZZ_SLABS 1
#endif
#ifdef DFUZZ_SLABS
/* White-box: the slab of a block (uncarved(), the documented hole). */
#include "superslab/superslab.h"
#endif

#ifdef CONFIG_MID_MAX_KB
#define MID_MAX		((size_t)CONFIG_MID_MAX_KB * 1024)
#else
#define MID_MAX		((size_t)32768)
#endif

#define MAX_LIVE	(1U << 17)
#define HASH_SLOTS	(1U << 19)
#define RING		8192U
#define MAX_BYTES	((size_t)96 << 20)
#define TAIL_BYTES	((size_t)24 << 20)
#define TAIL_BLOCKS	20000U
#define MAX_SIZES	3

/* ------------------------------------------------------------------ */
/* The model: live blocks, freed blocks                                */

struct blk {
	void *p;
	size_t size;
	unsigned int owner;	/* WHO_* that allocated it */
	unsigned int tagged;	/* its first 16 bytes hold a tag */
};

enum { WHO_MAIN, WHO_WORKER, WHO_EXITER, WHO_NR };
static const char *const who_name[WHO_NR] = { "main", "worker", "exiting thread" };

static struct blk live[MAX_LIVE];
static unsigned int nlive;
static void *hash[HASH_SLOTS];		/* pointer -> live index + 1 in hidx */
static unsigned int hidx[HASH_SLOTS];
static size_t live_bytes;

struct freed {
	void *p;
	size_t size;
	unsigned int owner, by;
	unsigned long step;
};
static struct freed ring[RING];
static unsigned long nfreed;

static uint64_t rng;
static unsigned long step;
/* -K: leave out the documented hole (uncarved(); architecture.md). */
static int skip_known;
static uint64_t case_seed;

/* The injected double free. */
static struct {
	int done;
	struct freed f;
	unsigned int by;
	unsigned long at;
	unsigned int reissued;
	size_t usable;
} inj;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void failf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "DFUZZ-FAIL seed %llu step %lu: ",
		     (unsigned long long)case_seed, step);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (inj.done && n < (int)sizeof(buf) - 1)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      " [injected at step %lu: %p (%zu B) freed by %s at step %lu, again by %s]",
			      inj.at, inj.f.p, inj.f.size, who_name[inj.f.by], inj.f.step,
			      who_name[inj.by]);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0)
		_exit(4);
	_exit(3);
}

static unsigned int slot_of(void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	return (unsigned int)(h >> 40) & (HASH_SLOTS - 1);
}

/* Index + 1 of the hash slot holding p, or 0. */
static unsigned int hash_find(void *p)
{
	unsigned int s = slot_of(p);

	while (hash[s]) {
		if (hash[s] == p)
			return s + 1;
		s = (s + 1) & (HASH_SLOTS - 1);
	}
	return 0;
}

static void hash_del(unsigned int s)
{
	unsigned int j = s, k;

	hash[s] = NULL;
	for (;;) {		/* linear probing: move the run back */
		j = (j + 1) & (HASH_SLOTS - 1);
		if (!hash[j])
			return;
		k = slot_of(hash[j]);
		if ((j > s && (k <= s || k > j)) || (j < s && (k <= s && k > j))) {
			hash[s] = hash[j];
			hidx[s] = hidx[j];
			live[hidx[s]].p = hash[s];
			hash[j] = NULL;
			s = j;
		}
	}
}

static int overlaps(void *a, size_t na, void *b, size_t nb)
{
	return (char *)a < (char *)b + nb && (char *)b < (char *)a + na;
}

/* A block the allocator returned to thread who: it must not be live. */
static void got(void *p, size_t size, unsigned int who)
{
	unsigned int s, i;
	size_t u;

	if (!p)
		failf("malloc(%zu) returned NULL", size);
	if (hash_find(p))
		failf("%p (malloc(%zu) in %s) handed out while live", p, size, who_name[who]);
	if (nlive == MAX_LIVE)
		failf("model full");
	u = t_malloc_usable_size(p);
	if (u < size)
		failf("%p: usable size %zu < %zu", p, u, size);
	if (inj.done) {
		if (p == inj.f.p)
			inj.reissued++;
		/* Another block over the injected one's bytes while one is live. */
		if (overlaps(p, u, inj.f.p, inj.usable))
			for (i = 0; i < nlive; i++)
				if (overlaps(live[i].p, live[i].size, inj.f.p, inj.usable) &&
				    overlaps(live[i].p, live[i].size, p, u))
					failf("%p (%zu B) overlaps live %p (%zu B)", p, u,
					      live[i].p, live[i].size);
	}
	s = slot_of(p);
	while (hash[s])
		s = (s + 1) & (HASH_SLOTS - 1);
	hash[s] = p;
	hidx[s] = nlive;
	live[nlive].p = p;
	live[nlive].size = u;
	live[nlive].owner = who;
	live[nlive].tagged = !(rnd() & 1);	/* half stay untouched */
	if (live[nlive].tagged) {
		((uint64_t *)p)[0] = (uint64_t)(uintptr_t)p ^ 0x5a5a5a5a5a5a5a5aULL;
		((uint64_t *)p)[1] = ~(uint64_t)(uintptr_t)p;
	}
	live_bytes += u;
	nlive++;
}

/* Take live block i out of the model (it is about to be freed by who). */
static struct blk take(unsigned int i, unsigned int who)
{
	struct blk b = live[i];
	unsigned int s = hash_find(b.p) - 1;

	if (b.tagged && (((uint64_t *)b.p)[0] != ((uint64_t)(uintptr_t)b.p ^ 0x5a5a5a5a5a5a5a5aULL) ||
			 ((uint64_t *)b.p)[1] != ~(uint64_t)(uintptr_t)b.p))
		failf("%p: live block overwritten", b.p);
	hash_del(s);
	live_bytes -= b.size;
	if (i != --nlive) {
		live[i] = live[nlive];
		hidx[hash_find(live[i].p) - 1] = i;
	}
	ring[nfreed % RING] = (struct freed){ b.p, b.size, b.owner, who, step };
	nfreed++;
	return b;
}

/* ------------------------------------------------------------------ */
/* Threads. All run in lock step with main: one thread at a time.     */

enum { JOB_NONE, JOB_FREE, JOB_MALLOC, JOB_FREE_TWICE, JOB_QUIT };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int job, busy;
	void *ptrs[512];
	unsigned int n;
	size_t size;
} w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, { 0 }, 0, 0 };

static void *worker(void *arg)
{
	unsigned int i;

	pthread_mutex_lock(&w.lock);
	for (;;) {
		while (w.job == JOB_NONE)
			pthread_cond_wait(&w.cv, &w.lock);
		switch (w.job) {
		case JOB_FREE:
		case JOB_FREE_TWICE:
			for (i = 0; i < w.n; i++)
				t_free(w.ptrs[i]);
			break;
		case JOB_MALLOC:
			for (i = 0; i < w.n; i++)
				got(t_malloc(w.size), w.size, WHO_WORKER);
			break;
		case JOB_QUIT:
			w.job = JOB_NONE;
			pthread_cond_broadcast(&w.cv);
			pthread_mutex_unlock(&w.lock);
			return NULL;
		}
		w.job = JOB_NONE;
		pthread_cond_broadcast(&w.cv);
	}
}

static pthread_t worker_thread;

static void run_job(int job)
{
	pthread_mutex_lock(&w.lock);
	w.job = job;
	pthread_cond_broadcast(&w.cv);
	while (w.job != JOB_NONE)
		pthread_cond_wait(&w.cv, &w.lock);
	pthread_mutex_unlock(&w.lock);
}

/* A thread that allocates n blocks, frees some, keeps the rest live, exits. */
static struct {
	size_t size;
	unsigned int n, nfree;
	void *twice;
} ex;

static void *exiter(void *arg)
{
	unsigned int i, first = nlive;

	if (ex.twice)
		t_free(ex.twice);
	for (i = 0; i < ex.n; i++)
		got(t_malloc(ex.size), ex.size, WHO_EXITER);
	for (i = 0; i < ex.nfree && nlive > first; i++) {
		unsigned int k = first + below(nlive - first);

		t_free(take(k, WHO_EXITER).p);
	}
	return NULL;
}

static void run_exiter(size_t size, unsigned int n, unsigned int nfree, void *twice)
{
	pthread_t t;

	ex.size = size;
	ex.n = n;
	ex.nfree = nfree;
	ex.twice = twice;
	if (pthread_create(&t, NULL, exiter, NULL) || pthread_join(t, NULL))
		failf("pthread: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* One case                                                            */

static const size_t tiny_sizes[] = { 16, 24, 32, 48, 64, 100, 128, 200, 256, 512, 1000 };
static const size_t mid_sizes[] = { 1100, 2048, 3000, 4096, 5000, 8192, 20000, 32768, 100000 };
static const unsigned int worksets[] = { 1, 2, 3, 8, 63, 64, 65, 129, 300, 1000, 4000, 9000, 20000 };

static size_t sizes[MAX_SIZES];
static unsigned int target[MAX_SIZES], nsizes;

static size_t pick_size(void)
{
	switch (below(8)) {
	case 0: case 1: case 2: case 3:
		return tiny_sizes[below(sizeof(tiny_sizes) / sizeof(tiny_sizes[0]))];
	case 4: case 5: case 6:
		if (below(3) == 0 && MID_MAX > 100000)
			return MID_MAX - below(4) * 4096;
		return mid_sizes[below(sizeof(mid_sizes) / sizeof(mid_sizes[0]))];
	default:
		return MID_MAX + 1 + below(3) * 300000;
	}
}

static unsigned int count_of(size_t size)
{
	unsigned int i, n = 0;

	for (i = 0; i < nlive; i++)
		if (live[i].size >= size && live[i].size < size + size / 2 + 16)
			n++;
	return n;
}

static int can_inject(size_t size)
{
#ifdef CONFIG_DOUBLE_FREE_CHECK
	return 1;
#elif defined(CONFIG_LARGE_CACHE)
	return size > MID_MAX;
#else
	return 0;
#endif
}

/*
 * The one case documented as not detected (Documentation/architecture.md,
 * "The double-free check"): the owner frees again a block of a slab that
 * emptied and was set up anew, which has not carved the block yet.
 */
static int uncarved(void *p, size_t size)
{
#ifdef DFUZZ_SLABS
	struct slab *s;

	if (size > MID_MAX)
		return 0;
	s = slab_block_head(p);
	return s->kind == SLAB_BLOCKS && (char *)p >= s->bump;
#else
	return 0;
#endif
}

/* Pick a freed block that is free in the model and overlaps no live one. */
static int pick_victim(struct freed *out)
{
	unsigned int tries, i, avail = nfreed < RING ? (unsigned int)nfreed : RING;

	for (tries = 0; tries < 64 && avail; tries++) {
		unsigned int age;
		struct freed *f;

		switch (below(3)) {
		case 0: age = below(avail < 4 ? avail : 4); break;
		case 1: age = below(avail < 128 ? avail : 128); break;
		default: age = below(avail); break;
		}
		f = &ring[(nfreed - 1 - age) % RING];
		if (!can_inject(f->size) || hash_find(f->p))
			continue;
		if (skip_known && uncarved(f->p, f->size))
			continue;
		for (i = 0; i < nlive; i++)
			if (overlaps(live[i].p, live[i].size, f->p, f->size))
				break;
		if (i < nlive)
			continue;
		*out = *f;
		return 1;
	}
	return 0;
}

static void inject(void)
{
	struct freed f;

	if (!pick_victim(&f))
		return;
	inj.f = f;
	inj.usable = f.size;
	inj.at = step;
	inj.by = below(WHO_NR);
	inj.done = 1;
	fprintf(stderr, "dfuzz: step %lu: %p (%zu B, allocated by %s, freed by %s at step %lu) freed again by %s\n",
		step, f.p, f.size, who_name[f.owner], who_name[f.by], f.step, who_name[inj.by]);
	switch (inj.by) {
	case WHO_MAIN:
		t_free(f.p);
		break;
	case WHO_WORKER:
		w.ptrs[0] = f.p;
		w.n = 1;
		run_job(JOB_FREE_TWICE);
		break;
	default:
		run_exiter(f.size, below(40), below(40), f.p);
		break;
	}
}

static void free_some(unsigned int n, int remote)
{
	unsigned int i, k = 0, mode = below(3);

	if (remote && n > 512)
		n = 512;
	for (i = 0; i < n && nlive; i++) {
		unsigned int j = mode == 0 ? nlive - 1 : mode == 1 ? 0 : below(nlive);
		struct blk b = take(j, remote ? WHO_WORKER : WHO_MAIN);

		if (remote)
			w.ptrs[k++] = b.p;
		else
			t_free(b.p);
	}
	if (remote && k) {
		w.n = k;
		run_job(JOB_FREE);
	}
}

static void run_case(unsigned long steps)
{
	unsigned long inject_at = steps / 10 + below((unsigned int)(steps * 7 / 10));
	unsigned int i, k, n;

	nsizes = 1 + below(MAX_SIZES);
	for (i = 0; i < nsizes; i++) {
		sizes[i] = pick_size();
		target[i] = worksets[below(sizeof(worksets) / sizeof(worksets[0]))];
	}
	if (pthread_create(&worker_thread, NULL, worker, NULL))
		failf("pthread_create");

	for (step = 0; step < steps; step++) {
		size_t size;

		if (step == inject_at)
			inject();
		i = below(nsizes);
		size = sizes[i];
		switch (below(16)) {
		case 0:			/* change the working set */
			target[i] = worksets[below(sizeof(worksets) / sizeof(worksets[0]))];
			break;
		case 1:			/* a burst of frees: flushes */
			free_some(1 + below(nlive / 2 + 1), 0);
			break;
		case 2:			/* remote frees */
			free_some(1 + below(64), 1);
			break;
		case 3:			/* the worker allocates: main frees them remotely */
			if (live_bytes + 64 * size < MAX_BYTES) {
				w.n = 1 + below(64);
				w.size = size;
				run_job(JOB_MALLOC);
			}
			break;
		case 4:			/* a thread allocates, frees and exits */
			if (below(8) == 0 && live_bytes + 200 * size < MAX_BYTES)
				run_exiter(size, below(200), below(200), NULL);
			break;
		case 5:
			if (below(64) == 0)
				t_malloc_trim(0);
			break;
		default:
			n = count_of(size);
			if (n < target[i] && live_bytes + size < MAX_BYTES &&
			    below(4) != 0) {
				k = 1 + below(target[i] - n < 256 ? target[i] - n : 256);
				while (k-- && live_bytes + size < MAX_BYTES)
					got(t_malloc(size), size, WHO_MAIN);
			} else if (nlive) {
				free_some(1 + below(n > target[i] ? n - target[i] : 4), 0);
			}
			break;
		}
	}
	if (!inj.done && inject_at < steps)
		inject();
	step = steps;
	if (inj.done) {
		size_t size = inj.f.size;
		unsigned int burst = TAIL_BYTES / size;

		if (burst > TAIL_BLOCKS)
			burst = TAIL_BLOCKS;
		if (burst < 4)
			burst = 4;
		/* The block's size in all three kinds of thread, all kept live. */
		for (i = 0; i < burst; i++)
			got(t_malloc(size), size, WHO_MAIN);
		step++;
		for (i = 0; i < burst; i += 256) {
			w.n = burst - i < 256 ? burst - i : 256;
			w.size = size;
			run_job(JOB_MALLOC);
		}
		step++;
		run_exiter(size, burst, 0, NULL);
		step++;
		t_malloc_trim(0);
		for (i = 0; i < burst; i++)
			got(t_malloc(size), size, WHO_MAIN);
	}
	run_job(JOB_QUIT);
	pthread_join(worker_thread, NULL);
	/* 0: not reached, 1: reissued; 2: nothing injected */
	_exit(!inj.done ? 12 : inj.reissued ? 11 : 10);
}

/* ------------------------------------------------------------------ */

enum { O_DETECTED, O_REISSUED, O_UNREACHED, O_NONE, O_FAIL, O_NR };
static const char *const o_name[O_NR] = {
	"detected", "reissued", "not reached", "nothing injected", "FAIL"
};

static int verbose;

struct one_arg {
	uint64_t seed;
	unsigned long steps;
};

/* The child of one(): case seed's sequence; exits with 5 if it ends. */
static void one_child(void *arg)
{
	const struct one_arg *a = arg;

	case_seed = a->seed;
	rng = a->seed * 0x9e3779b97f4a7c15ULL + 0x1234567;
	if (!rng)
		rng = 1;
	run_case(a->steps);
	_exit(5);
}

static int one(uint64_t seed, unsigned long steps, unsigned long counts[O_NR])
{
	struct one_arg a = { seed, steps };
	char err[8192];
	int fd, status, o;
	pid_t pid;

	pid = child_start(&fd, one_child, &a);
	if (pid < 0)
		return perror("fork"), 0;
	status = child_finish(pid, fd, err, sizeof(err));
	if (status < 0)
		return perror("waitpid"), 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, "double free"))
		o = O_DETECTED;
#ifdef CONFIG_DEBUG_ASSERT
	/* A self-check that finds the list broken first also stops it. */
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		 strstr(err, "hakmem: assertion failed") && strstr(err, "freed again"))
		o = O_DETECTED;
#endif
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 11)
		o = O_REISSUED;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 10)
		o = O_UNREACHED;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 12)
		o = O_NONE;
	else
		o = O_FAIL;
	counts[o]++;
	if (o == O_FAIL || verbose) {
		printf("%s seed %llu", o_name[o], (unsigned long long)seed);
		if (WIFSIGNALED(status))
			printf(" (signal %d, %s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			printf(" (exit %d)", WEXITSTATUS(status));
		printf(": rerun with dfuzz -c %llu\n%s", (unsigned long long)seed, err);
	}
	return o != O_FAIL;
}

int main(int argc, char **argv)
{
	unsigned long counts[O_NR] = { 0 }, cases = 200, steps = 3000, i, passed = 0, failed = 0;
	uint64_t seed = (uint64_t)time(NULL), only = 0;
	int opt, have_only = 0;
	double limit = 0;
	struct timespec t0, t1;

	while ((opt = getopt(argc, argv, "vKn:t:s:c:l:")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'K': skip_known = 1; break;
		case 'n': cases = strtoul(optarg, NULL, 0); break;
		case 't': limit = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'c': only = strtoull(optarg, NULL, 0); have_only = 1; break;
		case 'l': steps = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: dfuzz [-v] [-K] [-n cases] [-t seconds] [-s seed] [-c case-seed] [-l steps]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (have_only) {
		verbose = 1;
		if (one(only, steps, counts))
			passed++;
		else
			failed++;
		printf("dfuzz: %lu passed, %lu failed\n", passed, failed);
		return !!failed;
	}
	printf("dfuzz: seed %llu, up to %lu cases of %lu steps%s\n", (unsigned long long)seed,
	       cases, steps,
#ifdef CONFIG_DOUBLE_FREE_CHECK
	       ""
#else
	       " (no CONFIG_DOUBLE_FREE_CHECK: Large blocks only are freed twice)"
#endif
	       );
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < cases; i++) {
		if (one(seed + i, steps, counts))
			passed++;
		else
			failed++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (limit > 0 && (double)(t1.tv_sec - t0.tv_sec) +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 > limit)
			break;
	}
	for (i = 0; i < O_NR; i++)
		printf("  %-16s %lu\n", o_name[i], counts[i]);
	printf("dfuzz: %lu passed, %lu failed\n", passed, failed);
	return !!failed;
}
