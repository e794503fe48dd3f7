// SPDX-License-Identifier: MIT
/*
 * The Large box (mm/large): size classes, reuse of cached blocks, the
 * adaptive budget, decay (memory goes back when the program stops reusing
 * it), realloc growth and trimming. See Documentation/large.md.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hakmem.h>
#include "large/large.h"

#define LARGE_HDR	48	/* header bytes before a block */

static size_t rss_now(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* n is one of four sizes per doubling: 5, 6, 7 or 8 times a power of two. */
static int is_class_size(size_t n)
{
	while (n > 8 && !(n & 1))
		n >>= 1;
	return n >= 5 && n <= 8;
}

/* Blocks are rounded up to a class: at most a quarter more, header included. */
START_TEST(test_large_classes)
{
	/* With 16 or 64 KiB pages a class is also rounded up to a page. */
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n;

	for (n = 32769; n < ((size_t)64 << 20); n += n / 7 + 4093) {
		void *p = hak_malloc(n);
		size_t u, step = (n + LARGE_HDR) + (n + LARGE_HDR) / 4 + 1;

		ck_assert_ptr_nonnull(p);
		u = hak_malloc_usable_size(p);
		ck_assert_msg(u >= n, "usable %zu < %zu", u, n);
		ck_assert_msg(u + LARGE_HDR <= (step + pg - 1) / pg * pg,
			      "size %zu: usable %zu, more than a class step", n, u);
		ck_assert_msg(is_class_size(u + LARGE_HDR) || (pg > 4096 && (u + LARGE_HDR) % pg == 0),
			      "size %zu: usable %zu + header is no class", n, u);
		ck_assert_uint_eq((uintptr_t)p % 16, 0);
		memset(p, 0x5a, n);
		hak_free(p);
	}
}
END_TEST

#ifdef CONFIG_LARGE_CACHE
/* A freed block serves the next request of its class, whatever the size in it. */
START_TEST(test_large_class_reuse)
{
	char *p = hak_malloc(100000), *q;
	size_t u = hak_malloc_usable_size(p);

	ck_assert_ptr_nonnull(p);
	p[0] = 1;
	p[u - 1] = 2;
	hak_free(p);
	q = hak_malloc(u);		/* the largest size of the class */
	ck_assert_ptr_eq(p, q);
	hak_free(q);
	q = hak_malloc(u - u / 8);	/* a smaller one of the same class */
	ck_assert_ptr_eq(p, q);
	ck_assert_uint_eq(hak_malloc_usable_size(q), u);
	hak_free(q);
	q = hak_malloc(2 * u);		/* another class: another block */
	ck_assert_ptr_ne(p, q);
	hak_free(q);
	hak_malloc_trim(0);
}
END_TEST

/* Freed blocks are kept (pages committed) until malloc_trim. */
START_TEST(test_large_cache_trim)
{
	enum { N = 12, SIZE = 200000 };
	void *v[N];
	size_t left;
	int i;

	hak_malloc_trim(0);
	ck_assert_uint_eq(large_cached_bytes(), 0);
	for (i = 0; i < N; i++) {
		v[i] = hak_malloc(SIZE);
		ck_assert_ptr_nonnull(v[i]);
		memset(v[i], i, SIZE);
	}
	for (i = 0; i < N; i++)
		hak_free(v[i]);
	ck_assert_uint_ge(large_cached_bytes(), (size_t)N * SIZE);
	/* The same blocks come back, newest first. */
	for (i = N - 1; i >= 0; i--)
		ck_assert_ptr_eq(hak_malloc(SIZE), v[i]);
	for (i = 0; i < N; i++)
		hak_free(v[i]);
	/*
	 * Read both before asserting: Check's own allocations may free small
	 * blocks, which the Large box caches when no slab box is configured.
	 */
	i = hak_malloc_trim(0);
	left = large_cached_bytes();
	ck_assert_int_eq(i, 1);
	ck_assert_uint_eq(left, 0);
}
END_TEST

/*
 * The budget grows while the program keeps freeing and reallocating more
 * than it holds: by the third round every block is reused.
 */
START_TEST(test_large_budget_grows)
{
	enum { N = 24, SIZE = 1 << 20 };
	void *v[N], *prev[N];
	int round, i, j;

	hak_malloc_trim(0);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < N; i++) {
			v[i] = hak_malloc(SIZE);
			ck_assert_ptr_nonnull(v[i]);
			((char *)v[i])[0] = 1;
			((char *)v[i])[SIZE - 1] = 1;
		}
		if (round == 3) {
			for (i = 0; i < N; i++) {
				for (j = 0; j < N && prev[j] != v[i]; j++)
					;
				ck_assert_msg(j < N, "round %d: block %d (%p) is new", round, i, v[i]);
			}
		}
		for (i = 0; i < N; i++) {
			prev[i] = v[i];
			hak_free(v[i]);
		}
	}
	ck_assert_uint_ge(large_cached_bytes(), (size_t)N * SIZE);
	hak_malloc_trim(0);
}
END_TEST

/*
 * Decay: blocks of a class the program stopped asking for go back to the
 * kernel after a few epochs (50 ms each) of other large traffic, without
 * malloc_trim; the RSS falls.
 */
START_TEST(test_large_decay)
{
	enum { N = 10, SIZE = 300000 };	/* within the initial 4 MiB budget */
	void *v[N];
	size_t full, after;
	int i;

	hak_malloc_trim(0);
	for (i = 0; i < N; i++) {
		v[i] = hak_malloc(SIZE);
		ck_assert_ptr_nonnull(v[i]);
		memset(v[i], 1, SIZE);
	}
	for (i = 0; i < N; i++)
		hak_free(v[i]);
	ck_assert_uint_ge(large_cached_bytes(), (size_t)N * SIZE);
	full = rss_now();

	/* One second of traffic in another class. */
	for (i = 0; i < 200; i++) {
		char *p = hak_malloc(50000);

		ck_assert_ptr_nonnull(p);
		p[0] = 1;
		hak_free(p);
		if (i % 4 == 0)
			usleep(20000);
	}
	ck_assert_msg(large_cached_bytes() < (size_t)SIZE,
		      "%zu bytes still cached", large_cached_bytes());
	after = rss_now();
	ck_assert_msg(after + (size_t)N * SIZE / 2 < full,
		      "RSS %zu KiB, was %zu KiB with the blocks cached", after >> 10, full >> 10);
}
END_TEST
#endif /* CONFIG_LARGE_CACHE */

/* realloc growth and shrinking keep the contents, and go through classes. */
START_TEST(test_large_realloc_grow)
{
	size_t n = 40000, k;
	unsigned char *p = hak_malloc(n);

	ck_assert_ptr_nonnull(p);
	for (k = 0; k < n; k++)
		p[k] = (unsigned char)(k * 7);
	while (n < ((size_t)24 << 20)) {
		size_t m = n + n / 3;

		p = hak_realloc(p, m);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_ge(hak_malloc_usable_size(p), m);
		for (k = 0; k < n; k += 4093)
			ck_assert_uint_eq(p[k], (unsigned char)(k * 7));
		ck_assert_uint_eq(p[n - 1], (unsigned char)((n - 1) * 7));
		for (k = n; k < m; k++)
			p[k] = (unsigned char)(k * 7);
		n = m;
	}
	p = hak_realloc(p, 100000);
	ck_assert_ptr_nonnull(p);
	for (k = 0; k < 100000; k += 997)
		ck_assert_uint_eq(p[k], (unsigned char)(k * 7));
	hak_free(p);
}
END_TEST

/* Aligned large blocks: alignment kept, usable size right, reusable. */
START_TEST(test_large_aligned)
{
	size_t a, n;

	for (a = 32; a <= ((size_t)4 << 20); a <<= 1) {
		for (n = 33000; n < ((size_t)3 << 20); n *= 5) {
			void *p = NULL;

			ck_assert_int_eq(hak_posix_memalign(&p, a, n), 0);
			ck_assert_uint_eq((uintptr_t)p % a, 0);
			ck_assert_uint_ge(hak_malloc_usable_size(p), n);
			memset(p, 3, n);
			hak_free(p);
		}
	}
}
END_TEST

static int map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Freeing every other of many large blocks must not cut the mapping they
 * form into one piece per block: the number of mappings is bounded by
 * vm.max_map_count, and hakmem could no longer map anything once it ran
 * out. (Each free beyond the cache used to munmap its chunk.)
 */
START_TEST(test_large_free_keeps_mappings_whole)
{
	enum { N = 3000 };
	static char *v[N];
	int before, after, i;

	hak_malloc_trim(0);
	for (i = 0; i < N; i++) {
		v[i] = hak_malloc(40000);
		ck_assert_ptr_nonnull(v[i]);
		v[i][0] = 1;
	}
	before = map_count();
	for (i = 0; i < N; i += 2)
		hak_free(v[i]);
	hak_malloc_trim(0);
	after = map_count();
	ck_assert_int_gt(before, 0);
	ck_assert_msg(after < before + 64,
		      "freeing %d of %d large blocks made %d mappings out of %d",
		      N / 2, N, after, before);
	/* The freed chunks serve new blocks. */
	for (i = 0; i < N; i += 2) {
		v[i] = hak_malloc(40000);
		ck_assert_ptr_nonnull(v[i]);
		v[i][39999] = 2;
	}
	ck_assert_int_lt(map_count(), before + 64);
	for (i = 0; i < N; i++)
		hak_free(v[i]);
}
END_TEST

static Suite *large_suite(void)
{
	Suite *s = suite_create("large");
	TCase *tc = tcase_create("large");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_large_classes);
#ifdef CONFIG_LARGE_CACHE
	tcase_add_test(tc, test_large_class_reuse);
	tcase_add_test(tc, test_large_cache_trim);
	tcase_add_test(tc, test_large_budget_grows);
	tcase_add_test(tc, test_large_decay);
#endif
	tcase_add_test(tc, test_large_realloc_grow);
	tcase_add_test(tc, test_large_aligned);
	tcase_add_test(tc, test_large_free_keeps_mappings_whole);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(large_suite);
#endif /* CONFIG_BACKEND_MMAP */
