// SPDX-License-Identifier: MIT
/*
 * bench_tree NODES ROUNDS
 *
 * A container built whole and destroyed whole, as a C++ program builds a
 * std::map<std::string, std::vector<...>> and clears it: every round
 * inserts NODES keys, drawn at random, into a binary search tree (one
 * node, one key string of 17-40 bytes and one value of 4-64 bytes per
 * key, three mallocs), looks every key up again, walks the tree in order
 * reading every key and value, and frees the whole tree in post-order
 * (value, key, node), as std::map's clear() does.
 *
 * The order of the frees follows the keys, not the addresses: each free
 * goes to a block allocated at a random moment of the round, so a thread
 * cache that overflows sends back blocks of many slabs in turn. With
 * NODES in the hundreds of thousands the tree is far larger than L2.
 * One op = one key (three mallocs and three frees).
 */
#include "bench_common.h"

struct tnode {
	struct tnode *left;	/* keys below */
	struct tnode *right;	/* keys above */
	char *key;		/* the key, a string of 17-40 bytes */
	uint32_t *value;	/* 1-16 words */
	uint32_t nvalue;	/* words in value */
	uint32_t hash;		/* the key's number, to compare quickly */
};

static uint64_t sum;

static struct tnode *tree_insert(struct tnode *root, struct tnode *n)
{
	struct tnode **link = &root;

	while (*link) {
		struct tnode *t = *link;
		int c = t->hash != n->hash ? (t->hash < n->hash ? 1 : -1) : strcmp(t->key, n->key);

		if (c == 0)
			return root;	/* equal key: never happens with distinct draws */
		link = c > 0 ? &t->right : &t->left;
	}
	*link = n;
	return root;
}

static const struct tnode *tree_find(const struct tnode *t, uint32_t hash, const char *key)
{
	while (t) {
		int c = t->hash != hash ? (t->hash < hash ? 1 : -1) : strcmp(t->key, key);

		if (c == 0)
			return t;
		t = c > 0 ? t->right : t->left;
	}
	return NULL;
}

static void tree_walk(const struct tnode *t)
{
	while (t) {
		tree_walk(t->left);
		sum += (unsigned char)t->key[0] + t->value[t->nvalue - 1];
		t = t->right;
	}
}

static void tree_free(struct tnode *t)
{
	while (t) {
		struct tnode *right = t->right;

		tree_free(t->left);
		free(t->value);
		free(t->key);
		free(t);
		t = right;
	}
}

int main(int argc, char **argv)
{
	uint64_t nodes = bench_arg(argc, argv, 1, 300000);
	uint64_t rounds = bench_arg(argc, argv, 2, 10);
	uint64_t round, i;
	uint32_t *keys;
	double t0, t1;
	rng_t r;

	if (!nodes || nodes > (1u << 30) || !rounds)
		bench_die("usage: bench_tree NODES(1-2^30) ROUNDS");
	keys = malloc(nodes * sizeof(*keys));
	if (!keys)
		bench_oom(nodes * sizeof(*keys));
	rng_seed(&r, 11);
	t0 = bench_now();
	for (round = 0; round < rounds; round++) {
		struct tnode *root = NULL;
		char buf[64];

		for (i = 0; i < nodes; i++) {
			struct tnode *n = malloc(sizeof(*n));
			uint32_t h = (uint32_t)rng_next(&r), j;
			int len;

			if (!n)
				bench_oom(sizeof(*n));
			len = snprintf(buf, sizeof(buf), "%u_%.*s", h,
				       (int)(h % 24), "abcdefghijklmnopqrstuvwx");
			n->key = malloc((size_t)len + 8);
			n->nvalue = 1 + (h >> 8) % 16;
			n->value = malloc(n->nvalue * sizeof(uint32_t));
			if (!n->key || !n->value)
				bench_oom(64);
			memcpy(n->key, buf, (size_t)len + 1);
			for (j = 0; j < n->nvalue; j++)
				n->value[j] = h + j;
			n->hash = h;
			n->left = n->right = NULL;
			keys[i] = h;
			root = tree_insert(root, n);
		}
		for (i = 0; i < nodes; i++) {
			int len = snprintf(buf, sizeof(buf), "%u_%.*s", keys[i],
					   (int)(keys[i] % 24), "abcdefghijklmnopqrstuvwx");

			if (len < 0 || !tree_find(root, keys[i], buf))
				bench_die("key %u lost", keys[i]);
		}
		tree_walk(root);
		tree_free(root);
	}
	t1 = bench_now();
	free(keys);
	bench_report("tree", nodes * rounds, t1 - t0, "nodes=%llu rounds=%llu sum=%llu",
		     (unsigned long long)nodes, (unsigned long long)rounds,
		     (unsigned long long)sum);
	return 0;
}
