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
