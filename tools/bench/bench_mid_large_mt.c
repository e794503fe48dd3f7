// SPDX-License-Identifier: MIT
/*
 * bench_mid_large_mt THREADS [ITERS_PER_THREAD] [WORKSET]
 *
 * THREADS threads, each with its own private workset (default 256 blocks)
 * of random sizes 1 B .. 32 KiB.  Each step frees a random block of the
 * thread's own workset and allocates a new one; nothing is shared between
 * threads, so an allocator with good per-thread heaps scales linearly.
 * Compare the 1-thread and 2-thread runs to see the scaling.
 * One op = one free + one malloc; ops is the total over all threads and
 * mops is total ops / wall time from a common start barrier to the last join.
 */
#include <pthread.h>
#include "bench_common.h"

#define MAXSZ (32 * 1024)

struct targ {
	pthread_t tid;
	int id;
	uint64_t iters;
	size_t ws;
};

static pthread_barrier_t start_barrier;

static void *worker(void *arg)
{
	struct targ *a = arg;
	void **slot = malloc(a->ws * sizeof(*slot));
	size_t *sz = malloc(a->ws * sizeof(*sz));
	uint64_t *tag = malloc(a->ws * sizeof(*tag));
	rng_t r;

	bench_thread_begin((unsigned long)a->id);
	if (!slot || !sz || !tag)
		bench_oom(a->ws * sizeof(*slot));
	rng_seed(&r, BENCH_SEED + (uint64_t)a->id);
	for (size_t i = 0; i < a->ws; i++) {
		sz[i] = rng_range(&r, 1, MAXSZ);
		slot[i] = malloc(sz[i]);
		if (!slot[i])
			bench_oom(sz[i]);
		tag[i] = i;
		bench_stamp(slot[i], sz[i], i);
	}
	pthread_barrier_wait(&start_barrier);
	for (uint64_t n = 0; n < a->iters; n++) {
		uint64_t x = rng_next(&r);
		size_t i = rng_scale32((uint32_t)(x >> 32), a->ws);
		size_t s = 1 + rng_scale32((uint32_t)x, MAXSZ);
		void *p = slot[i];

		if (!bench_check(p, sz[i], tag[i]))
			bench_die("mid_large_mt: thread %d block %p (size %zu) corrupted", a->id, p, sz[i]);
		free(p);
		p = malloc(s);
		if (!p)
			bench_oom(s);
		slot[i] = p;
		sz[i] = s;
		tag[i] = n;
		bench_stamp(p, s, n);
	}
	for (size_t i = 0; i < a->ws; i++) {
		if (!bench_check(slot[i], sz[i], tag[i]))
			bench_die("mid_large_mt: thread %d block corrupted at exit", a->id);
		free(slot[i]);
	}
	free(slot);
	free(sz);
	free(tag);
	bench_thread_end();
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = (int)bench_arg(argc, argv, 1, 1);
	uint64_t iters = bench_arg(argc, argv, 2, 4000000);
	size_t ws = bench_arg(argc, argv, 3, 256);
	struct targ *t;
	double t0, t1;

	if (nthreads < 1 || nthreads > 1024 || ws < 1)
		bench_die("usage: %s THREADS [ITERS_PER_THREAD] [WORKSET]", argv[0]);
	t = calloc((size_t)nthreads, sizeof(*t));
	if (!t)
		bench_oom(nthreads * sizeof(*t));
	bench_pin_setup((unsigned long)nthreads);
	pthread_barrier_init(&start_barrier, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		t[i].id = i;
		t[i].iters = iters;
		t[i].ws = ws;
		if (pthread_create(&t[i].tid, NULL, worker, &t[i]))
			bench_die("pthread_create failed");
	}
	pthread_barrier_wait(&start_barrier);
	t0 = bench_now();
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i].tid, NULL);
	t1 = bench_now();
	pthread_barrier_destroy(&start_barrier);
	free(t);
	bench_report("mid_large_mt", iters * (uint64_t)nthreads, t1 - t0, "threads=%d workset=%zu", nthreads, ws);
	return 0;
}
