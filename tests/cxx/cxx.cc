// SPDX-License-Identifier: MIT
/*
 * cxx: C++ operator new and delete, every form, come from hakmem
 * (CONFIG_CXX_NEW, Documentation/cxx.md) with the standard's semantics:
 *
 *   - each of the 8 new and 12 delete forms is hakmem's (the block is
 *     one of ours, the symbol resolves into libhakmem), delete of NULL
 *     is a no-op, new and delete expressions reach them;
 *   - a failed new throws std::bad_alloc, a failed nothrow new returns
 *     NULL, plain and aligned, with huge sizes;
 *   - the new_handler is called until it succeeds or is removed, and an
 *     exception it throws reaches the caller;
 *   - aligned new honours alignments from 16 B to 4 MiB.
 *
 * Built with g++ against libhakmem.a (hak_malloc_usable_size says
 * whether a block is ours) and, with -DHK_USE_LIBC, without it, to run
 * under LD_PRELOAD=libhakmem.so (malloc_usable_size, then hakmem's,
 * returns 0 for a block that is not ours). In both, dladdr says where
 * each operator comes from: not from libstdc++, whose operator new
 * would also end in hakmem's malloc. Last line: "cxx: N passed, M
 * failed".
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <dlfcn.h>
#include <malloc.h>

#ifdef HK_USE_LIBC
#define usable(p)	malloc_usable_size(p)
#else
#include <hakmem.h>
#define usable(p)	hak_malloc_usable_size(p)
#endif

static int passed, failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		std::printf(__VA_ARGS__);				\
		std::printf("\n");					\
	}								\
} while (0)

/* Too big for any allocator, small enough not to be rejected by a size check of the compiler. */
static volatile size_t huge = SIZE_MAX / 4;

static bool ours(void *p, size_t n)
{
	return p && usable(p) >= n;
}

static void fill(void *p, size_t n)
{
	std::memset(p, 0x5a, n);
}

static void every_form(void)
{
	const std::align_val_t a64 = std::align_val_t(64);
	void *p;

	p = ::operator new(100);
	CHECK(ours(p, 100), "operator new(size_t)");
	fill(p, 100);
	::operator delete(p);

	p = ::operator new[](100);
	CHECK(ours(p, 100), "operator new[](size_t)");
	::operator delete[](p);

	p = ::operator new(100, std::nothrow);
	CHECK(ours(p, 100), "operator new(size_t, nothrow)");
	::operator delete(p, std::nothrow);

	p = ::operator new[](100, std::nothrow);
	CHECK(ours(p, 100), "operator new[](size_t, nothrow)");
	::operator delete[](p, std::nothrow);

	p = ::operator new(100);
	::operator delete(p, size_t(100));
	p = ::operator new[](100);
	::operator delete[](p, size_t(100));
	passed++;	/* sized deletes did not crash */

	p = ::operator new(100, a64);
	CHECK(ours(p, 100) && (uintptr_t)p % 64 == 0, "operator new(size_t, align_val_t)");
	::operator delete(p, a64);

	p = ::operator new[](100, a64);
	CHECK(ours(p, 100) && (uintptr_t)p % 64 == 0, "operator new[](size_t, align_val_t)");
	::operator delete[](p, a64);

	p = ::operator new(100, a64, std::nothrow);
	CHECK(ours(p, 100) && (uintptr_t)p % 64 == 0, "operator new(size_t, align_val_t, nothrow)");
	::operator delete(p, a64, std::nothrow);

	p = ::operator new[](100, a64, std::nothrow);
	CHECK(ours(p, 100) && (uintptr_t)p % 64 == 0, "operator new[](size_t, align_val_t, nothrow)");
	::operator delete[](p, a64, std::nothrow);

	p = ::operator new(100, a64);
	::operator delete(p, size_t(100), a64);
	p = ::operator new[](100, a64);
	::operator delete[](p, size_t(100), a64);
	passed++;

	/* delete of NULL, every form */
	::operator delete(nullptr);
	::operator delete[](nullptr);
	::operator delete(nullptr, size_t(8));
	::operator delete[](nullptr, size_t(8));
	::operator delete(nullptr, std::nothrow);
	::operator delete[](nullptr, std::nothrow);
	::operator delete(nullptr, a64);
	::operator delete[](nullptr, a64);
	::operator delete(nullptr, size_t(8), a64);
	::operator delete[](nullptr, size_t(8), a64);
	::operator delete(nullptr, a64, std::nothrow);
	::operator delete[](nullptr, a64, std::nothrow);
	passed++;

	/* new(0) is a unique pointer */
	void *z1 = ::operator new(0), *z2 = ::operator new(0);
	CHECK(z1 && z2 && z1 != z2, "operator new(0): %p %p", z1, z2);
	::operator delete(z1);
	::operator delete(z2);
}

struct counted {
	static int live;
	int v[5];
	counted() { live++; }
	~counted() { live--; }
};
int counted::live;

struct alignas(256) wide {
	char c[300];
};

static void expressions(void)
{
	int *i = new int(7);
	CHECK(ours(i, sizeof(int)) && *i == 7, "new int");
	delete i;		/* sized delete with -fsized-deallocation */

	counted *c = new counted[33];
	CHECK(ours(c, 33 * sizeof(counted)) || ours((char *)c - sizeof(size_t), 33 * sizeof(counted)),
	      "new counted[33]");
	CHECK(counted::live == 33, "constructors ran: %d", counted::live);
	delete[] c;
	CHECK(counted::live == 0, "destructors ran: %d", counted::live);

	wide *w = new wide;
	CHECK(ours(w, sizeof(wide)) && (uintptr_t)w % 256 == 0, "new alignas(256): %p", (void *)w);
	delete w;
	wide *wa = new wide[5];
	CHECK((uintptr_t)wa % 256 == 0, "new alignas(256)[5]: %p", (void *)wa);
	delete[] wa;

	char *n = new (std::nothrow) char[1000];
	CHECK(ours(n, 1000), "new (nothrow) char[1000]");
	delete[] n;
}

static void failures(void)
{
	bool threw;
	void *p;

	threw = false;
	try {
		p = ::operator new(huge);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "operator new(huge) did not throw std::bad_alloc");

	threw = false;
	try {
		p = ::operator new[](huge);
		::operator delete[](p);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "operator new[](huge) did not throw std::bad_alloc");

	threw = false;
	try {
		char *s = new char[huge];
		delete[] s;
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "new char[huge] did not throw std::bad_alloc");

	threw = false;
	try {
		p = ::operator new(huge, std::align_val_t(4096));
		::operator delete(p, std::align_val_t(4096));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "aligned operator new(huge) did not throw std::bad_alloc");

	p = ::operator new(huge, std::nothrow);
	CHECK(p == nullptr, "operator new(huge, nothrow) = %p", p);
	p = ::operator new[](huge, std::nothrow);
	CHECK(p == nullptr, "operator new[](huge, nothrow) = %p", p);
	p = ::operator new(huge, std::align_val_t(128), std::nothrow);
	CHECK(p == nullptr, "aligned operator new(huge, nothrow) = %p", p);
	p = ::operator new[](huge, std::align_val_t(128), std::nothrow);
	CHECK(p == nullptr, "aligned operator new[](huge, nothrow) = %p", p);
	char *s = new (std::nothrow) char[huge];
	CHECK(s == nullptr, "new (nothrow) char[huge] = %p", (void *)s);
}

static int handler_calls;

/* Gives up on the third call: the next failure throws. */
static void handler_gives_up(void)
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

struct handler_error {};

static void handler_throws(void)
{
	handler_calls++;
	throw handler_error();
}

static void new_handler(void)
{
	bool threw = false;
	void *p;

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	try {
		p = ::operator new(huge);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw && handler_calls == 3, "handler loop: threw %d, %d calls", threw, handler_calls);

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	p = ::operator new(huge, std::nothrow);
	CHECK(!p && handler_calls == 3, "nothrow handler loop: %p, %d calls", p, handler_calls);

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	p = ::operator new(huge, std::align_val_t(256), std::nothrow);
	CHECK(!p && handler_calls == 3, "aligned nothrow handler loop: %p, %d calls", p,
	      handler_calls);

	handler_calls = 0;
	threw = false;
	std::set_new_handler(handler_throws);
	try {
		p = ::operator new[](huge);
		::operator delete[](p);
	} catch (const handler_error &) {
		threw = true;
	}
	CHECK(threw && handler_calls == 1, "handler's exception: threw %d, %d calls", threw,
	      handler_calls);
	std::set_new_handler(nullptr);

	/* A handler is not called when memory is there. */
	handler_calls = 0;
	std::set_new_handler(handler_throws);
	p = ::operator new(1000);
	CHECK(handler_calls == 0, "handler called %d times for 1000 bytes", handler_calls);
	::operator delete(p);
	std::set_new_handler(nullptr);
}

static void alignment(void)
{
	size_t a, k;

	for (a = 16; a <= (size_t)4 << 20; a <<= 1) {
		const size_t sizes[] = { 1, a - 1, a, 3 * a + 5, 100000 };

		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			size_t n = sizes[k];
			void *p = ::operator new(n, std::align_val_t(a));
			void *q = ::operator new[](n, std::align_val_t(a), std::nothrow);

			CHECK(ours(p, n) && (uintptr_t)p % a == 0, "new(%zu, align %zu) = %p", n, a, p);
			CHECK(ours(q, n) && (uintptr_t)q % a == 0, "new[](%zu, align %zu, nothrow) = %p",
			      n, a, q);
			fill(p, n);
			fill(q, n);
			::operator delete(p, n, std::align_val_t(a));
			::operator delete[](q, std::align_val_t(a));
		}
	}
}

/*
 * Every operator resolves into hakmem: libhakmem.so under LD_PRELOAD,
 * the executable itself when libhakmem.a is linked in; never libstdc++
 * (whose operator new would call malloc, hakmem's or not).
 */
static void resolved_from_hakmem(const char *want)
{
	static const char *const names[] = {
		"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
		"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
		"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
		"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t",
		"_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
		"_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
		"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
	};
	for (const char *name : names) {
		void *sym = dlsym(RTLD_DEFAULT, name);
		Dl_info info;

		CHECK(sym && dladdr(sym, &info) && info.dli_fname &&
		      !std::strstr(info.dli_fname, "libstdc++") &&
		      (!want || std::strstr(info.dli_fname, want)),
		      "%s comes from %s", name, sym && dladdr(sym, &info) ? info.dli_fname : "nowhere");
	}
}

int main(void)
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
#ifdef HK_USE_LIBC
	resolved_from_hakmem("libhakmem");
#else
	resolved_from_hakmem(nullptr);
#endif
	every_form();
	expressions();
	failures();
	new_handler();
	alignment();
	std::printf("cxx: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
