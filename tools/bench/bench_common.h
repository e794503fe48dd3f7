/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h - shared helpers for the hakmem benchmark programs.
 *
 * Every benchmark is a standalone program that only calls the C library
 * malloc family, so the allocator under test is chosen with LD_PRELOAD on
 * the very same binary.  Each prints exactly one machine-readable line:
 *
 *   RESULT name=<bench> ops=<n> seconds=<s> mops=<Mops/s> peak_rss_kb=<kb>
 *          ru_maxrss_kb=<kb> cpu=<s> [k=v...]
 *
 * seconds is the wall-clock time of the timed part, cpu its CPU time
 * (user + system, all threads; bench_now()).  A multi-threaded program
 * (one that calls bench_pin_setup()) adds pin= par= and runq=: whether
 * its worker threads were pinned, cpu/seconds (2.00 with two threads
 * running throughout) and the share of its workers' runnable time spent
 * waiting for a CPU (bench_thread_begin()).
 *
 * On any detected corruption or allocation failure the program prints
 * "ERROR ..." to stderr and exits 1 without printing a RESULT line.
 */
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_SEED 0x9E3779B97F4A7C15ull

#if defined(__GNUC__)
#define BENCH_NOINLINE __attribute__((noinline))
#define BENCH_UNUSED __attribute__((unused))
#define BENCH_NORETURN __attribute__((noreturn))
#define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BENCH_NOINLINE
#define BENCH_UNUSED
#define BENCH_NORETURN
#define BENCH_PRINTF(a, b)
#endif

/* xorshift64* - small, fast, deterministic. State must be non-zero. */
typedef struct { uint64_t s; } rng_t;

static inline void rng_seed(rng_t *r, uint64_t seed)
{
	r->s = seed ? seed : BENCH_SEED;
	/* decorrelate nearby seeds (thread ids) */
	r->s ^= r->s >> 31;
	r->s *= 0xBF58476D1CE4E5B9ull;
	r->s ^= r->s >> 29;
	if (!r->s)
		r->s = BENCH_SEED;
}

static inline uint64_t rng_next(rng_t *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/*
 * uniform in [0, n): the high half of x * n, a multiply instead of a
 * division. A 64-bit division by a run-time n costs more than an
 * allocator's malloc+free pair and made single-size loops measure the
 * divider (Documentation/benchmarks.md, "where a single-size loop's
 * time goes").
 */
static inline size_t rng_below(rng_t *r, size_t n)
{
	return (size_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/*
 * uniform in [0, n) for n <= 2^32 from 32 random bits: two draws from one
 * rng_next() (its high and low halves) without a division.
 */
static inline size_t rng_scale32(uint32_t bits, size_t n)
{
	return (size_t)(((uint64_t)bits * n) >> 32);
}

/* uniform in [lo, hi] (inclusive), by a multiply (rng_below()) */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static BENCH_UNUSED BENCH_NORETURN BENCH_PRINTF(1, 2) void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ERROR ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define bench_oom(sz) bench_die("%s:%d: allocation of %zu bytes failed", __FILE__, __LINE__, (size_t)(sz))

/*
 * The process's CPU time (user + system of all its threads, those that
 * exited included) at the first and at the last call of bench_now(): every
 * program calls bench_now() exactly twice, at the start and at the end of
 * its timed part, so bench_report() can print the CPU time of the same
 * part as cpu=, without the start-up (ld.so, the allocator's own set-up:
 * 3 ms of CPU with hakmem, 5 with jemalloc, 10 with tcmalloc on the Xeon
 * guest), the program's set-up and exit, which the child's CPU time as
 * its parent sees it includes.
 */
static BENCH_UNUSED double bench_cpu_mark[2] = { -1.0, -1.0 };

static inline double bench_cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return -1.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bench_now(void)
{
	struct timespec ts;
	double cpu = bench_cpu_now();

	if (bench_cpu_mark[0] < 0)
		bench_cpu_mark[0] = cpu;
	else
		bench_cpu_mark[1] = cpu;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static BENCH_UNUSED long bench_ru_maxrss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss; /* kilobytes on Linux */
}

/*
 * Peak RSS of this process in KiB.  ru_maxrss is not usable as is: Linux
 * carries it across fork+execve, so a benchmark started by a 15 MB Python
 * runner reports at least 15 MB.  VmHWM in /proc/self/status belongs to the
 * address space created by execve and is exact; ru_maxrss is the fallback.
 */
static BENCH_UNUSED long bench_peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "VmHWM:", 6)) {
				kb = strtol(line + 6, NULL, 10);
				break;
			}
		fclose(f);
	}
	return kb > 0 ? kb : bench_ru_maxrss_kb();
}

/* Parse argv[idx] as an unsigned number (k/m/g suffixes allowed) or return def. */
static BENCH_UNUSED uint64_t bench_arg(int argc, char **argv, int idx, uint64_t def)
{
	char *end;
	unsigned long long v;

	if (idx >= argc || !argv[idx][0] || !strcmp(argv[idx], "-"))
		return def;
	errno = 0;
	v = strtoull(argv[idx], &end, 0);
	if (errno)
		bench_die("bad numeric argument '%s'", argv[idx]);
	switch (*end) {
	case 'k': case 'K': v *= 1024ull; end++; break;
	case 'm': case 'M': v *= 1024ull * 1024; end++; break;
	case 'g': case 'G': v *= 1024ull * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end)
		bench_die("bad numeric argument '%s'", argv[idx]);
	return v;
}

/* A byte derived from a tag, used to stamp and check blocks. */
static inline unsigned char bench_tag8(uint64_t t)
{
	t *= 0x9E3779B97F4A7C15ull;
	return (unsigned char)(t >> 56) | 1; /* never 0: catches zeroed memory */
}

/*
 * Placement of a multi-threaded program's workers.  On a machine shared
 * with other work, two runnable threads of one program often run on one
 * CPU in turns, or on two CPUs, as the scheduler's balancing and the
 * load have it, and the two regimes differ by up to 3x in wall clock
 * (cross-core frees, cache lines moving between cores); a median of
 * rounds mixes them (Documentation/benchmarks.md, "fifteenth session:
 * multi-threaded cases pinned").  bench_pin_setup(n) decides once, before
 * the workers start: with at least n CPUs in the affinity mask, n >= 2
 * and BENCH_PIN not set to 0, worker i is pinned to the i-th allowed
 * CPU (modulo their count) by bench_thread_begin(i); otherwise nothing
 * is pinned.  BENCH_PIN=2 pins every worker to the first allowed CPU
 * instead (the threads take turns on one CPU: the other regime, for
 * comparison).  pin= of the RESULT line is 1, 0 or 2 accordingly.  Pinning does not give the program more CPU time than the
 * scheduler grants it: with more runnable work elsewhere the workers
 * still wait, and runq= on the RESULT line says how much.  n < 2 pins
 * nothing and still adds pin=0 par= runq= to the RESULT line.  A worker
 * calls bench_thread_begin(i) first and bench_thread_end() last, before
 * anything the timing main thread waits for (bench_run_threads() does
 * both).
 */
static BENCH_UNUSED int bench_pin_cpu[64];
static BENCH_UNUSED int bench_pin_ncpu = -1;	/* -1: no bench_pin_setup(); 0: not pinned */
static BENCH_UNUSED int bench_pinned = -1;	/* pin= of the RESULT line; -1: not printed */
static BENCH_UNUSED _Atomic uint64_t bench_sched_run_ns, bench_sched_wait_ns;
static BENCH_UNUSED __thread uint64_t bench_thr_run0, bench_thr_wait0;
static BENCH_UNUSED __thread int bench_thr_sched_ok;

static BENCH_UNUSED void bench_pin_setup(unsigned long nthreads)
{
	const char *e = getenv("BENCH_PIN");
	cpu_set_t set;
	int c, n = 0, one;

	bench_pin_ncpu = 0;
	bench_pinned = 0;
	if (nthreads < 2 || (e && !strcmp(e, "0")))
		return;
	one = e && !strcmp(e, "2");
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (c = 0; c < CPU_SETSIZE && n < 64; c++)
		if (CPU_ISSET(c, &set))
			bench_pin_cpu[n++] = c;
	if (one && n) {
		bench_pin_ncpu = 1;
		bench_pinned = 2;
	} else if ((unsigned long)n >= nthreads) {
		bench_pin_ncpu = n;
		bench_pinned = 1;
	}
}

/*
 * This thread's time on a CPU and waiting for one (ns), from
 * /proc/thread-self/schedstat; read with system calls only, no stdio,
 * so that the allocator under test is not called.
 */
static BENCH_UNUSED int bench_sched_read(uint64_t *run, uint64_t *wait)
{
	char buf[128], *end;
	int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	*run = strtoull(buf, &end, 10);
	if (end == buf)
		return 0;
	*wait = strtoull(end, NULL, 10);
	return 1;
}

/* At the start of worker i: pin it (bench_pin_setup()), note its schedstat. */
static BENCH_UNUSED void bench_thread_begin(unsigned long i)
{
	if (bench_pin_ncpu > 0) {
		cpu_set_t set;
		int cpu = bench_pin_cpu[i % (unsigned long)bench_pin_ncpu];

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			bench_die("cannot pin worker %lu to CPU %d", i, cpu);
	}
	bench_thr_sched_ok = bench_sched_read(&bench_thr_run0, &bench_thr_wait0);
}

/* At the end of a worker: add its time on a CPU and waiting for one. */
static BENCH_UNUSED void bench_thread_end(void)
{
	uint64_t run, wait;

	if (bench_thr_sched_ok && bench_sched_read(&run, &wait)) {
		atomic_fetch_add(&bench_sched_run_ns, run - bench_thr_run0);
		atomic_fetch_add(&bench_sched_wait_ns, wait - bench_thr_wait0);
	}
}

struct bench_thread_arg {
	void *(*fn)(void *);
	unsigned long i;
};

static BENCH_UNUSED void *bench_thread_main(void *a)
{
	struct bench_thread_arg *ta = a;
	void *r;

	bench_thread_begin(ta->i);
	r = ta->fn((void *)(uintptr_t)ta->i);
	bench_thread_end();
	return r;
}

/*
 * Run fn in n threads (at most 64), each given its index as the argument,
 * and wait for them all; placed by bench_pin_setup(n) and
 * bench_thread_begin().
 */
static BENCH_UNUSED void bench_run_threads(unsigned long n, void *(*fn)(void *))
{
	struct bench_thread_arg ta[64];
	pthread_t tid[64];
	unsigned long t;

	if (n > 64)
		bench_die("at most 64 threads");
	if (bench_pin_ncpu < 0)
		bench_pin_setup(n);
	for (t = 0; t < n; t++) {
		ta[t].fn = fn;
		ta[t].i = t;
		if (pthread_create(&tid[t], NULL, bench_thread_main, &ta[t]))
			bench_die("pthread_create failed");
	}
	for (t = 0; t < n; t++)
		pthread_join(tid[t], NULL);
}

/* Stamp the first and last byte of a block. */

static inline void bench_stamp(void *p, size_t sz, uint64_t tag)
{
	unsigned char *c = (unsigned char *)p;

	c[sz - 1] = bench_tag8(tag + 1);
	c[0] = bench_tag8(tag);
}

static inline int bench_check(const void *p, size_t sz, uint64_t tag)
{
	const unsigned char *c = (const unsigned char *)p;

	return c[0] == bench_tag8(tag) && (sz == 1 || c[sz - 1] == bench_tag8(tag + 1));
}

/*
 * A block that says its own size: a header of the bytes asked for and a
 * tag, the tag's byte in the block's last byte (bench_pool, bench_xmalloc:
 * blocks of many sizes freed by another thread, which checks them).
 */
struct bench_blk {
	uint32_t size;		/* bytes asked for */
	uint32_t tag;		/* bench_tag8 input of the last byte */
};

static inline struct bench_blk *bench_blk_new(size_t sz, uint32_t tag)
{
	struct bench_blk *h = malloc(sz);

	if (!h)
		bench_oom(sz);
	h->size = (uint32_t)sz;
	h->tag = tag;
	((unsigned char *)h)[sz - 1] = bench_tag8(tag);
	return h;
}

/* Check a block's size (in [min, max]) and last byte, then free it. */
static inline void bench_blk_free(struct bench_blk *h, size_t min, size_t max, const char *what)
{
	if (h->size < min || h->size > max ||
	    ((unsigned char *)h)[h->size - 1] != bench_tag8(h->tag))
		bench_die("%s block corrupted (size %llu)", what, (unsigned long long)h->size);
	free(h);
}

static BENCH_UNUSED void bench_report(const char *name, uint64_t ops, double secs, const char *extra_fmt, ...)
{
	char extra[256] = "";
	char cpu[48] = "";
	char par[96] = "";

	if (extra_fmt) {
		va_list ap;

		extra[0] = ' ';
		va_start(ap, extra_fmt);
		vsnprintf(extra + 1, sizeof(extra) - 1, extra_fmt, ap);
		va_end(ap);
	}
	if (bench_cpu_mark[0] >= 0 && bench_cpu_mark[1] >= bench_cpu_mark[0])
		snprintf(cpu, sizeof(cpu), " cpu=%.6f", bench_cpu_mark[1] - bench_cpu_mark[0]);
	if (secs <= 0)
		secs = 1e-9;
	if (bench_pinned >= 0) {
		uint64_t run = atomic_load(&bench_sched_run_ns);
		uint64_t wait = atomic_load(&bench_sched_wait_ns);
		int k = snprintf(par, sizeof(par), " pin=%d", bench_pinned);

		if (cpu[0])
			k += snprintf(par + k, sizeof(par) - k, " par=%.2f",
				      (bench_cpu_mark[1] - bench_cpu_mark[0]) / secs);
		if (run + wait)
			snprintf(par + k, sizeof(par) - k, " runq=%.3f", (double)wait / (double)(run + wait));
	}
	printf("RESULT name=%s ops=%llu seconds=%.6f mops=%.4f peak_rss_kb=%ld ru_maxrss_kb=%ld%s%s%s\n",
	       name, (unsigned long long)ops, secs, (double)ops / secs / 1e6,
	       bench_peak_rss_kb(), bench_ru_maxrss_kb(), cpu, extra, par);
	fflush(stdout);
}

#endif /* HAKMEM_BENCH_COMMON_H */
