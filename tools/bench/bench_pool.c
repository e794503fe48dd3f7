// SPDX-License-Identifier: MIT
/*
 * bench_pool THREADS SLOTS MIN MAX ITERS
 *
 * Many threads allocating and freeing through one shared pool, the
 * pattern of stress tests such as xmalloc-test and mstress (written anew
 * here). The pool is one array of SLOTS block pointers shared by all
 * THREADS threads. Each step of a thread draws a slot, allocates a block
 * of a size drawn with density proportional to 1/size^2 on [MIN, MAX]
 * (mostly small, now and then a big one), writes its size and a tag in
 * its first words, swaps it into the slot, and frees the block it took
 * out after checking its header. A block therefore lives for a random
 * time (SLOTS steps on average) and is freed by whichever thread draws its
 * slot next: with two threads, half the frees are of another thread's
 * blocks, in no order, mixed with local frees.
 *
 * One op = one malloc + one free (of the block swapped out).
 */
#include <pthread.h>
#include "bench_common.h"

struct hdr {
	uint32_t size;		/* bytes asked for */
	uint32_t tag;		/* bench_tag8 input of the last byte */
};

static unsigned long nthreads, slots, min_size, max_size, iters;
static struct hdr **pool;

static size_t draw_size(rng_t *r)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double inv_lo = 1.0 / (double)min_size, inv_hi = 1.0 / (double)(max_size + 1);

	return (size_t)(1.0 / (inv_lo - u * (inv_lo - inv_hi)));
}

static struct hdr *new_block(rng_t *r, uint32_t tag)
{
	size_t sz = draw_size(r);
	struct hdr *h = malloc(sz);

	if (!h)
		bench_oom(sz);
	h->size = (uint32_t)sz;
	h->tag = tag;
	((unsigned char *)h)[sz - 1] = bench_tag8(tag);
	return h;
}

static void drop_block(struct hdr *h)
{
	if (!h)
		return;
	if (h->size < min_size || h->size > max_size ||
	    ((unsigned char *)h)[h->size - 1] != bench_tag8(h->tag))
		bench_die("pool block corrupted (size %llu)", (unsigned long long)h->size);
	free(h);
}

static void *worker(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	unsigned long i;
	rng_t r;

	rng_seed(&r, id + 11);
	for (i = 0; i < iters; i++) {
		size_t k = (size_t)((rng_next(&r) >> 16) % slots);
		struct hdr *h = new_block(&r, (uint32_t)((id << 28) + i));

		drop_block(__atomic_exchange_n(&pool[k], h, __ATOMIC_ACQ_REL));
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	double t0, t1;
	unsigned long t, k;
	rng_t r;

	nthreads = bench_arg(argc, argv, 1, 2);
	slots = bench_arg(argc, argv, 2, 4096);
	min_size = bench_arg(argc, argv, 3, 16);
	max_size = bench_arg(argc, argv, 4, 8192);
	iters = bench_arg(argc, argv, 5, 5000000);
	if (!nthreads || nthreads > 64 || !slots || min_size < sizeof(struct hdr) + 1 ||
	    min_size > max_size)
		bench_die("usage: bench_pool THREADS(1-64) SLOTS MIN(>=9) MAX ITERS");
	pool = calloc(slots, sizeof(*pool));
	if (!pool)
		bench_oom(slots * sizeof(*pool));
	rng_seed(&r, 3);
	for (k = 0; k < slots; k++)
		pool[k] = new_block(&r, (uint32_t)k);
	t0 = bench_now();
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)t))
			bench_die("pthread_create failed");
	for (t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	t1 = bench_now();
	for (k = 0; k < slots; k++)
		drop_block(pool[k]);
	free(pool);
	bench_report("pool", (uint64_t)(nthreads * iters), t1 - t0,
		     "threads=%lu slots=%lu min=%lu max=%lu",
		     nthreads, slots, min_size, max_size);
	return 0;
}
