// SPDX-License-Identifier: MIT
/*
 * A measuring device, not an allocator: the least any allocator can do
 * in bench_fixed_size's loop, to separate the harness's own time (its
 * random number, the division by the working set, the check and the
 * stamp) from the allocator's. One global LIFO list per 16-byte class,
 * the class kept in a 16-byte header, no checks, no threads, no errno,
 * never returns memory. Not built by default and not for anything else:
 *
 *   gcc -O2 -fPIC -shared -fno-builtin -o /tmp/floor.so tools/bench/floor_alloc.c
 *   tools/bench/cpu_rounds.py 9 "hak=$PWD/libhakmem.so,glibc=,floor=/tmp/floor.so" \
 *           tools/bench/bench_fixed_size 64 100000000
 *
 * Documentation/benchmarks.md, "where a single-size loop's time goes".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FLOOR_CLASSES	70
#define FLOOR_HDR	16

static char floor_arena[256 << 20] __attribute__((aligned(64)));
static size_t floor_used;
static void *floor_head[FLOOR_CLASSES];

void *malloc(size_t n)
{
	size_t c = (n + 15) >> 4;
	size_t sz;
	char *b;

	if (c < FLOOR_CLASSES) {
		void **p = floor_head[c];

		if (p) {
			floor_head[c] = *p;
			return p;
		}
	}
	sz = (c << 4) + FLOOR_HDR;
	if (n > sizeof(floor_arena) || floor_used + sz > sizeof(floor_arena))
		return NULL;
	b = floor_arena + floor_used;
	floor_used += sz;
	*(size_t *)b = c;
	return b + FLOOR_HDR;
}

void free(void *p)
{
	size_t c;

	if (!p)
		return;
	c = *(size_t *)((char *)p - FLOOR_HDR);
	if (c < FLOOR_CLASSES) {
		*(void **)p = floor_head[c];
		floor_head[c] = p;
	}
}

void *calloc(size_t a, size_t b)
{
	void *p;

	if (b && a > SIZE_MAX / b)
		return NULL;
	p = malloc(a * b);
	if (p)
		memset(p, 0, a * b);
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);

	if (p && q) {
		size_t old = *(size_t *)((char *)p - FLOOR_HDR) << 4;

		memcpy(q, p, old < n ? old : n);
		free(p);
	}
	return q;
}
