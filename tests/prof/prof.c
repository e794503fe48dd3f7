// SPDX-License-Identifier: MIT
/*
 * tests/prof/prof.c - known allocations from known functions, for the heap
 * profiler test (tests/prof/run.sh reads the dumps with google-pprof).
 *
 *   prof DIR
 *
 * Run with HAKMEM_PROF=1 (and a small HAKMEM_PROF_SAMPLE, so that the
 * sampling error is small). In this order:
 *
 *   alloc_a  64 MiB in 4 KiB blocks (malloc), kept
 *   alloc_b  16 MiB in 100-byte blocks (calloc), kept
 *   alloc_e  16 MiB in 16 KiB blocks, each from a different call stack
 *            (1024 paths through a binary tree of calls), kept: more
 *            stacks than the profiler's first stack table holds
 *   alloc_c  16 MiB in 512-byte blocks (aligned_alloc, 64), then freed:
 *            the peak (112 MiB) is here
 *   alloc_d  8 MiB: 4096 blocks grown by realloc from 16 B to 2 KiB, kept
 *   DIR/live.heap       hak_prof_dump: a 64, b 16, d 8, e 16 MiB (c: 0 live, 16 allocated)
 *   raise(SIGUSR2)      the signal dump (HAKMEM_PROF_SIGNAL=12): the same
 *   free alloc_a's blocks
 *   DIR/after.heap      hak_prof_dump: b 16, d 8, e 16
 *   DIR/peak.heap       hak_prof_dump_peak: a 64, b 16, e 16, c 16 (d: 0)
 *
 * and the exit dumps (HAKMEM_PROF_PREFIX) follow at exit. Also runs under
 * LD_PRELOAD (hak_prof_dump is a weak reference).
 *
 *   prof rate DIR
 *
 * Run with HAKMEM_PROF=1 and the default mean (HAKMEM_PROF_SAMPLE unset):
 *
 *   churn_a  2 GiB in 4 KiB blocks, each freed at once
 *   churn_b  2 GiB in 256-byte blocks, each freed at once
 *   DIR/rate.heap       hak_prof_dump: both, in --alloc_space
 *
 * and prints "rate: samples N" (stat.prof_samples, or -1 without
 * CONFIG_OPTIONS): at the default mean of 2 MiB, 4 GiB hold 2048 sample
 * points, +-45 (Poisson), and each function's 1024 samples put its
 * estimate within 3.1% (one standard error) of 2048 MB.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

#define A_N	16384		/* 4096 B each: 64 MiB */
#define B_N	167772		/* 100 B each: 16 MiB */
#define C_N	32768		/* 512 B each: 16 MiB */
#define D_N	4096		/* 2048 B each at the end: 8 MiB */
#define E_DEPTH	10		/* 2^10 blocks of 16 KiB: 16 MiB */

static void *a[A_N], *b[B_N], *c[C_N], *d[D_N], *e[1 << E_DEPTH];
static int e_n;
static volatile int e_sink;

static void oom(const char *what)
{
	fprintf(stderr, "prof: out of memory in %s\n", what);
	exit(2);
}

NOINLINE void alloc_a(void)
{
	for (int i = 0; i < A_N; i++)
		if (!(a[i] = malloc(4096)))
			oom("alloc_a");
}

NOINLINE void alloc_b(void)
{
	for (int i = 0; i < B_N; i++)
		if (!(b[i] = calloc(1, 100)))
			oom("alloc_b");
}

NOINLINE void alloc_c(void)
{
	for (int i = 0; i < C_N; i++)
		if (!(c[i] = aligned_alloc(64, 512)))
			oom("alloc_c");
}

NOINLINE void alloc_d(void)
{
	for (int i = 0; i < D_N; i++) {
		void *p = NULL;

		for (size_t n = 16; n <= 2048; n *= 2) {
			void *q = realloc(p, n);

			if (!q)
				oom("alloc_d");
			memset(q, 1, n);
			p = q;
		}
		d[i] = p;
	}
}

NOINLINE void e_leaf(void)
{
	if (!(e[e_n++] = malloc(16384)))
		oom("alloc_e");
}

NOINLINE void e_right(int depth, unsigned int path);

/* Two functions, chosen by the bits of path: 1024 different stacks. */
NOINLINE void e_left(int depth, unsigned int path)
{
	if (!depth)
		e_leaf();
	else if (path & 1)
		e_right(depth - 1, path >> 1);
	else
		e_left(depth - 1, path >> 1);
	e_sink++;	/* no tail call: every level keeps its frame */
}

NOINLINE void e_right(int depth, unsigned int path)
{
	if (!depth)
		e_leaf();
	else if (path & 1)
		e_right(depth - 1, path >> 1);
	else
		e_left(depth - 1, path >> 1);
	e_sink++;
}

NOINLINE void alloc_e(void)
{
	for (unsigned int path = 0; path < 1U << E_DEPTH; path++)
		e_left(E_DEPTH, path);
}

#define RATE_BYTES	(2UL << 30)	/* allocated by churn_a and by churn_b */

/* size-byte blocks, each freed at once, RATE_BYTES in all. */
static void churn(size_t size)
{
	for (unsigned long n = 0; n < RATE_BYTES / size; n++) {
		char *volatile p = malloc(size);

		if (!p)
			oom("churn");
		p[0] = 1;
		free(p);
	}
}

NOINLINE void churn_a(void)
{
	churn(4096);
	e_sink++;	/* no tail call: churn_a keeps its frame */
}

NOINLINE void churn_b(void)
{
	churn(256);
	e_sink++;
}

static void free_all(void **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

/* Weak: the program also runs under LD_PRELOAD, or without hakmem. */
extern int hak_prof_dump(const char *path) __attribute__((weak));
extern int hak_prof_dump_peak(const char *path) __attribute__((weak));

static void dump(int (*f)(const char *), const char *name, const char *dir, const char *file)
{
	char path[4096];

	if (!f) {
		fprintf(stderr, "prof: %s is not there: not running on hakmem?\n", name);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (f(path)) {
		perror(path);
		exit(1);
	}
}

extern int hak_option_get(const char *name, unsigned long *value) __attribute__((weak));

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";

	if (!strcmp(dir, "rate") && argc > 2) {
		unsigned long samples;

		churn_a();
		churn_b();
		dump(hak_prof_dump, "hak_prof_dump", argv[2], "rate.heap");
		if (!hak_option_get || hak_option_get("stat.prof_samples", &samples))
			printf("rate: samples -1\n");
		else
			printf("rate: samples %lu\n", samples);
		printf("prof: done\n");
		return 0;
	}

	alloc_a();
	alloc_b();
	alloc_e();
	alloc_c();
	free_all(c, C_N);
	alloc_d();
	dump(hak_prof_dump, "hak_prof_dump", dir, "live.heap");
	raise(SIGUSR2);
	free_all(a, A_N);
	dump(hak_prof_dump, "hak_prof_dump", dir, "after.heap");
	dump(hak_prof_dump_peak, "hak_prof_dump_peak", dir, "peak.heap");
	printf("prof: done\n");
	return 0;
}
