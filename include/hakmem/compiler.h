/* SPDX-License-Identifier: MIT */
#ifndef _HAKMEM_COMPILER_H
#define _HAKMEM_COMPILER_H

#include <generated/autoconf.h>
#include <stddef.h>
#include <stdint.h>

/*
 * HK_SANITIZED: built with AddressSanitizer or ThreadSanitizer, which see
 * no memory access in an asm statement: helpers that read or write
 * memory in asm take their generic C version there. gcc defines
 * __SANITIZE_*__; clang 14 does not and answers __has_feature().
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HK_SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HK_SANITIZED	1
#endif
#endif

/*
 * HK_TSAN: 1 when built with ThreadSanitizer, which accepts a mapping of
 * the program only in its own application ranges and dies on one at an
 * address it did not expect ("mmap at bad address"): the SuperSlab
 * region, placed far below the mmap area, is off there.
 */
#if defined(__SANITIZE_THREAD__)
#define HK_TSAN		1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HK_TSAN		1
#endif
#endif
#ifndef HK_TSAN
#define HK_TSAN		0
#endif

/* hk_clz(), hk_ctz(), hk_log2(), hk_sub_nz(): the architecture's, or asm-generic's. */
#include <asm/bitops.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#ifndef __always_inline
#define __always_inline	inline __attribute__((__always_inline__))
#endif
#define __noinline	__attribute__((__noinline__))
#define __cold		__attribute__((__cold__))
#define __noreturn	__attribute__((__noreturn__))
#define __maybe_unused	__attribute__((__unused__))
#define __aligned(n)	__attribute__((__aligned__(n)))
#define __export	__attribute__((__visibility__("default")))
/*
 * A declaration of a variable defined in the library (hidden by
 * -fvisibility=hidden, which only applies to definitions): said at the
 * declaration too, code of other files addresses it relative to the
 * instruction pointer (a memory operand) instead of through the GOT.
 */
#define __hidden	__attribute__((__visibility__("hidden")))

/*
 * Fast paths are forced inline, except in the size-optimised (minimal)
 * build, where the compiler decides.
 */
#ifdef CONFIG_CC_OPTIMIZE_FOR_SIZE
#define __fastpath_inline	inline
#else
#define __fastpath_inline	__always_inline
#endif

/* A slow path: out of line, laid out away from the hot code. */
#define __slowpath	__noinline __cold

/*
 * IS_ENABLED(CONFIG_FOO): 1 if CONFIG_FOO is defined to 1 (=y), else 0,
 * usable in C expressions, so that code of a box configured off is still
 * compiled (and checked) but dropped by the optimiser. A defined option
 * expands to 1, which pastes into HK_ISDEF_1 and shifts a 1 into the
 * second argument; anything else leaves the 0 there.
 */
#define HK_ISDEF_1			,
#define HK_SECOND(a, b, ...)		b
#define HK_ISDEF_ARG(junk_or_comma)	HK_SECOND(junk_or_comma 1, 0, 0)
#define HK_ISDEF_PASTE(val)		HK_ISDEF_ARG(HK_ISDEF_##val)
#ifndef IS_ENABLED
#define IS_ENABLED(option)		HK_ISDEF_PASTE(option)
#endif

/*
 * The compiler forgets what it knows of var's value (as Linux's): keeps
 * it from rewriting an expression back into a longer form.
 */
#define OPTIMIZER_HIDE_VAR(var)	__asm__("" : "=r" (var) : "0" (var))

#define BUILD_BUG_ON(cond)	_Static_assert(!(cond), #cond)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define ALIGN_UP(x, a)		(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_POWER_OF_2(x)	((x) != 0 && ((x) & ((x) - 1)) == 0)

#endif /* _HAKMEM_COMPILER_H */
