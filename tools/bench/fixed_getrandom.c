// SPDX-License-Identifier: MIT
/*
 * tools/bench/fixed_getrandom.c - getrandom() that returns the same bytes
 * in every run, for measurements only: preloaded after a library with the
 * heap profiler, every run (and every library whose sampling code draws
 * the same way) samples the same allocations, so that whole-run
 * callgrind counts of two libraries compare without the run-to-run spread
 * of the sample count (Documentation/profiling.md):
 *
 *   cc -O2 -shared -fPIC -o fixed_getrandom.so tools/bench/fixed_getrandom.c
 *   LD_PRELOAD="$PWD/build/pon/libhakmem.so $PWD/fixed_getrandom.so" \
 *       HAKMEM_PROF=1 valgrind --tool=callgrind prog args...
 *
 * Never in a library: the profiler's key and sample points become known.
 */
#include <stddef.h>
#include <sys/types.h>

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	static unsigned long long x = 0x9e3779b97f4a7c15ULL;	/* LCG state */
	unsigned char *b = buf;
	size_t i;

	(void)flags;
	for (i = 0; i < len; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (unsigned char)(x >> 56);
	}
	return (ssize_t)len;
}
