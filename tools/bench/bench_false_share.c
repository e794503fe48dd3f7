// SPDX-License-Identifier: MIT
/*
 * bench_false_share MODE THREADS SIZE WRITES ITERS
 *
 * False sharing of small blocks (the pattern of Hoard's "active-false" and
 * "passive-false" tests, written anew here). THREADS threads each repeat
 * ITERS times: malloc a block of SIZE bytes, write every byte of it WRITES
 * times, free it. Nothing is shared by the program: if two threads are
 * handed blocks in the same cache line, every write invalidates the other
 * core's copy of the line, and the loop runs many times slower than on
 * one thread.
 *
 * MODE 0 (active): each thread allocates its own blocks from the start.
 *   An allocator that carves small blocks for different threads out of
 *   one region next to each other shares lines between them.
 * MODE 1 (passive): the main thread allocates one block per thread first,
 *   back to back (so in one line), and hands one to each thread, which
 *   frees it before its loop. An allocator whose free puts the block into
 *   the freeing thread's cache gives that thread a block in a line the
 *   other threads also write.
 *
 * One op = one malloc + WRITES passes over the block + one free; the
 * figure to compare is the time, which the writes dominate.
 */
#include <pthread.h>
#include "bench_common.h"

static unsigned long mode, nthreads, size, writes, iters;
static void *handed[64];

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)(uintptr_t)arg, i, w, j;

	if (mode == 1)
		free(handed[id]);
	for (i = 0; i < iters; i++) {
		volatile unsigned char *p = malloc(size);

		if (!p)
			bench_oom(size);
		for (j = 0; j < size; j++)
			p[j] = 0;
		for (w = 0; w < writes; w++)
			for (j = 0; j < size; j++)
				p[j] = (unsigned char)(p[j] + 1);
		if (p[0] != (unsigned char)writes || p[size - 1] != (unsigned char)writes)
			bench_die("block written by someone else");
		free((void *)p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;
	unsigned long t;

	mode = bench_arg(argc, argv, 1, 0);
	nthreads = bench_arg(argc, argv, 2, 2);
	size = bench_arg(argc, argv, 3, 8);
	writes = bench_arg(argc, argv, 4, 1000);
	iters = bench_arg(argc, argv, 5, 20000);
	if (mode > 1 || !nthreads || nthreads > 64 || !size || !writes)
		bench_die("usage: bench_false_share MODE(0 active, 1 passive) THREADS(1-64) SIZE WRITES ITERS");
	for (t = 0; t < nthreads && mode == 1; t++) {
		handed[t] = malloc(size);
		if (!handed[t])
			bench_oom(size);
		memset(handed[t], 0, size);
	}
	t0 = bench_now();
	bench_run_threads(nthreads, worker);
	t1 = bench_now();
	bench_report("false_share", (uint64_t)(nthreads * iters), t1 - t0,
		     "mode=%s threads=%lu size=%lu writes=%lu",
		     mode ? "passive" : "active", nthreads, size, writes);
	return 0;
}
