/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics without allocation: format into a stack buffer, write(2) it.
 * Supports %s %d %u %ld %lu %zu %x %lx %p %c %%.
 */
#ifndef _HAKMEM_PRINT_H
#define _HAKMEM_PRINT_H

#include <hakmem/compiler.h>
#include <stdarg.h>

__attribute__((format(printf, 2, 3)))
void hk_dprintf(int fd, const char *fmt, ...);
void hk_vdprintf(int fd, const char *fmt, va_list ap);

/* Print "hakmem: <message>" on stderr and abort the process. */
__attribute__((format(printf, 1, 2))) __noreturn __cold
void hk_fatal(const char *fmt, ...);

/*
 * Read an environment variable as a boolean (1/y/yes/on) or a number,
 * without allocating. Returns def if unset.
 */
long hk_env_long(const char *name, long def);

#ifdef CONFIG_DEBUG_ASSERT
#define HK_ASSERT(cond) \
	do { \
		if (unlikely(!(cond))) \
			hk_fatal("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
	} while (0)
#else
#define HK_ASSERT(cond) do { } while (0)
#endif

#endif /* _HAKMEM_PRINT_H */
