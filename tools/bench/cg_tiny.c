// SPDX-License-Identifier: MIT
/*
 * cg_tiny [PAIRS] [SIZE]
 *
 * Instruction count of the malloc+free fast path, for callgrind:
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=cg_loop ...
 * After a warm-up (which is not collected), cg_loop() does PAIRS
 * (default 1000000) malloc(SIZE)+free pairs (default SIZE 32).  The caller
 * divides the instruction count by PAIRS; the loop itself adds ~5 instructions
 * per pair (a differential of two runs with different PAIRS cancels the
 * one-off costs, not the loop).
 */
#include "bench_common.h"

static void *volatile sink;

BENCH_NOINLINE void cg_loop(uint64_t pairs, size_t size)
{
	for (uint64_t i = 0; i < pairs; i++) {
		void *p = malloc(size);

		if (!p)
			bench_oom(size);
		sink = p;
		free(p);
	}
}

BENCH_NOINLINE static void warmup(size_t size)
{
	void *v[64];

	for (int k = 0; k < 100; k++) {
		for (int i = 0; i < 64; i++)
			if (!(v[i] = malloc(size)))
				bench_oom(size);
		for (int i = 0; i < 64; i++)
			free(v[i]);
	}
}

int main(int argc, char **argv)
{
	uint64_t pairs = bench_arg(argc, argv, 1, 1000000);
	size_t size = bench_arg(argc, argv, 2, 32);
	double t0, t1;

	warmup(size);
	t0 = bench_now();
	cg_loop(pairs, size);
	t1 = bench_now();
	bench_report("cg_tiny", pairs, t1 - t0, "size=%zu", size);
	return 0;
}
