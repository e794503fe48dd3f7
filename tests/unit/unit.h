/* SPDX-License-Identifier: MIT */
/*
 * Registration of the unit test suites.
 *
 * Every tests/unit/check_*.c file is linked into one runner, run_unit
 * (main.c). A file registers its suites with
 *
 *	static Suite *foo_suite(void) { ... }
 *	HK_SUITE(foo_suite);
 *
 * which adds foo_suite() to a list from a constructor, so new files need
 * no central list. A file for a box that is configured off wraps its body
 * in #ifdef CONFIG_... and compiles to nothing: include this header first,
 * it brings in the configuration (generated/autoconf.h).
 *
 * The runner runs every registered suite in Check's fork mode (each test
 * in a fresh child of the runner). CK_RUN_SUITE=name or CK_RUN_CASE=name
 * select one suite or test case, CK_FORK=no runs in one process (for gdb).
 */
#ifndef _HK_TESTS_UNIT_H
#define _HK_TESTS_UNIT_H

#include <generated/autoconf.h>

#include <check.h>

typedef Suite *(*hk_suite_fn)(void);

/* Called by HK_SUITE's constructor; defined in main.c. */
void hk_register_suite(hk_suite_fn fn, const char *name);

#define HK_SUITE(fn)							\
	static void __attribute__((constructor, used))			\
	hk_register_##fn(void)						\
	{								\
		hk_register_suite(fn, #fn);				\
	}								\
	struct hk_suite_dummy_##fn

/*
 * Assertions for hot loops. Check's ck_assert_*() record a mark point on
 * every call that passes (a write to the runner's message file, through
 * a buffer from the C library's malloc): in a loop of 10^6 iterations
 * that costs seconds, and under ASan the buffers stay in its quarantine
 * (a loop measured by its RSS grows). These call Check only when the
 * condition fails.
 */
#define REQ(cond) do {								\
	if (!(cond))								\
		ck_abort_msg("Assertion '%s' failed", #cond);			\
} while (0)
#define REQ_MSG(cond, ...) do {							\
	if (!(cond))								\
		ck_abort_msg(__VA_ARGS__);					\
} while (0)

/*
 * A request that the Large box serves (mmap backend; uses boxes.h): the
 * size n of a test written when Large started above 32 KiB, moved up by as
 * much as the slab classes now go beyond that (CONFIG_MID_MAX_KB), so
 * that it stays as far above the largest slab class (HEAP_MAX_SIZE).
 */
#define UNIT_LARGE(n)	((size_t)(n) + (HK_NR_CLASSES && HEAP_MAX_SIZE > 32768 ? \
					HEAP_MAX_SIZE - 32768 : 0))

/*
 * p, which the compiler can no longer reason about: a bad pointer given
 * to free (or a stale one) is not taken for undefined behaviour.
 */
static inline void *launder(void *p)
{
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

/*
 * Scale factor for loop counts: 1 natively, smaller under qemu or the
 * sanitizers (HK_TEST_SCALE=percent, set by tests/run.sh).
 */
long hk_test_scale(long n);

/*
 * 1 if the VmFlags of the mapping holding p (/proc/self/smaps) contain
 * flag ("hg": MADV_HUGEPAGE, "nh": MADV_NOHUGEPAGE), 0 if not; fails
 * the test if no mapping holds p.
 */
int hk_test_vma_flag(const void *p, const char *flag);

#endif /* _HK_TESTS_UNIT_H */
