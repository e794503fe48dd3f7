// SPDX-License-Identifier: MIT
/*
 * Thread heaps (mm/heap): the bin front, slab accounting and retirement,
 * the remote-free queue under contention, thread exit and adoption, and
 * double-free / interior-pointer handling.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <hakmem.h>
#include "heap/heap.h"

/* The thread heaps serve slab classes: none without a slab box. */
#if HK_NR_CLASSES

/* A freed block is handed out again by the same thread (LIFO bin). */
START_TEST(test_bin_lifo)
{
	void *p = hak_malloc(48), *q;

	hak_free(p);
	q = hak_malloc(48);
	ck_assert_ptr_eq(p, q);
	hak_free(q);
}
END_TEST

/* Freeing everything returns every slab to the pool. */
START_TEST(test_slabs_retire)
{
	/*
	 * A class nothing else in the test process uses (without Mid, one
	 * below the largest: stdio's 4 KiB buffers would keep that one busy).
	 */
	enum { N = 2000, SIZE = HEAP_MAX_SIZE >= 6000 ? 6000 : HEAP_MAX_SIZE / 4 * 3 };
	static void *v[N];
	unsigned int cls = size_to_class(SIZE), i;
	struct slab *s;

	for (i = 0; i < N; i++) {
		v[i] = hak_malloc(SIZE);
		ck_assert_ptr_nonnull(v[i]);
		memset(v[i], (int)i, SIZE);
	}
	s = slab_block_head(v[0]);
	ck_assert_uint_eq(s->class_idx, cls);
	ck_assert_uint_eq(s->block_size, hk_classes[cls].size);
	ck_assert_ptr_eq(s->owner, hk_tls.heap);
	for (i = 0; i < N; i++)
		hak_free(v[i]);
	/* At most a bin's worth of blocks keeps slabs alive. */
	hak_malloc_trim(0);
	/* After trim every slab was released (its slot is free). */
	ck_assert_ptr_null(hk_tls.heap->partial[cls]);
	ck_assert_ptr_null(hk_tls.cur[cls]);
	for (i = 0; i < N; i += 8)
		ck_assert_uint_eq(slab_block_head(v[i])->kind, SLAB_FREE);
}
END_TEST

/* Interior pointers are refused by the guard, not pushed on a list. */
START_TEST(test_interior_pointer_leaked)
{
	char *p = hak_malloc(256), *q;
	unsigned int i;

	memset(p, 7, 256);
	hak_free(p + 16);		/* ignored */
	for (i = 0; i < 1000; i++) {
		q = hak_malloc(256);
		/* p is still allocated: q must not overlap it at all. */
		if (!(q + 256 <= p || q >= p + 256))
			ck_abort_msg("malloc(256) = %p overlaps the live block %p "
				     "after free(%p)", (void *)q, (void *)p, (void *)(p + 16));
		hak_free(q);
	}
	ck_assert_int_eq(p[255], 7);
	hak_free(p);
}
END_TEST

/*
 * A pointer into the unused tail of a slab (past its last block) is not a
 * block: free and malloc_usable_size refuse it, and it is never handed
 * out. Every class whose blocks do not fill the slab exactly is tried.
 */
START_TEST(test_slab_tail_refused)
{
	unsigned int cls, tried = 0, expected = 0;

	hak_free(hak_malloc(1));	/* initialise */
	/*
	 * The classes that leave a tail, from the class table alone. With
	 * power-of-two classes only (CONFIG_MID_CLASSES_PER_DOUBLING=1 and
	 * no Small-Mid) there is none, and nothing to try.
	 */
	for (cls = 1; cls < HK_NR_CLASSES; cls++)
		if (((size_t)hk_classes[cls].span << SLOT_SHIFT) % hk_classes[cls].size >= 16)
			expected++;
	for (cls = 1; cls < HK_NR_CLASSES; cls++) {
		size_t size = hk_classes[cls].size, i;
		struct slab *s;
		char *p, *tail, *q;

		p = hak_malloc(size);
		ck_assert_ptr_nonnull(p);
		s = slab_block_head(p);
		tail = (char *)(uintptr_t)(s->base + (uintptr_t)s->capacity * size) +
		       ((uintptr_t)p & ~(uintptr_t)UINT32_MAX);
		if (((size_t)s->span << SLOT_SHIFT) - (size_t)s->capacity * size < 16) {
			hak_free(p);
			continue;
		}
		tried++;
		ck_assert_uint_eq(hak_malloc_usable_size(tail), 0);
		hak_free(tail);		/* refused: leaked by the guard */
		for (i = 0; i < 2 * s->capacity; i++) {
			q = hak_malloc(size);
			ck_assert_ptr_ne(q, tail);
			hak_free(q);
		}
		hak_free(p);
	}
	ck_assert_uint_eq(tried, expected);
}
END_TEST

#ifdef CONFIG_DOUBLE_FREE_CHECK
/*
 * free() only stores the key; the second copy of p on the bin is found
 * by the malloc that would hand p out a second time.
 */
START_TEST(test_double_free_aborts)
{
	void *p = hak_malloc(32), *q, *r;

	hak_free(p);
	hak_free(p);
	q = hak_malloc(32);
	r = hak_malloc(32);	/* aborts: p again */
	ck_abort_msg("double free not detected: %p handed out as %p and %p", p, q, r);
}
END_TEST

/* The same when the bin flushes both copies to the slab. */
START_TEST(test_double_free_aborts_on_flush)
{
	static void *v[4096];
	void *p = hak_malloc(64);
	int i;

	for (i = 0; i < 4096; i++)
		v[i] = hak_malloc(64);
	hak_free(p);
	hak_free(p);
	for (i = 0; i < 4096; i++)
		hak_free(v[i]);	/* a flush moves both copies: aborts */
	for (i = 0; i < 4096; i++)
		v[i] = hak_malloc(64);
	ck_abort_msg("double free not detected");
}
END_TEST

#ifdef CONFIG_THREADS
/*
 * A block freed by a remote thread and then by its owner is on two lists
 * at once: one of them finds the other's key before the block is handed
 * out twice.
 */
static void *remote_then_owner_block;

static void *free_remote_block(void *arg)
{
	hak_free(remote_then_owner_block);
	return NULL;
}

START_TEST(test_double_free_remote_then_owner)
{
	static void *v[512];
	void *p = hak_malloc(128);
	pthread_t t;
	int i;

	remote_then_owner_block = p;
	ck_assert_int_eq(pthread_create(&t, NULL, free_remote_block, NULL), 0);
	pthread_join(t, NULL);
	hak_free(p);	/* the owner frees it again */
	for (i = 0; i < 512; i++) {
		v[i] = hak_malloc(128);
		ck_assert_ptr_nonnull(v[i]);
	}
	for (i = 0; i < 512; i++)
		hak_free(v[i]);
	for (i = 0; i < 512; i++)
		v[i] = hak_malloc(128);
	ck_abort_msg("double free not detected");
}
END_TEST

static void *double_free_worker(void *arg)
{
	hak_free(arg);
	hak_free(arg);		/* aborts: remote double free */
	return NULL;
}

/* A thread frees another thread's block twice (heap_free_other). */
START_TEST(test_remote_double_free_aborts)
{
	void *p = hak_malloc(48);
	pthread_t t;
	int i;

	memset(p, 0x11, 48);
	ck_assert_int_eq(pthread_create(&t, NULL, double_free_worker, p), 0);
	pthread_join(t, NULL);
	for (i = 0; i < 4; i++)
		hak_malloc(48);
}
END_TEST
#endif /* CONFIG_THREADS */
#endif

#if defined(CONFIG_FREELIST_HARDENED) || defined(CONFIG_DOUBLE_FREE_CHECK)
/*
 * A use-after-free write of an address into a free block's link: malloc
 * must never return that address (the hardened link decodes to garbage,
 * or the target lacks the double-free key); it aborts instead.
 */
static char forged_target[256] __attribute__((aligned(64)));

START_TEST(test_forged_link_aborts)
{
	void *p = hak_malloc(48), *q, *r;

	memset(forged_target, 0, sizeof(forged_target));
	hak_free(p);
	*(void **)p = forged_target + 64;	/* use after free */
	q = hak_malloc(48);
	r = hak_malloc(48);
	ck_assert_ptr_ne(q, forged_target + 64);
	ck_assert_ptr_ne(r, forged_target + 64);
	ck_abort_msg("forged free-list link not detected (%p, %p)", q, r);
}
END_TEST
#endif

/*
 * Slots of the main pool that are claimed: slabs in use by any heap (slot
 * 0 of each SuperSlab, its header, is not counted).
 */
static unsigned long pool_slots_in_use(void)
{
	unsigned long all = (SS_SLOTS == 8 * sizeof(unsigned long) ? ~0UL :
			     (1UL << SS_SLOTS) - 1) & ~1UL;
	struct superslab *ss;
	unsigned long n = 0;

	for (ss = ss_pool_main.head; ss; ss = ss->next)
		n += (unsigned long)__builtin_popcountl(~ss->free_mask & all);
	return n;
}

/* ------------------------------------------------------------------ */

#ifdef CONFIG_THREADS
#define REMOTE_THREADS	4
#define REMOTE_BLOCKS	20000

static void *remote_blocks[REMOTE_THREADS][REMOTE_BLOCKS];

/* Free another thread's blocks, all at once from several threads. */
static void *remote_free_worker(void *arg)
{
	void **v = arg;
	long i, n = hk_test_scale(REMOTE_BLOCKS);

	for (i = 0; i < n; i++) {
		if (((unsigned char *)v[i])[0] != (unsigned char)i)
			return (void *)1;
		hak_free(v[i]);
	}
	return NULL;
}

START_TEST(test_remote_free_contention)
{
	pthread_t t[REMOTE_THREADS];
	long i, n = hk_test_scale(REMOTE_BLOCKS), k, round;
	unsigned long before, after;
	void *ret;

	hak_malloc_trim(0);
	before = pool_slots_in_use();
	for (round = 0; round < 3; round++) {
		for (k = 0; k < REMOTE_THREADS; k++)
			for (i = 0; i < n; i++) {
				size_t sz = 16 + (size_t)((i * 7 + k) % 2000);

				remote_blocks[k][i] = hak_malloc(sz);
				ck_assert_ptr_nonnull(remote_blocks[k][i]);
				memset(remote_blocks[k][i], (int)i, sz);
			}
		for (k = 0; k < REMOTE_THREADS; k++)
			ck_assert_int_eq(pthread_create(&t[k], NULL, remote_free_worker,
							remote_blocks[k]), 0);
		/* Meanwhile the owner keeps allocating and freeing. */
		for (i = 0; i < n; i++)
			hak_free(hak_malloc(16 + (size_t)(i % 2000)));
		for (k = 0; k < REMOTE_THREADS; k++) {
			pthread_join(t[k], &ret);
			ck_assert_ptr_null(ret);
		}
	}
	/*
	 * Everything came back: once the owner collected the remote frees
	 * (trim), the slabs of these blocks are released. A few slots may be
	 * held by what Check allocated meanwhile.
	 */
	hak_malloc_trim(0);
	after = pool_slots_in_use();
	ck_assert_msg(after <= before + 4,
		      "%lu slots in use after every block came back, %lu before",
		      after, before);
}
END_TEST

static void *exiting_worker(void *arg)
{
	void **out = arg;
	long i;

	for (i = 0; i < 1000; i++) {
		out[i] = hak_malloc(64 + (size_t)i);
		memset(out[i], 0x3c, 64 + (size_t)i);
	}
	return NULL;		/* exits with its blocks alive */
}

static void *adopting_worker(void *arg)
{
	/* A new thread takes over a parked heap record. */
	return hak_malloc(64);
}

START_TEST(test_thread_exit_blocks_live_on)
{
	static void *v[1000];
	pthread_t t;
	void *p;
	long i, j;

	ck_assert_int_eq(pthread_create(&t, NULL, exiting_worker, v), 0);
	pthread_join(t, NULL);
	for (i = 0; i < 1000; i++) {
		for (j = 0; j < 64 + i; j++)
			ck_assert_int_eq(((unsigned char *)v[i])[j], 0x3c);
		hak_free(v[i]);	/* remote frees into a parked heap */
	}
	ck_assert_int_eq(pthread_create(&t, NULL, adopting_worker, NULL), 0);
	pthread_join(t, &p);
	ck_assert_ptr_nonnull(p);
	hak_free(p);
}
END_TEST
#endif

static Suite *heap_suite(void)
{
	Suite *s = suite_create("heap");
	TCase *tc = tcase_create("heap");

	tcase_add_test(tc, test_bin_lifo);
	tcase_add_test(tc, test_slabs_retire);
	tcase_add_test(tc, test_interior_pointer_leaked);
	tcase_add_test(tc, test_slab_tail_refused);
#if defined(CONFIG_FREELIST_HARDENED) || defined(CONFIG_DOUBLE_FREE_CHECK)
	tcase_add_test_raise_signal(tc, test_forged_link_aborts, SIGABRT);
#endif
#ifdef CONFIG_DOUBLE_FREE_CHECK
	tcase_add_test_raise_signal(tc, test_double_free_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_double_free_aborts_on_flush, SIGABRT);
#ifdef CONFIG_THREADS
	tcase_add_test_raise_signal(tc, test_double_free_remote_then_owner, SIGABRT);
	tcase_add_test_raise_signal(tc, test_remote_double_free_aborts, SIGABRT);
#endif
#endif
#ifdef CONFIG_THREADS
	tcase_add_test(tc, test_remote_free_contention);
	tcase_add_test(tc, test_thread_exit_blocks_live_on);
#endif
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(heap_suite);

#endif /* HK_NR_CLASSES */

#endif /* CONFIG_BACKEND_MMAP */
