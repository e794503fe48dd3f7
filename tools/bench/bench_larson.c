// SPDX-License-Identifier: MIT
/*
 * bench_larson [LINEAGES] [GENERATIONS] [STEPS] [BLOCKS] [MIN] [MAX]
 *
 * Larson-style server workload (after Larson & Krishnan, "Memory allocation
 * for long-running server applications", ISMM'98).  LINEAGES (default 2)
 * chains of threads run concurrently.  Each chain owns an array of BLOCKS
 * (default 1000) live blocks of random size in [MIN, MAX] (default 16..1024).
 * A thread performs STEPS (default 50000) random replacements (check and
 * free a random block, allocate a new one, stamp it) and then hands the
 * whole array to a freshly created thread and exits, GENERATIONS (default
 * 200) times per chain.  So most frees hit blocks allocated by a thread
 * that has already exited: this exercises thread-exit handling, orphaned
 * heaps and remote frees, under thread churn with live objects.
 * The initial array is allocated by the main thread.
 * One op = one free + one malloc.
 */
#include <pthread.h>
#include "bench_common.h"

struct lineage {
	int id;
	int gen;
	int generations;
	uint64_t steps;
	size_t nblocks, lo, hi;
	void **blk;
	size_t *sz;
	uint64_t *tag;
	uint64_t seq;
	rng_t r;
	/*
	 * 64 bytes between the fields of neighbouring lineages (one calloc),
	 * whatever the array's alignment: each thread writes its seq and r
	 * at every step and reads its other fields, and without it the result
	 * depended on where calloc() put the array (glibc at 32 mod 64: no
	 * line shared; hakmem, mimalloc, jemalloc, tcmalloc at 0: l[0].seq,
	 * r and l[1].steps..lo on one line, bounced between the CPUs at
	 * every step). Documentation/benchmarks.md, "larson: the lineage
	 * array".
	 */
	char pad[64];
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;
static pthread_attr_t attr;

static void *worker(void *arg)
{
	struct lineage *l = arg;
	pthread_t next;

	/* a new generation inherits its creator's CPU: lineage k stays on one */
	bench_thread_begin((unsigned long)l->id);
	for (uint64_t n = 0; n < l->steps; n++) {
		uint64_t x = rng_next(&l->r);
		size_t i = rng_scale32((uint32_t)(x >> 32), l->nblocks);
		size_t s = l->lo + rng_scale32((uint32_t)x, l->hi - l->lo + 1);
		void *p = l->blk[i];

		if (!bench_check(p, l->sz[i], l->tag[i]))
			bench_die("larson: chain %d gen %d: block %p (size %zu) corrupted",
				  l->id, l->gen, p, l->sz[i]);
		free(p);
		p = malloc(s);
		if (!p)
			bench_oom(s);
		l->blk[i] = p;
		l->sz[i] = s;
		l->tag[i] = ++l->seq;
		bench_stamp(p, s, l->seq);
	}
	bench_thread_end();
	if (++l->gen < l->generations) {
		/* hand the live array over to a new thread, then exit */
		if (pthread_create(&next, &attr, worker, l))
			bench_die("larson: pthread_create failed");
		return NULL;
	}
	for (size_t i = 0; i < l->nblocks; i++) {
		if (!bench_check(l->blk[i], l->sz[i], l->tag[i]))
			bench_die("larson: chain %d: block corrupted at exit", l->id);
		free(l->blk[i]);
	}
	pthread_mutex_lock(&done_lock);
	done_count++;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int nl = (int)bench_arg(argc, argv, 1, 2);
	int gens = (int)bench_arg(argc, argv, 2, 200);
	uint64_t steps = bench_arg(argc, argv, 3, 50000);
	size_t nblocks = bench_arg(argc, argv, 4, 1000);
	size_t lo = bench_arg(argc, argv, 5, 16);
	size_t hi = bench_arg(argc, argv, 6, 1024);
	struct lineage *l;
	double t0, t1;

	if (nl < 1 || nl > 256 || gens < 1 || nblocks < 1 || lo < 1 || hi < lo)
		bench_die("usage: %s [LINEAGES] [GENERATIONS] [STEPS] [BLOCKS] [MIN] [MAX]", argv[0]);
	bench_pin_setup((unsigned long)nl);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	l = calloc((size_t)nl, sizeof(*l));
	if (!l)
		bench_oom(nl * sizeof(*l));
	for (int k = 0; k < nl; k++) {
		l[k].id = k;
		l[k].generations = gens;
		l[k].steps = steps;
		l[k].nblocks = nblocks;
		l[k].lo = lo;
		l[k].hi = hi;
		l[k].blk = malloc(nblocks * sizeof(void *));
		l[k].sz = malloc(nblocks * sizeof(size_t));
		l[k].tag = malloc(nblocks * sizeof(uint64_t));
		if (!l[k].blk || !l[k].sz || !l[k].tag)
			bench_oom(nblocks * sizeof(void *));
		rng_seed(&l[k].r, BENCH_SEED + 77 + (uint64_t)k);
		for (size_t i = 0; i < nblocks; i++) {
			size_t s = rng_range(&l[k].r, lo, hi);

			l[k].blk[i] = malloc(s);
			if (!l[k].blk[i])
				bench_oom(s);
			l[k].sz[i] = s;
			l[k].tag[i] = ++l[k].seq;
			bench_stamp(l[k].blk[i], s, l[k].seq);
		}
	}
	t0 = bench_now();
	for (int k = 0; k < nl; k++) {
		pthread_t t;

		if (pthread_create(&t, &attr, worker, &l[k]))
			bench_die("larson: pthread_create failed");
	}
	pthread_mutex_lock(&done_lock);
	while (done_count < nl)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	t1 = bench_now();
	for (int k = 0; k < nl; k++) {
		free(l[k].blk);
		free(l[k].sz);
		free(l[k].tag);
	}
	free(l);
	bench_report("larson", (uint64_t)nl * (uint64_t)gens * steps, t1 - t0,
		     "lineages=%d generations=%d threads=%llu", nl, gens,
		     (unsigned long long)nl * (unsigned long long)gens);
	return 0;
}
