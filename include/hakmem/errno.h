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

/*
 * A call that succeeds leaves errno as it found it, as glibc's do: the
 * system calls on the way (a mapping asked for at an address that is
 * taken, EEXIST; an mremap() in place that finds no room, ENOMEM or
 * EFAULT) may set it, so the paths that make them save it first and put
 * it back when they return a block (tests/info, "errno kept").
 */
static inline int hk_errno_save(void)
{
	return hk_get_errno();
}

static inline void hk_errno_restore(int e)
{
	hk_set_errno(e);
}

#endif /* _HAKMEM_ERRNO_H */
