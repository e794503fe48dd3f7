// SPDX-License-Identifier: MIT
/*
 * bench_churn THREADS SLOTS MIN MAX DIST ITERS [TOUCH]
 *
 * Working-set churn with blocks that are not touched before they are
 * freed. Each thread keeps SLOTS live blocks and ITERS times replaces a
 * random one: free the old block, malloc a new one. Sizes are drawn from
 * [MIN, MAX], uniformly (DIST 0) or with density proportional to
 * 1/size^2 (DIST 1: mostly small, now and then a big one, as in real
 * programs).
 *
 * TOUCH says what the program does with a new block:
 *   0  nothing: the block is freed long after its allocation, its cache
 *      lines long evicted; an allocator that reads the block in free
 *      pays a miss there (the default);
 *   1  write its first byte once (a program that initialises a header);
 *   2  fill it (memset), as a program that fills its buffers.
 * No mode reads a block before free: the other programs of tools/bench
 * check each block just before freeing it, which keeps it in cache and
 * hides that cost.
 *
 * With SLOTS far above what L2 holds (e.g. 262144 blocks of 16-512 B,
 * about 70 MB) every free touches a cold line.
 */
#include <pthread.h>
#include "bench_common.h"

static unsigned long nthreads, slots, min_size, max_size, dist, iters, touch;

static size_t draw_size(rng_t *r)
{
	double u, inv_lo, inv_hi;

	if (dist == 0 || min_size == max_size)
		return rng_range(r, min_size, max_size);
	/* inverse CDF of a density proportional to 1/x^2 on [lo, hi] */
	u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	inv_lo = 1.0 / (double)min_size;
	inv_hi = 1.0 / (double)(max_size + 1);
	return (size_t)(1.0 / (inv_lo - u * (inv_lo - inv_hi)));
}

static void *new_block(rng_t *r)
{
	size_t sz = draw_size(r);
	unsigned char *p = malloc(sz);

	if (!p)
		bench_oom(sz);
	if (touch == 1)
		p[0] = (unsigned char)sz;
	else if (touch == 2)
		memset(p, (int)(sz & 0xff), sz);
	return p;
}

static void *worker(void *arg)
{
	rng_t r;
	void **v = malloc(slots * sizeof(*v));
	unsigned long i;

	if (!v)
		bench_oom(slots * sizeof(*v));
	rng_seed(&r, (uint64_t)(uintptr_t)arg + 1);
	for (i = 0; i < slots; i++)
		v[i] = new_block(&r);
	for (i = 0; i < iters; i++) {
		size_t k = rng_below(&r, slots);

		free(v[k]);
		v[k] = new_block(&r);
	}
	for (i = 0; i < slots; i++)
		free(v[i]);
	free(v);
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;

	nthreads = bench_arg(argc, argv, 1, 2);
	slots = bench_arg(argc, argv, 2, 1024);
	min_size = bench_arg(argc, argv, 3, 4);
	max_size = bench_arg(argc, argv, 4, 32768);
	dist = bench_arg(argc, argv, 5, 1);
	iters = bench_arg(argc, argv, 6, 10000000);
	touch = bench_arg(argc, argv, 7, 0);
	if (!nthreads || nthreads > 64 || !slots || !min_size || min_size > max_size)
		bench_die("usage: bench_churn THREADS(1-64) SLOTS MIN MAX DIST ITERS [TOUCH]");
	t0 = bench_now();
	bench_run_threads(nthreads, worker);
	t1 = bench_now();
	bench_report("churn", (uint64_t)(nthreads * iters), t1 - t0,
		     "threads=%lu slots=%lu min=%lu max=%lu dist=%lu touch=%lu",
		     nthreads, slots, min_size, max_size, dist, touch);
	return 0;
}
