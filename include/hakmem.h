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
 * Embedded builds (CONFIG_BACKEND_ARENA) only: hand the allocator the
 * region [base, base + len) before the first allocation. Returns 0, or -1
 * with errno EINVAL if the region is too small or an arena is already in
 * use. In other builds it fails with ENOSYS.
 */
int hak_arena_init(void *base, size_t len);

/*
 * The heap profiler (CONFIG_HEAP_PROFILE, run with HAKMEM_PROF=1): write
 * the estimated live memory by allocating call stack (hak_prof_dump), or
 * the same at the highest estimated total so far (hak_prof_dump_peak), to
 * the file path, in the text format of the gperftools heap profiler:
 * google-pprof --text PROGRAM path. Returns 0, or -1 with errno set (the
 * file could not be written; ENOSYS in builds without the profiler).
 * With profiling off at run time the profile is empty. Does not allocate;
 * see Documentation/profiling.md.
 */
int hak_prof_dump(const char *path);
int hak_prof_dump_peak(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* _HAKMEM_H */
