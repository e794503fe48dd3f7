// SPDX-License-Identifier: MIT
/*
 * bench_rebuild [THREADS=4] [MB=25] [MIN=16] [MAX=1024] [ROUNDS=2]
 *
 * Worker threads build a structure and exit; the main thread frees it and
 * builds the next one itself. Each round starts THREADS threads, each of
 * which allocates blocks of sizes uniform in [MIN, MAX] until it holds MB
 * MiB, writes every byte, and exits, leaving its blocks to the main
 * thread; the main thread checks and frees them all (blocks of threads
 * that have exited), then allocates and fills as many bytes itself
 * (THREADS x MB MiB), checks and frees those. A batch job that fans out
 * and gathers, a server that replaces its worker pool.
 *
 * What it shows is the peak RSS (the last figure of the RESULT line):
 * an allocator whose freed blocks stay with the exited threads' heaps
 * builds the main thread's structure in new memory and holds both
 * (twice THREADS x MB MiB); one that lets the main thread reuse them
 * stays near THREADS x MB. The time is one op per block allocated and
 * freed.
 */
#include <pthread.h>
#include "bench_common.h"

#define MAXT	64

struct built {
	void **v;		/* the blocks */
	size_t *sz;		/* their sizes */
	size_t n;		/* how many */
	uint64_t tag;		/* the stamp of the first one */
};

static size_t mbytes, min_size, max_size;
static struct built built[MAXT];

static void build(struct built *b, uint64_t seed)
{
	size_t cap = 1024, total = 0;
	rng_t r;

	rng_seed(&r, seed);
	b->v = malloc(cap * sizeof(*b->v));
	b->sz = malloc(cap * sizeof(*b->sz));
	if (!b->v || !b->sz)
		bench_oom(cap * sizeof(*b->v));
	b->n = 0;
	b->tag = seed;
	while (total < mbytes) {
		size_t s = rng_range(&r, min_size, max_size);

		if (b->n == cap) {
			cap *= 2;
			b->v = realloc(b->v, cap * sizeof(*b->v));
			b->sz = realloc(b->sz, cap * sizeof(*b->sz));
			if (!b->v || !b->sz)
				bench_oom(cap * sizeof(*b->v));
		}
		b->v[b->n] = malloc(s);
		if (!b->v[b->n])
			bench_oom(s);
		memset(b->v[b->n], (int)bench_tag8(b->tag + b->n), s);
		b->sz[b->n] = s;
		total += s;
		b->n++;
	}
}

static void unbuild(struct built *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const unsigned char *c = b->v[i];
		unsigned char want = bench_tag8(b->tag + i);

		if (c[0] != want || c[b->sz[i] / 2] != want || c[b->sz[i] - 1] != want)
			bench_die("rebuild: block %zu (size %zu) corrupted", i, b->sz[i]);
		free(b->v[i]);
	}
	free(b->v);
	free(b->sz);
	b->n = 0;
}

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)(uintptr_t)arg;

	build(&built[id % MAXT], BENCH_SEED + id);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long nthreads = bench_arg(argc, argv, 1, 4);
	unsigned long rounds;
	pthread_t tid[MAXT];
	uint64_t ops = 0;
	double t0, t1;

	mbytes = (size_t)bench_arg(argc, argv, 2, 25) << 20;
	min_size = bench_arg(argc, argv, 3, 16);
	max_size = bench_arg(argc, argv, 4, 1024);
	rounds = bench_arg(argc, argv, 5, 2);
	if (nthreads < 1 || nthreads > MAXT || !mbytes || min_size < 1 || max_size < min_size ||
	    rounds < 1)
		bench_die("usage: %s [THREADS<=%d] [MB] [MIN] [MAX] [ROUNDS]", argv[0], MAXT);
	t0 = bench_now();
	for (unsigned long n = 0; n < rounds; n++) {
		struct built mine[MAXT];

		for (unsigned long t = 0; t < nthreads; t++)
			if (pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)(n * MAXT + t)))
				bench_die("pthread_create failed");
		for (unsigned long t = 0; t < nthreads; t++)
			pthread_join(tid[t], NULL);
		/* The exited threads' blocks, freed by the main thread. */
		for (unsigned long t = 0; t < nthreads; t++) {
			ops += built[t].n;
			unbuild(&built[t]);
		}
		/* The same again, built by the main thread itself. */
		for (unsigned long t = 0; t < nthreads; t++) {
			build(&mine[t], BENCH_SEED + 1000 + n * MAXT + t);
			ops += mine[t].n;
		}
		for (unsigned long t = 0; t < nthreads; t++)
			unbuild(&mine[t]);
	}
	t1 = bench_now();
	bench_report("rebuild", ops, t1 - t0, "threads=%lu mb=%zu min=%zu max=%zu rounds=%lu",
		     nthreads, mbytes >> 20, min_size, max_size, rounds);
	return 0;
}
