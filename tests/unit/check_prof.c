// SPDX-License-Identifier: MIT
/*
 * tests/unit/check_prof.c - hak_prof_dump() and hak_prof_dump_peak():
 * ENOSYS without CONFIG_HEAP_PROFILE; with it, a gperftools heap profile
 * (empty here: the runner does not set HAKMEM_PROF; tests/prof checks the
 * samples), EINVAL for NULL, the open error for a path that cannot be
 * created. See Documentation/profiling.md.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hakmem.h>

#ifdef CONFIG_HEAP_PROFILE
/* The first bytes of path, NUL-terminated. */
static void read_head(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, size - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	close(fd);
}

static void check_dump(int (*dump)(const char *))
{
	char path[] = "/tmp/hk-prof-XXXXXX";
	static char buf[1 << 16];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(dump(path), 0);
	read_head(path, buf, sizeof(buf));
	ck_assert_msg(!strncmp(buf, "heap profile: ", 14), "header: %.60s", buf);
	ck_assert_msg(strstr(buf, "] @ heapprofile\n") != NULL, "header: %.60s", buf);
	ck_assert_msg(strstr(buf, "\nMAPPED_LIBRARIES:\n") != NULL, "no MAPPED_LIBRARIES");
	/* /proc/self/maps follows: at least one mapping with an address range. */
	ck_assert_msg(strchr(strstr(buf, "MAPPED_LIBRARIES:"), '-') != NULL, "no maps");
	unlink(path);

	errno = 0;
	ck_assert_int_eq(dump(NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(dump("/nonexistent-hk-dir/x.heap"), -1);
	ck_assert_int_eq(errno, ENOENT);
}

START_TEST(test_prof_dump)
{
	check_dump(hak_prof_dump);
}
END_TEST

START_TEST(test_prof_dump_peak)
{
	check_dump(hak_prof_dump_peak);
}
END_TEST
#else
START_TEST(test_prof_dump)
{
	errno = 0;
	ck_assert_int_eq(hak_prof_dump("/tmp/hk-prof-unused.heap"), -1);
	ck_assert_int_eq(errno, ENOSYS);
	ck_assert_int_eq(access("/tmp/hk-prof-unused.heap", F_OK), -1);
}
END_TEST

START_TEST(test_prof_dump_peak)
{
	errno = 0;
	ck_assert_int_eq(hak_prof_dump_peak("/tmp/hk-prof-unused.heap"), -1);
	ck_assert_int_eq(errno, ENOSYS);
}
END_TEST
#endif

static Suite *prof_suite(void)
{
	Suite *s = suite_create("prof");
	TCase *tc = tcase_create("dump");

	tcase_add_test(tc, test_prof_dump);
	tcase_add_test(tc, test_prof_dump_peak);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(prof_suite);
