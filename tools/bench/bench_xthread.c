// SPDX-License-Identifier: MIT
/*
 * bench_xthread [PAIRS] [ITEMS_PER_PRODUCER] [MIN] [MAX] [PIN]
 *
 * Cross-thread (remote) frees.  PAIRS producer/consumer pairs (default 1,
 * i.e. 2 threads); each producer allocates blocks of random size in
 * [MIN, MAX] (default 16..1024), writes a header (sequence number, size,
 * magic) and fills the rest with a pattern, and pushes the pointer into a
 * bounded single-producer/single-consumer lock-free ring (4096 entries,
 * indices published every 32 entries to limit cache-line ping-pong).
 * Its consumer pops the block, checks header, order and pattern, and frees
 * it - so every free is a free of memory allocated by another thread.
 * One op = one malloc in the producer + one remote free in the consumer.
 *
 * PIN (default 1) places the threads: 1 puts a pair's producer and
 * consumer on two different CPUs of the process's affinity mask (pair i:
 * its (2i)th and (2i+1)th, modulo their number), 0 leaves them to the
 * scheduler, 2 puts both on the same CPU.  Unpinned, the run is a lottery
 * between two regimes: on a loaded machine the scheduler often keeps both
 * threads on one CPU, where they take turns through sched_yield() (the
 * producer fills the whole ring, the consumer empties it: no cache line
 * crosses a core, wall time ~ the sum of both threads' CPU time), and in
 * other runs it puts them on two CPUs, where every block crosses cores
 * (2-3x the CPU time per op, the threads wait on each other).  PIN=1 makes
 * every run the second regime, the one the benchmark is meant to measure
 * and the one of an idle machine (Documentation/benchmarks.md, fifteenth
 * session, branch mt).  With fewer than two CPUs allowed nothing is
 * pinned.
 *
 * The RESULT line adds per side: prod_ns / cons_ns, the thread's CPU time
 * per op outside its waits on the ring (producer: malloc and fill;
 * consumer: check and free); prod_wait_ns / cons_wait_ns, its CPU time per
 * op while waiting; prod_full / cons_empty, how often it found the ring
 * full / empty; prod_yields / cons_yields, its sched_yield() calls.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "bench_common.h"

#define RING 4096u
#define BATCH 32u /* publish ring indices every BATCH entries */
#define MAGIC 0x58546872u /* "XThr" */
#define CACHELINE 64

struct hdr {
	uint64_t seq;
	uint32_t size;
	uint32_t magic;
};

struct ring {
	_Alignas(CACHELINE) _Atomic uint64_t head; /* written by producer */
	_Alignas(CACHELINE) _Atomic uint64_t tail; /* written by consumer */
	_Alignas(CACHELINE) void *slot[RING];
};

/* Per-thread accounting: CPU time of the thread, the part of it spent
 * waiting on the ring, how often it waited and yielded. */
struct side {
	double cpu, wait_cpu;
	uint64_t waits, yields;
};

struct pair {
	struct ring *q;
	int id;
	uint64_t items;
	size_t lo, hi;
	pthread_t prod, cons;
	int prod_cpu, cons_cpu; /* -1: not pinned */
	struct side ps, cs;
};

/* Pin the calling thread to cpu (no-op for -1). */
static void pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		bench_die("xthread: cannot pin a thread to CPU %d", cpu);
}

static pthread_barrier_t start_barrier;

static inline double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void backoff(unsigned *spins, struct side *sd)
{
	if (++*spins > 64) {
		sched_yield();
		sd->yields++;
		*spins = 0;
	}
}

static void *producer(void *arg)
{
	struct pair *pr = arg;
	struct ring *q = pr->q;
	rng_t r;
	uint64_t head = 0, tail_seen = 0;

	rng_seed(&r, BENCH_SEED + 1000 + (uint64_t)pr->id);
	pin_self(pr->prod_cpu);
	bench_thread_begin(0);	/* schedstat only: placed by pin_self() */
	pthread_barrier_wait(&start_barrier);
	pr->ps.cpu = thread_cpu();
	for (uint64_t n = 0; n <= pr->items; n++) {
		void *p = NULL;
		unsigned spins = 0;

		if (n < pr->items) {
			size_t s = rng_range(&r, pr->lo, pr->hi);
			struct hdr *h;

			p = malloc(s);
			if (!p)
				bench_oom(s);
			h = p;
			h->seq = n;
			h->size = (uint32_t)s;
			h->magic = MAGIC;
			memset((char *)p + sizeof(*h), bench_tag8(n), s - sizeof(*h));
		} /* else: NULL sentinel ends the stream */
		if (head - tail_seen >= RING) {
			/* looks full: publish what we have, then wait for room */
			atomic_store_explicit(&q->head, head, memory_order_release);
			if (head - (tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire)) >= RING) {
				double w = thread_cpu();

				pr->ps.waits++;
				while (head - (tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire)) >= RING)
					backoff(&spins, &pr->ps);
				pr->ps.wait_cpu += thread_cpu() - w;
			}
		}
		q->slot[head & (RING - 1)] = p;
		head++;
		if (!p || (head & (BATCH - 1)) == 0)
			atomic_store_explicit(&q->head, head, memory_order_release);
	}
	pr->ps.cpu = thread_cpu() - pr->ps.cpu;
	bench_thread_end();
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *pr = arg;
	struct ring *q = pr->q;
	uint64_t tail = 0, head_seen = 0, expect = 0;

	pin_self(pr->cons_cpu);
	bench_thread_begin(0);
	pthread_barrier_wait(&start_barrier);
	pr->cs.cpu = thread_cpu();
	for (;;) {
		unsigned spins = 0;
		struct hdr *h;
		unsigned char *c, t;
		size_t s;

		if (tail == head_seen) {
			/* looks empty: publish our progress, then wait for data */
			atomic_store_explicit(&q->tail, tail, memory_order_release);
			if ((head_seen = atomic_load_explicit(&q->head, memory_order_acquire)) == tail) {
				double w = thread_cpu();

				pr->cs.waits++;
				while ((head_seen = atomic_load_explicit(&q->head, memory_order_acquire)) == tail)
					backoff(&spins, &pr->cs);
				pr->cs.wait_cpu += thread_cpu() - w;
			}
		}
		h = q->slot[tail & (RING - 1)];
		tail++;
		if ((tail & (BATCH - 1)) == 0)
			atomic_store_explicit(&q->tail, tail, memory_order_release);
		if (!h)
			break;
		if (h->magic != MAGIC || h->seq != expect || h->size < pr->lo || h->size > pr->hi)
			bench_die("xthread: pair %d: bad header in block %p (seq %llu, expected %llu)",
				  pr->id, (void *)h, (unsigned long long)h->seq, (unsigned long long)expect);
		s = h->size;
		c = (unsigned char *)h;
		t = bench_tag8(h->seq);
		for (size_t i = sizeof(*h); i < s; i += 61)
			if (c[i] != t)
				bench_die("xthread: pair %d: block %p corrupted at offset %zu", pr->id, (void *)h, i);
		if (s > sizeof(*h) && c[s - 1] != t)
			bench_die("xthread: pair %d: block %p corrupted at its last byte", pr->id, (void *)h);
		h->magic = 0;
		free(h);
		expect++;
	}
	pr->cs.cpu = thread_cpu() - pr->cs.cpu;
	if (expect != pr->items)
		bench_die("xthread: pair %d: received %llu of %llu blocks", pr->id,
			  (unsigned long long)expect, (unsigned long long)pr->items);
	bench_thread_end();
	return NULL;
}

int main(int argc, char **argv)
{
	int pairs = (int)bench_arg(argc, argv, 1, 1);
	uint64_t items = bench_arg(argc, argv, 2, 1500000);
	size_t lo = bench_arg(argc, argv, 3, 16);
	size_t hi = bench_arg(argc, argv, 4, 1024);
	int pin = (int)bench_arg(argc, argv, 5, 1);
	int cpus[CPU_SETSIZE], ncpu = 0;
	cpu_set_t allowed;
	struct pair *pr;
	struct side ps = { 0 }, cs = { 0 };
	double t0, t1, n;

	if (pairs < 1 || pairs > 512 || lo < sizeof(struct hdr) || hi < lo || hi > UINT32_MAX || pin > 2)
		bench_die("usage: %s [PAIRS] [ITEMS_PER_PRODUCER] [MIN>=16] [MAX] [PIN=0|1|2]", argv[0]);
	pr = calloc((size_t)pairs, sizeof(*pr));
	if (!pr)
		bench_oom(pairs * sizeof(*pr));
	pthread_barrier_init(&start_barrier, NULL, 2u * (unsigned)pairs + 1);
	if (pin && sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed))
				cpus[ncpu++] = c;
	if (ncpu < 2 && pin != 2)
		ncpu = 0;
	bench_pinned = ncpu ? pin : 0;	/* pin= as pinned=; bench_pin_setup() not used */
	for (int i = 0; i < pairs; i++) {
		pr[i].q = aligned_alloc(CACHELINE, sizeof(struct ring));
		if (!pr[i].q)
			bench_oom(sizeof(struct ring));
		atomic_init(&pr[i].q->head, 0);
		atomic_init(&pr[i].q->tail, 0);
		pr[i].id = i;
		pr[i].items = items;
		pr[i].lo = lo;
		pr[i].hi = hi;
		pr[i].prod_cpu = ncpu ? cpus[(2 * i) % ncpu] : -1;
		pr[i].cons_cpu = ncpu ? cpus[(2 * i + (pin == 1)) % ncpu] : -1;
		if (pthread_create(&pr[i].cons, NULL, consumer, &pr[i]) ||
		    pthread_create(&pr[i].prod, NULL, producer, &pr[i]))
			bench_die("pthread_create failed");
	}
	pthread_barrier_wait(&start_barrier);
	t0 = bench_now();
	for (int i = 0; i < pairs; i++) {
		pthread_join(pr[i].prod, NULL);
		pthread_join(pr[i].cons, NULL);
	}
	t1 = bench_now();
	for (int i = 0; i < pairs; i++) {
		ps.cpu += pr[i].ps.cpu;
		ps.wait_cpu += pr[i].ps.wait_cpu;
		ps.waits += pr[i].ps.waits;
		ps.yields += pr[i].ps.yields;
		cs.cpu += pr[i].cs.cpu;
		cs.wait_cpu += pr[i].cs.wait_cpu;
		cs.waits += pr[i].cs.waits;
		cs.yields += pr[i].cs.yields;
		free(pr[i].q);
	}
	free(pr);
	pthread_barrier_destroy(&start_barrier);
	/*
	 * Per side: CPU ns per op of the thread outside its waits on the ring
	 * (producer: malloc and fill; consumer: check and free), CPU ns per op
	 * of the waits, how often it found the ring full (producer) / empty
	 * (consumer), and its sched_yield() calls.
	 */
	n = (double)items * pairs / 1e9;
	bench_report("xthread", items * (uint64_t)pairs, t1 - t0,
		     "pairs=%d min=%zu max=%zu pinned=%d prod_ns=%.1f prod_wait_ns=%.1f prod_full=%llu prod_yields=%llu "
		     "cons_ns=%.1f cons_wait_ns=%.1f cons_empty=%llu cons_yields=%llu",
		     pairs, lo, hi, ncpu ? pin : 0, (ps.cpu - ps.wait_cpu) / n, ps.wait_cpu / n,
		     (unsigned long long)ps.waits, (unsigned long long)ps.yields,
		     (cs.cpu - cs.wait_cpu) / n, cs.wait_cpu / n,
		     (unsigned long long)cs.waits, (unsigned long long)cs.yields);
	return 0;
}
