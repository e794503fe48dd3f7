// SPDX-License-Identifier: MIT
/*
 * bench_list NODES ROUNDS
 *
 * A singly linked list of NODES nodes of 16 bytes (one malloc each),
 * built in order, walked ROUNDS times in allocation order, then freed
 * from its head: the pattern of a program that builds a list, queue or
 * log and reads it back in the order it was made. With NODES in the
 * millions the list is far larger than L2, so the walk measures how the
 * allocator laid consecutive blocks out in memory (address order lets
 * each line serve four nodes and the prefetchers stream ahead), which
 * benchmarks that touch each block right after its malloc do not see: a
 * carve that linked small blocks a line apart (fourteenth session,
 * Documentation/benchmarks.md) made this walk 18-20% slower.
 * One op = one node visited (NODES x ROUNDS).
 */
#include "bench_common.h"

struct lnode {
	struct lnode *next;	/* the node made after this one */
	uint64_t value;		/* its number */
};

int main(int argc, char **argv)
{
	uint64_t n, rounds, i, r, sum = 0;
	struct lnode *head = NULL, *tail = NULL, *p;
	double t0, t1;

	if (argc != 3)
		bench_die("usage: bench_list NODES ROUNDS");
	n = strtoull(argv[1], NULL, 0);
	rounds = strtoull(argv[2], NULL, 0);
	if (!n || !rounds)
		bench_die("usage: bench_list NODES ROUNDS");
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		p = malloc(sizeof(*p));
		if (!p)
			bench_oom(sizeof(*p));
		p->next = NULL;
		p->value = i;
		if (tail)
			tail->next = p;
		else
			head = p;
		tail = p;
	}
	for (r = 0; r < rounds; r++)
		for (p = head; p; p = p->next)
			sum += p->value;
	while (head) {
		p = head->next;
		free(head);
		head = p;
	}
	t1 = bench_now();
	if (sum != rounds * (n * (n - 1) / 2))
		bench_die("list walk: sum %llu, expected %llu", (unsigned long long)sum,
			  (unsigned long long)(rounds * (n * (n - 1) / 2)));
	bench_report("list", n * rounds, t1 - t0, "nodes=%llu rounds=%llu",
		     (unsigned long long)n, (unsigned long long)rounds);
	return 0;
}
