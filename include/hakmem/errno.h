/* SPDX-License-Identifier: MIT */
#ifndef _HAKMEM_ERRNO_H
#define _HAKMEM_ERRNO_H

#include <hakmem/compiler.h>
#include <errno.h>

/*
 * hk_get_errno(): a call that succeeds leaves errno as it found it, as
 * glibc's do, but the Large box's system calls may fail on the way (a
 * mapping asked for at a taken address, EEXIST; an mremap() in place
 * without room, ENOMEM or EFAULT): mm/core.c reads errno before them
 * and puts it back (test_errno_kept_on_success, tests/unit/check_api.c).
 */
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

static inline int hk_get_errno(void)
{
	return __errno_location ? *__errno_location() : 0;
}
#else
static inline void hk_set_errno(int e)
{
	errno = e;
}

static inline int hk_get_errno(void)
{
	return errno;
}
#endif

#endif /* _HAKMEM_ERRNO_H */
