// SPDX-License-Identifier: MIT
/*
 * bench_pool THREADS SLOTS MIN MAX XFER ITERS
 *
 * Many threads allocating and freeing, with blocks passed between them
 * through shared slots, the pattern of stress tests such as xmalloc-test
 * and mstress (written anew here). Each thread keeps SLOTS live blocks of
 * its own and has SLOTS shared slots that the previous thread (in a ring)
 * fills. A step allocates a block of a size drawn with density
 * proportional to 1/size^2 on [MIN, MAX] (mostly small, now and then a big
 * one), writes its size and a tag, and then
 *
 *   - with probability XFER %, passes it on: swaps it into a random
 *     shared slot of the next thread (freeing what it finds there, a block
 *     of its own the next thread did not take yet), and takes a block out
 *     of a random shared slot of its own, allocated by the previous thread,
 *     which it checks and frees: a remote free;
 *   - otherwise replaces a random block of its own, checked and freed.
 *
 * So a block lives for a random time and about XFER/2 % of the frees are
 * of another thread's blocks, in no order, mixed with local frees, however
 * the threads are scheduled. With one thread every free is local.
 *
 * One op = one step: one malloc and, once the slots are full, one free
 * on average.
 */
#include <pthread.h>
#include "bench_common.h"

static unsigned long nthreads, slots, min_size, max_size, xfer, iters;
static struct bench_blk **shared;	/* thread t's shared slots: [t * slots, (t + 1) * slots) */

static size_t draw_size(rng_t *r)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double inv_lo = 1.0 / (double)min_size, inv_hi = 1.0 / (double)(max_size + 1);

	return (size_t)(1.0 / (inv_lo - u * (inv_lo - inv_hi)));
}

static struct bench_blk *new_block(rng_t *r, uint32_t tag)
{
	return bench_blk_new(draw_size(r), tag);
}

static void drop_block(struct bench_blk *h)
{
	if (!h)
		return;
	bench_blk_free(h, min_size, max_size, "pool");
}

static void *worker(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	struct bench_blk **own = calloc(slots, sizeof(*own));
	struct bench_blk **mine = shared + id * slots;
	struct bench_blk **next = shared + ((id + 1) % nthreads) * slots;
	unsigned long i;
	rng_t r;

	if (!own)
		bench_oom(slots * sizeof(*own));
	rng_seed(&r, id + 11);
	for (i = 0; i < slots; i++)
		own[i] = new_block(&r, (uint32_t)((id << 28) + i));
	for (i = 0; i < iters; i++) {
		uint64_t x = rng_next(&r);
		size_t k = rng_scale32((uint32_t)(x >> 32), slots);
		struct bench_blk *h = new_block(&r, (uint32_t)((id << 28) + i));

		if (rng_scale32((uint32_t)x, 100) < xfer) {
			drop_block(__atomic_exchange_n(&next[k], h, __ATOMIC_ACQ_REL));
			k = rng_below(&r, slots);
			drop_block(__atomic_exchange_n(&mine[k], NULL, __ATOMIC_ACQ_REL));
		} else {
			drop_block(own[k]);
			own[k] = h;
		}
	}
	for (i = 0; i < slots; i++)
		drop_block(own[i]);
	free(own);
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;
	unsigned long k;

	nthreads = bench_arg(argc, argv, 1, 2);
	slots = bench_arg(argc, argv, 2, 4096);
	min_size = bench_arg(argc, argv, 3, 16);
	max_size = bench_arg(argc, argv, 4, 8192);
	xfer = bench_arg(argc, argv, 5, 50);
	iters = bench_arg(argc, argv, 6, 3000000);
	if (!nthreads || nthreads > 64 || !slots || min_size < sizeof(struct bench_blk) + 1 ||
	    min_size > max_size || max_size > 0xffffffffu || xfer > 100)
		bench_die("usage: bench_pool THREADS(1-64) SLOTS MIN(>=9) MAX XFER(0-100) ITERS");
	shared = calloc(nthreads * slots, sizeof(*shared));
	if (!shared)
		bench_oom(nthreads * slots * sizeof(*shared));
	t0 = bench_now();
	bench_run_threads(nthreads, worker);
	t1 = bench_now();
	for (k = 0; k < nthreads * slots; k++)
		drop_block(shared[k]);
	free(shared);
	bench_report("pool", (uint64_t)(nthreads * iters), t1 - t0,
		     "threads=%lu slots=%lu min=%lu max=%lu xfer=%lu",
		     nthreads, slots, min_size, max_size, xfer);
	return 0;
}
