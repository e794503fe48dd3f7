// SPDX-License-Identifier: MIT
/*
 * bench_stress [THREADS=4] [ROUNDS=40] [STEPS=25000] [LIVE=500] [XFER=1000]
 *              [XFER_PCT=25] [BIG_PER_MILLE=4]
 *
 * Threads that come and go while their blocks outlive them, in the manner
 * of the stress tests of the classic allocator suites (mimalloc's mstress
 * and the like; a pattern, not their code): ROUNDS rounds, each of which
 * starts THREADS threads (more threads than CPUs by default) and joins
 * them. A thread takes STEPS steps; each allocates a block and writes its
 * header (size and tag) and its last byte: a small one most of the time
 * (density 1/size^2 on 8 B..2 KiB, so that half are 16 B or less), and
 * BIG_PER_MILLE times in a thousand a big one, about log-uniform on 16
 * KiB..1 MiB, of which every 4 KiB page is written (a buffer that is filled). The
 * block goes into one of the thread's LIVE slots, whose old block is
 * checked and freed, or, XFER_PCT times in a hundred, into a random slot of
 * a table of XFER slots that all threads share and that outlives the
 * rounds (an atomic exchange; the block taken out, allocated by any
 * thread of this round or an earlier one, whose thread may have exited,
 * is checked and freed). At its end a thread frees its live slots; what
 * it put into the shared table stays there for later threads to free.
 * So a large part of the frees are of blocks of threads that have exited
 * (parked or adopted heaps), mixed with remote and local frees, while
 * threads start and exit all the time, and now and then a big buffer is
 * allocated and filled among them.
 *
 * One op = one step (a malloc and a free). Threads are not pinned: they
 * live for one round, as in bench_thread_churn.
 */
#include <pthread.h>
#include "bench_common.h"

#define SMALL_MIN	8
#define SMALL_MAX	2048
#define BIG_MIN		(16u << 10)
#define BIG_MAX		(1u << 20)

static unsigned long nthreads, rounds, steps, live, xfer, xfer_pct, big_pm;
static struct bench_blk *_Atomic *xfer_v;	/* the shared table */
static _Atomic uint64_t big_count;

/* 1/size^2 on [lo, hi]: the inverse of its distribution function. */
static size_t size_inverse_square(rng_t *r, double lo, double hi)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);

	return (size_t)(1.0 / (1.0 / lo - u * (1.0 / lo - 1.0 / hi)));
}

/*
 * About log-uniform on [BIG_MIN, BIG_MAX): a power of two drawn uniformly
 * (16 KiB .. 512 KiB), then a size uniform up to the next one.
 */
static size_t size_big(rng_t *r)
{
	unsigned int k = 14 + (unsigned int)rng_below(r, 6);

	return rng_range(r, (size_t)1 << k, ((size_t)2 << k) - 1);
}

static struct bench_blk *new_block(rng_t *r, uint32_t tag)
{
	size_t sz;
	struct bench_blk *h;

	if (rng_below(r, 1000) < big_pm) {
		sz = size_big(r);
		h = bench_blk_new(sz, tag);
		/* a filled buffer: every page written */
		for (size_t o = 4096; o < sz - 1; o += 4096)
			((unsigned char *)h)[o] = (unsigned char)o;
		atomic_fetch_add_explicit(&big_count, 1, memory_order_relaxed);
		return h;
	}
	sz = size_inverse_square(r, SMALL_MIN, SMALL_MAX);
	if (sz < sizeof(struct bench_blk) + 1)
		sz = sizeof(struct bench_blk) + 1;
	return bench_blk_new(sz, tag);
}

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)(uintptr_t)arg;
	struct bench_blk **slot = calloc(live, sizeof(*slot));
	rng_t r;

	if (!slot)
		bench_oom(live * sizeof(*slot));
	rng_seed(&r, BENCH_SEED + id);
	for (unsigned long s = 0; s < steps; s++) {
		struct bench_blk *h = new_block(&r, (uint32_t)(id * steps + s));
		struct bench_blk *old;

		if (rng_below(&r, 100) < xfer_pct) {
			size_t k = rng_below(&r, xfer);

			old = atomic_exchange_explicit(&xfer_v[k], h, memory_order_acq_rel);
		} else {
			size_t k = rng_below(&r, live);

			old = slot[k];
			slot[k] = h;
		}
		if (old)
			bench_blk_free(old, sizeof(struct bench_blk) + 1, BIG_MAX, "stress");
	}
	for (unsigned long k = 0; k < live; k++)
		if (slot[k])
			bench_blk_free(slot[k], sizeof(struct bench_blk) + 1, BIG_MAX, "stress");
	free(slot);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	double t0, t1;

	nthreads = bench_arg(argc, argv, 1, 4);
	rounds = bench_arg(argc, argv, 2, 40);
	steps = bench_arg(argc, argv, 3, 25000);
	live = bench_arg(argc, argv, 4, 500);
	xfer = bench_arg(argc, argv, 5, 1000);
	xfer_pct = bench_arg(argc, argv, 6, 25);
	big_pm = bench_arg(argc, argv, 7, 4);
	if (nthreads < 1 || nthreads > 64 || rounds < 1 || live < 1 || xfer < 1 ||
	    xfer_pct > 100 || big_pm > 1000)
		bench_die("usage: %s [THREADS<=64] [ROUNDS] [STEPS] [LIVE] [XFER] [XFER_PCT<=100] [BIG_PER_MILLE<=1000]",
			  argv[0]);
	xfer_v = calloc(xfer, sizeof(*xfer_v));
	if (!xfer_v)
		bench_oom(xfer * sizeof(*xfer_v));
	t0 = bench_now();
	for (unsigned long n = 0; n < rounds; n++) {
		for (unsigned long t = 0; t < nthreads; t++)
			if (pthread_create(&tid[t], NULL, worker,
					   (void *)(uintptr_t)(n * nthreads + t)))
				bench_die("pthread_create failed");
		for (unsigned long t = 0; t < nthreads; t++)
			pthread_join(tid[t], NULL);
	}
	t1 = bench_now();
	for (unsigned long k = 0; k < xfer; k++)
		if (xfer_v[k])
			bench_blk_free(xfer_v[k], sizeof(struct bench_blk) + 1, BIG_MAX, "stress");
	free(xfer_v);
	bench_report("stress", (uint64_t)rounds * nthreads * steps, t1 - t0,
		     "threads=%lu rounds=%lu live=%lu xfer=%lu xfer_pct=%lu big=%llu",
		     nthreads, rounds, live, xfer, xfer_pct,
		     (unsigned long long)atomic_load(&big_count));
	return 0;
}
