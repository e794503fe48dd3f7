// SPDX-License-Identifier: MIT
/*
 * bench_realloc [OPS] [BUFFERS] [MAXSIZE] [FILL]
 *
 * realloc() growth: BUFFERS (default 64) buffers grow concurrently,
 * round-robin, one realloc step each turn, from a few bytes towards a
 * random target size (log-uniform between 64 B and MAXSIZE, default
 * 4 MiB); a buffer that reached its target is freed and restarted.
 * Each buffer follows one of three growth policies:
 *   - doubling (x2), like most vector/string builders;
 *   - x1.25 plus 1..64 bytes;
 *   - linear +1..256 bytes per step (its target is capped at 64 KiB);
 * Content preservation is checked: the first byte and the last byte
 * written before each realloc must survive it.
 * FILL=1 (default 0) writes every new byte after each realloc (memset)
 * instead of only the new last one: a buffer filled as it grows, so that
 * a saving in page faults is not an artefact of pages left untouched.
 * One op = one realloc call (the closing free is not counted).
 */
#include "bench_common.h"

struct buf {
	unsigned char *p;
	size_t size, target;
	int policy;
	uint64_t id;
};

static void restart(struct buf *b, rng_t *r, size_t maxsize, uint64_t id)
{
	/* log-uniform target in [64, maxsize] */
	unsigned lg_max = 63 - (unsigned)__builtin_clzll(maxsize);
	unsigned lg = 6 + (unsigned)rng_range(r, 0, lg_max > 6 ? lg_max - 6 : 0);
	size_t t = ((size_t)1 << lg) + rng_range(r, 0, ((size_t)1 << lg) - 1);

	if (t > maxsize)
		t = maxsize;
	b->policy = (int)rng_range(r, 0, 9);
	b->policy = b->policy < 4 ? 0 : b->policy < 7 ? 1 : 2;
	if (b->policy == 2 && t > 65536)
		t = 65536;
	b->target = t;
	b->size = rng_range(r, 1, 32);
	b->id = id;
	b->p = malloc(b->size);
	if (!b->p)
		bench_oom(b->size);
	b->p[b->size - 1] = bench_tag8(id + b->size);
	b->p[0] = bench_tag8(id);
}

int main(int argc, char **argv)
{
	uint64_t ops = bench_arg(argc, argv, 1, 700000);
	size_t nbuf = bench_arg(argc, argv, 2, 64);
	size_t maxsize = bench_arg(argc, argv, 3, 4 << 20);
	int fill = (int)bench_arg(argc, argv, 4, 0);
	struct buf *b;
	uint64_t ids = 0, done = 0;
	rng_t r;
	double t0, t1;

	if (nbuf < 1 || maxsize < 128)
		bench_die("usage: %s [OPS] [BUFFERS] [MAXSIZE>=128] [FILL]", argv[0]);
	b = calloc(nbuf, sizeof(*b));
	if (!b)
		bench_oom(nbuf * sizeof(*b));
	rng_seed(&r, BENCH_SEED ^ 0x5EA110C);
	for (size_t i = 0; i < nbuf; i++)
		restart(&b[i], &r, maxsize, ids++);

	t0 = bench_now();
	for (uint64_t n = 0; n < ops; n++) {
		struct buf *x = &b[n % nbuf];
		size_t old = x->size, ns;
		unsigned char *p;

		switch (x->policy) {
		case 0: ns = old * 2; break;
		case 1: ns = old + old / 4 + rng_range(&r, 1, 64); break;
		default: ns = old + rng_range(&r, 1, 256); break;
		}
		if (ns > x->target)
			ns = x->target;
		p = realloc(x->p, ns);
		if (!p)
			bench_oom(ns);
		if (p[0] != bench_tag8(x->id) || (old > 1 && p[old - 1] != bench_tag8(x->id + old)))
			bench_die("realloc: buffer %llu lost its content growing %zu -> %zu",
				  (unsigned long long)x->id, old, ns);
		if (fill && ns > old + 1)
			memset(p + old, 0x5a, ns - old - 1);
		p[ns - 1] = bench_tag8(x->id + ns);
		x->p = p;
		x->size = ns;
		if (ns >= x->target) {
			free(x->p);
			done++;
			restart(x, &r, maxsize, ids++);
		}
	}
	t1 = bench_now();

	for (size_t i = 0; i < nbuf; i++)
		free(b[i].p);
	free(b);
	bench_report("realloc", ops, t1 - t0, "buffers=%zu maxsize=%zu fill=%d completed=%llu",
		     nbuf, maxsize, fill, (unsigned long long)done);
	return 0;
}
