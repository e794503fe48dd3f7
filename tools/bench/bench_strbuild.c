// SPDX-License-Identifier: MIT
/*
 * bench_strbuild STRINGS MAXLEN ITERS
 *
 * Strings built by appending small pieces with realloc to the exact new
 * length, as much C code does (a string or output buffer grown with
 * realloc(s, len + n + 1) on every append, no capacity kept). STRINGS
 * strings (default 32) are built at once, round robin: each turn appends
 * 1..32 bytes to one string; a string that reached its target length
 * (drawn log-uniformly between 16 B and MAXLEN, default 64 KiB) is checked
 * (its first and last pieces), freed and started again. Most appends stay
 * inside the block's usable size, and an allocator that answers those in
 * place without copying, and moves the others to a block with room to
 * grow, wins; one that copies on every call pays O(length) per append.
 *
 * One op = one realloc call (the first malloc of a string counts as one).
 */
#include "bench_common.h"

struct str {
	char *s;		/* the string (NUL-terminated) */
	size_t len;		/* its length */
	size_t target;		/* length at which it is freed */
	uint64_t gen;		/* which string this is, for the check */
};

/* Log-uniform in [16, maxlen): 2^e for e uniform, linear between powers. */
static size_t draw_target(rng_t *r, size_t maxlen)
{
	double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double e = 4.0, hi = 0;		/* log2(16) */
	size_t m = maxlen;

	while (m > 1) {
		hi += 1.0;
		m >>= 1;
	}
	e += u * (hi - e);
	return (size_t)((double)((size_t)1 << (size_t)e) * (1.0 + (e - (double)(size_t)e)));
}

static void restart(struct str *x, rng_t *r, size_t maxlen, uint64_t gen)
{
	x->s = NULL;
	x->len = 0;
	x->target = draw_target(r, maxlen) + (size_t)(rng_next(r) & 15);
	x->gen = gen;
}

static void finish(struct str *x)
{
	if (x->s[0] != (char)('A' + x->gen % 26) ||
	    x->s[x->len - 1] != (char)('a' + (x->len - 1) % 26) || x->s[x->len] != 0)
		bench_die("string content lost (length %zu)", x->len);
	free(x->s);
}

int main(int argc, char **argv)
{
	uint64_t nstr = bench_arg(argc, argv, 1, 32);
	uint64_t maxlen = bench_arg(argc, argv, 2, 65536);
	uint64_t iters = bench_arg(argc, argv, 3, 10000000);
	uint64_t i, gen = 0, done = 0;
	struct str *v;
	double t0, t1;
	rng_t r;

	if (!nstr || maxlen < 32)
		bench_die("usage: bench_strbuild STRINGS MAXLEN(>=32) ITERS");
	v = calloc(nstr, sizeof(*v));
	if (!v)
		bench_oom(nstr * sizeof(*v));
	rng_seed(&r, 9);
	for (i = 0; i < nstr; i++)
		restart(&v[i], &r, maxlen, gen++);
	t0 = bench_now();
	for (i = 0; i < iters; i++) {
		struct str *x = &v[i % nstr];
		size_t n = rng_range(&r, 1, 32), j;
		char *s = realloc(x->s, x->len + n + 1);

		if (!s)
			bench_oom(x->len + n + 1);
		for (j = 0; j < n; j++)
			s[x->len + j] = (char)('a' + (x->len + j) % 26);
		if (!x->len)
			s[0] = (char)('A' + x->gen % 26);
		x->len += n;
		s[x->len] = 0;
		x->s = s;
		if (x->len >= x->target) {
			finish(x);
			restart(x, &r, maxlen, gen++);
			done++;
		}
	}
	t1 = bench_now();
	for (i = 0; i < nstr; i++)
		if (v[i].s)
			finish(&v[i]);
	free(v);
	bench_report("strbuild", iters, t1 - t0, "strings=%llu maxlen=%llu built=%llu",
		     (unsigned long long)nstr, (unsigned long long)maxlen,
		     (unsigned long long)done);
	return 0;
}
