// SPDX-License-Identifier: MIT
/*
 * bench_list NODES ROUNDS [SIZE [DROP]]
 *
 * A singly linked list of NODES nodes of SIZE bytes (16 by default, at
 * least 16; one malloc each), built in order, walked ROUNDS times in
 * allocation order, then freed from its head: the pattern of a program that builds a list, queue or
 * log and reads it back in the order it was made. With NODES in the
 * millions the list is far larger than L2, so the walk measures how the
 * allocator laid consecutive blocks out in memory (address order lets
 * each line serve four nodes and the prefetchers stream ahead), which
 * benchmarks that touch each block right after its malloc do not see: a
 * carve that linked small blocks a line apart (fourteenth session,
 * Documentation/benchmarks.md) made this walk 18-20% slower.
 * With DROP > 0 every DROP-th node is taken out of the list and freed
 * while it is built, right after its successor is made (a queue that
 * drops some of its entries): the next malloc reuses its block, so the
 * list no longer runs in address order everywhere; NODES counts the
 * mallocs, the walk visits the nodes kept.
 * One op = one node visited (nodes kept x ROUNDS). Besides the RESULT
 * line's total, build_cpu=, walk_cpu= and free_cpu= give the CPU time
 * of each phase (seconds).
 */
#include "bench_common.h"

struct lnode {
	struct lnode *next;	/* the node made after this one */
	uint64_t value;		/* its number */
};

int main(int argc, char **argv)
{
	uint64_t n, rounds, size = sizeof(struct lnode), drop = 0;
	uint64_t i, r, kept = 0, ksum = 0, sum = 0;
	struct lnode *head = NULL, *tail = NULL, *before = NULL, *p, *t;
	double t0, t1, c0, c1, c2, c3;

	if (argc < 3 || argc > 5)
		bench_die("usage: bench_list NODES ROUNDS [SIZE [DROP]]");
	n = strtoull(argv[1], NULL, 0);
	rounds = strtoull(argv[2], NULL, 0);
	if (argc > 3)
		size = strtoull(argv[3], NULL, 0);
	if (argc > 4)
		drop = strtoull(argv[4], NULL, 0);
	if (!n || !rounds || size < sizeof(struct lnode) || drop == 1)
		bench_die("usage: bench_list NODES ROUNDS [SIZE >= 16 [DROP >= 2]]");
	t0 = bench_now();
	c0 = bench_cpu_now();
	for (i = 0; i < n; i++) {
		p = malloc(size);
		if (!p)
			bench_oom(size);
		p->next = NULL;
		p->value = i;
		kept++;
		ksum += i;
		t = tail;
		if (t)
			t->next = p;
		else
			head = p;
		tail = p;
		/* the node before p is dropped now that p is made */
		if (drop && i && (i - 1) % drop == drop - 1) {
			before->next = p;
			kept--;
			ksum -= t->value;
			free(t);
		} else {
			before = t;
		}
	}
	c1 = bench_cpu_now();
	for (r = 0; r < rounds; r++)
		for (p = head; p; p = p->next)
			sum += p->value;
	c2 = bench_cpu_now();
	while (head) {
		p = head->next;
		free(head);
		head = p;
	}
	c3 = bench_cpu_now();
	t1 = bench_now();
	if (sum != rounds * ksum)
		bench_die("list walk: sum %llu, expected %llu", (unsigned long long)sum,
			  (unsigned long long)(rounds * ksum));
	bench_report("list", kept * rounds, t1 - t0,
		     "nodes=%llu rounds=%llu size=%llu drop=%llu build_cpu=%.6f walk_cpu=%.6f free_cpu=%.6f",
		     (unsigned long long)n, (unsigned long long)rounds,
		     (unsigned long long)size, (unsigned long long)drop,
		     c1 - c0, c2 - c1, c3 - c2);
	return 0;
}
