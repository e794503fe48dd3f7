/* SPDX-License-Identifier: MIT */
#ifndef _ASM_X86_64_TLS_H
#define _ASM_X86_64_TLS_H

/*
 * The offset of an initial-exec TLS variable from the thread pointer is
 * what the GOT holds for it: one load, "movq sym@gottpoff(%rip)", which
 * the linker turns into "movq $offset" in an executable (static link).
 * The compiler does not fold &sym - thread pointer into that load, hence
 * the asm (not volatile: identical loads are merged).
 */
#define hk_tp_offset(sym)	({ uintptr_t __off;				\
				   __asm__("movq " #sym "@gottpoff(%%rip), %0"	\
					   : "=r" (__off));			\
				   __off; })

/* %fs-relative pointers (GCC and clang define __SEG_FS). */
#ifdef __SEG_FS
#define __hk_tp_seg		__seg_fs
#define hk_tp_ptr(type, off)	((type __seg_fs *)(uintptr_t)(off))
#endif

#include <asm-generic/tls.h>

#endif /* _ASM_X86_64_TLS_H */
