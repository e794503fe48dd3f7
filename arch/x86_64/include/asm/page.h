/* SPDX-License-Identifier: MIT */
#ifndef _ASM_X86_64_PAGE_H
#define _ASM_X86_64_PAGE_H

/*
 * The page size is read at run time (getauxval(AT_PAGESZ)); these are the
 * bounds it can take on this architecture, for static sizing only.
 */
#define ARCH_PAGE_SIZE_MIN	4096UL
#define ARCH_PAGE_SIZE_MAX	4096UL

/* Usable bits of a user-space virtual address. */
#define ARCH_VA_BITS		47

#endif /* _ASM_X86_64_PAGE_H */
