// SPDX-License-Identifier: MIT
/*
 * bench_thread_churn [BATCHES] [THREADS] [BURST] [MIN] [MAX]
 *
 * Thread creation/exit cost as seen by the allocator.  BATCHES times
 * (default 2000), THREADS threads (default 2) are created and joined; each
 * performs a burst of BURST (default 256) allocations of random size in
 * [MIN, MAX] (default 16..4096), stamps them, checks and frees all but 4,
 * and returns those 4 live blocks to the joining main thread, which checks
 * and frees them (a block outliving its allocating thread).
 * A thread's first malloc and its exit are where per-thread heaps / caches
 * get set up and torn down, so this measures that overhead.
 * One op = one malloc + one free; threads= gives the threads created.
 */
#include <pthread.h>
#include "bench_common.h"

#define KEEP 4

struct targ {
	pthread_t tid;
	uint64_t seed;
	size_t burst, lo, hi;
	void *keep[KEEP];
	size_t keep_sz[KEEP];
};

static void *worker(void *arg)
{
	struct targ *a = arg;
	void **v = malloc(a->burst * sizeof(void *));
	size_t *sz = malloc(a->burst * sizeof(size_t));
	rng_t r;

	if (!v || !sz)
		bench_oom(a->burst * sizeof(void *));
	rng_seed(&r, a->seed);
	for (size_t i = 0; i < a->burst; i++) {
		sz[i] = rng_range(&r, a->lo, a->hi);
		v[i] = malloc(sz[i]);
		if (!v[i])
			bench_oom(sz[i]);
		bench_stamp(v[i], sz[i], a->seed + i);
	}
	for (size_t i = 0; i < a->burst; i++) {
		if (!bench_check(v[i], sz[i], a->seed + i))
			bench_die("thread_churn: block %p corrupted", v[i]);
		if (i < KEEP) {
			a->keep[i] = v[i];
			a->keep_sz[i] = sz[i];
		} else {
			free(v[i]);
		}
	}
	free(v);
	free(sz);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t batches = bench_arg(argc, argv, 1, 2000);
	int nt = (int)bench_arg(argc, argv, 2, 2);
	size_t burst = bench_arg(argc, argv, 3, 256);
	size_t lo = bench_arg(argc, argv, 4, 16);
	size_t hi = bench_arg(argc, argv, 5, 4096);
	struct targ *t;
	pthread_attr_t attr;
	double t0, t1;

	if (nt < 1 || nt > 1024 || burst < KEEP || lo < 1 || hi < lo)
		bench_die("usage: %s [BATCHES] [THREADS] [BURST>=4] [MIN] [MAX]", argv[0]);
	t = calloc((size_t)nt, sizeof(*t));
	if (!t)
		bench_oom(nt * sizeof(*t));
	/*
	 * Not pinned, and no schedstat per thread (bench_thread_begin()):
	 * each thread lives for one burst (tens of microseconds), so a
	 * placement or two /proc reads per thread would add to the thread
	 * start-up this case measures; pin=0 and par= only.
	 */
	bench_pin_setup(0);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	t0 = bench_now();
	for (uint64_t b = 0; b < batches; b++) {
		for (int i = 0; i < nt; i++) {
			t[i].seed = BENCH_SEED + b * 1024 + (uint64_t)i;
			t[i].burst = burst;
			t[i].lo = lo;
			t[i].hi = hi;
			if (pthread_create(&t[i].tid, &attr, worker, &t[i]))
				bench_die("thread_churn: pthread_create failed");
		}
		for (int i = 0; i < nt; i++) {
			pthread_join(t[i].tid, NULL);
			for (int k = 0; k < KEEP; k++) {
				if (!bench_check(t[i].keep[k], t[i].keep_sz[k], t[i].seed + (uint64_t)k))
					bench_die("thread_churn: block from exited thread corrupted");
				free(t[i].keep[k]);
			}
		}
	}
	t1 = bench_now();
	free(t);
	bench_report("thread_churn", batches * (uint64_t)nt * burst, t1 - t0,
		     "threads=%llu burst=%zu", (unsigned long long)(batches * (uint64_t)nt), burst);
	return 0;
}
