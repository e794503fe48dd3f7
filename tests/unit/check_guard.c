// SPDX-License-Identifier: MIT
/*
 * ExternalGuard (mm/guard): the classification of foreign pointers
 * (mapped, unmapped, NULL page, non-canonical, unchecked) and the report
 * on stderr that names it.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <hakmem.h>
#include "guard/guard.h"

static char guard_static[4096];

/* A page that was mapped and is not any more. */
static void *unmapped_page(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert(m != MAP_FAILED);
	/* Keep the neighbours: nothing else gets mapped into the hole. */
	ck_assert_int_eq(munmap(m + pg, (size_t)pg), 0);
	return m + pg + 64;
}

START_TEST(test_guard_classify)
{
	int local = 0;		/* only its address is used */
	enum guard_outcome mapped = GUARD_MAPPED, unmapped = GUARD_UNMAPPED;

#ifndef CONFIG_EXTERNAL_GUARD_MINCORE
	mapped = unmapped = GUARD_UNCHECKED;
#endif
	ck_assert_int_eq(guard_classify(&local), mapped);
	ck_assert_int_eq(guard_classify(guard_static + 100), mapped);
	ck_assert_int_eq(guard_classify((void *)&strlen), mapped);
	ck_assert_int_eq(guard_classify(unmapped_page()), unmapped);
	ck_assert_int_eq(guard_classify((void *)(uintptr_t)16), GUARD_NULL_PAGE);
	ck_assert_int_eq(guard_classify(NULL), GUARD_NULL_PAGE);
	ck_assert_int_eq(guard_classify((void *)((uintptr_t)1 << 60)), GUARD_NONCANONICAL);
	ck_assert_int_eq(guard_classify((void *)~(uintptr_t)15), GUARD_NONCANONICAL);
}
END_TEST

#ifdef CONFIG_EXTERNAL_GUARD_LOG
/* Whether the default log mode reports event k (0: the first). */
#define GUARD_LOGGED(k)		(CONFIG_EXTERNAL_GUARD_LOG_FIRST > (k))

/*
 * By default (HAKMEM_EXTERNAL_GUARD_LOG unset) the first foreign frees are
 * reported on stderr with their classification; the pointer is leaked and
 * the memory behind it untouched.
 */
START_TEST(test_guard_report_default)
{
	int fds[2], saved;
	char buf[4096], want[128];
	ssize_t n;
	size_t got = 0;
	char *local = launder(guard_static + 256);
	void *gone = unmapped_page();

	/* Read at the first event, which this fresh child has not had. */
	unsetenv("HAKMEM_EXTERNAL_GUARD_LOG");
	memset(guard_static, 0x5c, sizeof(guard_static));
	ck_assert_int_eq(pipe(fds), 0);
	saved = dup(2);
	ck_assert_int_eq(dup2(fds[1], 2), 2);
	hak_free(local);
	hak_free(gone);
	hak_free(launder((void *)(uintptr_t)16));
	dup2(saved, 2);
	close(fds[1]);
	while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(fds[0]);
	ck_assert_int_eq(guard_static[256], 0x5c);

	/*
	 * The first CONFIG_EXTERNAL_GUARD_LOG_FIRST events are logged, in
	 * order: local (mapped), gone (unmapped), the NULL page.
	 */
	snprintf(want, sizeof(want), "free(%p) from ", (void *)local);
	if (!GUARD_LOGGED(0)) {
		ck_assert_msg(!strstr(buf, want), "free(%p) logged, LOG_FIRST=0:\n%s",
			      (void *)local, buf);
		return;
	}
	ck_assert_msg(strstr(buf, want), "no report of free(%p) in:\n%s", (void *)local, buf);
#ifdef CONFIG_EXTERNAL_GUARD_MINCORE
	ck_assert_msg(strstr(buf, "foreign pointer (mapped), leaked"), "stderr:\n%s", buf);
	if (GUARD_LOGGED(1))
		ck_assert_msg(strstr(buf, "foreign pointer (unmapped), leaked"), "stderr:\n%s", buf);
#else
	ck_assert_msg(strstr(buf, "foreign pointer (unchecked), leaked"), "stderr:\n%s", buf);
#endif
	if (GUARD_LOGGED(2))
		ck_assert_msg(strstr(buf, "foreign pointer (NULL page), leaked"), "stderr:\n%s", buf);
}
END_TEST
#endif

static Suite *guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");

	tcase_add_test(tc, test_guard_classify);
#ifdef CONFIG_EXTERNAL_GUARD_LOG
	tcase_add_test(tc, test_guard_report_default);
#endif
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(guard_suite);

#endif /* CONFIG_BACKEND_MMAP */
