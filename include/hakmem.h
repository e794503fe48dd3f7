/* SPDX-License-Identifier: MIT */
/*
 * hakmem - a fast, configurable memory allocator.
 *
 * The hak_* functions are always exported. When the library is built with
 * CONFIG_EXPORT_MALLOC (the default) the same functions are also exported
 * under their C library names (malloc, free, ...), so linking or
 * LD_PRELOADing libhakmem replaces the system allocator.
 *
 * Semantics follow glibc: failures return NULL (or an error number for
 * hak_posix_memalign) and set errno to ENOMEM or EINVAL; every pointer is
 * aligned for any object of its size (16 bytes for requests above 8);
 * hak_malloc_usable_size() bytes are writable.
 */
#ifndef _HAKMEM_H
#define _HAKMEM_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

void *hak_malloc(size_t size);
void hak_free(void *ptr);
void *hak_calloc(size_t nmemb, size_t size);
void *hak_realloc(void *ptr, size_t size);
void *hak_reallocarray(void *ptr, size_t nmemb, size_t size);
int hak_posix_memalign(void **memptr, size_t alignment, size_t size);
void *hak_aligned_alloc(size_t alignment, size_t size);
void *hak_memalign(size_t alignment, size_t size);
void *hak_valloc(size_t size);
void *hak_pvalloc(size_t size);
size_t hak_malloc_usable_size(void *ptr);
int hak_malloc_trim(size_t pad);
int hak_mallopt(int param, int value);
void hak_free_sized(void *ptr, size_t size);
void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/*
 * glibc's introspection (CONFIG_MALLOC_INFO, on by default), with
 * hakmem's figures; exported as mallinfo2, mallinfo, malloc_stats and
 * malloc_info too with CONFIG_EXPORT_MALLOC. struct mallinfo2 and struct
 * mallinfo are glibc's: include <malloc.h> to call the first two.
 * mallinfo2().uordblks is every byte the program holds, Large blocks
 * included (do not add hblkhd); arena = uordblks + fordblks = every byte
 * hakmem holds. malloc_stats() prints glibc's text on stderr,
 * malloc_info(0, fp) glibc's XML (options other than 0: EINVAL). See
 * Documentation/mallinfo.md for each field and its precision.
 */
struct mallinfo;
struct mallinfo2;
struct mallinfo2 hak_mallinfo2(void);
struct mallinfo hak_mallinfo(void);
void hak_malloc_stats(void);
int hak_malloc_info(int options, FILE *fp);

/*
 * Run-time options (CONFIG_OPTIONS, on by default in the mmap build).
 * They are set at start-up by the environment,
 *
 *	HAKMEM_OPTIONS="stats=1,verbose=1,decay_ms=200,dirty_slots=0,thp=1"
 *
 * read once, and read or changed here by name:
 *
 *	stats		print the statistics at exit (CONFIG_STATS)		rw
 *	stats_file	their file, %p = pid (HAKMEM_OPTIONS only)		-
 *	verbose		print the configuration at start-up			r
 *	decay_ms	Large cache decay epoch, ms; 0 = cache nothing		rw
 *	large_cache_mb	most memory the Large cache holds, MiB			rw
 *	dirty_slots	free 64 KiB SuperSlab slots kept committed		rw
 *	tcache_pct	thread cache limits, % of the built-in (10-1000)	r
 *	thp		MADV_HUGEPAGE on new SuperSlabs (CONFIG_SUPERSLAB_THP)	rw
 *	guard_threshold	foreign pointers before the guard's report		rw
 *	guard_log	log every foreign pointer on stderr			rw
 *
 * and, read-only, statistics: "stat.in_use", "stat.system",
 * "stat.cached", "stat.free", "stat.idle", "stat.releasable",
 * "stat.large_in_use", "stat.large_cached", "stat.large_blocks" (bytes or
 * blocks, as mallinfo2: CONFIG_MALLOC_INFO), and with CONFIG_STATS every
 * counter of Documentation/stats.md by its lower-case name without STAT_
 * ("stat.tiny_alloc", "stat.refill", ...).
 *
 * Both return 0, or -1 with errno: ENOENT (no such name), ENOSYS (not
 * built in), EPERM (read-only), EINVAL (value out of range, NULL
 * argument). A value set applies from the next operation that reads it;
 * see Documentation/options.md for each option.
 */
int hak_option_get(const char *name, unsigned long *value);
int hak_option_set(const char *name, unsigned long value);

/*
 * Embedded builds (CONFIG_BACKEND_ARENA) only: hand the allocator the
 * region [base, base + len) before the first allocation. Returns 0, or -1
 * with errno EINVAL if the region is too small or an arena is already in
 * use. In other builds it fails with ENOSYS.
 */
int hak_arena_init(void *base, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* _HAKMEM_H */
