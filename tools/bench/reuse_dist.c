// SPDX-License-Identifier: MIT
/*
 * reuse_dist SIZE NMIN NMAX ORDER OPS
 *
 * Not a benchmark: a measurement of the allocator's reuse order under the
 * pattern of bench_batch (the same arguments, the same random draws).
 * For every block malloc returns it records how many bytes the program
 * wrote (the memset of each block) since that address was last written,
 * and prints how many blocks fall in each band. A block reused after
 * fewer bytes than a cache holds is likely still in it: with blocks too
 * big for the L2, the bands against the L3's size tell whether the
 * memset of a new batch writes to lines still cached or fetched again
 * (Documentation/benchmarks.md, "fifth session").
 */
#include "bench_common.h"

#define REUSE_SLOTS	(1u << 20)	/* open-addressing table of block addresses */

struct reuse_ent {
	uintptr_t addr;		/* block address (0: empty) */
	uint64_t written;	/* bytes written by the program when it was last written */
};

static struct reuse_ent *tab;

static uint64_t *reuse_last(uintptr_t a)
{
	size_t h = (size_t)((a >> 4) * 0x9E3779B97F4A7C15ULL >> 44) & (REUSE_SLOTS - 1);

	while (tab[h].addr && tab[h].addr != a)
		h = (h + 1) & (REUSE_SLOTS - 1);
	tab[h].addr = a;
	return &tab[h].written;
}

int main(int argc, char **argv)
{
	static const uint64_t band_mb[] = { 1, 4, 8, 16, 24, 32 };
	enum { NB = sizeof(band_mb) / sizeof(band_mb[0]) };
	size_t size = bench_arg(argc, argv, 1, 16384);
	uint64_t nmin = bench_arg(argc, argv, 2, 25);
	uint64_t nmax = bench_arg(argc, argv, 3, 1600);
	uint64_t order = bench_arg(argc, argv, 4, 1);
	uint64_t ops = bench_arg(argc, argv, 5, 400000);
	uint64_t done = 0, round = 0, written = 0, hist[NB + 2] = { 0 };
	unsigned char **v;
	unsigned int b;
	rng_t r;

	if (!size || !nmin || nmin > nmax || order > 2)
		bench_die("usage: reuse_dist SIZE NMIN NMAX ORDER(0 FIFO, 1 LIFO, 2 both) OPS");
	v = malloc(nmax * sizeof(*v));
	tab = calloc(REUSE_SLOTS, sizeof(*tab));
	if (!v || !tab)
		bench_oom(REUSE_SLOTS * sizeof(*tab));
	rng_seed(&r, 7);
	while (done < ops) {
		uint64_t n = rng_range(&r, nmin, nmax), i;
		int lifo = order == 1 || (order == 2 && (round & 1));

		for (i = 0; i < n; i++) {
			uint64_t *last, d;

			v[i] = malloc(size);
			if (!v[i])
				bench_oom(size);
			last = reuse_last((uintptr_t)v[i]);
			if (!*last) {
				hist[NB + 1]++;		/* never written before */
			} else {
				d = written - *last;
				for (b = 0; b < NB && d >= band_mb[b] << 20; b++)
					;
				hist[b]++;
			}
			memset(v[i], (int)(i & 0xff), size);
			written += size;
			*last = written;
		}
		for (i = 0; i < n; i++)
			free(v[lifo ? n - 1 - i : i]);
		done += n;
		round++;
	}
	printf("reuse_dist size=%zu order=%llu blocks=%llu:", size, (unsigned long long)order,
	       (unsigned long long)done);
	for (b = 0; b < NB; b++)
		printf(" <%lluM %llu", (unsigned long long)band_mb[b], (unsigned long long)hist[b]);
	printf(" >=%lluM %llu new %llu\n", (unsigned long long)band_mb[NB - 1],
	       (unsigned long long)hist[NB], (unsigned long long)hist[NB + 1]);
	free(tab);
	free(v);
	return 0;
}
