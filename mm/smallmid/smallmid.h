/* SPDX-License-Identifier: MIT */
/*
 * Small-Mid's share of the class table (mm/boxes.h): five classes from
 * above Tiny (256 B) to 4 KiB.
 */
#ifndef _MM_SMALLMID_H
#define _MM_SMALLMID_H

#ifdef CONFIG_SMALLMID
#define SMALLMID_NR_CLASSES	5		/* 512 B, 1, 2, 3, 4 KiB */
#define SMALLMID_MAX_SIZE	4096UL
#else
#define SMALLMID_NR_CLASSES	0
#define SMALLMID_MAX_SIZE	0UL
#endif

#endif /* _MM_SMALLMID_H */
