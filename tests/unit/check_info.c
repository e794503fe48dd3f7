// SPDX-License-Identifier: MIT
/*
 * hak_mallinfo2, hak_mallinfo, hak_malloc_info (CONFIG_MALLOC_INFO) in
 * every configuration, the embedded arena included: the figures follow
 * what the test allocates and frees. tests/info/info.c checks the same
 * with 10 MB per tier and under LD_PRELOAD.
 */
#include "unit.h"

#ifdef CONFIG_MALLOC_INFO
#include <errno.h>
#include <malloc.h>
#ifdef CONFIG_THREADS
#include <pthread.h>
#endif
#include <stdio.h>
#include <string.h>

#include <hakmem.h>
#include <hakmem/alloc.h>
#ifdef CONFIG_BACKEND_MMAP
#include "heap/heap.h"
#endif

/*
 * Freed memory stays held: the arena, a slab box that serves INFO_SIZE
 * and keeps free slots committed (a dirty floor of 0 gives every empty
 * slot back at once), or the Large cache where Large serves INFO_SIZE.
 */
#ifdef CONFIG_BACKEND_MMAP
# define INFO_SLAB_SERVES	(HK_NR_CLASSES && INFO_SIZE <= HEAP_MAX_SIZE)
# define INFO_KEEPS_FREED	((INFO_SLAB_SERVES && CONFIG_SUPERSLAB_DIRTY_SLOTS > 0) || \
				 (!INFO_SLAB_SERVES && IS_ENABLED(CONFIG_LARGE_CACHE)))
#else
# define INFO_KEEPS_FREED	1
#endif

#ifdef CONFIG_BACKEND_ARENA
# if CONFIG_ARENA_SIZE_KB == 0
static char info_arena_buf[256 * 1024] __attribute__((aligned(64)));
# endif
# define INFO_N		16
# define INFO_SIZE	1000
# define INFO_SMALL_N	256
# define INFO_SLACK	0
# define INFO_REMOTE_SLACK	0
#else
# define INFO_N		1000
# define INFO_SIZE	1000
# define INFO_SMALL_N	8192
# define INFO_SLACK	(64 << 10)	/* Check's own allocations meanwhile */
/* With two threads of the test's only: their heaps' first blocks */
# define INFO_REMOTE_SLACK	(4 << 10)
#endif

static void info_fixture(void)
{
#if defined(CONFIG_BACKEND_ARENA) && CONFIG_ARENA_SIZE_KB == 0
	hak_arena_init(info_arena_buf, sizeof(info_arena_buf));
#endif
}

START_TEST(test_mallinfo2_follows)
{
	struct mallinfo2 before, live, after;
	static void *p[INFO_N];
	size_t usable = 0, grew;
	int i;

	before = hak_mallinfo2();
	for (i = 0; i < INFO_N; i++) {
		p[i] = hak_malloc(INFO_SIZE);
		ck_assert_ptr_nonnull(p[i]);
		usable += hak_malloc_usable_size(p[i]);
	}
	live = hak_mallinfo2();
	grew = live.uordblks - before.uordblks;
	ck_assert_uint_ge(live.uordblks, before.uordblks + (size_t)INFO_N * INFO_SIZE);
	ck_assert_uint_ge(grew + INFO_SLACK, usable);
	ck_assert_uint_le(grew, usable + INFO_SLACK);
	ck_assert_uint_eq(live.arena, live.uordblks + live.fordblks);
	ck_assert_uint_ge(live.arena, live.uordblks);
	for (i = 0; i < INFO_N; i++)
		hak_free(p[i]);
	after = hak_mallinfo2();
	ck_assert_uint_le(after.uordblks, before.uordblks + INFO_SLACK);
	ck_assert_uint_ge(after.uordblks + INFO_SLACK, before.uordblks);
	/* The freed bytes are still held, as free memory (if anything keeps them). */
	if (INFO_KEEPS_FREED)
		ck_assert_uint_ge(after.fordblks + INFO_SLACK, usable);
}
END_TEST

#ifdef CONFIG_THREADS
/*
 * Another thread frees the test's blocks, one half, then the other, and
 * waits (alive) while the test reads mallinfo after each: the blocks it
 * freed are free for mallinfo at once, wherever they wait for their
 * owner (the freeing thread's remote batches, the owner's inbox, the
 * slabs' remote lists), as glibc's are; and the half still allocated
 * still counts. (500 blocks leave 20 in a remote batch of 32.) Then the
 * owner allocates half of them again, from what came back.
 */
struct info_freer {
	void **p;			/* the blocks */
	int n;				/* how many */
	int own_heap;			/* the freer allocates first: it has a heap */
	pthread_barrier_t step;		/* a half freed; mallinfo read */
};

static void *info_free_halves(void *arg)
{
	struct info_freer *f = arg;
	int i;

	pthread_barrier_wait(&f->step);	/* the blocks are allocated */
	/*
	 * With a heap of its own the freer gathers remote batches, pushed
	 * to the owner's inbox; without one it frees straight to the
	 * slabs' remote lists.
	 */
	if (f->own_heap)
		hak_free(hak_malloc(16));
	for (i = 0; i < f->n / 2; i++)
		hak_free(f->p[i]);
	pthread_barrier_wait(&f->step);
	pthread_barrier_wait(&f->step);
	for (; i < f->n; i++)
		hak_free(f->p[i]);
	pthread_barrier_wait(&f->step);
	pthread_barrier_wait(&f->step);
	return NULL;
}

/* n blocks of size bytes, freed by a thread with or without a heap. */
static void info_remote_frees(size_t size, int n, int own_heap)
{
	static void *p[INFO_SMALL_N];
	static struct info_freer f;
	struct mallinfo2 before, half, after, refilled;
	size_t second = 0, again = 0;
	pthread_t t;
	int i;

#ifdef CONFIG_BACKEND_MMAP
	/* Large serves the size (no slab box does): no remote list to count. */
	if (!HK_NR_CLASSES || size > HEAP_MAX_SIZE)
		return;
#endif
	ck_assert_int_le(n, INFO_SMALL_N);
	/*
	 * The freer first: pthread_create()'s own allocations (glibc's
	 * thread vector of 288 B, a 40 KiB Large block where no slab class
	 * is above 128 B: randconfig KCONFIG_SEED=0xf20f83c7) are in use
	 * before the count starts.
	 */
	f.p = p;
	f.n = n;
	f.own_heap = own_heap;
	ck_assert_int_eq(pthread_barrier_init(&f.step, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, info_free_halves, &f), 0);
	before = hak_mallinfo2();
	for (i = 0; i < n; i++) {
		p[i] = hak_malloc(size);
		ck_assert_ptr_nonnull(p[i]);
		if (i >= n / 2)
			second += hak_malloc_usable_size(p[i]);
	}
	pthread_barrier_wait(&f.step);
	pthread_barrier_wait(&f.step);
	half = hak_mallinfo2();
	pthread_barrier_wait(&f.step);
	pthread_barrier_wait(&f.step);
	after = hak_mallinfo2();
	/*
	 * The owner allocates half as many again: its refills take the
	 * inbox lists (with the freer's heap), and what a refill leaves of a
	 * list waits on (heap::inbox_rest): free blocks still.
	 */
	for (i = 0; i < n / 2; i++) {
		p[i] = hak_malloc(size);
		ck_assert_ptr_nonnull(p[i]);
		again += hak_malloc_usable_size(p[i]);
	}
	refilled = hak_mallinfo2();
	for (i = 0; i < n / 2; i++)
		hak_free(p[i]);
	pthread_barrier_wait(&f.step);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&f.step);
	ck_assert_msg(half.uordblks <= before.uordblks + second + INFO_REMOTE_SLACK &&
		      half.uordblks + INFO_REMOTE_SLACK >= before.uordblks + second,
		      "%d blocks of %zu B, the second half (%zu B) still allocated (freer with%s a heap): "
		      "%zu B in use, %zu before", n, size, second, own_heap ? "" : "out",
		      half.uordblks, before.uordblks);
	ck_assert_msg(after.uordblks <= before.uordblks + INFO_REMOTE_SLACK,
		      "%d blocks of %zu B freed by another thread (with%s a heap): %zu B in use, %zu before",
		      n, size, own_heap ? "" : "out", after.uordblks, before.uordblks);
	ck_assert_uint_eq(after.arena, after.uordblks + after.fordblks);
	ck_assert_msg(refilled.uordblks <= before.uordblks + again + INFO_REMOTE_SLACK &&
		      refilled.uordblks + INFO_REMOTE_SLACK >= before.uordblks + again,
		      "%d blocks of %zu B freed by another thread (with%s a heap), %d allocated "
		      "again (%zu B): %zu B in use, %zu before", n, size, own_heap ? "" : "out",
		      n / 2, again, refilled.uordblks, before.uordblks);
}

START_TEST(test_mallinfo2_remote_frees)
{
	info_remote_frees(INFO_SIZE, INFO_N, 0);
	info_remote_frees(INFO_SIZE, INFO_N, 1);
	info_remote_frees(64, INFO_SMALL_N, 1);
}
END_TEST
#endif

#ifdef CONFIG_TINY_ULTRAHOT
/*
 * Blocks on the UltraHot stacks (classes C0 and C1, 16 B and 32 B) are
 * cached blocks of their own class, not of the class above (the box's
 * tls_cached hook).
 */
START_TEST(test_usage_ultrahot_class)
{
	static struct hk_usage mid, after;
	static void *p[64];
	int i;

	/* Empty the 16 B stack, so that the frees below land on it. */
	for (i = 0; i < 64; i++) {
		p[i] = hak_malloc(16);
		ck_assert_ptr_nonnull(p[i]);
	}
	hk_usage(&mid);
	for (i = 0; i < 8; i++)
		hak_free(p[i]);
	hk_usage(&after);
	ck_assert_uint_eq(after.cls[0].size, 16);
	ck_assert_uint_eq(after.cls[0].nr_free, mid.cls[0].nr_free + 8);
	ck_assert_uint_eq(after.cls[1].nr_free, mid.cls[1].nr_free);
	for (; i < 64; i++)
		hak_free(p[i]);
}
END_TEST
#endif

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
START_TEST(test_mallinfo_int)
{
	void *p = hak_malloc(INFO_SIZE);
	struct mallinfo2 m2 = hak_mallinfo2();
	struct mallinfo m = hak_mallinfo();

	ck_assert_int_gt(m.uordblks, 0);
	ck_assert_uint_le((size_t)m.uordblks, m2.uordblks + INFO_SLACK);
	ck_assert_uint_ge((size_t)m.uordblks + INFO_SLACK, m2.uordblks);
	ck_assert_int_eq(m.usmblks, 0);
	hak_free(p);
}
END_TEST

#ifdef CONFIG_BACKEND_MMAP
START_TEST(test_malloc_info_xml)
{
	char buf[8192];
	FILE *f = tmpfile();
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hak_malloc_info(0, f), 0);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	/* A <heap> per slab box: none when Large serves every request. */
	if (HK_NR_CLASSES) {
		ck_assert_msg(strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\"", 33) == 0,
			      "malloc_info starts with %.40s", buf);
		ck_assert_ptr_nonnull(strstr(buf, "</heap>\n"));
	} else {
		ck_assert_msg(strncmp(buf, "<malloc version=\"1\">\n", 21) == 0,
			      "malloc_info starts with %.40s", buf);
		ck_assert_ptr_null(strstr(buf, "<heap"));
	}
	ck_assert_ptr_nonnull(strstr(buf, "<total type=\"mmap\" count=\""));
	ck_assert_msg(n > 10 && strcmp(buf + n - 10, "</malloc>\n") == 0, "ends with %s",
		      buf + (n > 20 ? n - 20 : 0));
	errno = 0;
	ck_assert_int_eq(hak_malloc_info(2, f), -1);
	ck_assert_int_eq(errno, EINVAL);
	fclose(f);
}
END_TEST
#else
/* The freestanding arena build has no stdio: malloc_info fails. */
START_TEST(test_malloc_info_xml)
{
	errno = 0;
	ck_assert_int_eq(hak_malloc_info(0, stderr), -1);
	ck_assert_int_eq(errno, ENOSYS);
}
END_TEST
#endif

static Suite *info_suite(void)
{
	Suite *s = suite_create("info");
	TCase *tc = tcase_create("mallinfo");

	tcase_add_checked_fixture(tc, info_fixture, NULL);
	tcase_add_test(tc, test_mallinfo2_follows);
	tcase_add_test(tc, test_mallinfo_int);
	tcase_add_test(tc, test_malloc_info_xml);
#ifdef CONFIG_THREADS
	tcase_add_test(tc, test_mallinfo2_remote_frees);
#endif
#ifdef CONFIG_TINY_ULTRAHOT
	tcase_add_test(tc, test_usage_ultrahot_class);
#endif
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(info_suite);
#endif /* CONFIG_MALLOC_INFO */
