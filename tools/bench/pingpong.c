// SPDX-License-Identifier: MIT
/*
 * pingpong [N=100000]
 *
 * Not a benchmark of an allocator (it allocates nothing in its loop): a
 * probe of the machine. Two threads on the first two allowed CPUs
 * (bench_pin_setup(), as every multi-threaded case of run.py) pass a
 * counter in one cache line back and forth N times; the RESULT line's
 * round_trip_ns is the wall-clock time of one pass there and back, a
 * line's transfer between the two CPUs' caches each way.
 *
 * On a virtual machine the host places the guest's CPUs, and moves
 * them: on the 2-vCPU guest of Documentation/benchmarks.md the same
 * probe read 76-185 ns at some times and 340-556 ns at others, minutes
 * apart, and every case of threads passing blocks ran 2-4x faster or
 * slower with it, whatever the allocator (thirty-first and
 * thirty-second sessions). run.py runs it before every round of
 * `make bench` and `make ab` and prints the figures with the tables,
 * so that a run says which state the host was in.
 *
 * A thread that waits yields the CPU now and then, so that on a single
 * CPU (pin=0) the probe still ends, measuring the scheduler instead.
 */
#include "bench_common.h"

#define PINGPONG_SPIN	4096	/* polls before a yield */

/* The line the two threads pass: the counter alone, aligned to a line. */
static struct {
	_Atomic uint64_t turn;	/* 2k: thread 0's move; 2k + 1: thread 1's */
	char pad[64 - sizeof(uint64_t)];
} pingpong_line __attribute__((aligned(64)));

static uint64_t passes;

static void pingpong_wait(uint64_t want)
{
	unsigned int spins = 0;

	while (atomic_load_explicit(&pingpong_line.turn, memory_order_acquire) != want)
		if (++spins % PINGPONG_SPIN == 0)
			sched_yield();
}

static void *pingpong_worker(void *arg)
{
	uint64_t me = (uint64_t)(uintptr_t)arg, i;

	for (i = 0; i < passes; i++) {
		pingpong_wait(2 * i + me);
		atomic_store_explicit(&pingpong_line.turn, 2 * i + me + 1, memory_order_release);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;

	if (argc > 2)
		bench_die("usage: pingpong [N]");
	passes = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;
	if (!passes)
		bench_die("usage: pingpong [N >= 1]");
	bench_pin_setup(2);
	t0 = bench_now();
	bench_run_threads(2, pingpong_worker);
	t1 = bench_now();
	bench_report("pingpong", passes, t1 - t0, "round_trip_ns=%.1f",
		     (t1 - t0) * 1e9 / (double)passes);
	return 0;
}
