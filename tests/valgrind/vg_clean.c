// SPDX-License-Identifier: MIT
/*
 * tests/valgrind/vg_clean.c - a correct program that exercises every
 * path of the allocator (every slab class, Large blocks, calloc,
 * realloc across boxes, the memalign family, remote frees between
 * threads, thread exit, malloc_trim). Linked with -static against a
 * CONFIG_VALGRIND libhakmem.a, memcheck must report no error at all:
 * hakmem's own reads and writes of free blocks and headers raise none.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NR_PTRS		256

static void *shared[NR_PTRS];

static size_t size_of(unsigned int i)
{
	static const size_t big[] = { 40000, 100000, 300000, 1 << 20, 3 << 20 };

	if (i % 16 == 15)
		return big[(i / 16) % 5];
	return (i * 97) % 33000;
}

/* Checks that the contents survived: a read of undefined bytes is reported. */
static unsigned long fill_check(unsigned char *p, size_t n, unsigned char v, int check)
{
	unsigned long bad = 0;
	size_t i;

	for (i = 0; i < n; i += 61) {
		if (check)
			bad += p[i] != v;
		p[i] = v;
	}
	return bad;
}

static void *worker(void *arg)
{
	unsigned int i, t = (unsigned int)(uintptr_t)arg;
	unsigned long bad = 0;
	void *mine[64];

	/* Free the other thread's blocks (remote frees) and make some. */
	for (i = t; i < NR_PTRS; i += 2) {
		free(shared[i]);
		shared[i] = NULL;
	}
	for (i = 0; i < 64; i++) {
		mine[i] = malloc(size_of(i * 7 + t));
		fill_check(mine[i], size_of(i * 7 + t), 5, 0);
	}
	for (i = 0; i < 64; i++) {
		bad += fill_check(mine[i], size_of(i * 7 + t), 5, 1);
		free(mine[i]);
	}
	return (void *)bad;
}

int main(void)
{
	unsigned long bad = 0;
	pthread_t th[2];
	unsigned int i, round;
	void *p, *r;

	for (round = 0; round < 3; round++) {
		void *ptrs[NR_PTRS];

		for (i = 0; i < NR_PTRS; i++) {
			ptrs[i] = malloc(size_of(i + round));
			fill_check(ptrs[i], size_of(i + round), (unsigned char)i, 0);
		}
		for (i = 0; i < NR_PTRS; i++) {
			bad += fill_check(ptrs[i], size_of(i + round), (unsigned char)i, 1);
			free(ptrs[i]);
		}
	}

	/* calloc: defined zeroes, also from reused blocks and the Large cache. */
	for (i = 0; i < 64; i++) {
		unsigned char *c = calloc(1, size_of(i));

		bad += fill_check(c, size_of(i), 0, 1);
		free(c);
	}

	/* realloc through every box and back, contents kept. */
	p = malloc(10);
	memset(p, 9, 10);
	for (i = 0; i < 24; i++) {
		size_t n = (size_t)16 << (i % 12);

		r = realloc(p, n);
		bad += ((unsigned char *)r)[0] != 9 || ((unsigned char *)r)[9] != 9;
		p = r;
		memset(p, 9, n);
	}
	free(p);
	p = realloc(NULL, 100);
	p = realloc(p, 0);

	/*
	 * realloc of a block whose usable size runs past the size asked into
	 * a block freed there before (a Large block taken from the cache as
	 * it is): the copy stops at the size asked (memcheck read 60000
	 * freed bytes before). The barrier keeps the compiler from dropping
	 * the first block, written and freed unread.
	 */
	p = malloc(600000);
	memset(p, 7, 600000);
	__asm__ volatile("" : : "r" (p) : "memory");
	free(p);
	p = malloc(500000);
	memset(p, 8, 500000);
	r = realloc(p, 560000);
	bad += ((unsigned char *)r)[0] != 8 || ((unsigned char *)r)[499999] != 8;
	free(r);

	/*
	 * Donation (CONFIG_LARGE_DONATE): new and grown blocks of several
	 * MiB take the chunks of the oldest cached ones by mremap; the
	 * moved pages carry memcheck's state of a freed block, which the
	 * front's announcement of the new block replaces. A block made of
	 * pieces grows (realloc), shrinks and is given away again; calloc
	 * stays defined zeroes.
	 */
	{
		unsigned char *d1 = malloc(8 << 20), *d2 = malloc(8 << 20), *b;

		fill_check(d1, 8 << 20, 11, 0);
		fill_check(d2, 8 << 20, 12, 0);
		free(d1);
		free(d2);
		b = malloc(24 << 20);
		fill_check(b, 24 << 20, 13, 0);
		b = realloc(b, 40 << 20);
		bad += fill_check(b, 24 << 20, 13, 1);
		b = realloc(b, 10 << 20);
		bad += fill_check(b, 10 << 20, 13, 1);
		free(b);
		b = calloc(1, 48 << 20);
		bad += fill_check(b, 48 << 20, 0, 1);
		free(b);
		d1 = malloc(4 << 20);
		fill_check(d1, 4 << 20, 14, 0);
		free(d1);
		b = malloc(30 << 20);
		fill_check(b, 30 << 20, 15, 0);
		bad += fill_check(b, 30 << 20, 15, 1);
		free(b);
	}

	/* The memalign family. */
	for (i = 4; i < 22; i++) {
		size_t a = (size_t)1 << i;

		if (!posix_memalign(&p, a, 100))
			bad += fill_check(p, 100, 1, 0), free(p);
		p = aligned_alloc(a, 3 * a);
		fill_check(p, 3 * a, 2, 0);
		free(p);
		p = memalign(a, 40);
		fill_check(p, 40, 3, 0);
		free(p);
	}
	p = valloc(5000);
	fill_check(p, 5000, 4, 0);
	free(p);
	free(NULL);

	/* Blocks freed by the other threads; the threads exit and are reused. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < NR_PTRS; i++) {
			shared[i] = malloc(size_of(i));
			fill_check(shared[i], size_of(i), 6, 0);
		}
		for (i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
		for (i = 0; i < 2; i++) {
			void *ret;

			pthread_join(th[i], &ret);
			bad += (unsigned long)ret;
		}
	}
	malloc_trim(0);
	p = malloc(64);
	fill_check(p, 64, 7, 0);
	free(p);

	if (bad) {
		fprintf(stderr, "vg_clean: %lu bytes lost their contents\n", bad);
		return 1;
	}
	return 0;
}
