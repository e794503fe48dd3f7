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
 * (user + system, all threads; bench_now()).
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
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

/* Stamp the first and last byte of a block. */
/*
 * Run fn in n threads (at most 64), each given its index as the argument,
 * and wait for them all.
 */
static BENCH_UNUSED void bench_run_threads(unsigned long n, void *(*fn)(void *))
{
	pthread_t tid[64];
	unsigned long t;

	if (n > 64)
		bench_die("at most 64 threads");
	for (t = 0; t < n; t++)
		if (pthread_create(&tid[t], NULL, fn, (void *)(uintptr_t)t))
			bench_die("pthread_create failed");
	for (t = 0; t < n; t++)
		pthread_join(tid[t], NULL);
}

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

static BENCH_UNUSED void bench_report(const char *name, uint64_t ops, double secs, const char *extra_fmt, ...)
{
	char extra[256] = "";
	char cpu[48] = "";

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
	printf("RESULT name=%s ops=%llu seconds=%.6f mops=%.4f peak_rss_kb=%ld ru_maxrss_kb=%ld%s%s\n",
	       name, (unsigned long long)ops, secs, (double)ops / secs / 1e6,
	       bench_peak_rss_kb(), bench_ru_maxrss_kb(), cpu, extra);
	fflush(stdout);
}

#endif /* HAKMEM_BENCH_COMMON_H */
