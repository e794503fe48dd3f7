// SPDX-License-Identifier: MIT
/*
 * run_unit: the Check runner for every suite registered with HK_SUITE().
 *
 *	run_unit [-x junit.xml] [-l log]
 *	run_unit -P		print the page size and exit (tests/run.sh
 *				asks it what page size qemu -p gives)
 *
 * Suites run in the order their files were linked (alphabetical: the
 * Makefile sorts them). Exit status 0 if every test passed.
 */
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUITES	128

static struct {
	hk_suite_fn fn;
	const char *name;
} suites[MAX_SUITES];
static int nsuites;

void hk_register_suite(hk_suite_fn fn, const char *name)
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "run_unit: more than %d suites\n", MAX_SUITES);
		exit(2);
	}
	suites[nsuites].fn = fn;
	suites[nsuites].name = name;
	nsuites++;
}

long hk_test_scale(long n)
{
	static long pct = -1;
	long r;

	if (pct < 0) {
		const char *s = getenv("HK_TEST_SCALE");

		pct = s ? atol(s) : 100;
		if (pct <= 0)
			pct = 100;
	}
	r = n * pct / 100;
	return r > 0 ? r : 1;
}

int hk_test_vma_flag(const void *p, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], want[8];
	int in = 0, found = -1;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), " %s", flag);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, want) != NULL;
			break;
		}
	}
	fclose(f);
	ck_assert_int_ge(found, 0);
	return found;
}

/*
 * Static stdio buffers: when the library exports malloc, the runner's
 * own stdio would otherwise allocate its buffers from the allocator
 * under test (harmless, but in a 64 KiB arena build it takes 8 KiB of
 * the arena before the first test).
 */
static char outbuf[BUFSIZ];

int main(int argc, char **argv)
{
	SRunner *sr = NULL;
	const char *xml = NULL, *log = NULL;
	int i, opt, failed;

	while ((opt = getopt(argc, argv, "x:l:P")) != -1) {
		switch (opt) {
		case 'P':
			printf("%ld\n", sysconf(_SC_PAGESIZE));
			return 0;
		case 'x':
			xml = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-x junit.xml] [-l log] | -P\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));
	setvbuf(stderr, NULL, _IONBF, 0);

	if (nsuites == 0) {
		printf("run_unit: no suite is configured in\n");
		printf("100%%: Checks: 0, Failures: 0, Errors: 0\n");
		return 0;
	}
	for (i = 0; i < nsuites; i++) {
		Suite *s = suites[i].fn();

		if (!sr)
			sr = srunner_create(s);
		else
			srunner_add_suite(sr, s);
	}
	if (xml)
		srunner_set_xml(sr, xml);
	if (log)
		srunner_set_log(sr, log);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
