// SPDX-License-Identifier: MIT
/*
 * bench_objects NODES BUCKETS TEMPS ITERS
 *
 * Many small objects with a C++-like size mix, some long-lived, most
 * short-lived, as in programs like cfrac or espresso (big-number and set
 * arithmetic on small heap objects), written anew here. The program keeps
 * about NODES long-lived objects on BUCKETS singly linked lists (a hash
 * table) and, every step:
 *
 *   - computes: allocates 1..TEMPS temporaries (operands and a result),
 *     writes them, frees all but the result, which lives until the next
 *     step frees it (lifetimes of a few allocations);
 *   - with probability 1/4, inserts a new object at the head of a random
 *     list while fewer than NODES live, else unlinks one from the middle
 *     of a random list (a long-lived object lives about 4 * NODES steps);
 *   - walks the list it touched, reading every object (the program's own
 *     work, which is faster when objects allocated together lie together).
 *
 * Sizes come from a fixed mix of C++-like object sizes: 16 B (30%),
 * 24 B (20%), 32 B (15%), 48 B (10%), 64 B (8%), 96 B (6%), 128 B (5%),
 * 256 B (4%) and 512 B (2%).
 *
 * One op = one step (on average 1 + TEMPS/2 mallocs and as many frees, plus
 * 1/4 insert or unlink).
 */
#include "bench_common.h"

struct node {
	struct node *next;	/* next object on its list */
	uint32_t key;		/* hash key, checked on the walk */
	uint16_t size;		/* bytes allocated */
	uint8_t pad[2];		/* the last byte of a 16-byte object: its tag */
};

static const uint32_t mix_size[] = { 16, 24, 32, 48, 64, 96, 128, 256, 512 };
static const uint32_t mix_cum[] = { 30, 50, 65, 75, 83, 89, 94, 98, 100 };

static uint32_t draw_size(rng_t *r)
{
	uint32_t u = (uint32_t)((rng_next(r) >> 20) % 100), i = 0;

	while (u >= mix_cum[i])
		i++;
	return mix_size[i];
}

static struct node *new_node(rng_t *r, uint32_t key)
{
	uint32_t sz = draw_size(r);
	struct node *n = malloc(sz);

	if (!n)
		bench_oom(sz);
	n->next = NULL;
	n->size = (uint16_t)sz;
	n->key = key;
	((unsigned char *)n)[sz - 1] = bench_tag8(key);
	return n;
}

static void check_node(const struct node *n, uint32_t bucket, uint32_t mask)
{
	if ((n->key & mask) != bucket || n->size < 16 || n->size > 512 ||
	    ((const unsigned char *)n)[n->size - 1] != bench_tag8(n->key))
		bench_die("object corrupted (bucket %u)", bucket);
}

int main(int argc, char **argv)
{
	uint64_t nodes = bench_arg(argc, argv, 1, 200000);
	uint64_t buckets = bench_arg(argc, argv, 2, 16384);
	uint64_t temps = bench_arg(argc, argv, 3, 4);
	uint64_t iters = bench_arg(argc, argv, 4, 5000000);
	uint64_t live = 0, i, sum = 0;
	struct node **head, *result = NULL, *tmp[64];
	double t0, t1;
	rng_t r;

	if (!buckets || buckets > 0x80000000u || (buckets & (buckets - 1)) || !temps || temps > 64)
		bench_die("usage: bench_objects NODES BUCKETS(power of two) TEMPS(1-64) ITERS");
	head = calloc(buckets, sizeof(*head));
	if (!head)
		bench_oom(buckets * sizeof(*head));
	rng_seed(&r, 5);
	t0 = bench_now();
	for (i = 0; i < iters; i++) {
		uint64_t n = rng_range(&r, 1, temps), j;
		uint32_t key = (uint32_t)(rng_next(&r) >> 32);
		uint32_t b = key & (uint32_t)(buckets - 1);
		struct node *p, **pp;

		for (j = 0; j < n; j++)
			tmp[j] = new_node(&r, key + (uint32_t)j);
		if (result)
			free(result);
		for (j = 1; j < n; j++)
			free(tmp[j]);
		result = tmp[0];

		if ((rng_next(&r) >> 62) == 0 || live < nodes / 2) {
			if (live < nodes) {
				p = new_node(&r, key);
				p->next = head[b];
				head[b] = p;
				live++;
			} else if (head[b]) {
				uint64_t len = 0, k;

				for (p = head[b]; p; p = p->next)
					len++;
				k = rng_range(&r, 0, len - 1);
				for (pp = &head[b]; k--; pp = &(*pp)->next)
					;
				p = *pp;
				*pp = p->next;
				check_node(p, b, (uint32_t)(buckets - 1));
				free(p);
				live--;
			}
		}
		for (p = head[b]; p; p = p->next) {
			check_node(p, b, (uint32_t)(buckets - 1));
			sum += p->size;
		}
	}
	t1 = bench_now();
	free(result);
	for (i = 0; i < buckets; i++) {
		struct node *p = head[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(head);
	bench_report("objects", iters, t1 - t0, "nodes=%llu buckets=%llu temps=%llu walked=%llu",
		     (unsigned long long)nodes, (unsigned long long)buckets,
		     (unsigned long long)temps, (unsigned long long)sum);
	return 0;
}
