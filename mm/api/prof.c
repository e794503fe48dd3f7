// SPDX-License-Identifier: MIT
/*
 * mm/api/prof.c - hak_prof_dump and hak_prof_dump_peak in builds without
 * the heap profiler (mm/prof/ defines them otherwise).
 */
#include "api.h"

#ifndef CONFIG_HEAP_PROFILE
__export int hak_prof_dump(const char *path)
{
	hk_set_errno(ENOSYS);
	return -1;
}

__export int hak_prof_dump_peak(const char *path)
{
	hk_set_errno(ENOSYS);
	return -1;
}
#endif
