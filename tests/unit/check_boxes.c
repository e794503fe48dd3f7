// SPDX-License-Identifier: MIT
/*
 * The box registration layer (mm/box.h): the boxes that registered are
 * exactly the configured ones, their classes make up the class table in
 * size order, each class comes from its box's pool and counts in its
 * box's statistics, the self-checks pass, and the size ranges follow from
 * what registered (a box that is off is served by its neighbour).
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <string.h>
#include <hakmem.h>
#include "box.h"
#include "heap/heap.h"

static const struct hk_box *box_named(const char *name)
{
	const struct hk_box *b;

	for_each_box(b)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

/* Registered if and only if configured. */
START_TEST(test_registered_boxes_are_configured)
{
	ck_assert_int_eq(box_named("Tiny") != NULL, IS_ENABLED(CONFIG_TINY));
	ck_assert_int_eq(box_named("Small-Mid") != NULL, IS_ENABLED(CONFIG_SMALLMID));
	ck_assert_int_eq(box_named("Mid") != NULL, IS_ENABLED(CONFIG_MID));
	ck_assert_int_eq(box_named("UltraHot") != NULL, IS_ENABLED(CONFIG_TINY_ULTRAHOT));
	ck_assert_int_eq(box_named("double-free check") != NULL,
			 IS_ENABLED(CONFIG_DOUBLE_FREE_CHECK));
	ck_assert_ptr_nonnull(box_named("Large"));
	ck_assert_ptr_nonnull(box_named("ExternalGuard"));
}
END_TEST

/* The slab boxes' classes, in link order, are the class table. */
START_TEST(test_classes_come_from_boxes)
{
	const struct hk_box *b;
	unsigned int n = 0, i;

	ck_assert_int_eq(heap_init(), 0);
	for_each_box(b) {
		for (i = n; i < n + b->nr_classes; i++) {
			ck_assert_ptr_eq(hk_classes[i].pool, b->pool ? b->pool : &ss_pool_main);
			ck_assert_int_eq(hk_classes[i].stat_idx, b->stat_alloc);
			if (i)
				ck_assert_uint_gt(hk_classes[i].size, hk_classes[i - 1].size);
		}
		n += b->nr_classes;
	}
	ck_assert_uint_eq(n, HK_NR_CLASSES);
	if (n)
		ck_assert_uint_eq(hk_classes[n - 1].size, HEAP_MAX_SIZE);
	heap_boxes_check();
}
END_TEST

/*
 * The ranges: every size up to HEAP_MAX_SIZE has a class (the neighbour
 * of a box that is off takes its range), everything above is Large.
 */
START_TEST(test_ranges_follow_registration)
{
	static const size_t sizes[] = { 0, 1, 8, 9, 16, 17, 32, 100, 256, 257, 512,
					1024, 1025, 4096, 4097, 8192, 32768, 32769,
					HEAP_MAX_SIZE, HEAP_MAX_SIZE + 1 };
	unsigned int i;

	ck_assert_int_eq(heap_init(), 0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *p = hak_malloc(sizes[i]);
		unsigned int reg = registry_lookup((uintptr_t)p);

		ck_assert_ptr_nonnull(p);
		if (HK_NR_CLASSES && sizes[i] <= HEAP_MAX_SIZE) {
			unsigned int c = size_to_class(sizes[i]);

			ck_assert_uint_eq(reg, REG_SUPERSLAB);
			ck_assert_uint_eq(slab_block_head(p)->class_idx, c);
			ck_assert_uint_ge(hk_classes[c].size, sizes[i]);
			ck_assert_uint_ge(hak_malloc_usable_size(p), sizes[i]);
		} else {
			ck_assert_uint_ge(reg, REG_LARGE);
			ck_assert_uint_ge(hak_malloc_usable_size(p), sizes[i]);
		}
		memset(p, 0xa5, sizes[i]);
		hak_free(p);
	}
}
END_TEST

/* Mid's third class without Tiny: 48 B, or 64 B with one class per doubling. */
#ifdef CONFIG_MID
#define MID_THIRD_CLASS		(32 + 32 / MID_STEPS(5))
#else
#define MID_THIRD_CLASS		0
#endif

/* Expected limits of each configuration. */
START_TEST(test_configured_limits)
{
	if (IS_ENABLED(CONFIG_MID)) {
		/* Mid ends at CONFIG_MID_MAX_KB: 32 KiB .. 1 MiB. */
		ck_assert_uint_eq(HEAP_MAX_SIZE, MID_MAX_SIZE);
		ck_assert_uint_ge(HEAP_MAX_SIZE, 32768);
		ck_assert_uint_le(HEAP_MAX_SIZE, 1 << 20);
		ck_assert_uint_eq(HEAP_MAX_SIZE % 1024, 0);
	}
	else if (IS_ENABLED(CONFIG_SMALLMID))
		ck_assert_uint_eq(HEAP_MAX_SIZE, 4096);
	else if (IS_ENABLED(CONFIG_TINY))
		ck_assert_uint_eq(HEAP_MAX_SIZE, TINY_MAX_SIZE);
	else
		ck_assert_uint_eq(HK_NR_CLASSES, 0);
	/* Small-Mid fixes Tiny at 256 B, whatever TINY_MAX_CLASS was. */
	if (IS_ENABLED(CONFIG_SMALLMID))
		ck_assert_uint_eq(TINY_MAX_SIZE, 256);
	/*
	 * Without Tiny, Mid starts with 16 and 32 B classes, then 48 B
	 * (two or more classes per doubling) or 64 B (one).
	 */
	if (!IS_ENABLED(CONFIG_TINY) && IS_ENABLED(CONFIG_MID)) {
		ck_assert_int_eq(heap_init(), 0);
		ck_assert_uint_eq(hk_classes[0].size, 16);
		ck_assert_uint_eq(hk_classes[1].size, 32);
		ck_assert_uint_eq(hk_classes[2].size, MID_THIRD_CLASS);
		ck_assert_uint_eq(size_to_class(0), 0);
		ck_assert_uint_eq(size_to_class(16), 0);
		ck_assert_uint_eq(size_to_class(17), 1);
		ck_assert_uint_eq(size_to_class(33), 2);
	}
}
END_TEST

static Suite *boxes_suite(void)
{
	Suite *s = suite_create("boxes");
	TCase *tc = tcase_create("boxes");

	tcase_add_test(tc, test_registered_boxes_are_configured);
	tcase_add_test(tc, test_classes_come_from_boxes);
	tcase_add_test(tc, test_ranges_follow_registration);
	tcase_add_test(tc, test_configured_limits);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(boxes_suite);

#endif /* CONFIG_BACKEND_MMAP */
