/* SPDX-License-Identifier: MIT */
/*
 * The malloc API front: C library semantics on top of <hakmem/alloc.h>.
 */
#ifndef _MM_API_H
#define _MM_API_H

#include <hakmem.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>

/*
 * With CONFIG_EXPORT_MALLOC, export hak_NAME under the C library's name
 * too. An alias must sit in the file that defines its target.
 */
#ifdef CONFIG_EXPORT_MALLOC
#define HK_EXPORT_AS(libc_name, hak_name) \
	extern __typeof__(hak_name) libc_name \
		__attribute__((alias(#hak_name), visibility("default")))
#else
#define HK_EXPORT_AS(libc_name, hak_name)
#endif

size_t api_page_size(void);

/* Sum of the boxes of u (mm/api/info.c). */
void info_totals(const struct hk_usage *u, struct hk_box_usage *t);

#endif /* _MM_API_H */
