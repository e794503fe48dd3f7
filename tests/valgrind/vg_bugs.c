// SPDX-License-Identifier: MIT
/*
 * tests/valgrind/vg_bugs.c - one memory bug per run, for memcheck to
 * report in a program linked with -static against a CONFIG_VALGRIND
 * libhakmem.a (tests/valgrind/run.sh checks the report).
 *
 *   vg_bugs leak          a 100-byte block and a 100000-byte block lost
 *   vg_bugs uaf           a read of a 48-byte block after free
 *   vg_bugs large-uaf     a read of a 200000-byte block after free
 *   vg_bugs invalid-free  free of a pointer 16 bytes into a block
 *   vg_bugs double-free   a block freed twice, then mallocs of its class
 *   vg_bugs uninit        a branch on the contents of a fresh block
 *   vg_bugs overflow      a write one byte past a 40-byte request
 *   vg_bugs large-overflow  a write one byte past a 1100000-byte request
 *                         (a Large block whatever CONFIG_MID_MAX_KB)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <generated/autoconf.h>

/*
 * The offset of the read after free in a 48-byte block. With only the
 * Large box that block is a Large one, whose first 24 bytes hold the
 * Large cache's link while it is cached (allocator metadata, addressable:
 * Documentation/valgrind.md, "Limits"): read further in, as large-uaf does
 * (randconfig KCONFIG_SEED=0x50f6daa3). tests/valgrind/run.sh expects
 * the offset of the configuration (HK_SLABS).
 */
#if defined(CONFIG_TINY) || defined(CONFIG_SMALLMID) || defined(CONFIG_MID)
#define UAF_OFF		8
#else
#define UAF_OFF		32
#endif

/* Kept out of the optimiser's sight, so that the bugs stay in the code. */
static void *volatile sink;

static int leak(void)
{
	sink = malloc(100);
	memset(sink, 1, 100);
	sink = malloc(100000);
	memset(sink, 2, 100000);
	sink = NULL;
	return 0;
}

/*
 * A read at off after free. The first 24 bytes of a freed Large block hold
 * the Large cache's age link (allocator metadata, addressable under
 * Valgrind): the Large case reads further in.
 */
static int uaf(size_t size, size_t off)
{
	char *p = malloc(size);

	memset(p, 3, size);
	sink = p;
	free(p);
	return ((volatile char *)sink)[off] == 3;
}

static int invalid_free(void)
{
	char *p = malloc(64);

	sink = p;
	free(p + 16);
	free(p);
	return 0;
}

static int double_free(void)
{
	char *p = malloc(64);
	int i;

	sink = p;
	free(p);
	free(sink);
	/*
	 * hakmem's own check finds the block twice in the bin and aborts,
	 * when malloc has used up the blocks its list of the split bin held
	 * (a refill's batch: at most 64) and takes the freed ones.
	 */
	for (i = 0; i < 256; i++)
		sink = malloc(64);
	return 0;
}

static int uninit(void)
{
	int *p = malloc(64);
	int r;

	sink = p;
	if (p[3] == 42)
		puts("42");
	r = p[5] == 7;
	free(p);
	return r;
}

static int overflow(size_t size)
{
	char *p = malloc(size);

	sink = p;
	((volatile char *)p)[size] = 1;
	free(p);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "leak"))
		return leak();
	if (!strcmp(what, "uaf"))
		return uaf(48, UAF_OFF);
	if (!strcmp(what, "large-uaf"))
		return uaf(200000, 64);
	if (!strcmp(what, "invalid-free"))
		return invalid_free();
	if (!strcmp(what, "double-free"))
		return double_free();
	if (!strcmp(what, "uninit"))
		return uninit();
	if (!strcmp(what, "overflow"))
		return overflow(40);
	if (!strcmp(what, "large-overflow"))
		return overflow(1100000);
	fprintf(stderr, "usage: %s leak|uaf|large-uaf|invalid-free|double-free|uninit|overflow|"
		"large-overflow\n", argv[0]);
	return 2;
}
