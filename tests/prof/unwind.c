// SPDX-License-Identifier: MIT
/*
 * tests/prof/unwind.c - call stacks of many shapes, for the heap
 * profiler's unwinder (mm/prof/unwind.c). tests/prof/run.sh runs it with
 * a sample for every allocation (HAKMEM_PROF_SAMPLE=1), once with the
 * profiler's own unwinder and once with HAKMEM_PROF_UNWIND=libgcc, and
 * compares the stacks google-pprof reads from the two exit dumps: they
 * must be the same. The blocks are kept, so that the exit dump has them.
 *
 * The shapes: recursion without a frame pointer, a frame pointer, a
 * variable-length array (the CFA from rbp), C library frames (qsort's
 * callback), a second thread, a signal handler (a signal frame: libgcc
 * unwinds it), a call through a function pointer, and three call sites
 * in turn (the profiler's two memos of the last stacks).
 *
 *   unwind                 print "unwind: done"
 *   unwind stats           the same, then the profiler's sample counts
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NR	40

/* include/hakmem.h's; the test needs no other of its declarations. */
extern int hak_option_get(const char *name, unsigned long *value);

static void *keep[4096];
static unsigned int nkeep;

static __attribute__((noinline)) void take(size_t size)
{
	void *p = malloc(size);

	if (!p || nkeep == sizeof(keep) / sizeof(keep[0]))
		abort();
	memset(p, 1, size);
	keep[nkeep++] = p;
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline, optimize("omit-frame-pointer"))) void deep(int n)
{
	if (n > 0) {
		deep(n - 1);
		__asm__ __volatile__("" ::: "memory");
	} else {
		take(48);
	}
}

static __attribute__((noinline, optimize("no-omit-frame-pointer"))) void with_fp(int n)
{
	int i;

	for (i = 0; i < n; i++)
		take(64);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void with_vla(int n)
{
	volatile char buf[n * 16 + 1];
	int i;

	buf[0] = 0;
	for (i = 0; i < n; i++)
		take(80 + buf[0]);
}

static int cmp_int(const void *a, const void *b)
{
	static unsigned int calls;

	if (calls++ < NR)
		take(96);
	return *(const int *)a - *(const int *)b;
}

static __attribute__((noinline)) void in_qsort(void)
{
	int v[64], i;

	for (i = 0; i < 64; i++)
		v[i] = (i * 37) % 64;
	qsort(v, 64, sizeof(v[0]), cmp_int);
}

static void *thread_main(void *arg)
{
	deep(3);
	with_fp(NR);
	return arg;
}

static volatile int signals;

static void on_signal(int sig)
{
	take(112);
	signals += sig;		/* not a tail call: on_signal stays in the stack */
}

static void (*volatile indirect)(int) = with_vla;

/*
 * Three call sites in turn, from frames of the same size: the profiler
 * remembers its last two stacks (mm/prof/unwind.h), so that the second
 * matches and the two swap (a, b, a, b), and the third replaces one.
 * Each site its own size: a sample taken for another site's stack shows
 * in the bytes.
 */
static __attribute__((noinline)) void site_a(void)
{
	take(128);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void site_b(void)
{
	take(144);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void site_c(int n)
{
	if (n > 0)
		site_c(n - 1);
	else
		take(160);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void in_turn(void)
{
	int i;

	for (i = 0; i < NR; i++) {
		site_a();
		site_b();
		if (i % 3 == 0)
			site_c(2);
	}
}

int main(int argc, char **argv)
{
	pthread_t t;
	int i;

	for (i = 0; i < NR; i++)
		deep(i % 12);
	with_fp(NR);
	with_vla(NR);
	indirect(NR);
	in_qsort();
	in_turn();
	if (pthread_create(&t, NULL, thread_main, NULL) || pthread_join(t, NULL))
		return 1;
	signal(SIGUSR1, on_signal);
	for (i = 0; i < 4; i++)
		raise(SIGUSR1);
	if (argc > 1 && !strcmp(argv[1], "stats")) {
		unsigned long samples = 0, libgcc = 0;

		if (hak_option_get("stat.prof_samples", &samples) ||
		    hak_option_get("stat.prof_libgcc_unwinds", &libgcc)) {
			if (errno != ENOSYS) {
				perror("unwind: hak_option_get(stat.prof_*)");
				return 1;
			}
			printf("unwind: no stats (CONFIG_OPTIONS is off)\n");
		} else {
			printf("unwind: samples %lu libgcc %lu\n", samples, libgcc);
		}
	}
	printf("unwind: done\n");
	return 0;
}
