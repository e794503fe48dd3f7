// SPDX-License-Identifier: MIT
/*
 * bench_batch SIZE NMIN NMAX ORDER OPS [MAXCPU]
 *
 * Batches of same-size blocks, as a program that builds a list or a
 * message batch, fills it and drops it: each round allocates N blocks of
 * SIZE bytes (N drawn from [NMIN, NMAX]), fills every block, then frees
 * them all, in allocation order (ORDER 0, FIFO) or in reverse (ORDER 1,
 * LIFO), or alternating (ORDER 2). OPS counts malloc+free pairs.
 *
 * A thread cache that holds fewer blocks than a batch sends the surplus
 * back to its slabs on every round and refills from them on the next.
 *
 * MAXCPU (seconds, 0 = none): stop once the process's CPU time passed it
 * (read every 16 rounds), and report the pairs done by then. An allocator 10-15
 * times slower than the others in a case (glibc and jemalloc with 16 KiB
 * blocks: 36-57 s a run where the rest take 3-4 s) then costs make bench
 * MAXCPU seconds a run instead; the rate is of the same sequence of
 * batches (the draws do not depend on the time), over a shorter prefix.
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	size_t size = bench_arg(argc, argv, 1, 64);
	uint64_t nmin = bench_arg(argc, argv, 2, 25);
	uint64_t nmax = bench_arg(argc, argv, 3, 1600);
	uint64_t order = bench_arg(argc, argv, 4, 0);
	uint64_t ops = bench_arg(argc, argv, 5, 20000000);
	uint64_t maxcpu = bench_arg(argc, argv, 6, 0);
	uint64_t done = 0, round = 0;
	unsigned char **v;
	double t0, t1;
	rng_t r;

	if (!size || !nmin || nmin > nmax || order > 2)
		bench_die("usage: bench_batch SIZE NMIN NMAX ORDER(0 FIFO, 1 LIFO, 2 both) OPS [MAXCPU seconds]");
	v = malloc(nmax * sizeof(*v));
	if (!v)
		bench_oom(nmax * sizeof(*v));
	rng_seed(&r, 7);
	t0 = bench_now();
	while (done < ops) {
		uint64_t n = rng_range(&r, nmin, nmax), i;
		int lifo = order == 1 || (order == 2 && (round & 1));

		for (i = 0; i < n; i++) {
			v[i] = malloc(size);
			if (!v[i])
				bench_oom(size);
			memset(v[i], (int)(i & 0xff), size);
		}
		for (i = 0; i < n; i++)
			free(v[lifo ? n - 1 - i : i]);
		done += n;
		round++;
		if (maxcpu && !(round & 15) && bench_cpu_now() > (double)maxcpu)
			break;
	}
	t1 = bench_now();
	free(v);
	bench_report("batch", done, t1 - t0, "size=%zu n=%llu-%llu order=%llu",
		     size, (unsigned long long)nmin, (unsigned long long)nmax,
		     (unsigned long long)order);
	return 0;
}
