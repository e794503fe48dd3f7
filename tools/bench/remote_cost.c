// SPDX-License-Identifier: MIT
/*
 * remote_cost [N=2000] [MIN=16] [MAX=8192] [ROUNDS=300] [SAME=0]
 *
 * Not a benchmark: what a block that crosses threads costs each side,
 * in phases, so that the two threads never run at the same time and the
 * load of a shared machine changes little. Thread A (the owner) and
 * thread B are pinned to the first two allowed CPUs (SAME=1: both to the
 * first, the baseline without a transfer between caches). Each round:
 *
 *   1. A allocates N blocks (sizes drawn as in bench_pool: density
 *      1/size^2 on [MIN, MAX]) and writes each one's first and last bytes;
 *   2. B reads and checks those bytes and frees every block: N remote
 *      frees of lines A wrote last;
 *   3. (next round's 1.) A allocates N blocks again: with an allocator
 *      that sends a block back to its owner, the blocks B freed, whose
 *      lines B wrote last.
 *
 * A barrier separates the phases; each is timed by its thread's own CPU
 * clock (CLOCK_THREAD_CPUTIME_ID: a phase that is preempted is not
 * charged the wait). The RESULT line gives the medians over the rounds
 * after the first of the nanoseconds per block of A's phase (alloc_ns,
 * malloc and two stores) and of B's (free_ns, two loads and free). The
 * difference between SAME=0 and SAME=1 is what crossing the cores costs
 * per block (Documentation/benchmarks.md, "sixteenth session: pool").
 */
#include "bench_common.h"

struct hdr {
	uint32_t size;
	uint32_t tag;
};

static unsigned long n_blocks, min_size, max_size, rounds;
static struct hdr **blocks;
static double *alloc_ns, *free_ns;
static pthread_barrier_t phase;
static int cpu_a, cpu_b;

static double thread_cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		bench_die("cannot pin to CPU %d", cpu);
}

/* bench_pool's draw: density proportional to 1/size^2 on [min, max]. */
static size_t draw_size(rng_t *r)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double inv_lo = 1.0 / (double)min_size, inv_hi = 1.0 / (double)(max_size + 1);

	return (size_t)(1.0 / (inv_lo - u * (inv_lo - inv_hi)));
}

static void *owner_main(void *arg)
{
	unsigned long r, i;
	rng_t rng;

	(void)arg;
	pin_self(cpu_a);
	rng_seed(&rng, 3);
	for (r = 0; r < rounds; r++) {
		double t0 = thread_cpu_ns();

		for (i = 0; i < n_blocks; i++) {
			size_t sz = draw_size(&rng);
			struct hdr *h = malloc(sz);

			if (!h)
				bench_oom(sz);
			h->size = (uint32_t)sz;
			h->tag = (uint32_t)(r * n_blocks + i);
			((unsigned char *)h)[sz - 1] = bench_tag8(h->tag);
			blocks[i] = h;
		}
		alloc_ns[r] = (thread_cpu_ns() - t0) / (double)n_blocks;
		pthread_barrier_wait(&phase);	/* B frees them */
		pthread_barrier_wait(&phase);
	}
	return NULL;
}

static void *freer_main(void *arg)
{
	unsigned long r, i;

	(void)arg;
	pin_self(cpu_b);
	for (r = 0; r < rounds; r++) {
		double t0;

		pthread_barrier_wait(&phase);
		t0 = thread_cpu_ns();
		for (i = 0; i < n_blocks; i++) {
			struct hdr *h = blocks[i];

			if (h->size < min_size || h->size > max_size ||
			    ((unsigned char *)h)[h->size - 1] != bench_tag8(h->tag))
				bench_die("remote_cost: block corrupted (size %u)", h->size);
			free(h);
		}
		free_ns[r] = (thread_cpu_ns() - t0) / (double)n_blocks;
		pthread_barrier_wait(&phase);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[1..rounds-1]: round 0's allocations find no freed block. */
static double median_after_first(double *v)
{
	qsort(v + 1, rounds - 1, sizeof(*v), cmp_double);
	return v[1 + (rounds - 1) / 2];
}

int main(int argc, char **argv)
{
	unsigned long same;
	cpu_set_t allowed;
	pthread_t a, b;
	double t0, t1;
	int c, k = 0;

	n_blocks = bench_arg(argc, argv, 1, 2000);
	min_size = bench_arg(argc, argv, 2, 16);
	max_size = bench_arg(argc, argv, 3, 8192);
	rounds = bench_arg(argc, argv, 4, 300);
	same = bench_arg(argc, argv, 5, 0);
	if (!n_blocks || min_size < sizeof(struct hdr) + 1 || min_size > max_size ||
	    max_size > 0xffffffffu || rounds < 2 || same > 1)
		bench_die("usage: remote_cost N MIN(>=9) MAX ROUNDS(>=2) SAME(0|1)");
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		bench_die("sched_getaffinity failed");
	cpu_a = cpu_b = -1;
	for (c = 0; c < CPU_SETSIZE && k < 2; c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		if (k++ == 0)
			cpu_a = c;
		else
			cpu_b = c;
	}
	if (same || cpu_b < 0)
		cpu_b = cpu_a;
	blocks = calloc(n_blocks, sizeof(*blocks));
	alloc_ns = calloc(rounds, sizeof(*alloc_ns));
	free_ns = calloc(rounds, sizeof(*free_ns));
	if (!blocks || !alloc_ns || !free_ns)
		bench_oom(n_blocks * sizeof(*blocks));
	pthread_barrier_init(&phase, NULL, 2);
	t0 = bench_now();
	if (pthread_create(&a, NULL, owner_main, NULL) ||
	    pthread_create(&b, NULL, freer_main, NULL))
		bench_die("pthread_create failed");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	t1 = bench_now();
	bench_report("remote_cost", (uint64_t)(n_blocks * rounds), t1 - t0,
		     "n=%lu min=%lu max=%lu rounds=%lu cpu_a=%d cpu_b=%d alloc_ns=%.1f free_ns=%.1f",
		     n_blocks, min_size, max_size, rounds, cpu_a, cpu_b,
		     median_after_first(alloc_ns), median_after_first(free_ns));
	return 0;
}
