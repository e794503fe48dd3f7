// SPDX-License-Identifier: MIT
/*
 * The static-arena build (CONFIG_BACKEND_ARENA): exhaustion, reuse and
 * coalescing, realloc in place and by moving, alignment,
 * hak_arena_init(), usable sizes, foreign and double frees, and random
 * sequences checked against a shadow model.
 *
 * Each test measures the arena it finds (Check's fork mode gives each
 * one a fresh copy; with CONFIG_EXPORT_MALLOC, Check's own blocks are in
 * it too) and gives back all it takes. The tests of hak_arena_init() need
 * an untouched arena and are skipped when there is none.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_ARENA

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

/* ------------------------------------------------------------------------
 * Helpers
 */

#define ARENA_TEST_BYTES	(64 * 1024)

#if CONFIG_ARENA_SIZE_KB > 0
#define ARENA_BYTES		(CONFIG_ARENA_SIZE_KB * 1024UL)
#else
#define ARENA_BYTES		((unsigned long)ARENA_TEST_BYTES)
/* Without a built-in array, every test runs on this one. */
static char arena_test_buf[ARENA_TEST_BYTES] __attribute__((aligned(16)));
#endif

/* Tests share one big array of pointers: small stacks on embedded CI. */
#define MAX_PTRS		8192
/* Blocks that fill the arena in fewer than MAX_PTRS allocations. */
#define FILL_SIZE		(ARENA_BYTES / 4096 > 64 ? ARENA_BYTES / 4096 : 64)
static void *ptrs[MAX_PTRS];

static void arena_fixture(void)
{
#if CONFIG_ARENA_SIZE_KB == 0
	hak_arena_init(arena_test_buf, sizeof(arena_test_buf));
#endif
}

/*
 * Whether the C library's malloc is ours (CONFIG_EXPORT_MALLOC linked in):
 * then Check's own blocks are in the arena too.
 */
static int malloc_is_ours(void)
{
	void *m = malloc(16);
	int ours = hak_malloc_usable_size(m) != 0;

	free(m);
	return ours;
}

/*
 * Whether hak_arena_init() can still be called: the test runs in its own
 * process and nothing else has used the arena.
 */
static int arena_untouched(void)
{
	const char *f = getenv("CK_FORK");

	return !(f && strcmp(f, "no") == 0) && !malloc_is_ours();
}

/* xorshift64: deterministic, so a failure replays. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(void *p, size_t n, unsigned int seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = (unsigned char)(seed + i * 7);
}

static int intact(const void *p, size_t n, unsigned int seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

/*
 * Allocate blocks of n bytes, then of halves of n, until the arena is full.
 * Returns the count; *used gets the bytes the blocks take (payload and
 * size word). No Check assertion may run while the arena is full: in a
 * build that exports malloc, Check itself allocates from it.
 */
static size_t fill_arena(size_t n, size_t *used)
{
	size_t i;

	*used = 0;
	for (i = 0; i < MAX_PTRS; i++) {
		ptrs[i] = hak_malloc(n);
		/*
		 * Halve the size until a block fits: the space left after
		 * the big blocks fills in a few dozen smaller ones, whatever
		 * the arena's size (1-byte blocks could need more than
		 * MAX_PTRS of them).
		 */
		while (!ptrs[i] && n > 1)
			ptrs[i] = hak_malloc(n /= 2);
		if (!ptrs[i])
			break;
		*used += hak_malloc_usable_size(ptrs[i]) + sizeof(size_t);
		memset(ptrs[i], 0xa5, n);
	}
	return i;
}

/* Largest block hak_malloc() gives now, to 64 bytes. */
static size_t largest_block(void)
{
	size_t lo = 0, hi = ARENA_BYTES;
	void *p;

	while (hi - lo > 64) {
		size_t mid = lo + (hi - lo) / 2;

		p = hak_malloc(mid);
		if (p) {
			hak_free(p);
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* An assertion that calls into Check (which may allocate) only on failure. */
#define expect(cond) \
	do { \
		if (!(cond)) \
			ck_abort_msg("Assertion '%s' failed", #cond); \
	} while (0)

/* Room kept for Check while a test fills the arena. */
#define RESERVE			4096

/* ------------------------------------------------------------------------
 * Exhaustion and reuse
 */

START_TEST(test_exhaustion)
{
	size_t whole = largest_block(), used, n, i;
	void *reserve = hak_malloc(RESERVE), *one, *zeroed, *huge;
	int e_fill, e_one, e_zeroed, e_huge;

	ck_assert_ptr_ne(reserve, NULL);
	n = fill_arena(FILL_SIZE, &used);
	e_fill = errno;
	errno = 0;
	one = hak_malloc(1);
	e_one = errno;
	errno = 0;
	zeroed = hak_calloc(1, 1);
	e_zeroed = errno;
	errno = 0;
	huge = hak_malloc(ARENA_BYTES * 2);
	e_huge = errno;
	hak_free(reserve);

	ck_assert_uint_lt(n, MAX_PTRS);
	ck_assert_int_eq(e_fill, ENOMEM);
	ck_assert_ptr_eq(one, NULL);
	ck_assert_int_eq(e_one, ENOMEM);
	ck_assert_ptr_eq(zeroed, NULL);
	ck_assert_int_eq(e_zeroed, ENOMEM);
	ck_assert_ptr_eq(huge, NULL);
	ck_assert_int_eq(e_huge, ENOMEM);
	/* One word of overhead a block: all but crumbs are handed out. */
	ck_assert_uint_ge(used + RESERVE + 128, whole);
	for (i = 0; i < n; i++)
		hak_free(ptrs[i]);
	ck_assert_uint_eq(largest_block(), whole);
	/* The one free block can be had whole, not just up to its class. */
	if (!malloc_is_ours())
		ck_assert_uint_ge(whole + 128, used + RESERVE + sizeof(size_t));
}
END_TEST

START_TEST(test_too_big)
{
	errno = 0;
	ck_assert_ptr_eq(hak_malloc(SIZE_MAX / 2), NULL);
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_eq(hak_malloc(ARENA_BYTES + 1), NULL);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_ptr_eq(hak_aligned_alloc(4096, ARENA_BYTES), NULL);
	/* Failures leave the arena whole. */
	ck_assert_uint_ge(largest_block(), ARENA_BYTES * 9 / 10);
}
END_TEST

START_TEST(test_reuse_after_free)
{
	size_t whole = largest_block(), used, n, m, i;
	void *reserve = hak_malloc(RESERVE), *big;

	ck_assert_ptr_ne(reserve, NULL);
	n = fill_arena(FILL_SIZE - 16, &used);
	/* Free the odd blocks, then the even ones: merges on both sides. */
	for (i = 1; i < n; i += 2)
		hak_free(ptrs[i]);
	for (i = 0; i < n; i += 2)
		hak_free(ptrs[i]);
	m = fill_arena(FILL_SIZE - 16, &used);
	for (i = 0; i < m; i++)
		hak_free(ptrs[m - 1 - i]);
	hak_free(reserve);
	ck_assert_uint_lt(n, MAX_PTRS);
	ck_assert_uint_eq(m, n);

	/* Everything merged back into one block. */
	big = hak_malloc(whole);
	ck_assert_ptr_ne(big, NULL);
	memset(big, 0x5a, whole);
	hak_free(big);
	ck_assert_uint_eq(largest_block(), whole);
}
END_TEST

START_TEST(test_reuse_mixed_sizes)
{
	size_t whole = largest_block(), n, i;
	void *again;

	for (n = 0; n < MAX_PTRS; n++) {
		ptrs[n] = hak_malloc(1 + (size_t)(rng() % 700));
		if (!ptrs[n])
			break;
	}
	/* Free in a scrambled order. */
	for (i = 0; i < n; i++) {
		size_t j = i + (size_t)(rng() % (n - i));
		void *t = ptrs[i];

		ptrs[i] = ptrs[j];
		ptrs[j] = t;
		hak_free(ptrs[i]);
	}
	again = hak_malloc(whole);
	ck_assert_ptr_ne(again, NULL);
	hak_free(again);
}
END_TEST

/*
 * A free block one size step too small, in the class of the request, is
 * never handed out: the request is served from a larger class.
 */
START_TEST(test_class_rounding)
{
	char *small = hak_malloc(504), *sep = hak_malloc(16), *p;
	size_t n;

	ck_assert_ptr_ne(sep, NULL);
	fill(sep, 16, 6);
	hak_free(small);
	for (n = 505; n <= 1100; n += 8) {
		p = hak_malloc(n);
		ck_assert_ptr_ne(p, NULL);
		ck_assert_uint_ge(hak_malloc_usable_size(p), n);
		memset(p, 0, hak_malloc_usable_size(p));
		ck_assert(intact(sep, 16, 6));
		hak_free(p);
	}
	hak_free(sep);
}
END_TEST

/* ------------------------------------------------------------------------
 * realloc
 */

START_TEST(test_realloc_grow_in_place)
{
	char *a = hak_malloc(100), *b = hak_malloc(100), *c = hak_malloc(100);
	char *r;

	ck_assert_ptr_ne(c, NULL);
	fill(a, 100, 1);
	hak_free(b);
	/* b's block lies right above a: a grows into it. */
	r = hak_realloc(a, 200);
	ck_assert_ptr_eq(r, a);
	ck_assert(intact(r, 100, 1));
	ck_assert_uint_ge(hak_malloc_usable_size(r), 200);
	fill(r, hak_malloc_usable_size(r), 2);
	ck_assert(intact(r, hak_malloc_usable_size(r), 2));

	/* Shrinking never moves. */
	r = hak_realloc(r, 20);
	ck_assert_ptr_eq(r, a);
	ck_assert(intact(r, 20, 2));
	ck_assert_uint_ge(hak_malloc_usable_size(r), 20);
	ck_assert_uint_lt(hak_malloc_usable_size(r), 64);

	/* The top of the arena is free too: c grows into it. */
	ck_assert_ptr_eq(hak_realloc(c, 5000), c);
	hak_free(r);
	hak_free(c);
}
END_TEST

START_TEST(test_realloc_move)
{
	char *a = hak_malloc(100), *b = hak_malloc(100), *r;

	ck_assert_ptr_ne(b, NULL);
	fill(a, 100, 3);
	fill(b, 100, 5);
	/* b sits above a: a must move. */
	r = hak_realloc(a, 1000);
	ck_assert_ptr_ne(r, NULL);
	ck_assert_ptr_ne(r, a);
	ck_assert(intact(r, 100, 3));
	fill(r, 1000, 4);
	ck_assert(intact(b, 100, 5));
	/* Too big to move: the old block is kept, contents and all. */
	errno = 0;
	ck_assert_ptr_eq(hak_realloc(r, ARENA_BYTES), NULL);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert(intact(r, 1000, 4));
	hak_free(r);
	hak_free(b);
}
END_TEST

/* ------------------------------------------------------------------------
 * Alignment and usable size
 */

START_TEST(test_alignment)
{
	size_t whole = largest_block(), n, i;
	void *p;

	for (n = 1; n < 3000; n += 1 + n / 8) {
		p = hak_malloc(n);
		ck_assert_ptr_ne(p, NULL);
		ck_assert_uint_eq((uintptr_t)p % 16, 0);
		hak_free(p);
	}
	for (i = 0; i < 64; i++) {
		size_t align = (size_t)32 << (i % 8);	/* 32 ... 4096 */

		n = 1 + (size_t)(rng() % 300);
		ck_assert_int_eq(hak_posix_memalign(&ptrs[i], align, n), 0);
		ck_assert_uint_eq((uintptr_t)ptrs[i] % align, 0);
		ck_assert_uint_ge(hak_malloc_usable_size(ptrs[i]), n);
		memset(ptrs[i], (int)i, hak_malloc_usable_size(ptrs[i]));
	}
	for (i = 0; i < 64; i++) {
		unsigned char *c = ptrs[i];

		ck_assert_uint_eq(c[0], i);
		ck_assert_uint_eq(c[hak_malloc_usable_size(c) - 1], i);
		hak_free(c);
	}
	p = hak_aligned_alloc(4096, 4096);
	ck_assert_ptr_ne(p, NULL);
	ck_assert_uint_eq((uintptr_t)p % 4096, 0);
	hak_free(p);
	/* The blocks split off in front were given back. */
	ck_assert_uint_eq(largest_block(), whole);
}
END_TEST

START_TEST(test_usable_size)
{
	int local;
	size_t n, u;
	char *p, *q;

	for (n = 1; n < 2000; n++) {
		p = hak_malloc(n);
		q = hak_malloc(16);
		ck_assert_ptr_ne(q, NULL);
		fill(q, 16, 9);
		u = hak_malloc_usable_size(p);
		ck_assert_uint_ge(u, n);
		ck_assert_uint_lt(u, n + 48);
		/* The whole usable size is writable: the neighbour survives. */
		memset(p, 0xff, u);
		ck_assert(intact(q, 16, 9));
		hak_free(p);
		hak_free(q);
	}
	/* Pointers from elsewhere are not ours. */
	ck_assert_uint_eq(hak_malloc_usable_size(&local), 0);
	ck_assert_uint_eq(hak_malloc_usable_size(ptrs), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Bad frees
 */

START_TEST(test_foreign_free)
{
	static char not_ours[64] __attribute__((aligned(16)));
	char on_stack[64] __attribute__((aligned(16)));
	size_t whole = largest_block();

	/* Never dereferenced: only their addresses are looked at. */
	hak_free(not_ours);
	hak_free(not_ours + 16);
	hak_free(on_stack + 32);
	hak_free((void *)(uintptr_t)16);
	ck_assert_uint_eq(largest_block(), whole);
}
END_TEST

/*
 * What a refused pointer may cost: nothing. The blocks handed out after
 * it, as many as the arena gives, overlap neither each other nor the
 * live ranges [live[i], live[i] + len[i]), and each is writable to its
 * usable size. Returns the number of overlaps (0 is a pass); frees what
 * it took. No Check call while the arena is full.
 */
static size_t overlaps_after(char *const *live, const size_t *len, size_t nlive)
{
	size_t n, i, j, gap, bad = 0;

	for (n = 0; n < MAX_PTRS; n++) {
		ptrs[n] = hak_malloc(n % 3 == 0 ? 40 : n % 3 == 1 ? 8 : 200);
		if (!ptrs[n])
			break;
	}
	/*
	 * By address (a Shell sort: nothing allocated), so that a block
	 * overlaps another only if it overlaps the next one: linear in the
	 * blocks, whatever the arena's size (every pair was quadratic, with
	 * CONFIG_DEBUG_ASSERT's walk of the arena in each call).
	 */
	for (gap = n / 2; gap > 0; gap /= 2) {
		for (i = gap; i < n; i++) {
			void *t = ptrs[i];

			for (j = i; j >= gap && (char *)ptrs[j - gap] > (char *)t; j -= gap)
				ptrs[j] = ptrs[j - gap];
			ptrs[j] = t;
		}
	}
	for (i = 0; i < n; i++) {
		char *p = ptrs[i];
		size_t u = hak_malloc_usable_size(p);

		for (j = 0; j < nlive; j++)
			if (p < live[j] + len[j] && live[j] < p + u)
				bad++;
		if (i + 1 < n && (char *)ptrs[i + 1] < p + u)
			bad++;
	}
	for (i = 0; i < n; i++)
		hak_free(ptrs[i]);
	return bad;
}

/* stderr of the calls between capture_begin() and capture_end(). */
static int capture_fd = -1, saved_stderr = -1;

static void capture_begin(void)
{
	FILE *f = tmpfile();

	ck_assert_ptr_ne(f, NULL);
	capture_fd = dup(fileno(f));
	fclose(f);
	saved_stderr = dup(2);
	dup2(capture_fd, 2);
}

static const char *capture_end(void)
{
	static char buf[512];
	ssize_t n;

	dup2(saved_stderr, 2);
	close(saved_stderr);
	lseek(capture_fd, 0, SEEK_SET);
	n = read(capture_fd, buf, sizeof(buf) - 1);
	close(capture_fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/*
 * Run fn in a child; return its wait status and put its stderr in err.
 * The child exits 0 if fn returns.
 */
static int in_child(void (*fn)(void), char *err, size_t size)
{
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 2);
		signal(SIGABRT, SIG_DFL);
		fn();
		_exit(0);
	}
	close(pfd[1]);
	while (got + 1 < (ssize_t)size && (n = read(pfd[0], err + got, size - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = 0;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* The child died of SIGABRT after saying "double free" on stderr. */
#define ck_assert_double_free_abort(fn)					\
	do {								\
		char err_[512];						\
		int st_ = in_child(fn, err_, sizeof(err_));		\
									\
		ck_assert_msg(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGABRT, \
			      "expected SIGABRT, got status 0x%x; stderr: %s", st_, err_); \
		ck_assert_msg(strstr(err_, "double free") != NULL,	\
			      "no \"double free\" on stderr: %s", err_); \
	} while (0)

/*
 * The case of issue 12: the program writes what looks like a boundary
 * tag (size 64, twice) into its own block and frees a pointer 16 bytes
 * in. The arena must refuse it: leave the block alone, hand out nothing
 * that overlaps it, say so on stderr.
 */
START_TEST(test_free_interior_forged)
{
	char *p = hak_malloc(256), *live[1];
	size_t len[1] = { 256 };
	size_t *w = (size_t *)(p + 16);
	const char *err;

	ck_assert_ptr_ne(p, NULL);
	fill(p, 256, 11);
	w[-2] = 64;
	w[-1] = 64;
	capture_begin();
	hak_free(p + 16);
	err = capture_end();
	ck_assert_msg(strstr(err, "hakmem") != NULL, "no report on stderr: '%s'", err);
	ck_assert_uint_eq(hak_malloc_usable_size(p + 16), 0);
	ck_assert_uint_ge(hak_malloc_usable_size(p), 256);
	live[0] = p;
	ck_assert_uint_eq(overlaps_after(live, len, 1), 0);
	w[-2] = w[-1] = 0;
	fill(p, 16, 11);
	hak_free(p);
}
END_TEST

/*
 * Headers forged in every way a program could write them: sizes that
 * fit inside the block or run past it, every flag combination, at
 * every 16-byte step of a live block. None may be freed or resized.
 */
START_TEST(test_free_interior_forged_many)
{
	static const size_t sizes[] = { 32, 48, 64, 128, 512, 4096, 60000 };
	char *p = hak_malloc(1024), *guard = hak_malloc(64), *live[2];
	size_t len[2] = { 1024, 64 };
	size_t off, i, f;
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	ck_assert_ptr_ne(guard, NULL);
	dup2(devnull, 2);		/* one report per refused pointer */
	for (off = 16; off + 16 < 1024; off += 16) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (f = 0; f < 4; f++) {
				size_t *w = (size_t *)(p + off);

				w[-2] = sizes[i];
				w[-1] = sizes[i] | f;
				hak_free(p + off);
				expect(hak_realloc(p + off, 16) == NULL);
				expect(hak_malloc_usable_size(p + off) == 0);
			}
		}
	}
	dup2(saved, 2);
	close(saved);
	close(devnull);
	live[0] = p;
	live[1] = guard;
	ck_assert_uint_eq(overlaps_after(live, len, 2), 0);
	hak_free(guard);
	hak_free(p);
}
END_TEST

static void double_free_simple(void)
{
	char *a = hak_malloc(64), *b = hak_malloc(64);

	hak_free(a);
	hak_free(a);
	hak_free(b);
}

static void realloc_freed(void)
{
	char *a = hak_malloc(64), *b = hak_malloc(64);

	hak_free(a);
	hak_realloc(a, 100);
	hak_free(b);
}

/* A block freed twice in a row: reported, and the process aborts. */
START_TEST(test_double_free)
{
	ck_assert_double_free_abort(double_free_simple);
}
END_TEST

/* realloc of a freed block: the same. */
START_TEST(test_realloc_freed)
{
	ck_assert_double_free_abort(realloc_freed);
}
END_TEST

/*
 * A freed block that merged with a free neighbour is no block any more:
 * freeing it again, or realloc of it, must not free or grow part of the
 * merged block, even after that memory went to a new live block.
 */
START_TEST(test_free_after_merge)
{
	char *x = hak_malloc(100), *a = hak_malloc(100), *y = hak_malloc(100);
	char *big, *r, *live[2];
	size_t len[2];
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	ck_assert_ptr_ne(y, NULL);
	fill(y, 100, 21);
	hak_free(x);
	hak_free(a);		/* merges with x's block below it */
	big = hak_malloc(200);	/* x and a's memory, or elsewhere */
	ck_assert_ptr_ne(big, NULL);
	fill(big, 200, 22);
	dup2(devnull, 2);
	hak_free(a);
	errno = 0;
	r = hak_realloc(a, 150);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	ck_assert_ptr_eq(r, NULL);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(intact(big, 200, 22));
	ck_assert(intact(y, 100, 21));
	live[0] = big;
	len[0] = 200;
	live[1] = y;
	len[1] = 100;
	ck_assert_uint_eq(overlaps_after(live, len, 2), 0);
	ck_assert(intact(big, 200, 22));
	ck_assert(intact(y, 100, 21));
	hak_free(big);
	hak_free(y);
}
END_TEST

/* realloc of an interior pointer with a forged header: NULL, EINVAL. */
START_TEST(test_realloc_interior_forged)
{
	char *p = hak_malloc(256), *r, *live[1];
	size_t len[1] = { 256 };
	size_t *w = (size_t *)(p + 64);
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	ck_assert_ptr_ne(p, NULL);
	fill(p, 256, 12);
	w[-2] = 64;
	w[-1] = 96;
	dup2(devnull, 2);
	errno = 0;
	r = hak_realloc(p + 64, 40);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	ck_assert_ptr_eq(r, NULL);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_ge(hak_malloc_usable_size(p), 256);
	live[0] = p;
	ck_assert_uint_eq(overlaps_after(live, len, 1), 0);
	hak_free(p);
}
END_TEST

/* ------------------------------------------------------------------------
 * hak_arena_init()
 */

START_TEST(test_init_user_buffer)
{
	static char buf[16384] __attribute__((aligned(16)));
	char *lo = buf + 3, *hi = buf + sizeof(buf);
	size_t n = 0, i;

	/* Not a pass if it cannot run: fork mode gives it a fresh arena. */
	ck_assert_msg(arena_untouched(), "the arena is in use (CK_FORK=no?): cannot test hak_arena_init");
	errno = 0;
	ck_assert_int_eq(hak_arena_init(lo, 64), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(hak_arena_init(NULL, 4096), -1);
	/* Unaligned base: the arena rounds it up. */
	ck_assert_int_eq(hak_arena_init(lo, (size_t)(hi - lo)), 0);
	errno = 0;
	ck_assert_int_eq(hak_arena_init(buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);

	while ((ptrs[n] = hak_malloc(100)) != NULL) {
		ck_assert((char *)ptrs[n] >= lo);
		ck_assert((char *)ptrs[n] + 100 <= hi);
		fill(ptrs[n], 100, (unsigned int)n);
		n++;
	}
	ck_assert_uint_ge(n * 112, sizeof(buf) * 8 / 10);
	for (i = 0; i < n; i++) {
		ck_assert(intact(ptrs[i], 100, (unsigned int)i));
		hak_free(ptrs[i]);
	}
	ck_assert_uint_ge(largest_block(), sizeof(buf) * 8 / 10);
}
END_TEST

START_TEST(test_init_after_use)
{
	static char buf[4096];
	void *p;

	if (!arena_untouched()) {
		errno = 0;
		ck_assert_int_eq(hak_arena_init(buf, sizeof(buf)), -1);
		ck_assert_int_eq(errno, EINVAL);
		return;
	}
	errno = 0;
	p = hak_malloc(10);
#if CONFIG_ARENA_SIZE_KB > 0
	/* The first allocation takes the built-in array. */
	ck_assert_ptr_ne(p, NULL);
#else
	/* No built-in array: nothing until an arena is handed over. */
	ck_assert_ptr_eq(p, NULL);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_int_eq(hak_arena_init(buf, sizeof(buf)), 0);
	p = hak_malloc(10);
	ck_assert((char *)p >= buf && (char *)p < buf + sizeof(buf));
#endif
	errno = 0;
	ck_assert_int_eq(hak_arena_init(buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);
	hak_free(p);
}
END_TEST

/* ------------------------------------------------------------------------
 * Random sequences against a shadow model
 */

/* What the model knows of a live block. */
struct shadow {
	char *p;		/* the block, NULL if this slot is empty */
	size_t n;		/* bytes requested, all filled with the pattern */
	unsigned int seed;	/* pattern seed */
};

#define SLOTS	512

static struct shadow shadow[SLOTS];

static size_t random_size(void)
{
	uint64_t r = rng();

	switch (r % 8) {
	case 0:
		return 1 + (size_t)((r >> 8) % 4096);
	case 1:
		return 1 + (size_t)((r >> 8) % 1024);
	default:
		return 1 + (size_t)((r >> 8) % 128);
	}
}

START_TEST(test_random_model)
{
	size_t whole = largest_block(), fails = 0, step, i;
	unsigned int seed = 1;

	for (step = 0; step < (size_t)hk_test_scale(40000); step++) {
		struct shadow *s = &shadow[rng() % SLOTS];
		unsigned int op = (unsigned int)(rng() % 4);
		size_t n = random_size();
		char *p;

		if (s->p)
			expect(intact(s->p, s->n, s->seed));
		if (s->p && op == 0) {
			hak_free(s->p);
			s->p = NULL;
		} else if (s->p && op == 1) {
			p = hak_realloc(s->p, n);
			if (!p) {
				fails++;
				continue;
			}
			expect((uintptr_t)p % 16 == 0);
			expect(intact(p, n < s->n ? n : s->n, s->seed));
			s->p = p;
			s->n = n;
			fill(p, n, s->seed);
		} else if (!s->p) {
			size_t align = (size_t)16 << (rng() % 6);

			p = op == 2 ? hak_aligned_alloc(align, n) : hak_malloc(n);
			if (!p) {
				fails++;
				continue;
			}
			expect((uintptr_t)p % (op == 2 ? align : 16) == 0);
			expect(hak_malloc_usable_size(p) >= n);
			s->p = p;
			s->n = n;
			s->seed = seed++;
			fill(p, n, s->seed);
		}
	}
	for (i = 0; i < SLOTS; i++) {
		if (!shadow[i].p)
			continue;
		expect(intact(shadow[i].p, shadow[i].n, shadow[i].seed));
		hak_free(shadow[i].p);
		shadow[i].p = NULL;
	}
	/* Some requests must have failed, or the arena was not stressed. */
	if (ARENA_BYTES <= 64 * 1024)
		ck_assert_uint_gt(fails, 0);
	ck_assert_uint_eq(largest_block(), whole);
}
END_TEST

/* ------------------------------------------------------------------------
 * Suite
 */

static Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");
	TCase *init = tcase_create("arena_init");

	tcase_add_checked_fixture(tc, arena_fixture, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exhaustion);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_reuse_after_free);
	tcase_add_test(tc, test_reuse_mixed_sizes);
	tcase_add_test(tc, test_class_rounding);
	tcase_add_test(tc, test_realloc_grow_in_place);
	tcase_add_test(tc, test_realloc_move);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_usable_size);
	tcase_add_test(tc, test_foreign_free);
	tcase_add_test(tc, test_free_interior_forged);
	tcase_add_test(tc, test_free_interior_forged_many);
	tcase_add_test(tc, test_double_free);
	tcase_add_test(tc, test_realloc_freed);
	tcase_add_test(tc, test_free_after_merge);
	tcase_add_test(tc, test_realloc_interior_forged);
	tcase_add_test(tc, test_random_model);
	suite_add_tcase(s, tc);

	/* These hand the arena over themselves: no fixture. */
	tcase_add_test(init, test_init_user_buffer);
	tcase_add_test(init, test_init_after_use);
	suite_add_tcase(s, init);
	return s;
}

HK_SUITE(arena_suite);

#endif /* CONFIG_BACKEND_ARENA */
