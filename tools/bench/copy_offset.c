// SPDX-License-Identifier: MIT
/*
 * copy_offset [REPS]
 *
 * How long a 4 KiB copy from a page-aligned source takes as a function
 * of where the destination starts in its page: the libc's memcpy() (the
 * program's own copy) and pread() of a cached file page (the kernel's
 * copy to user space, what a program that reads its file into a buffer
 * pays). For each offset of the destination past a page start, the
 * median over 9 batches of REPS copies (default 20000), in ns a copy;
 * and memcpy() again with both ends 64 bytes further (the source no
 * longer page-aligned, the distance between the two the same).
 *
 * Why: on the AMD EPYC guest of the forty-fifth session a copy to 1-15
 * bytes past a page start took 3-4x longer (the kernel's: 1.6-2.1 us
 * against 0.5-0.7 us at 16..4095), which is what CONFIG_HEAP_OFF_PAGE
 * keeps the blocks of the classes above 1 KiB that are not powers of
 * two away from (Documentation/mid.md, "Blocks off page boundaries").
 * Run it on another CPU to see whether that CPU has the same trap:
 *
 *     ./copy_offset            (or with fewer REPS for a quick look)
 *
 * The last line, RESULT, gives the slowest of offsets 1-15 over the
 * median of the other offsets, for each copy (1.0: no trap). A
 * measurement, not a test: nothing fails on a slow offset.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define COPY		4096
#define BATCHES		9

static const unsigned int offsets[] = {
	0, 1, 2, 4, 8, 12, 15, 16, 24, 32, 48, 64, 128, 256, 512, 1024,
	2048, 3072, 4032, 4088,
};
#define NOFF	(sizeof(offsets) / sizeof(offsets[0]))

/* The libc's memcpy through a pointer: never a builtin, never elided. */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ns a copy into dst: memcpy (fd < 0) or pread of the file's first page. */
static double time_copy(char *dst, const char *src, int fd, unsigned long reps)
{
	double t[BATCHES];
	unsigned long i;
	int b;

	for (b = 0; b < BATCHES; b++) {
		double t0 = now_ns();

		for (i = 0; i < reps; i++) {
			if (fd < 0)
				copy_fn(dst, src, COPY);
			else if (pread(fd, dst, COPY, 0) != COPY)
				die("pread");
		}
		t[b] = (now_ns() - t0) / (double)reps;
	}
	return median(t, BATCHES);
}

int main(int argc, char **argv)
{
	unsigned long reps = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	double mc[NOFF], pr[NOFF], mc64[NOFF], rest[NOFF];
	double mc_trap = 0, pr_trap = 0, mc_rest, pr_rest;
	char path[] = "/tmp/copy_offset.XXXXXX";
	char *src, *dst;
	size_t k;
	int fd, nrest = 0;

	if (argc > 2 || !reps) {
		fprintf(stderr, "usage: copy_offset [REPS]\n");
		return 2;
	}
	src = mmap(NULL, 2 * COPY, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, 3 * COPY, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("mmap");
	memset(src, 0x5a, 2 * COPY);
	memset(dst, 0, 3 * COPY);

	/* A file of one page, written once: the reads come from the page cache. */
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (write(fd, src, COPY) != COPY)
		die("write");
	if (pread(fd, dst, COPY, 0) != COPY)
		die("pread");

	printf("%8s %12s %12s %16s\n", "offset", "memcpy ns", "pread ns", "memcpy +64 ns");
	for (k = 0; k < NOFF; k++) {
		mc[k] = time_copy(dst + offsets[k], src, -1, reps);
		pr[k] = time_copy(dst + offsets[k], src, fd, reps);
		mc64[k] = time_copy(dst + offsets[k] + 64, src + 64, -1, reps);
		printf("%8u %12.1f %12.1f %16.1f\n", offsets[k], mc[k], pr[k], mc64[k]);
	}
	close(fd);

	/* The slowest of offsets 1-15 over the median of the others. */
	for (k = 0; k < NOFF; k++) {
		if (offsets[k] >= 1 && offsets[k] <= 15) {
			mc_trap = mc[k] > mc_trap ? mc[k] : mc_trap;
			pr_trap = pr[k] > pr_trap ? pr[k] : pr_trap;
		} else {
			rest[nrest++] = mc[k];
		}
	}
	mc_rest = median(rest, nrest);
	for (k = 0, nrest = 0; k < NOFF; k++)
		if (offsets[k] < 1 || offsets[k] > 15)
			rest[nrest++] = pr[k];
	pr_rest = median(rest, nrest);
	printf("RESULT name=copy_offset reps=%lu memcpy_trap=%.2f pread_trap=%.2f "
	       "memcpy_ns=%.1f pread_ns=%.1f\n",
	       reps, mc_trap / mc_rest, pr_trap / pr_rest, mc_rest, pr_rest);
	return 0;
}
