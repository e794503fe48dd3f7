// SPDX-License-Identifier: MIT
/*
 * mm/api/new.c - C++ operator new and delete, every form (CONFIG_CXX_NEW).
 *
 * Written in C under their mangled names (Itanium C++ ABI, size_t =
 * unsigned long, as on x86_64 and aarch64), so that the library needs
 * no C++ compiler and links no C++ runtime. A C++ program then enters
 * malloc's fast path directly instead of going through libstdc++'s
 * operator new and a PLT call to malloc.
 *
 * Failure follows the standard ([new.delete.single]): while allocation
 * fails, call the new_handler if one is installed and try again; with
 * none, throw std::bad_alloc (the nothrow forms return NULL). The
 * handler and the throw are libstdc++'s own, reached through weak
 * references: std::get_new_handler() and std::__throw_bad_alloc(). A C++
 * program always has libstdc++ loaded, so they resolve; when they do not
 * (a C program that calls operator new by its mangled name, or a static
 * link in which nothing else pulled them in), there is no handler and a
 * failed throwing new prints a message and aborts, as an uncaught
 * bad_alloc would. This file is built with -fexceptions so that the
 * exception, and one thrown by a new_handler, unwinds through it.
 *
 * Limit: a nothrow new whose new_handler throws lets the exception out
 * (libstdc++ catches it and returns NULL; C cannot catch).
 *
 * Sized delete frees like free(): the free path reads the slab header
 * for the owner check anyway and finds the class there, so the size
 * would save nothing; it is not trusted either.
 */
#include <hakmem/print.h>
#include "api.h"

typedef void (*hk_new_handler)(void);

/* std::get_new_handler() (GCC >= 5) and std::__throw_bad_alloc(). */
extern hk_new_handler _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/*
 * align: 0 for the plain forms, else a power of two (std::align_val_t;
 * another value is undefined behaviour in C++ and fails here).
 */
static __always_inline void *cxx_try(size_t size, size_t align)
{
	if (!align)
		return api_alloc(size);
	if (!IS_POWER_OF_2(align))
		return NULL;
	return api_alloc_aligned(align, size);
}

static __slowpath void *cxx_new_slow(size_t size, size_t align, int nothrow)
{
	void *p;

	for (;;) {
		hk_new_handler h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;

		if (!h) {
			if (nothrow)
				return NULL;
			if (_ZSt17__throw_bad_allocv)
				_ZSt17__throw_bad_allocv();
			hk_fatal("operator new: out of memory for %zu bytes, and no C++ runtime "
				 "to throw std::bad_alloc", size);
		}
		h();
		p = cxx_try(size, align);
		if (p)
			return p;
	}
}

static __fastpath_inline void *cxx_new(size_t size)
{
	void *p = api_alloc(size);

	if (likely(p))
		return p;
	return cxx_new_slow(size, 0, 0);
}

static inline void *cxx_new_aligned(size_t size, size_t align, int nothrow)
{
	void *p = cxx_try(size, align);

	if (likely(p))
		return p;
	return cxx_new_slow(size, align, nothrow);
}

static inline void *cxx_new_nothrow(size_t size)
{
	void *p = api_alloc(size);

	if (likely(p))
		return p;
	return cxx_new_slow(size, 0, 1);
}

/* Declarations for the mangled names (no header declares them in C). */
#define CXX_NEW(name, ...)	__export void *name(__VA_ARGS__); __export void *name(__VA_ARGS__)
#define CXX_DELETE(name, ...)	__export void name(__VA_ARGS__); __export void name(__VA_ARGS__)

/* std::nothrow_t is passed by reference; std::align_val_t is a size_t. */
#define NOTHROW			const void *nt

/* operator new(size_t), operator new[](size_t) */
CXX_NEW(_Znwm, size_t size)
{
	return cxx_new(size);
}

CXX_NEW(_Znam, size_t size)
{
	return cxx_new(size);
}

/* operator new(size_t, const std::nothrow_t &), and new[] */
CXX_NEW(_ZnwmRKSt9nothrow_t, size_t size, NOTHROW)
{
	return cxx_new_nothrow(size);
}

CXX_NEW(_ZnamRKSt9nothrow_t, size_t size, NOTHROW)
{
	return cxx_new_nothrow(size);
}

/* operator new(size_t, std::align_val_t), and new[] */
CXX_NEW(_ZnwmSt11align_val_t, size_t size, size_t align)
{
	return cxx_new_aligned(size, align, 0);
}

CXX_NEW(_ZnamSt11align_val_t, size_t size, size_t align)
{
	return cxx_new_aligned(size, align, 0);
}

/* operator new(size_t, std::align_val_t, const std::nothrow_t &), and new[] */
CXX_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, size_t size, size_t align, NOTHROW)
{
	return cxx_new_aligned(size, align, 1);
}

CXX_NEW(_ZnamSt11align_val_tRKSt9nothrow_t, size_t size, size_t align, NOTHROW)
{
	return cxx_new_aligned(size, align, 1);
}

/* operator delete(void *), delete[] */
CXX_DELETE(_ZdlPv, void *p)
{
	api_free(p);
}

CXX_DELETE(_ZdaPv, void *p)
{
	api_free(p);
}

/* operator delete(void *, size_t), delete[] (C++14 sized) */
CXX_DELETE(_ZdlPvm, void *p, size_t size)
{
	api_free(p);
}

CXX_DELETE(_ZdaPvm, void *p, size_t size)
{
	api_free(p);
}

/* operator delete(void *, const std::nothrow_t &), delete[] */
CXX_DELETE(_ZdlPvRKSt9nothrow_t, void *p, NOTHROW)
{
	api_free(p);
}

CXX_DELETE(_ZdaPvRKSt9nothrow_t, void *p, NOTHROW)
{
	api_free(p);
}

/* operator delete(void *, std::align_val_t), delete[] */
CXX_DELETE(_ZdlPvSt11align_val_t, void *p, size_t align)
{
	api_free(p);
}

CXX_DELETE(_ZdaPvSt11align_val_t, void *p, size_t align)
{
	api_free(p);
}

/* operator delete(void *, size_t, std::align_val_t), delete[] */
CXX_DELETE(_ZdlPvmSt11align_val_t, void *p, size_t size, size_t align)
{
	api_free(p);
}

CXX_DELETE(_ZdaPvmSt11align_val_t, void *p, size_t size, size_t align)
{
	api_free(p);
}

/* operator delete(void *, std::align_val_t, const std::nothrow_t &), delete[] */
CXX_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, void *p, size_t align, NOTHROW)
{
	api_free(p);
}

CXX_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, void *p, size_t align, NOTHROW)
{
	api_free(p);
}
