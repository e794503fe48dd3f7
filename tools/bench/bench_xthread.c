// SPDX-License-Identifier: MIT
/*
 * bench_xthread [PAIRS] [ITEMS_PER_PRODUCER] [MIN] [MAX]
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

struct pair {
	struct ring *q;
	int id;
	uint64_t items;
	size_t lo, hi;
	pthread_t prod, cons;
};

static pthread_barrier_t start_barrier;

static inline void backoff(unsigned *spins)
{
	if (++*spins > 64) {
		sched_yield();
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
	pthread_barrier_wait(&start_barrier);
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
			while (head - (tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire)) >= RING)
				backoff(&spins);
		}
		q->slot[head & (RING - 1)] = p;
		head++;
		if (!p || (head & (BATCH - 1)) == 0)
			atomic_store_explicit(&q->head, head, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *pr = arg;
	struct ring *q = pr->q;
	uint64_t tail = 0, head_seen = 0, expect = 0;

	pthread_barrier_wait(&start_barrier);
	for (;;) {
		unsigned spins = 0;
		struct hdr *h;
		unsigned char *c, t;
		size_t s;

		if (tail == head_seen) {
			/* looks empty: publish our progress, then wait for data */
			atomic_store_explicit(&q->tail, tail, memory_order_release);
			while ((head_seen = atomic_load_explicit(&q->head, memory_order_acquire)) == tail)
				backoff(&spins);
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
	if (expect != pr->items)
		bench_die("xthread: pair %d: received %llu of %llu blocks", pr->id,
			  (unsigned long long)expect, (unsigned long long)pr->items);
	return NULL;
}

int main(int argc, char **argv)
{
	int pairs = (int)bench_arg(argc, argv, 1, 1);
	uint64_t items = bench_arg(argc, argv, 2, 1500000);
	size_t lo = bench_arg(argc, argv, 3, 16);
	size_t hi = bench_arg(argc, argv, 4, 1024);
	struct pair *pr;
	double t0, t1;

	if (pairs < 1 || pairs > 512 || lo < sizeof(struct hdr) || hi < lo || hi > UINT32_MAX)
		bench_die("usage: %s [PAIRS] [ITEMS_PER_PRODUCER] [MIN>=16] [MAX]", argv[0]);
	pr = calloc((size_t)pairs, sizeof(*pr));
	if (!pr)
		bench_oom(pairs * sizeof(*pr));
	pthread_barrier_init(&start_barrier, NULL, 2u * (unsigned)pairs + 1);
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
	for (int i = 0; i < pairs; i++)
		free(pr[i].q);
	free(pr);
	pthread_barrier_destroy(&start_barrier);
	bench_report("xthread", items * (uint64_t)pairs, t1 - t0, "pairs=%d min=%zu max=%zu", pairs, lo, hi);
	return 0;
}
