// SPDX-License-Identifier: MIT
/*
 * bench_random_mixed MIN MAX [ITERS] [WORKSET] [WRITE]
 *
 * Like bench_fixed_size, but every new block has a size drawn uniformly
 * from [MIN, MAX], so consecutive malloc/free pairs hit different size
 * classes (or, for the large bands, the page/mmap path).  Blocks are
 * stamped on their first and last byte and checked before being freed.
 * One op = one free + one malloc.  Default workset 128 blocks.
 *
 * WRITE=1 also writes every byte of each new block (memset before the
 * stamp), as a program that fills its buffers does: every page of a block
 * is then resident, so the peak RSS shows the pages the allocator keeps
 * behind freed and partly used memory, which the two-byte stamp (two
 * pages at most) hides.  Default 0, what `make bench` runs.
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
	size_t lo = bench_arg(argc, argv, 1, 16);
	size_t hi = bench_arg(argc, argv, 2, 1024);
	uint64_t iters = bench_arg(argc, argv, 3, 10000000);
	size_t ws = bench_arg(argc, argv, 4, 128);
	int wr = bench_arg(argc, argv, 5, 0) != 0;
	void **slot;
	size_t *sz;
	uint64_t *tag;
	rng_t r;
	double t0, t1;

	if (argc < 3 || lo < 1 || hi < lo || ws < 1)
		bench_die("usage: %s MIN MAX [ITERS] [WORKSET] [WRITE]", argv[0]);
	slot = malloc(ws * sizeof(*slot));
	sz = malloc(ws * sizeof(*sz));
	tag = malloc(ws * sizeof(*tag));
	if (!slot || !sz || !tag)
		bench_oom(ws * sizeof(*slot));
	rng_seed(&r, BENCH_SEED ^ (lo * 31 + hi));
	for (size_t i = 0; i < ws; i++) {
		sz[i] = rng_range(&r, lo, hi);
		slot[i] = malloc(sz[i]);
		if (!slot[i])
			bench_oom(sz[i]);
		tag[i] = i;
		if (wr)
			memset(slot[i], 0x5a, sz[i]);
		bench_stamp(slot[i], sz[i], i);
	}

	t0 = bench_now();
	for (uint64_t n = 0; n < iters; n++) {
		uint64_t x = rng_next(&r);
		size_t i = rng_scale32((uint32_t)(x >> 32), ws);
		size_t s = lo + rng_scale32((uint32_t)x, hi - lo + 1);
		void *p = slot[i];

		if (!bench_check(p, sz[i], tag[i]))
			bench_die("random_mixed: block %p (slot %zu, size %zu) corrupted", p, i, sz[i]);
		free(p);
		p = malloc(s);
		if (!p)
			bench_oom(s);
		slot[i] = p;
		sz[i] = s;
		tag[i] = n;
		if (wr)
			memset(p, 0x5a, s);
		bench_stamp(p, s, n);
	}
	t1 = bench_now();

	for (size_t i = 0; i < ws; i++) {
		if (!bench_check(slot[i], sz[i], tag[i]))
			bench_die("random_mixed: block in slot %zu corrupted at exit", i);
		free(slot[i]);
	}
	free(slot);
	free(sz);
	free(tag);
	bench_report("random_mixed", iters, t1 - t0, "min=%zu max=%zu workset=%zu%s", lo, hi, ws,
		     wr ? " write=1" : "");
	return 0;
}
