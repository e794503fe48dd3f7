// SPDX-License-Identifier: MIT
/*
 * bench_large_reuse [OPS] [LIVE] [MIN] [MAX]
 *
 * Large buffers replaced one at a time: LIVE (default 20) buffers with
 * sizes drawn uniformly from [MIN, MAX] (default 5 MiB - 25 MiB) are
 * allocated and written in full; then each op frees a random one (after
 * checking its first and last byte) and allocates a new buffer of a new
 * random size in its place, which it writes in full (memset), as a
 * program that builds images, frames or I/O buffers does. An allocator
 * that gives freed memory back to the kernel pays a page fault for every
 * page of every new buffer; one that keeps it pays only the writes.
 * The first LIVE buffers are not timed. OPS replacements are made; one
 * reported op is 4 KiB of new buffer written (with its share of the
 * free and the malloc), so that Mops/s is a write rate: MB/s / 4096.
 * The CPU time of the timed part (user_s, sys_s: page faults are system
 * time) is reported too: on a busy machine it varies less than the wall
 * time.
 */
#include "bench_common.h"

/* CPU seconds (user, system) this process used so far. */
static void cpu_times(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
	uint64_t ops = bench_arg(argc, argv, 1, 300);
	size_t live = bench_arg(argc, argv, 2, 20);
	size_t lo = bench_arg(argc, argv, 3, 5 << 20);
	size_t hi = bench_arg(argc, argv, 4, 25 << 20);
	unsigned char **slot;
	size_t *sz, bytes = 0;
	rng_t r;
	double t0, t1, u0, u1, s0, s1;

	if (live < 1 || lo < 2 || hi < lo)
		bench_die("usage: %s [OPS] [LIVE] [MIN>=2] [MAX>=MIN]", argv[0]);
	slot = malloc(live * sizeof(*slot));
	sz = malloc(live * sizeof(*sz));
	if (!slot || !sz)
		bench_oom(live * sizeof(*slot));
	rng_seed(&r, BENCH_SEED ^ (lo * 31 + hi));
	for (size_t i = 0; i < live; i++) {
		sz[i] = rng_range(&r, lo, hi);
		slot[i] = malloc(sz[i]);
		if (!slot[i])
			bench_oom(sz[i]);
		memset(slot[i], bench_tag8(i), sz[i]);
	}

	cpu_times(&u0, &s0);
	t0 = bench_now();
	for (uint64_t n = 0; n < ops; n++) {
		size_t i = (size_t)rng_range(&r, 0, live - 1);
		size_t s = rng_range(&r, lo, hi);
		unsigned char *p = slot[i];
		unsigned char t = p[0];

		if (p[sz[i] - 1] != t || p[sz[i] / 2] != t)
			bench_die("large_reuse: buffer %p (slot %zu, %zu bytes) corrupted",
				  (void *)p, i, sz[i]);
		free(p);
		p = malloc(s);
		if (!p)
			bench_oom(s);
		memset(p, bench_tag8(live + n), s);
		slot[i] = p;
		sz[i] = s;
		bytes += s;
	}
	t1 = bench_now();
	cpu_times(&u1, &s1);

	for (size_t i = 0; i < live; i++)
		free(slot[i]);
	free(slot);
	free(sz);
	bench_report("large_reuse", bytes / 4096, t1 - t0,
		     "replacements=%llu live=%zu min=%zu max=%zu written_mib=%zu user_s=%.3f sys_s=%.3f",
		     (unsigned long long)ops, live, lo, hi, bytes >> 20, u1 - u0, s1 - s0);
	return 0;
}
