// SPDX-License-Identifier: MIT
/*
 * mm/api/misc.c - malloc_trim, mallopt, and hak_arena_init outside the
 * embedded build.
 */
#include "api.h"

__export int hak_malloc_trim(size_t pad)
{
	return hk_trim(pad);
}
HK_EXPORT_AS(malloc_trim, hak_malloc_trim);

/* Accepted and ignored: hakmem has no glibc tunables. Reports success. */
__export int hak_mallopt(int param, int value)
{
	return 1;
}
HK_EXPORT_AS(mallopt, hak_mallopt);

#ifndef CONFIG_BACKEND_ARENA
__export int hak_arena_init(void *base, size_t len)
{
	hk_set_errno(ENOSYS);
	return -1;
}
#endif

#ifndef CONFIG_OPTIONS
/* Without CONFIG_OPTIONS (or in the arena build) there are no run-time options. */
__export int hak_option_get(const char *name, unsigned long *value)
{
	hk_set_errno(ENOSYS);
	return -1;
}

__export int hak_option_set(const char *name, unsigned long value)
{
	hk_set_errno(ENOSYS);
	return -1;
}
#endif
