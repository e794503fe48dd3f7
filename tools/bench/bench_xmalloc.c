// SPDX-License-Identifier: MIT
/*
 * bench_xmalloc PRODUCERS CONSUMERS ITEMS [MIN] [MAX] [BATCH] [QUEUE]
 *
 * Many threads freeing each other's blocks (the pattern of xmalloc-test,
 * written anew here). PRODUCERS threads each allocate ITEMS blocks of
 * random size in [MIN, MAX] (default 16..512, uniform), write a header
 * (size and tag) and the last byte, and hand them in batches of BATCH
 * pointers (default 64) to CONSUMERS threads through one bounded queue of
 * QUEUE batches (default 64) shared by all, under a mutex with two
 * condition variables. A consumer takes a batch, checks each block and
 * frees it: every free is of a block allocated by another thread, by any
 * of the producers, in no fixed pairing; a producer that finds the queue
 * full and a consumer that finds it empty sleep on the condition variable
 * (with more threads than CPUs they wait, as in a real pipeline).
 *
 * The threads are placed as the other multi-threaded programs' are
 * (bench_pin_setup(): pinned when there are at least as many CPUs as
 * threads, unless BENCH_PIN=0). Threads 0 .. PRODUCERS-1 produce, the
 * others consume.
 *
 * One op = one malloc in a producer + one remote free in a consumer.
 * The RESULT line adds the producers' waits on a full queue (full=) and
 * the consumers' on an empty one (empty=).
 */
#include "bench_common.h"

static unsigned long nprod, ncons, items, min_size, max_size, batch, qlen;

/* The queue: qlen batches of batch pointers each, a ring under q_lock. */
static struct bench_blk **q_slots;		/* qlen * batch pointers */
static unsigned long q_head, q_count;	/* first full batch, full batches */
static unsigned long q_producing;	/* producers not yet finished */
static unsigned long q_full_waits, q_empty_waits;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;

static struct bench_blk *new_block(rng_t *r, uint32_t tag)
{
	return bench_blk_new(rng_range(r, min_size, max_size), tag);
}

static void drop_block(struct bench_blk *h)
{
	bench_blk_free(h, min_size, max_size, "xmalloc");
}

/* Put n pointers (n <= batch) into the queue as one batch. */
static void q_put(struct bench_blk **v, unsigned long n)
{
	unsigned long slot;

	pthread_mutex_lock(&q_lock);
	while (q_count == qlen) {
		q_full_waits++;
		pthread_cond_wait(&q_not_full, &q_lock);
	}
	slot = (q_head + q_count) % qlen;
	memcpy(q_slots + slot * batch, v, n * sizeof(*v));
	if (n < batch)
		q_slots[slot * batch + n] = NULL;
	q_count++;
	pthread_cond_signal(&q_not_empty);
	pthread_mutex_unlock(&q_lock);
}

/* Take one batch into v; 0 when the producers are done and it is empty. */
static unsigned long q_get(struct bench_blk **v)
{
	unsigned long n;

	pthread_mutex_lock(&q_lock);
	while (!q_count && q_producing) {
		q_empty_waits++;
		pthread_cond_wait(&q_not_empty, &q_lock);
	}
	if (!q_count) {
		pthread_mutex_unlock(&q_lock);
		return 0;
	}
	memcpy(v, q_slots + q_head * batch, batch * sizeof(*v));
	q_head = (q_head + 1) % qlen;
	q_count--;
	pthread_cond_signal(&q_not_full);
	pthread_mutex_unlock(&q_lock);
	for (n = 0; n < batch && v[n]; n++)
		;
	return n;
}

static void *worker(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	struct bench_blk **v = malloc(batch * sizeof(*v));
	unsigned long i, n;
	rng_t r;

	if (!v)
		bench_oom(batch * sizeof(*v));
	if (id < nprod) {
		rng_seed(&r, id + 17);
		for (i = 0, n = 0; i < items; i++) {
			v[n++] = new_block(&r, (uint32_t)((id << 26) + i));
			if (n == batch || i + 1 == items) {
				q_put(v, n);
				n = 0;
			}
		}
		pthread_mutex_lock(&q_lock);
		if (!--q_producing)
			pthread_cond_broadcast(&q_not_empty);
		pthread_mutex_unlock(&q_lock);
	} else {
		while ((n = q_get(v)) != 0)
			for (i = 0; i < n; i++)
				drop_block(v[i]);
	}
	free(v);
	return NULL;
}

int main(int argc, char **argv)
{
	double t0, t1;

	nprod = bench_arg(argc, argv, 1, 1);
	ncons = bench_arg(argc, argv, 2, 1);
	items = bench_arg(argc, argv, 3, 2000000);
	min_size = bench_arg(argc, argv, 4, 16);
	max_size = bench_arg(argc, argv, 5, 512);
	batch = bench_arg(argc, argv, 6, 64);
	qlen = bench_arg(argc, argv, 7, 64);
	if (!nprod || !ncons || nprod + ncons > 64 || !items ||
	    min_size < sizeof(struct bench_blk) + 1 || min_size > max_size ||
	    max_size > 0xffffffffu || !batch || !qlen)
		bench_die("usage: bench_xmalloc PRODUCERS CONSUMERS(sum 2-64) ITEMS "
			  "[MIN(>=9)] [MAX] [BATCH] [QUEUE]");
	q_slots = malloc(qlen * batch * sizeof(*q_slots));
	if (!q_slots)
		bench_oom(qlen * batch * sizeof(*q_slots));
	q_producing = nprod;
	t0 = bench_now();
	bench_run_threads(nprod + ncons, worker);
	t1 = bench_now();
	if (q_count)
		bench_die("xmalloc: %lu batches left in the queue", q_count);
	free(q_slots);
	bench_report("xmalloc", (uint64_t)(nprod * items), t1 - t0,
		     "producers=%lu consumers=%lu min=%lu max=%lu batch=%lu queue=%lu "
		     "full=%lu empty=%lu", nprod, ncons, min_size, max_size, batch, qlen,
		     q_full_waits, q_empty_waits);
	return 0;
}
