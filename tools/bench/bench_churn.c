// SPDX-License-Identifier: MIT
/*
 * bench_churn THREADS SLOTS MIN MAX DIST ITERS [TOUCH] [SHARED] [ALIGN]
 *
 * Working-set churn with blocks that are not touched before they are
 * freed. Each thread keeps SLOTS live blocks and ITERS times replaces a
 * random one: free the old block, malloc a new one. Sizes are drawn from
 * [MIN, MAX], uniformly (DIST 0) or with density proportional to
 * 1/size^2 (DIST 1: mostly small, now and then a big one, as in real
 * programs). DIST 2 draws the same sizes as DIST 1 ahead, into a table of
 * SIZE_TABLE sizes per thread, and reads them in turn, as glibc's
 * bench-malloc-thread does: the size of each malloc is then a load,
 * where DIST 1 computes it with a chain of about 40 cycles (a division)
 * right before the call, so that malloc learns its class late. The two
 * can rank allocators differently (Documentation/benchmarks.md,
 * "forty-ninth session").
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
 *
 * SHARED 1 makes the SLOTS one array for all threads (each thread
 * allocates its stripe of SLOTS / THREADS first, then all replace random
 * slots of the whole array by an atomic exchange): a block is freed by
 * whichever thread draws its slot, with THREADS threads mostly not the
 * thread that allocated it, long after its allocation and untouched
 * since. Remote frees of cold blocks, as a concurrent cache's eviction
 * does them; the other remote-free programs (bench_xmalloc,
 * bench_xthread) read each block just before freeing it.
 *
 * ALIGN above 0 (a power of two, at least sizeof(void *)) allocates
 * every block with posix_memalign(ALIGN, size), as C++17's aligned new,
 * aligned_alloc() and the vector code of many programs (32 or 64 bytes:
 * AVX, cache lines) do; 0, the default, calls malloc().
 */
#include <pthread.h>
#include <stdatomic.h>
#include "bench_common.h"

#define SIZE_TABLE	8000		/* DIST 2: sizes drawn ahead, per thread */

static unsigned long nthreads, slots, min_size, max_size, dist, iters, touch, shared, align;
static _Thread_local unsigned int *size_table;	/* DIST 2: this thread's sizes */
static _Thread_local unsigned int size_at;	/* DIST 2: the next one to read */
static void *_Atomic *shared_v;		/* SHARED 1: the one array of slots */
static pthread_barrier_t shared_filled;	/* every stripe allocated */
static pthread_barrier_t shared_done;	/* no thread exchanges any more */

static size_t draw_size_now(rng_t *r)
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

/* DIST 2: this thread's table of sizes, drawn as DIST 1 draws them. */
static void size_table_fill(rng_t *r)
{
	unsigned int i;

	size_table = malloc(SIZE_TABLE * sizeof(*size_table));
	if (!size_table)
		bench_oom(SIZE_TABLE * sizeof(*size_table));
	for (i = 0; i < SIZE_TABLE; i++)
		size_table[i] = (unsigned int)draw_size_now(r);
	size_at = 0;
}

static size_t draw_size(rng_t *r)
{
	size_t sz;

	if (dist != 2)
		return draw_size_now(r);
	sz = size_table[size_at];
	size_at = size_at + 1 == SIZE_TABLE ? 0 : size_at + 1;
	return sz;
}

static void *new_block(rng_t *r)
{
	size_t sz = draw_size(r);
	unsigned char *p;

	if (align) {
		void *q;

		if (posix_memalign(&q, align, sz))
			bench_oom(sz);
		p = q;
	} else {
		p = malloc(sz);
	}
	if (!p)
		bench_oom(sz);
	if (touch == 1)
		p[0] = (unsigned char)sz;
	else if (touch == 2)
		memset(p, (int)(sz & 0xff), sz);
	return p;
}

/* SHARED 1: fill this thread's stripe, churn the whole array, free the stripe. */
static void shared_worker(unsigned long id, rng_t *r)
{
	unsigned long lo = slots * id / nthreads, hi = slots * (id + 1) / nthreads;
	unsigned long i;

	for (i = lo; i < hi; i++)
		atomic_store_explicit(&shared_v[i], new_block(r), memory_order_relaxed);
	pthread_barrier_wait(&shared_filled);
	for (i = 0; i < iters; i++) {
		size_t k = rng_below(r, slots);

		free(atomic_exchange_explicit(&shared_v[k], new_block(r),
					      memory_order_acq_rel));
	}
	pthread_barrier_wait(&shared_done);
	for (i = lo; i < hi; i++)
		free(atomic_load_explicit(&shared_v[i], memory_order_relaxed));
}

static void *worker(void *arg)
{
	rng_t r;
	void **v;
	unsigned long i;

	rng_seed(&r, (uint64_t)(uintptr_t)arg + 1);
	if (dist == 2)
		size_table_fill(&r);
	if (shared) {
		shared_worker((unsigned long)(uintptr_t)arg, &r);
		free(size_table);
		return NULL;
	}
	v = malloc(slots * sizeof(*v));
	if (!v)
		bench_oom(slots * sizeof(*v));
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
	free(size_table);
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
	shared = bench_arg(argc, argv, 8, 0);
	align = bench_arg(argc, argv, 9, 0);
	if (!nthreads || nthreads > 64 || !slots || !min_size || min_size > max_size ||
	    dist > 2 || shared > 1 || (shared && slots < nthreads) ||
	    (align && (align < sizeof(void *) || (align & (align - 1)))))
		bench_die("usage: bench_churn THREADS(1-64) SLOTS MIN MAX DIST(0-2) ITERS [TOUCH] "
			  "[SHARED(0-1, SLOTS >= THREADS)] [ALIGN(0 or a power of two >= 8)]");
	if (shared) {
		shared_v = malloc(slots * sizeof(*shared_v));
		if (!shared_v)
			bench_oom(slots * sizeof(*shared_v));
		if (pthread_barrier_init(&shared_filled, NULL, (unsigned)nthreads) ||
		    pthread_barrier_init(&shared_done, NULL, (unsigned)nthreads))
			bench_die("pthread_barrier_init failed");
	}
	t0 = bench_now();
	bench_run_threads(nthreads, worker);
	t1 = bench_now();
	if (shared) {
		pthread_barrier_destroy(&shared_filled);
		pthread_barrier_destroy(&shared_done);
		free(shared_v);
	}
	bench_report("churn", (uint64_t)(nthreads * iters), t1 - t0,
		     "threads=%lu slots=%lu min=%lu max=%lu dist=%lu touch=%lu shared=%lu align=%lu",
		     nthreads, slots, min_size, max_size, dist, touch, shared, align);
	return 0;
}
