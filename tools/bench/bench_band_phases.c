// SPDX-License-Identifier: MIT
/*
 * bench_band_phases [ROUNDS] [N_SMALLMID] [N_TINY]
 *
 * The case the seed gave for a Small-Mid pool of its own ("no churn
 * between Tiny and Mid in a shared pool"): phases that alternate between
 * the Small-Mid band and the Tiny band. Each round allocates N_SMALLMID
 * blocks of 257 B - 4 KiB (default 4000), frees them all, then allocates
 * N_TINY blocks of 16 - 255 B (default 100000) and frees them all
 * (default 20 rounds). With one shared pool the second phase can reuse the
 * slots the first one freed (still committed); with a pool per box it
 * cannot. Compare page faults (ru_minflt, printed) and, with CONFIG_STATS
 * and HAKMEM_STATS=1, SuperSlabs mapped and slots decommitted. One op =
 * one malloc + one free. Documentation/ab.md, Small-Mid.
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	uint64_t rounds = bench_arg(argc, argv, 1, 20);
	size_t n1 = bench_arg(argc, argv, 2, 4000);
	size_t n2 = bench_arg(argc, argv, 3, 100000);
	size_t n = n1 > n2 ? n1 : n2, i;
	uint64_t r, x = BENCH_SEED;
	struct rusage ru;
	void **v;
	double t0, t1;

	v = malloc(n * sizeof(*v));
	if (!v)
		bench_oom(n * sizeof(*v));
	t0 = bench_now();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n1; i++) {
			size_t s;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s = 257 + x % (4096 - 256);
			if (!(v[i] = malloc(s)))
				bench_oom(s);
			memset(v[i], 1, s);
		}
		for (i = 0; i < n1; i++)
			free(v[i]);
		for (i = 0; i < n2; i++) {
			size_t s;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s = 16 + x % 240;
			if (!(v[i] = malloc(s)))
				bench_oom(s);
			memset(v[i], 2, 16);
		}
		for (i = 0; i < n2; i++)
			free(v[i]);
	}
	t1 = bench_now();
	getrusage(RUSAGE_SELF, &ru);
	bench_report("band_phases", rounds * (n1 + n2), t1 - t0, "minflt=%ld", ru.ru_minflt);
	free(v);
	return 0;
}
