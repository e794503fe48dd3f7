// SPDX-License-Identifier: MIT
/*
 * bench_large_cache [ROUNDS] [N] [SIZE]
 *
 * Bursts of large blocks: each round allocates N (default 1000) blocks of
 * SIZE bytes (default 40,000, just above the small boxes), stamps their
 * first and last byte, then checks and frees them all, in allocation
 * order. The allocator's cache of freed large blocks sees N puts, then
 * N gets: the time per pair must not grow with N if every cache
 * operation is O(1). Run it with N = 1000 and N = 4000 and compare.
 * One op = one malloc + one free.
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	uint64_t rounds = bench_arg(argc, argv, 1, 400);
	size_t n = bench_arg(argc, argv, 2, 1000);
	size_t size = bench_arg(argc, argv, 3, 40000);
	void **v;
	double t0 = 0, t1;

	if (rounds < 1 || n < 1 || size < 1)
		bench_die("usage: %s [ROUNDS>=1] [N>=1] [SIZE>=1]", argv[0]);
	v = malloc(n * sizeof(*v));
	if (!v)
		bench_oom(n * sizeof(*v));

	for (uint64_t k = 0; k <= rounds; k++) {
		if (k == 1)
			t0 = bench_now();
		for (size_t i = 0; i < n; i++) {
			v[i] = malloc(size);
			if (!v[i])
				bench_oom(size);
			bench_stamp(v[i], size, k + i);
		}
		for (size_t i = 0; i < n; i++) {
			if (!bench_check(v[i], size, k + i))
				bench_die("large_cache: block %p (%zu of round %llu) corrupted",
					  v[i], i, (unsigned long long)k);
			free(v[i]);
		}
	}
	t1 = bench_now();

	free(v);
	bench_report("large_cache", rounds * n, t1 - t0, "n=%zu size=%zu", n, size);
	return 0;
}
