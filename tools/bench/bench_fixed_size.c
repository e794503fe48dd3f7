// SPDX-License-Identifier: MIT
/*
 * bench_fixed_size SIZE [ITERS] [WORKSET]
 *
 * Steady-state churn of one size class: a workset of WORKSET live blocks
 * (default 128); each step picks a random slot, checks and frees its block
 * and allocates a new one of SIZE bytes, stamping its first and last byte.
 * One op = one free + one malloc.  Measures the per-size-class fast path
 * (thread cache / free list pop and push) with a small, cache-resident
 * working set. The slot is drawn with rng_below() (a multiply), not a
 * modulo: a 64-bit division per step cost more than the pair it was
 * meant to measure (Documentation/benchmarks.md, "where a single-size
 * loop's time goes").
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	size_t size = bench_arg(argc, argv, 1, 64);
	uint64_t iters = bench_arg(argc, argv, 2, 20000000);
	size_t ws = bench_arg(argc, argv, 3, 128);
	void **slot;
	uint64_t *tag;
	rng_t r;
	double t0, t1;

	if (argc < 2 || size < 1 || ws < 1)
		bench_die("usage: %s SIZE [ITERS] [WORKSET]", argv[0]);
	slot = malloc(ws * sizeof(*slot));
	tag = malloc(ws * sizeof(*tag));
	if (!slot || !tag)
		bench_oom(ws * sizeof(*slot));
	rng_seed(&r, BENCH_SEED ^ size);
	for (size_t i = 0; i < ws; i++) {
		slot[i] = malloc(size);
		if (!slot[i])
			bench_oom(size);
		tag[i] = i;
		bench_stamp(slot[i], size, tag[i]);
	}

	t0 = bench_now();
	for (uint64_t n = 0; n < iters; n++) {
		size_t i = rng_below(&r, ws);
		void *p = slot[i];

		if (!bench_check(p, size, tag[i]))
			bench_die("fixed_size: block %p (slot %zu, size %zu) corrupted", p, i, size);
		free(p);
		p = malloc(size);
		if (!p)
			bench_oom(size);
		slot[i] = p;
		tag[i] = n;
		bench_stamp(p, size, n);
	}
	t1 = bench_now();

	for (size_t i = 0; i < ws; i++) {
		if (!bench_check(slot[i], size, tag[i]))
			bench_die("fixed_size: block in slot %zu corrupted at exit", i);
		free(slot[i]);
	}
	free(slot);
	free(tag);
	bench_report("fixed_size", iters, t1 - t0, "size=%zu workset=%zu", size, ws);
	return 0;
}
