// SPDX-License-Identifier: MIT
/*
 * tests/valgrind/vg_cxx.cc - C++ operator new and delete under memcheck,
 * linked with -static against a CONFIG_VALGRIND libhakmem.a
 * (CONFIG_CXX_NEW): containers and strings raise no error, an array
 * from new[] that is dropped is a leak of its size, a read after delete
 * is reported.
 */
#include <memory>
#include <string>
#include <vector>
#include <generated/autoconf.h>

/*
 * The read after delete: 8 bytes into the 48-byte array, or 32 with only
 * the Large box, past the Large cache's link (as vg_bugs.c's UAF_OFF).
 */
#if defined(CONFIG_TINY) || defined(CONFIG_SMALLMID) || defined(CONFIG_MID)
#define UAF_INT		2
#else
#define UAF_INT		8
#endif

static int *volatile sink;

int main()
{
	std::vector<std::string> v;

	for (int i = 0; i < 1000; i++)
		v.push_back(std::string(i % 50 + 20, 'x'));
	auto big = std::make_unique<long[]>(100000);
	big[5] = 1;

	sink = new int[25];		/* 100 bytes, lost below */
	sink = nullptr;

	int *p = new int[12];		/* 48 bytes, read after delete */
	p[UAF_INT] = 7;
	sink = p;
	delete[] p;
	return sink[UAF_INT] == 7 ? 0 : (int)v.size() - 1000 + (int)big[5] - 1;
}
