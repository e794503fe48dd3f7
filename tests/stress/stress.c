// SPDX-License-Identifier: MIT
/*
 * stress: many threads allocating, passing and freeing blocks of every
 * tier, each block carrying a pattern derived from its address, size and
 * owner that is checked before every free and realloc.
 *
 *	stress [-t threads] [-d seconds] [-s seed] [-m max_size]
 *	       [-b budget_MiB] [-e] [-a arena_KiB] [-q]
 *
 *	-t n	worker threads (default 8; 0: one worker in the main thread,
 *		for builds without CONFIG_THREADS)
 *	-d s	run for s seconds (default 10)
 *	-s n	random seed (default: fixed; printed, so a failure replays
 *		as far as thread scheduling allows)
 *	-m n	largest request in bytes (default 1 MiB)
 *	-b n	live memory budget in MiB (default 128): above it only
 *		small blocks are allocated
 *	-e	a failed allocation is not an error (arena builds)
 *	-a n	hand the allocator an arena of n KiB first (hak_arena_init),
 *		for an arena build without a built-in array
 *		(CONFIG_ARENA_SIZE_KB=0): until then every allocation fails,
 *		and with CONFIG_EXPORT_MALLOC the process malloc is the arena
 *	-q	quiet: only the summary line
 *
 * Workers own slots. Each slot has an inbound queue; workers send blocks
 * to other slots' queues (remote frees, remote reallocs). A worker lives
 * for a random number of operations, then hands its live blocks to the
 * orphan pool and exits; the main thread joins it and starts a new worker
 * in its slot. Orphans are freed later by other threads. At the end every
 * block still alive is checked and freed.
 *
 * Built twice: on the hak_* API (linked with libhakmem.a) and with
 * -DHK_USE_LIBC on malloc/free (run with LD_PRELOAD=libhakmem.so).
 * Last line: "stress: N passed, M failed" (N blocks checked, M corrupt,
 * misaligned or failed allocations); exit status 1 if M > 0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "hk_api.h"

#define LOCAL_MAX	256	/* live blocks a worker holds */
#define QUEUE_MAX	1024	/* blocks waiting in a slot's inbound queue */
#define ORPHAN_MAX	8192	/* blocks left behind by exited workers */
#define MAX_THREADS	256

struct item {
	void *p;
	size_t n;		/* requested size, all of it patterned */
	size_t align;		/* alignment asked for (8 or 16: plain) */
	uint32_t tid;		/* the thread that wrote the pattern */
};

struct queue {
	pthread_mutex_t lock;
	unsigned int head, count;
	struct item items[QUEUE_MAX];
};

struct slot {
	pthread_t thread;
	uint32_t tid;		/* of the worker now in the slot */
	int running;		/* a worker was started and not joined */
	int done;		/* atomic: the worker finished */
	struct queue q;
};

/* Options. */
static int nthreads = 8;
static double duration = 10;
static uint64_t seed = 0x5eed5eed12345678ULL;
static size_t max_size = (size_t)1 << 20;
static size_t budget = (size_t)128 << 20;
static int allow_enomem, quiet;

static struct slot *slots;
static int nslots;
static int stop;			/* atomic */
static uint32_t next_tid;		/* atomic */

static struct {
	pthread_mutex_t lock;
	unsigned int count;
	struct item items[ORPHAN_MAX];
} orphans = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Counters (atomic). */
static unsigned long n_checked, n_failed, n_allocs, n_frees, n_remote,
	n_orphaned, n_reallocs, n_enomem, n_threads;
static size_t live_bytes;

#define ATOMIC_ADD(v, d)	__atomic_fetch_add(&(v), (d), __ATOMIC_RELAXED)
#define ATOMIC_SUB(v, d)	__atomic_fetch_sub(&(v), (d), __ATOMIC_RELAXED)
#define ATOMIC_GET(v)		__atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define ATOMIC_SET(v, x)	__atomic_store_n(&(v), (x), __ATOMIC_RELEASE)

static void fail(const char *fmt, ...)
{
	va_list ap;
	unsigned long n = ATOMIC_ADD(n_failed, 1);

	if (n >= 20)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "stress: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------------
 * Patterns
 */

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t key_of(const struct item *it)
{
	return mix((uintptr_t)it->p ^ ((uint64_t)it->n << 20) ^ ((uint64_t)it->tid << 48));
}

static void stamp(const struct item *it)
{
	unsigned char *c = it->p;
	uint64_t k = key_of(it), w;
	size_t i;

	for (i = 0; i + 8 <= it->n; i += 8) {
		w = k + i * 0x9e3779b97f4a7c15ULL;
		memcpy(c + i, &w, 8);
	}
	w = k + i * 0x9e3779b97f4a7c15ULL;
	for (; i < it->n; i++)
		c[i] = (unsigned char)(w >> ((i & 7) * 8));
}

/*
 * Check the pattern of key over the first n bytes at p; it describes the
 * block for the message.
 */
static int verify_at(const void *p, size_t n, uint64_t k, const struct item *it,
		     const char *what)
{
	const unsigned char *c = p;
	uint64_t w, got;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		w = k + i * 0x9e3779b97f4a7c15ULL;
		memcpy(&got, c + i, 8);
		if (got != w)
			break;
	}
	for (; i < n; i++) {
		w = k + (i & ~(size_t)7) * 0x9e3779b97f4a7c15ULL;
		if (c[i] != (unsigned char)(w >> ((i & 7) * 8)))
			break;
	}
	if (i == n) {
		ATOMIC_ADD(n_checked, 1);
		return 1;
	}
	w = k + (i & ~(size_t)7) * 0x9e3779b97f4a7c15ULL;
	fail("%s: block %p size %zu (written by thread %u at %p) corrupt at offset %zu: "
	     "0x%02x, expected 0x%02x", what, p, it->n, it->tid, it->p, i, c[i],
	     (unsigned char)(w >> ((i & 7) * 8)));
	return 0;
}

static int verify(const struct item *it, const char *what)
{
	return verify_at(it->p, it->n, key_of(it), it, what);
}

/* ------------------------------------------------------------------------
 * Per-thread random numbers and sizes
 */

struct rng {
	uint64_t s;
};

static inline uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static size_t pick_size(struct rng *r)
{
	uint64_t x = rnd(r);
	unsigned int p;
	size_t lo, hi, n;

	/* Per mille: 650 up to 128 B, 200 up to 1 KiB, 110 up to 32 KiB,
	 * 35 up to 256 KiB, 5 up to 1 MiB. */
	p = (unsigned int)(x % 1000);
	x /= 1000;
	if (p < 650 || ATOMIC_GET(live_bytes) > budget) {
		lo = 1; hi = 128;
	} else if (p < 850) {
		lo = 129; hi = 1024;
	} else if (p < 960) {
		lo = 1025; hi = 32768;
	} else if (p < 995) {
		lo = 32769; hi = 262144;
	} else {
		lo = 262145; hi = (size_t)1 << 20;
	}
	if (hi > max_size)
		hi = max_size;
	if (lo > hi)
		lo = 1;
	n = lo + (size_t)(x % (hi - lo + 1));
	return n;
}

static size_t plain_align(size_t n)
{
	return n <= 8 ? 8 : 16;
}

/* ------------------------------------------------------------------------
 * Allocation and free, with the bookkeeping
 */

static int check_align(const struct item *it, const char *what)
{
	size_t u;

	if ((uintptr_t)it->p & (it->align - 1)) {
		fail("%s: %p (size %zu) not aligned to %zu", what, it->p, it->n, it->align);
		return 0;
	}
	u = t_malloc_usable_size(it->p);
	if (u < it->n) {
		fail("%s: %p usable size %zu < requested %zu", what, it->p, u, it->n);
		return 0;
	}
	return 1;
}

static int alloc_item(struct item *it, struct rng *r, uint32_t tid)
{
	size_t n = pick_size(r), a = 0;
	unsigned int how = (unsigned int)(rnd(r) % 100);
	void *p = NULL;

	errno = 0;
	if (how < 75) {
		p = t_malloc(n);
	} else if (how < 85) {
		p = t_calloc(1, n);
		if (p) {
			const unsigned char *c = p;
			size_t i;

			for (i = 0; i < n; i++)
				if (c[i]) {
					fail("calloc(1, %zu) = %p: byte %zu is 0x%02x", n, p, i, c[i]);
					break;
				}
		}
	} else if (how < 90) {
		p = t_realloc(NULL, n);
	} else {
		a = (size_t)32 << (rnd(r) % 8);		/* 32 B ... 4 KiB */
		if (rnd(r) % 50 == 0)
			a = (size_t)64 << 10;
		switch (how % 3) {
		case 0:
			if (t_posix_memalign(&p, a, n))
				p = NULL;
			break;
		case 1:
			p = t_aligned_alloc(a, n);
			break;
		default:
			p = t_memalign(a, n);
			break;
		}
	}
	if (!p) {
		if (allow_enomem && errno == ENOMEM) {
			ATOMIC_ADD(n_enomem, 1);
			return 0;
		}
		fail("allocation of %zu bytes (align %zu) failed: errno %d", n, a, errno);
		return 0;
	}
	it->p = p;
	it->n = n;
	it->align = a ? a : plain_align(n);
	it->tid = tid;
	ATOMIC_ADD(n_allocs, 1);
	ATOMIC_ADD(live_bytes, n);
	if (!check_align(it, "alloc"))
		return 1;	/* keep it: it is still a block */
	stamp(it);
	return 1;
}

static void free_item(struct item *it, struct rng *r, const char *what)
{
	verify(it, what);
	ATOMIC_SUB(live_bytes, it->n);
	ATOMIC_ADD(n_frees, 1);
	if (r && rnd(r) % 4 == 0) {
		if (it->align > 16)
			t_free_aligned_sized(it->p, it->align, it->n);
		else
			t_free_sized(it->p, it->n);
	} else {
		t_free(it->p);
	}
	it->p = NULL;
}

/* Resize a block (ours now, maybe written by another thread). */
static void realloc_item(struct item *it, struct rng *r, uint32_t tid)
{
	size_t n = pick_size(r), keep = n < it->n ? n : it->n;
	struct item old = *it;
	void *p;

	if (!verify(it, "before realloc"))
		return;
	errno = 0;
	p = t_realloc(it->p, n);
	if (!p) {
		if (allow_enomem && errno == ENOMEM) {
			ATOMIC_ADD(n_enomem, 1);
			verify(it, "after failed realloc");
			return;
		}
		fail("realloc(%p, %zu) failed: errno %d", it->p, n, errno);
		return;
	}
	ATOMIC_ADD(n_reallocs, 1);
	ATOMIC_ADD(live_bytes, n - it->n);
	/* The first keep bytes moved: check them against the old key. */
	verify_at(p, keep, key_of(&old), &old, "after realloc");
	it->p = p;
	it->n = n;
	it->align = plain_align(n);	/* realloc only promises malloc's alignment */
	it->tid = tid;
	if (check_align(it, "realloc"))
		stamp(it);
}

/* ------------------------------------------------------------------------
 * Queues and the orphan pool
 */

static int queue_push(struct queue *q, const struct item *it)
{
	int ok = 0;

	pthread_mutex_lock(&q->lock);
	if (q->count < QUEUE_MAX) {
		q->items[(q->head + q->count) % QUEUE_MAX] = *it;
		q->count++;
		ok = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

/* Take up to max items out of q. */
static unsigned int queue_pop(struct queue *q, struct item *out, unsigned int max)
{
	unsigned int n = 0;

	pthread_mutex_lock(&q->lock);
	while (n < max && q->count) {
		out[n++] = q->items[q->head];
		q->head = (q->head + 1) % QUEUE_MAX;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

static int orphan_push(const struct item *it)
{
	int ok = 0;

	pthread_mutex_lock(&orphans.lock);
	if (orphans.count < ORPHAN_MAX) {
		orphans.items[orphans.count++] = *it;
		ok = 1;
	}
	pthread_mutex_unlock(&orphans.lock);
	return ok;
}

static unsigned int orphan_pop(struct item *out, unsigned int max, struct rng *r)
{
	unsigned int n = 0;

	pthread_mutex_lock(&orphans.lock);
	while (n < max && orphans.count) {
		/* From anywhere in the pool: some orphans live long. */
		unsigned int k = r ? (unsigned int)(rnd(r) % orphans.count) : orphans.count - 1;

		out[n++] = orphans.items[k];
		orphans.items[k] = orphans.items[--orphans.count];
	}
	pthread_mutex_unlock(&orphans.lock);
	return n;
}

/* ------------------------------------------------------------------------
 * Workers
 */

struct worker {
	struct slot *slot;
	int index;
	uint32_t tid;
	struct rng r;
	unsigned int nlocal;
	struct item local[LOCAL_MAX];
	struct item tmp[64];
};

static void drain_inbound(struct worker *w)
{
	unsigned int n = queue_pop(&w->slot->q, w->tmp, 64), i;

	for (i = 0; i < n; i++) {
		struct item *it = &w->tmp[i];

		ATOMIC_ADD(n_remote, 1);
		/* Now and then keep it: realloc a block another thread made. */
		if (w->nlocal < LOCAL_MAX && rnd(&w->r) % 4 == 0) {
			realloc_item(it, &w->r, w->tid);
			w->local[w->nlocal++] = *it;
		} else {
			free_item(it, &w->r, "remote free");
		}
	}
}

static void adopt_orphans(struct worker *w)
{
	unsigned int n = orphan_pop(w->tmp, 32, &w->r), i;

	for (i = 0; i < n; i++)
		free_item(&w->tmp[i], &w->r, "orphan free");
}

static void drop_local(struct worker *w, unsigned int k)
{
	w->local[k] = w->local[--w->nlocal];
}

static void worker_run(struct worker *w)
{
	unsigned long life, op;
	unsigned int i;

	/* Most workers live long; some only briefly. */
	life = rnd(&w->r) % 4 == 0 ? 500 + rnd(&w->r) % 5000 : 5000 + rnd(&w->r) % 60000;
	for (op = 0; op < life && !ATOMIC_GET(stop); op++) {
		unsigned int choice = (unsigned int)(rnd(&w->r) % 100);
		unsigned int k = w->nlocal ? (unsigned int)(rnd(&w->r) % w->nlocal) : 0;

		if ((op & 63) == 0)
			drain_inbound(w);
		if ((op & 1023) == 512)
			adopt_orphans(w);

		if (choice < 45 || w->nlocal == 0) {
			if (w->nlocal == LOCAL_MAX) {
				free_item(&w->local[k], &w->r, "free");
				drop_local(w, k);
			}
			if (alloc_item(&w->local[w->nlocal], &w->r, w->tid))
				w->nlocal++;
		} else if (choice < 70) {
			free_item(&w->local[k], &w->r, "free");
			drop_local(w, k);
		} else if (choice < 85) {
			int to = nslots > 1 ? (int)(rnd(&w->r) % nslots) : 0;

			if (!verify(&w->local[k], "before send"))
				continue;
			if (queue_push(&slots[to].q, &w->local[k]))
				drop_local(w, k);
		} else if (choice < 95) {
			realloc_item(&w->local[k], &w->r, w->tid);
		} else {
			struct item *it = &w->local[k];

			check_align(it, "usable size");
		}
	}
	/* Leave: live blocks outlive the thread. */
	for (i = 0; i < w->nlocal; i++) {
		if (!orphan_push(&w->local[i]))
			free_item(&w->local[i], &w->r, "free at exit");
		else
			ATOMIC_ADD(n_orphaned, 1);
	}
	w->nlocal = 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_run(w);
	ATOMIC_SET(w->slot->done, 1);
	/* The worker struct is the thread's: freed with the C library. */
	free(w);
	return NULL;
}

static struct worker *new_worker(int index)
{
	/* Test bookkeeping comes from calloc: the C library's, or hakmem's
	 * when it is the process malloc. */
	struct worker *w = calloc(1, sizeof(*w));

	if (!w) {
		fprintf(stderr, "stress: out of memory for a worker\n");
		exit(2);
	}
	w->slot = &slots[index];
	w->index = index;
	w->tid = ATOMIC_ADD(next_tid, 1) + 1;
	w->r.s = mix(seed ^ ((uint64_t)w->tid * 0x9e3779b97f4a7c15ULL)) | 1;
	slots[index].tid = w->tid;
	ATOMIC_ADD(n_threads, 1);
	return w;
}

static void start_worker(int index)
{
	struct worker *w = new_worker(index);
	int err;

	slots[index].done = 0;
	err = pthread_create(&slots[index].thread, NULL, worker_main, w);
	if (err) {
		fprintf(stderr, "stress: pthread_create: %s\n", strerror(err));
		exit(2);
	}
	slots[index].running = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Free everything still queued or orphaned. */
static void drain_all(void)
{
	struct item tmp[64];
	unsigned int n, i;
	int s;

	for (s = 0; s < nslots; s++)
		while ((n = queue_pop(&slots[s].q, tmp, 64)) > 0)
			for (i = 0; i < n; i++)
				free_item(&tmp[i], NULL, "final free");
	while ((n = orphan_pop(tmp, 64, NULL)) > 0)
		for (i = 0; i < n; i++)
			free_item(&tmp[i], NULL, "final orphan free");
}

static void usage(void)
{
	fprintf(stderr, "usage: stress [-t threads] [-d seconds] [-s seed] [-m max_size] "
		"[-b budget_MiB] [-e] [-a arena_KiB] [-q]\n");
	exit(2);
}

/*
 * -a: an arena of kib KiB for the allocator, before anything allocates
 * (stdio's buffers and this program's bookkeeping come from malloc, which
 * is the arena when the library exports it). Mapped, not static: its size
 * is the caller's.
 */
static void arena_init(size_t kib)
{
#ifdef HK_USE_LIBC
	(void)kib;
	fprintf(stderr, "stress: -a needs the hak_* API build\n");
	exit(2);
#else
	size_t len = kib << 10;
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED || hak_arena_init(base, len)) {
		fprintf(stderr, "stress: hak_arena_init(%zu KiB): %s\n", kib, strerror(errno));
		exit(2);
	}
#endif
}

int main(int argc, char **argv)
{
	double t0, deadline;
	size_t arena_kib = 0;
	int opt, s;

	while ((opt = getopt(argc, argv, "t:d:s:m:b:ea:q")) != -1) {
		switch (opt) {
		case 't': nthreads = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'm': max_size = strtoull(optarg, NULL, 0); break;
		case 'b': budget = strtoull(optarg, NULL, 0) << 20; break;
		case 'e': allow_enomem = 1; break;
		case 'a': arena_kib = strtoull(optarg, NULL, 0); break;
		case 'q': quiet = 1; break;
		default: usage();
		}
	}
	if (nthreads < 0 || nthreads > MAX_THREADS || max_size < 1)
		usage();
	if (arena_kib)
		arena_init(arena_kib);
	setvbuf(stdout, NULL, _IOLBF, 0);

	nslots = nthreads ? nthreads : 1;
	slots = calloc((size_t)nslots, sizeof(*slots));
	if (!slots) {
		fprintf(stderr, "stress: out of memory for %d slots%s\n", nslots,
			allow_enomem ? " (an arena build without an arena? -a)" : "");
		return 2;
	}
	for (s = 0; s < nslots; s++)
		pthread_mutex_init(&slots[s].q.lock, NULL);
#ifdef HK_USE_LIBC
	{
		Dl_info info;
		const char *want = getenv("HK_EXPECT_MALLOC_FROM");

		if (dladdr((void *)malloc, &info) && info.dli_fname) {
			if (!quiet)
				printf("stress: malloc is from %s\n", info.dli_fname);
			if (want && !strstr(info.dli_fname, want)) {
				printf("stress: expected malloc from %s (LD_PRELOAD?)\n", want);
				printf("stress: 0 passed, 1 failed\n");
				return 1;
			}
		}
	}
#endif
	if (!quiet)
		printf("stress (%s API): %d threads, %.0f s, sizes 1..%zu, seed 0x%llx\n",
		       T_NAME, nthreads, duration, max_size, (unsigned long long)seed);

	t0 = now();
	deadline = t0 + duration;
	if (nthreads == 0) {
		/* One worker at a time in this thread: workers still "exit"
		 * and leave orphans for the next one. */
		while (now() < deadline && !ATOMIC_GET(n_failed)) {
			struct worker *w = new_worker(0);

			worker_run(w);
			free(w);
		}
	} else {
		for (s = 0; s < nslots; s++)
			start_worker(s);
		while (now() < deadline && ATOMIC_GET(n_failed) == 0) {
			usleep(5000);
			for (s = 0; s < nslots; s++) {
				if (!ATOMIC_GET(slots[s].done))
					continue;
				pthread_join(slots[s].thread, NULL);
				slots[s].running = 0;
				start_worker(s);
			}
		}
		ATOMIC_SET(stop, 1);
		for (s = 0; s < nslots; s++)
			if (slots[s].running)
				pthread_join(slots[s].thread, NULL);
	}
	drain_all();
	t_malloc_trim(0);

	if (!quiet)
		printf("stress: %.1f s, %lu threads started, %lu allocs, %lu frees, "
		       "%lu reallocs, %lu remote, %lu orphaned, %lu ENOMEM\n",
		       now() - t0, n_threads, n_allocs, n_frees, n_reallocs, n_remote,
		       n_orphaned, n_enomem);
	if (n_allocs != n_frees) {
		fail("%lu allocations but %lu frees", n_allocs, n_frees);
	}
	printf("stress: %lu passed, %lu failed\n", n_checked, n_failed);
	return n_failed ? 1 : 0;
}
