/* SPDX-License-Identifier: MIT */
#ifndef _HAKMEM_ERRNO_H
#define _HAKMEM_ERRNO_H

#include <hakmem/compiler.h>
#include <errno.h>

#ifdef CONFIG_BACKEND_ARENA
/*
 * Freestanding: errno exists only if the program links a C library. A weak
 * reference resolves to NULL without one, and then errors are reported by
 * return value only.
 */
extern int *__errno_location(void) __attribute__((weak));

static inline void hk_set_errno(int e)
{
	if (__errno_location)
		*__errno_location() = e;
}
#else
static inline void hk_set_errno(int e)
{
	errno = e;
}
#endif

#endif /* _HAKMEM_ERRNO_H */
