// SPDX-License-Identifier: MIT
/*
 * bench_request THREADS OBJS CACHE ITERS
 *
 * A server's request pattern: memory scoped to a request, plus a shared
 * cache of objects that outlive it (the pattern of web and key-value
 * servers, written anew here). THREADS worker threads each handle ITERS
 * requests. A request
 *
 *   - allocates a read buffer (4-64 KiB, the first 1 KiB written), 1..OBJS
 *     small objects of 16-512 B (parsed fields, strings, nodes; density
 *     proportional to 1/size^2) each written in full, and a response
 *     buffer (1-16 KiB, written in full);
 *   - puts one of its small objects into a cache shared by all threads
 *     (CACHE entries, a ring under a mutex) with probability 1/2; the
 *     entry it replaces, inserted by any thread, is freed by this one;
 *   - frees everything else at its end, in allocation order, as a
 *     request arena that is released at once would.
 *
 * One op = one request.
 */
#include <pthread.h>
#include "bench_common.h"

static unsigned long nthreads, objs, cache_n, iters;
static unsigned char **cache;
static unsigned long cache_pos;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t draw_small(rng_t *r)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double inv_lo = 1.0 / 16.0, inv_hi = 1.0 / 513.0;

	return (size_t)(1.0 / (inv_lo - u * (inv_lo - inv_hi)));
}

static void *xmalloc(size_t sz)
{
	void *p = malloc(sz);

	if (!p)
		bench_oom(sz);
	return p;
}

static void cache_put(unsigned char *p)
{
	unsigned char *old;

	pthread_mutex_lock(&cache_lock);
	old = cache[cache_pos];
	cache[cache_pos] = p;
	cache_pos = (cache_pos + 1) % cache_n;
	pthread_mutex_unlock(&cache_lock);
	if (old) {
		if (old[0] != old[old[1] + 15u])
			bench_die("cached object corrupted");
		free(old);
	}
}

static void *worker(void *arg)
{
	unsigned char **v = xmalloc((objs + 2) * sizeof(*v));
	unsigned long i;
	rng_t r;

	rng_seed(&r, (uint64_t)(uintptr_t)arg + 21);
	for (i = 0; i < iters; i++) {
		size_t n = rng_range(&r, 1, objs), j, keep = SIZE_MAX;
		size_t in = rng_range(&r, 4096, 65536), out = rng_range(&r, 1024, 16384);

		v[0] = xmalloc(in);
		memset(v[0], (int)(i & 0xff), 1024);
		for (j = 1; j <= n; j++) {
			size_t sz = draw_small(&r);

			v[j] = xmalloc(sz);
			memset(v[j], (int)(j & 0xff), sz);
			v[j][1] = (unsigned char)(sz - 16);	/* sz - 16 + 15 < sz */
		}
		v[n + 1] = xmalloc(out);
		memset(v[n + 1], (int)(n & 0xff), out);
		if (cache_n && (rng_next(&r) & 1))
			keep = rng_range(&r, 1, n);
		for (j = 0; j <= n + 1; j++) {
			if (j == keep)
				continue;
			if (j && j <= n && v[j][0] != v[j][v[j][1] + 15u])
				bench_die("request object corrupted");
			free(v[j]);
		}
		if (keep != SIZE_MAX)
			cache_put(v[keep]);
	}
	free(v);
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;
	unsigned long t;

	nthreads = bench_arg(argc, argv, 1, 2);
	objs = bench_arg(argc, argv, 2, 100);
	cache_n = bench_arg(argc, argv, 3, 16384);
	iters = bench_arg(argc, argv, 4, 100000);
	if (!nthreads || nthreads > 64 || !objs)
		bench_die("usage: bench_request THREADS(1-64) OBJS(>0) CACHE ITERS");
	cache = calloc(cache_n ? cache_n : 1, sizeof(*cache));
	if (!cache)
		bench_oom(cache_n * sizeof(*cache));
	t0 = bench_now();
	bench_run_threads(nthreads, worker);
	t1 = bench_now();
	for (t = 0; t < cache_n; t++)
		free(cache[t]);
	free(cache);
	bench_report("request", (uint64_t)(nthreads * iters), t1 - t0,
		     "threads=%lu objs=%lu cache=%lu", nthreads, objs, cache_n);
	return 0;
}
