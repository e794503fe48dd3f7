// SPDX-License-Identifier: MIT
/*
 * alloc_order SIZE NMIN NMAX ORDER OPS
 *
 * Not a benchmark: a measurement of the order in which the allocator
 * hands out blocks under the pattern of bench_batch (the same arguments,
 * the same random draws). Over the rounds of the second half of the
 * operations it counts the successive mallocs of a round whose addresses
 * are more than two sizes apart ("far": the hardware prefetcher cannot
 * follow them), and of the others how many go up and how many go down.
 * A stack of blocks that takes prefixes of different lengths of batches
 * freed FIFO scrambles the order (Documentation/benchmarks.md,
 * "thirteenth session: batches and single-size loops" and "fourteenth
 * session: FIFO batches and single-size loops").
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	size_t size = bench_arg(argc, argv, 1, 64);
	uint64_t nmin = bench_arg(argc, argv, 2, 25);
	uint64_t nmax = bench_arg(argc, argv, 3, 1600);
	uint64_t order = bench_arg(argc, argv, 4, 0);
	uint64_t ops = bench_arg(argc, argv, 5, 4000000);
	uint64_t done = 0, round = 0, far = 0, up = 0, down = 0, pairs;
	intptr_t near = (intptr_t)(2 * size);
	unsigned char **v;
	rng_t r;

	if (!size || !nmin || nmin > nmax || order > 2)
		bench_die("usage: alloc_order SIZE NMIN NMAX ORDER(0 FIFO, 1 LIFO, 2 both) OPS");
	v = malloc(nmax * sizeof(*v));
	if (!v)
		bench_oom(nmax * sizeof(*v));
	rng_seed(&r, 7);
	while (done < ops) {
		uint64_t n = rng_range(&r, nmin, nmax), i;
		int lifo = order == 1 || (order == 2 && (round & 1));

		for (i = 0; i < n; i++) {
			v[i] = malloc(size);
			if (!v[i])
				bench_oom(size);
			memset(v[i], (int)(i & 0xff), size);
			if (i && done >= ops / 2) {
				intptr_t d = (intptr_t)v[i] - (intptr_t)v[i - 1];

				if (d > near || d < -near)
					far++;
				else if (d > 0)
					up++;
				else
					down++;
			}
		}
		for (i = 0; i < n; i++)
			free(v[lifo ? n - 1 - i : i]);
		done += n;
		round++;
	}
	free(v);
	pairs = far + up + down;
	if (!pairs)
		pairs = 1;
	printf("alloc_order: size=%zu n=%llu-%llu order=%llu: far %.1f%% up %.1f%% down %.1f%% of %llu\n",
	       size, (unsigned long long)nmin, (unsigned long long)nmax, (unsigned long long)order,
	       100.0 * (double)far / (double)pairs, 100.0 * (double)up / (double)pairs,
	       100.0 * (double)down / (double)pairs, (unsigned long long)pairs);
	return 0;
}
