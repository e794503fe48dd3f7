// SPDX-License-Identifier: MIT
/*
 * mm/os/os.c - the mmap backend's interface to the kernel.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <hakmem/atomic.h>
#include <asm/page.h>
#include "os.h"
#include "superslab/registry.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000	/* Linux 4.17; older kernels take it as a hint */
#endif

size_t os_page_size = ARCH_PAGE_SIZE_MIN;

/*
 * Where the next aligned mapping goes: the start of the lowest one we
 * placed. The kernel hands out addresses top-down, so the range just
 * below it is usually free, and asking for it exactly costs one mmap
 * instead of a misplaced mmap, an oversized one and two trimming munmaps.
 */
static uintptr_t os_hint;

/*
 * The flags of a mapping that holds a program's block (the Large box's):
 * charged as the C library's own mappings are, without MAP_NORESERVE, so
 * that the kernel's overcommit policy answers a request as it answers
 * glibc's. Under the default heuristic (vm.overcommit_memory 0) a
 * single mapping larger than RAM and swap together fails: malloc of
 * 1 TiB returns NULL with ENOMEM, as glibc's does, where a mapping with
 * MAP_NORESERVE succeeds and the program is killed when it touches
 * more than the machine has. The SuperSlabs' chunks (2 MiB, their
 * unused slots never touched) and the allocator's own tables keep
 * MAP_NORESERVE: nothing there is a request of the program's.
 */
#define OS_CHARGED	0

/* vm.overcommit_memory is 2: every writable private mapping is charged. */
static int os_strict_overcommit;

void os_init(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);
	char c = 0;
	int fd;

	if (ps >= ARCH_PAGE_SIZE_MIN && ps <= ARCH_PAGE_SIZE_MAX && IS_POWER_OF_2(ps))
		os_page_size = ps;
	fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &c, 1) == 1 && c == '2')
			os_strict_overcommit = 1;
		close(fd);
	}
}

int os_vm_tight(void)
{
	struct rlimit rl;

	if (os_strict_overcommit)
		return 1;
	return !getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY;
}

/* ------------------------------------------------------------------ */
/* Mapping                                                            */
/* ------------------------------------------------------------------ */

/*
 * flags: MAP_NORESERVE or not (OS_CHARGED, above), and MAP_FIXED_NOREPLACE
 * where a range is asked for exactly.
 */
static void *os_mmap(void *hint, size_t size, int flags)
{
	void *p = mmap(hint, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Map size bytes at exactly want; 0 if that range is taken. */
static uintptr_t os_map_exactly(uintptr_t want, size_t size, int flags)
{
	uintptr_t p = (uintptr_t)os_mmap((void *)want, size, MAP_FIXED_NOREPLACE | flags);

	if (p == want)
		return p;
	/* An old kernel placed it elsewhere: not what we asked for. */
	if (p)
		os_unmap((void *)p, size);
	return 0;
}

/* Map size bytes at exactly hint - size, rounded down to align; 0 if taken. */
static uintptr_t os_map_below_hint(size_t size, size_t align, int flags)
{
	uintptr_t hint = a_load(&os_hint, A_RELAXED);

	if (!hint || hint < size + align + (1UL << 32))
		return 0;
	return os_map_exactly(ALIGN_DOWN(hint - size, align), size, flags);
}

/*
 * No room for the slack of an oversized mapping (an address-space limit,
 * RLIMIT_AS): the kernel put a mapping of exactly size bytes at the
 * misaligned p, which is free again. Try the aligned addresses around it:
 * the kernel hands out the highest free range, so the space right below
 * p is usually free, the space above usually not.
 */
static uintptr_t os_map_aligned_near(uintptr_t p, size_t size, size_t align, int flags)
{
	uintptr_t want = ALIGN_DOWN(p, align), got = 0;
	unsigned int i;

	for (i = 0; !got && i < 4 && want >= align; i++, want -= align)
		got = os_map_exactly(want, size, flags);
	if (!got)
		got = os_map_exactly(ALIGN_UP(p, align), size, flags);
	return got;
}

/* One attempt at os_map_aligned(): 0 on failure. */
static uintptr_t os_try_map_aligned(size_t size, size_t align, int flags)
{
	uintptr_t p, aligned;
	size_t over;

	p = os_map_below_hint(size, align, flags);
	if (p)
		return p;

	/* Often the kernel hands out an aligned range by itself. */
	p = (uintptr_t)os_mmap(NULL, size, flags);
	if (!p || (p & (align - 1)) == 0)
		return p;
	os_unmap((void *)p, size);

	/* Map more than needed and cut both ends off. */
	over = size + align - os_page_size;
	aligned = (uintptr_t)os_mmap(NULL, over, flags);
	if (!aligned)
		return os_map_aligned_near(p, size, align, flags);
	p = aligned;
	aligned = ALIGN_UP(p, align);
	if (aligned > p)
		os_unmap((void *)p, aligned - p);
	if (p + over > aligned + size)
		os_unmap((void *)(aligned + size), p + over - (aligned + size));
	return aligned;
}

/* One attempt, with the registry tables of the range. */
static uintptr_t os_try_map_registrable(size_t size, size_t align, int flags)
{
	uintptr_t p = os_try_map_aligned(size, align, flags);

	/* It may be registered: its registry tables must exist. */
	if (p && unlikely(registry_prepare(p, size))) {
		os_unmap((void *)p, size);
		p = 0;
	}
	return p;
}

static void *os_map_aligned_as(size_t size, size_t align, int flags)
{
	uintptr_t p;

	if (size > HK_OS_MAX_MAP || align > HK_OS_MAX_MAP)
		return NULL;

	p = os_try_map_registrable(size, align, flags);
	/*
	 * Out of address space or memory: what the boxes keep but do not
	 * use (cached and reserved mappings) goes back, then try again.
	 */
	if (unlikely(!p) && core_reclaim())
		p = os_try_map_registrable(size, align, flags);
	if (unlikely(!p))
		return NULL;
	a_store(&os_hint, p, A_RELAXED);
	return (void *)p;
}

void *os_map_aligned(size_t size, size_t align)
{
	return os_map_aligned_as(size, align, MAP_NORESERVE);
}

void *os_map_aligned_charged(size_t size, size_t align)
{
	return os_map_aligned_as(size, align, OS_CHARGED);
}

int os_map_at(void *addr, size_t size)
{
	return os_map_exactly((uintptr_t)addr, size, MAP_NORESERVE) ? 0 : -1;
}

int os_map_at_charged(void *addr, size_t size)
{
	return os_map_exactly((uintptr_t)addr, size, OS_CHARGED) ? 0 : -1;
}

void *os_map_pages(size_t size)
{
	return os_mmap(NULL, ALIGN_UP(size, os_page_size), MAP_NORESERVE);
}

void os_unmap(void *addr, size_t size)
{
	munmap(addr, size);
}

void os_nohugepage(void *addr, size_t size)
{
	madvise(addr, size, MADV_NOHUGEPAGE);
}

void os_hugepage(void *addr, size_t size)
{
	madvise(addr, size, MADV_HUGEPAGE);
}

#if defined(CONFIG_SUPERSLAB_THP) || defined(CONFIG_MID_LEND)
/*
 * Mid's lending learns which pages of a free block are resident
 * (mm/heap), the huge-page policy how many of a SuperSlab's are
 * (os_resident()). A kernel whose pages are smaller than the ones we were told
 * of writes a byte for each of its own: qemu-user with -p 65536 passes
 * the call on to a host of 4 KiB pages, 16 bytes a guest page. Those
 * are counted (the bytes a call changed) and a page is resident if any
 * part of it is, as a kernel of its size would have made it whole at
 * the first touch of any part.
 */
int os_mincore(void *addr, size_t size, unsigned char *vec)
{
	unsigned char buf[OS_MINCORE_MAX];
	size_t pages = size / os_page_size, n, r, i, j;

	if (!pages || pages * (os_page_size / ARCH_PAGE_SIZE_MIN) > sizeof(buf))
		return -1;
	memset(buf, 0xfe, sizeof(buf));
	if (mincore(addr, size, buf))
		return -1;
	for (n = pages; n < sizeof(buf) && buf[n] != 0xfe; n++)
		;
	r = n / pages;
	for (i = 0; i < pages; i++) {
		vec[i] = 0;
		for (j = 0; j < r; j++)
			vec[i] |= buf[i * r + j];
	}
	return 0;
}

#ifdef CONFIG_SUPERSLAB_THP
/*
 * The huge-page policy's density test (mm/superslab), through
 * os_mincore(): a SuperSlab is more pages than one call takes, and under
 * qemu-user with 64 KiB pages a bigger vector of our own overran too.
 */
BUILD_BUG_ON(ARCH_PAGE_SIZE_MAX > OS_MINCORE_MAX * ARCH_PAGE_SIZE_MIN);	/* a call covers a page at least */
long os_resident(void *addr, size_t size)
{
	unsigned char vec[OS_MINCORE_MAX];
	size_t most = OS_MINCORE_MAX * ARCH_PAGE_SIZE_MIN / os_page_size;
	size_t pages = size / os_page_size, done = 0, k, i;
	long n = 0;

	while (done < pages) {
		k = pages - done < most ? pages - done : most;
		if (os_mincore((char *)addr + done * os_page_size, k * os_page_size, vec))
			return -1;
		for (i = 0; i < k; i++)
			n += vec[i] & 1;
		done += k;
	}
	return n;
}
#endif /* CONFIG_SUPERSLAB_THP */
#endif

void os_decommit(void *addr, size_t size)
{
	madvise(addr, size, MADV_DONTNEED);
}

void os_protect_ro(void *addr, size_t size)
{
	mprotect(addr, size, PROT_READ);
}

int os_remap_inplace(void *addr, size_t old_size, size_t new_size)
{
	void *p = mremap(addr, old_size, new_size, 0);

	return p == MAP_FAILED ? -1 : 0;
}

void *os_remap_move(void *addr, size_t old_size, size_t new_size, size_t align)
{
	void *dst = os_map_aligned(new_size, align);
	void *p;

	if (!dst)
		return NULL;
	/* The reserved range is replaced by the moved pages. */
	p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p == MAP_FAILED) {
		os_unmap(dst, new_size);
		return NULL;
	}
	return p;
}

int os_remap_fixed(void *addr, size_t size, void *dst)
{
	void *p = mremap(addr, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);

	return p == dst ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Time                                                               */
/* ------------------------------------------------------------------ */

unsigned long os_now_ms(void)
{
	struct timespec ts;

	/* The coarse clock is a vDSO read of the last tick: a few ns. */
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
		return 0;
	return (unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Randomness                                                         */
/* ------------------------------------------------------------------ */

/* A bijective 64-bit mixer (xorshift-multiply). */
static uint64_t os_mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 32);
}

/*
 * A secret word (the double-free key). From getrandom(); if that fails
 * (old kernel, seccomp), from the kernel's 16 AT_RANDOM bytes compressed
 * to 8 with an address, so that the key never reveals either half
 * (glibc derives its stack and pointer guards from them).
 */
uintptr_t os_random_word(void)
{
	uint64_t w;

	if (getrandom(&w, sizeof(w), GRND_NONBLOCK) != (ssize_t)sizeof(w)) {
		const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);

		w = os_mix64((uintptr_t)&os_page_size ^ (uintptr_t)&w);
		if (r)
			w = os_mix64(r[0] ^ w) + os_mix64(r[1]);
	}
	/* Make sure it can never look like a pointer or small integer. */
	return (uintptr_t)w | 0x8000000000000001UL;
}
