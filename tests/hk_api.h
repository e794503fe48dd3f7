/* SPDX-License-Identifier: MIT */
/*
 * The allocator under test, for the standalone test programs.
 *
 * By default the programs call the hak_* API of the statically linked
 * library. Built with -DHK_USE_LIBC the same calls go to the C library's
 * names (malloc, free, ...), so that the program tests whatever malloc the
 * process has: glibc's, or hakmem's under LD_PRELOAD=libhakmem.so.
 */
#ifndef _HK_TESTS_API_H
#define _HK_TESTS_API_H

#include <malloc.h>
#include <stdlib.h>

#ifdef HK_USE_LIBC

#define T_NAME			"libc"
#define t_malloc		malloc
#define t_free			free
#define t_calloc		calloc
#define t_realloc		realloc
#define t_reallocarray		reallocarray
#define t_posix_memalign	posix_memalign
#define t_aligned_alloc		aligned_alloc
#define t_memalign		memalign
#define t_valloc		valloc
#define t_pvalloc		pvalloc
#define t_malloc_usable_size	malloc_usable_size
#define t_malloc_trim		malloc_trim
#define t_free_sized(p, n)	free(p)
#define t_free_aligned_sized(p, a, n) free(p)
#define t_mallinfo2		mallinfo2
#define t_mallinfo		mallinfo
#define t_malloc_stats		malloc_stats
#define t_malloc_info		malloc_info

#else

#include <hakmem.h>

#define T_NAME			"hak"
#define t_malloc		hak_malloc
#define t_free			hak_free
#define t_calloc		hak_calloc
#define t_realloc		hak_realloc
#define t_reallocarray		hak_reallocarray
#define t_posix_memalign	hak_posix_memalign
#define t_aligned_alloc		hak_aligned_alloc
#define t_memalign		hak_memalign
#define t_valloc		hak_valloc
#define t_pvalloc		hak_pvalloc
#define t_malloc_usable_size	hak_malloc_usable_size
#define t_malloc_trim		hak_malloc_trim
#define t_free_sized		hak_free_sized
#define t_free_aligned_sized	hak_free_aligned_sized
#define t_mallinfo2		hak_mallinfo2
#define t_mallinfo		hak_mallinfo
#define t_malloc_stats		hak_malloc_stats
#define t_malloc_info		hak_malloc_info

#endif

#endif /* _HK_TESTS_API_H */
