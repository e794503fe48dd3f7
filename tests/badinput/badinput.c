// SPDX-License-Identifier: MIT
/*
 * badinput: what the allocator does with pointers it does not own, double
 * frees and impossible sizes. The defined outcomes are listed in
 * Documentation/testing.md ("Bad input"):
 *
 *   foreign pointer (stack, static, mmap'd, libc's, unmapped, garbage)
 *	free / free_sized / free_aligned_sized: ignored and counted by the
 *	ExternalGuard, memory behind it untouched; the process continues.
 *	realloc: NULL with errno EINVAL, the memory untouched.
 *	malloc_usable_size: 0.
 *   interior pointer of one of our blocks
 *	ignored, or reported and aborted (SIGABRT): either is accepted,
 *	but the block and later allocations must not be corrupted.
 *   double free of a Tiny/Small-Mid/Mid block (CONFIG_DOUBLE_FREE_CHECK),
 *   by the owner thread or by another one
 *	a message containing "double free" on stderr, then SIGABRT (in the
 *	second free, or at the latest when the next mallocs of the size
 *	hand the block out again).
 *   double free of a Large block while the cache holds it (CONFIG_LARGE_CACHE),
 *   by the owner thread or by another one
 *	the same.
 *   pointer into the unused tail of a slab
 *	like an interior pointer; never handed out by malloc.
 *   sizes that overflow or exceed PTRDIFF_MAX
 *	NULL with errno ENOMEM (posix_memalign: returns ENOMEM).
 *
 * Each case runs in a child process (fork). A case that continues then
 * allocates, fills and checks a few thousand blocks of every tier before
 * it exits 0, so that a guard that wrote into a free list shows up.
 *
 *	badinput [-v] [case...]
 *
 * Built on the hak_* API (static library) and, with -DHK_USE_LIBC, on
 * malloc/free to run under LD_PRELOAD=libhakmem.so. Last line:
 * "badinput: N passed, M failed".
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "child.h"
#include "hk_api.h"

#ifndef CONFIG_SUPERSLAB_SHIFT
#define CONFIG_SUPERSLAB_SHIFT	21
#endif

/*
 * A Large block of up to half a chunk: 100000 B when Mid ended at 32 KiB,
 * as far above CONFIG_MID_MAX_KB now (1 MiB at most: then a whole chunk).
 */
#ifdef CONFIG_MID_MAX_KB
#define LARGE_SMALL	((size_t)CONFIG_MID_MAX_KB * 1024 + 100000 - 32768)
#else
#define LARGE_SMALL	((size_t)100000)
#endif

/*
 * glibc's own allocator, whoever provides malloc: its __libc_malloc and
 * __libc_free looked up in libc.so.6 itself. hakmem exports these names
 * as aliases too (mm/api/api.h), so a plain call, or dlsym(RTLD_NEXT)
 * under LD_PRELOAD, reaches hakmem.
 */
static void *(*libc_own_malloc)(size_t);
static void (*libc_own_free)(void *);

static void libc_own_init(void)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	if (libc) {
		libc_own_malloc = (void *(*)(size_t))dlsym(libc, "__libc_malloc");
		libc_own_free = (void (*)(void *))dlsym(libc, "__libc_free");
	}
	if (!libc_own_malloc || !libc_own_free) {
		fprintf(stderr, "badinput: glibc's __libc_malloc not found in libc.so.6\n");
		exit(2);
	}
}

enum outcome {
	CONTINUES,		/* exit 0 after survive() */
	CONTINUES_OR_ABORTS,	/* exit 0, or SIGABRT */
	ABORTS_DOUBLE_FREE,	/* SIGABRT with "double free" on stderr */
};

static int verbose;

#define die(...) do {							\
	fprintf(stderr, "badinput: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	exit(3);							\
} while (0)

#define require(cond) do {						\
	if (!(cond))							\
		die("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
} while (0)

/* Keep the compiler from reasoning about pointers we pass to free. */
static void *launder(void *p)
{
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

/* ... and about sizes (no -Walloc-size-larger-than for the huge ones). */
static size_t opaque(size_t n)
{
	__asm__ __volatile__("" : "+r"(n));
	return n;
}

static void fill(void *p, size_t n, unsigned char seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = (unsigned char)(seed + i * 13 + (i >> 8));
}

static int intact(const void *p, size_t n, unsigned char seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed + i * 13 + (i >> 8)))
			return 0;
	return 1;
}

/*
 * After the bad call: the allocator must still hand out good, distinct,
 * writable blocks of every tier.
 */
static void survive(void)
{
	enum { N = 3000 };
	static void *p[N];
	static size_t n[N];
	int i, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			n[i] = i % 97 == 0 ? 40000 + (size_t)i * 31 :
			       i % 7 == 0 ? 1025 + (size_t)i * 5 % 30000 : 1 + (size_t)i % 700;
			p[i] = t_malloc(n[i]);
			if (!p[i])
				die("survive: malloc(%zu) failed", n[i]);
			if ((uintptr_t)p[i] % (n[i] > 8 ? 16 : 8))
				die("survive: malloc(%zu) = %p misaligned", n[i], p[i]);
			fill(p[i], n[i], (unsigned char)i);
		}
		for (i = 0; i < N; i++)
			if (!intact(p[i], n[i], (unsigned char)i))
				die("survive: block %d (%p, %zu bytes) corrupted", i, p[i], n[i]);
		for (i = 0; i < N; i++)
			t_free(p[i]);
	}
}

/* ------------------------------------------------------------------------
 * Foreign pointers
 */

static char static_area[8192] __attribute__((aligned(4096)));

static void case_free_null(void)
{
	t_free(NULL);
	t_free_sized(NULL, 0);
	t_free_sized(NULL, 100);
	t_free_aligned_sized(NULL, 64, 128);
}

static void case_free_stack(void)
{
	char buf[256] __attribute__((aligned(16)));

	fill(buf, sizeof(buf), 1);
	t_free(launder(buf));
	t_free(launder(buf + 16));
	t_free(launder(buf + 3));
	t_free_sized(launder(buf + 32), 64);
	require(intact(buf, sizeof(buf), 1));
	require(t_malloc_usable_size(launder(buf)) == 0);
}

static void case_free_static(void)
{
	fill(static_area, sizeof(static_area), 2);
	t_free(launder(static_area));
	t_free(launder(static_area + 16));
	t_free(launder(static_area + 4096));
	t_free(launder(static_area + 8000));
	t_free_aligned_sized(launder(static_area), 4096, 4096);
	require(intact(static_area, sizeof(static_area), 2));
	require(t_malloc_usable_size(launder(static_area)) == 0);
}

static void case_free_mmap(void)
{
	size_t len = 256 * 1024;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	require(m != MAP_FAILED);
	fill(m, len, 3);
	t_free(m);
	t_free(m + 16);
	t_free(m + 4096);
	t_free(m + 65536);
	t_free_sized(m + 128, 128);
	require(intact(m, len, 3));
	require(t_malloc_usable_size(m) == 0);
	require(munmap(m, len) == 0);
}

/* Unmapped and absurd addresses: never dereferenced. */
static void case_free_unmapped(void)
{
	size_t len = 1 << 20;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	require(m != MAP_FAILED);
	require(munmap(m, len) == 0);
	t_free(m);
	t_free(m + 16);
	t_free(m + 65536 + 48);
	t_free((void *)(uintptr_t)16);
	t_free((void *)(uintptr_t)4096);
	t_free((void *)(uintptr_t)0x10000);
	t_free((void *)(uintptr_t)0x7ffffffff000ULL);
	t_free((void *)(uintptr_t)0x800000000000ULL);	/* non-canonical on x86_64 */
	t_free((void *)(uintptr_t)0xffff800000001000ULL);	/* kernel half */
	t_free((void *)(uintptr_t)-16);
}

/*
 * A mapping aligned like a SuperSlab, carrying a copy of a real
 * SuperSlab's first slot (header and all): owners must be found through
 * the registry, not by trusting what the masked address holds.
 */
static void case_free_fake_superslab(void)
{
	size_t ss = (size_t)1 << CONFIG_SUPERSLAB_SHIFT, len = 3 * ss;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *fake, *real_base;
	void *real = t_malloc(64);
	size_t copy = 65536;

	require(m != MAP_FAILED && real);
	fake = (char *)(((uintptr_t)m + ss - 1) & ~(uintptr_t)(ss - 1));
	real_base = (char *)((uintptr_t)real & ~(uintptr_t)(ss - 1));
	/* Copy only if the real block sits in a SuperSlab-like region that
	 * is mapped there (mincore says so); else garbage will do. */
	{
		unsigned char vec[16];

		if (mincore(real_base, copy, vec) == 0)
			memcpy(fake, real_base, copy);
		else
			fill(fake, copy, 4);
	}
	fill(fake + copy, 65536, 5);
	t_free(fake + ((uintptr_t)real - (uintptr_t)real_base));
	t_free(fake + copy);
	t_free(fake + copy + 64);
	t_free(fake + ss / 2);
	require(intact(fake + copy, 65536, 5));
	require(t_malloc_usable_size(fake + copy) == 0);
	t_free(real);
	require(munmap(m, len) == 0);
}

/* A block of glibc's own allocator (not ours, under any malloc). */
static void case_free_libc(void)
{
	char *p, *q;

	libc_own_init();
	p = libc_own_malloc(200);
	q = libc_own_malloc(100000);
	require(p && q);
	/* Not hakmem's: the aliases must not have been found instead. */
	require(t_malloc_usable_size(p) == 0 && t_malloc_usable_size(q) == 0);
	fill(p, 200, 6);
	fill(q, 100000, 7);
	t_free(p);
	t_free(q);
	t_free(p + 16);
	require(intact(p, 200, 6));
	require(intact(q, 100000, 7));
	/* Still glibc's: it frees them. */
	libc_own_free(p);
	libc_own_free(q);
}

/* Many foreign frees: counting and reporting must not break anything. */
/* The frees case_many_foreign() makes: 200,000 of a stack address, 1,000 static. */
#define MANY_FOREIGN_FREES	201000

static void case_many_foreign(void)
{
	char buf[64];
	int i;

	for (i = 0; i < MANY_FOREIGN_FREES - 1000; i++)
		t_free(launder(buf + (i % 4) * 16));
	for (i = 0; i < 1000; i++)
		t_free(launder(static_area + i * 8));
}

static void case_realloc_foreign(void)
{
	char buf[128] __attribute__((aligned(16)));
	size_t len = 65536;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *r;

	require(m != MAP_FAILED);
	fill(buf, sizeof(buf), 8);
	fill(static_area, sizeof(static_area), 9);
	fill(m, len, 10);

	errno = 0;
	r = t_realloc(launder(buf), 1000);
	if (r != NULL || errno != EINVAL)
		die("realloc(stack pointer) = %p, errno %d; expected NULL, EINVAL", r, errno);
	errno = 0;
	r = t_realloc(launder(static_area), 10);
	if (r != NULL || errno != EINVAL)
		die("realloc(static pointer) = %p, errno %d; expected NULL, EINVAL", r, errno);
	errno = 0;
	r = t_realloc(m, 100000);
	if (r != NULL || errno != EINVAL)
		die("realloc(mmap'd pointer) = %p, errno %d; expected NULL, EINVAL", r, errno);
	errno = 0;
	r = t_reallocarray(launder(buf), 10, 10);
	if (r != NULL || errno != EINVAL)
		die("reallocarray(stack pointer) = %p, errno %d; expected NULL, EINVAL", r, errno);
	/* Shrinking to 0 is not a free of a foreign pointer either. */
	errno = 0;
	r = t_realloc(launder(buf + 16), 0);
	require(r == NULL);
	require(intact(buf, sizeof(buf), 8));
	require(intact(static_area, sizeof(static_area), 9));
	require(intact(m, len, 10));
	require(munmap(m, len) == 0);
}

/* ------------------------------------------------------------------------
 * Pointers into our own blocks
 */

static void interior(size_t n, size_t off)
{
	char *p = t_malloc(n), *q;

	require(p);
	fill(p, n, 11);
	t_free(p + off);
	/* If we get here the bad free was ignored: the block is still ours. */
	require(intact(p, n, 11));
	q = t_malloc(n);
	require(q && q != p);
	if ((size_t)(q > p ? q - p : p - q) < n)
		die("malloc(%zu) = %p overlaps the block %p whose interior was freed", n, q, p);
	fill(q, n, 12);
	require(intact(p, n, 11));
	t_free(q);
	t_free(p);
}

static void case_free_interior_tiny(void)
{
	interior(64, 16);
	interior(64, 8);
	interior(1000, 512);
}

static void case_free_interior_mid(void)
{
	interior(4096, 1024);
	interior(20000, 16);
}

/*
 * A pointer into the unused tail of a slab (past its last block): the
 * blocks of a class of size b fill a 64 KiB slot up to 65536 / b * b.
 * Classes up to 8 KiB have one-slot slabs, found by masking the block.
 */
static int slab_tail(size_t n)
{
	char *p = t_malloc(n), *slot, *tail, *q[200];
	size_t b, cap, i;
	int k;

	require(p);
	b = t_malloc_usable_size(p);
	require(b >= n);
	if (b > 8192) {
		/* Not a one-slot slab class: a Large block (Mid off, or only Large). */
		t_free(p);
		return 0;
	}
	slot = (char *)((uintptr_t)p & ~(uintptr_t)65535);
	cap = 65536 / b;
	tail = slot + cap * b;
	if (65536 - cap * b < 16) {
		t_free(p);
		return 0;		/* this class fills its slab */
	}
	fill(p, n, 14);
	require(t_malloc_usable_size(tail) == 0);
	t_free(tail);
	t_free(tail + 16);
	require(intact(p, n, 14));
	/* Never handed out: allocate the slab's worth twice. */
	for (k = 0; k < 2; k++) {
		for (i = 0; i < cap && i < 200; i++) {
			q[i] = t_malloc(n);
			require(q[i]);
			if (q[i] >= tail && q[i] < slot + 65536)
				die("malloc(%zu) = %p: in the unused tail (%p) of a slab", n,
				    (void *)q[i], (void *)tail);
			fill(q[i], n, 15);
		}
		while (i--)
			t_free(q[i]);
	}
	require(intact(p, n, 14));
	t_free(p);
	return 1;
}

static void case_free_slab_tail(void)
{
	/*
	 * Sizes whose class leaves a tail of 32 B or more with the default
	 * classes: Tiny's 96, 160, 320 and 768 B, then Mid's.
	 */
	static const size_t sizes[] = { 90, 150, 300, 700,
					3000, 1500, 5000, 6000, 2500, 3500, 7000 };
	unsigned int i, tried = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tried += (unsigned int)slab_tail(sizes[i]);
	/* With power-of-two classes only there is no tail anywhere. */
	if (!tried)
		fprintf(stderr, "badinput: note: no class with a slab tail among the sizes\n");
}

static void case_free_interior_large(void)
{
	interior(LARGE_SMALL, 16);
	interior(LARGE_SMALL, 4096);	/* page aligned, like a block start */
	interior((size_t)4 << 20, (size_t)1 << 20);
}

/* ------------------------------------------------------------------------
 * Double free
 */

/*
 * The second free may be caught in free itself or when the block leaves
 * the thread cache again: the next mallocs of the size.
 */
/*
 * Allocate blocks of size n: enough to use up what malloc's list of a
 * split bin held before the double free (a refill's batch, at most 64
 * blocks here), so that the next malloc takes the freed blocks and finds
 * the second copy. A one-list bin hands the block out first.
 */
static void realloc_some(size_t n)
{
	int i;

	for (i = 0; i < 256; i++)
		require(t_malloc(n));
}

static void double_free(size_t n)
{
	void *p = t_malloc(n);

	require(p);
	memset(p, 0x77, n);
	t_free(p);
	t_free(launder(p));
	/*
	 * free() may only store into the block; the allocator then finds
	 * the second copy before it hands p out twice.
	 */
	realloc_some(n);
	/* Still alive: let survive() see whether anything broke. */
}

static void *free_twice(void *p)
{
	t_free(p);
	t_free(launder(p));
	return NULL;
}

/* A thread frees another thread's block twice (the remote-free path). */
static void remote_double_free(size_t n)
{
	void *p = t_malloc(n);
	pthread_t t;

	require(p);
	memset(p, 0x78, n);
	require(pthread_create(&t, NULL, free_twice, p) == 0);
	require(pthread_join(t, NULL) == 0);
	/*
	 * No malloc of the size after it: a remote free still reads the
	 * key, so the second free itself aborts (the pop would find it too,
	 * but only if the owner allocated that class again).
	 */
}

static void case_double_free_remote_tiny(void) { remote_double_free(64); }
static void case_double_free_remote_mid(void) { remote_double_free(20000); }
/* Large: the first free puts the block in the cache, the second finds it there. */
static void case_double_free_large(void) { double_free(LARGE_SMALL); }
static void case_double_free_remote_large(void) { remote_double_free(LARGE_SMALL); }

static void case_double_free_tiny(void) { double_free(16); }
static void case_double_free_tiny_1k(void) { double_free(1000); }
static void case_double_free_mid(void) { double_free(3000); }
static void case_double_free_mid_32k(void) { double_free(32768); }

/* Other blocks of the class allocated and freed in between. */
static void case_double_free_later(void)
{
	void *p = t_malloc(48), *q[100];
	int i;

	require(p);
	t_free(p);
	for (i = 0; i < 100; i++)
		q[i] = t_malloc(200);
	for (i = 0; i < 100; i++)
		t_free(q[i]);
	t_free(launder(p));
	realloc_some(48);
}

/* ------------------------------------------------------------------------
 * Sizes
 */

#define expect_enomem(expr) do {					\
	void *__r;							\
	errno = 0;							\
	__r = (expr);							\
	if (__r != NULL || errno != ENOMEM)				\
		die("%s = %p, errno %d; expected NULL, ENOMEM", #expr, __r, errno); \
} while (0)

static void case_huge_sizes(void)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2, (size_t)PTRDIFF_MAX,
		(size_t)PTRDIFF_MAX + 1, (size_t)1 << 62,
	};
	char *p = t_malloc(100);
	void *m;
	size_t k;

	require(p);
	fill(p, 100, 13);
	for (k = 0; k < sizeof(huge) / sizeof(huge[0]); k++) {
		size_t n = opaque(huge[k]);

		expect_enomem(t_malloc(n));
		expect_enomem(t_calloc(1, n));
		expect_enomem(t_realloc(p, n));
		expect_enomem(t_aligned_alloc(4096, n));
		expect_enomem(t_memalign(64, n));
		expect_enomem(t_valloc(n));
		expect_enomem(t_pvalloc(n));
		m = NULL;
		require(t_posix_memalign(&m, 64, n) == ENOMEM && m == NULL);
	}
	expect_enomem(t_calloc(opaque(SIZE_MAX / 2 + 1), 2));
	expect_enomem(t_calloc(opaque((size_t)1 << 32), (size_t)1 << 32));
	expect_enomem(t_reallocarray(p, opaque(SIZE_MAX / 4), 8));
	expect_enomem(t_reallocarray(NULL, opaque(SIZE_MAX), SIZE_MAX));
	require(intact(p, 100, 13));
	t_free(p);
}

/* vm.overcommit_memory (0 heuristic, 1 always, 2 strict), -1 if unknown. */
static int overcommit_mode(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;

	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	return mode;
}

/*
 * More bytes than RAM and swap together: the kernel refuses a mapping
 * that size to the C library under its default heuristic
 * (vm.overcommit_memory 0) and under strict accounting (2), and every
 * entry point must fail the same way here (NULL, ENOMEM), not hand out
 * address space that the first touches past the machine's memory would
 * turn into the OOM killer's business. Also a Large block's realloc to
 * that size: NULL, the block intact. With vm.overcommit_memory 1 the
 * kernel grants any such mapping to anyone: nothing to compare.
 */
static void case_beyond_memory(void)
{
	struct sysinfo si;
	size_t n, big = (size_t)8 << 20;
	char *p, *q;
	void *m;
	int mode = overcommit_mode();

	if (mode != 0 && mode != 2) {
		printf("beyond_memory: vm.overcommit_memory is %d: the kernel maps anything\n", mode);
		return;
	}
	require(sysinfo(&si) == 0);
	n = opaque(((size_t)si.totalram + si.totalswap) * si.mem_unit + ((size_t)1 << 30));
	p = t_malloc(100);
	q = t_malloc(big);
	require(p && q);
	fill(p, 100, 17);
	fill(q, big, 19);
	expect_enomem(t_malloc(n));
	expect_enomem(t_calloc(1, n));
	expect_enomem(t_calloc(n / 4096 + 1, 4096));
	expect_enomem(t_realloc(p, n));
	expect_enomem(t_realloc(q, n));
	expect_enomem(t_realloc(NULL, n));
	expect_enomem(t_reallocarray(NULL, n / 16 + 1, 16));
	expect_enomem(t_aligned_alloc(4096, n));
	expect_enomem(t_memalign(1 << 21, n));
	expect_enomem(t_valloc(n));
	expect_enomem(t_pvalloc(n));
	m = NULL;
	require(t_posix_memalign(&m, 64, n) == ENOMEM && m == NULL);
	require(intact(p, 100, 17));
	require(intact(q, big, 19));
	t_free(q);
	t_free(p);
}

/* ------------------------------------------------------------------------
 * Runner
 */

struct bcase {
	const char *name;
	void (*fn)(void);
	enum outcome expect;
	int skip;
	const char *stderr_has;	/* must appear on stderr, if not NULL */
};

/*
 * The guard's report of the first foreign pointers (on by default with
 * CONFIG_EXTERNAL_GUARD_LOG), which names what the pointer points to.
 */
#if defined(CONFIG_EXTERNAL_GUARD_LOG) && CONFIG_EXTERNAL_GUARD_LOG_FIRST > 0 && \
	defined(CONFIG_EXTERNAL_GUARD_MINCORE)
#define GUARD_SAYS(outcome)	"foreign pointer (" outcome "), leaked"
#else
#define GUARD_SAYS(outcome)	NULL
#endif

/*
 * With guard statistics, the report printed when the count reaches the
 * threshold: after that many frees of a stack address, all "mapped".
 * A threshold above the frees the case makes prints nothing before the
 * child's _exit() (randconfig KCONFIG_SEED=0x5814cc4a: 100,000,000).
 */
#define STR_(x)	#x
#define STR(x)	STR_(x)
#if defined(CONFIG_EXTERNAL_GUARD_STATS) && defined(CONFIG_EXTERNAL_GUARD_MINCORE) && \
	CONFIG_EXTERNAL_GUARD_REPORT_THRESHOLD <= MANY_FOREIGN_FREES
#define GUARD_REPORT	"by outcome: mapped " STR(CONFIG_EXTERNAL_GUARD_REPORT_THRESHOLD) ", unmapped 0,"
#else
#define GUARD_REPORT	NULL
#endif

static const struct bcase cases[] = {
	{ "free_null", case_free_null, CONTINUES, 0, NULL },
	{ "free_stack", case_free_stack, CONTINUES, 0, GUARD_SAYS("mapped") },
	{ "free_static", case_free_static, CONTINUES, 0, GUARD_SAYS("mapped") },
	{ "free_mmap", case_free_mmap, CONTINUES, 0, GUARD_SAYS("mapped") },
	{ "free_unmapped", case_free_unmapped, CONTINUES, 0, GUARD_SAYS("unmapped") },
	{ "free_fake_superslab", case_free_fake_superslab, CONTINUES, 0, NULL },
	{ "free_libc", case_free_libc, CONTINUES, 0, NULL },
	{ "many_foreign", case_many_foreign, CONTINUES, 0, GUARD_REPORT },
	{ "realloc_foreign", case_realloc_foreign, CONTINUES, 0, NULL },
	{ "free_interior_tiny", case_free_interior_tiny, CONTINUES_OR_ABORTS, 0, NULL },
	{ "free_interior_mid", case_free_interior_mid, CONTINUES_OR_ABORTS, 0, NULL },
	{ "free_interior_large", case_free_interior_large, CONTINUES_OR_ABORTS, 0, NULL },
	{ "free_slab_tail", case_free_slab_tail, CONTINUES_OR_ABORTS, 0, NULL },
#ifdef CONFIG_LARGE_CACHE
	{ "double_free_large", case_double_free_large, ABORTS_DOUBLE_FREE, 0, NULL },
#ifdef CONFIG_THREADS
	{ "double_free_remote_large", case_double_free_remote_large, ABORTS_DOUBLE_FREE, 0, NULL },
#endif
#endif
#ifdef CONFIG_DOUBLE_FREE_CHECK
	{ "double_free_tiny", case_double_free_tiny, ABORTS_DOUBLE_FREE, 0, NULL },
	{ "double_free_tiny_1k", case_double_free_tiny_1k, ABORTS_DOUBLE_FREE, 0, NULL },
	{ "double_free_mid", case_double_free_mid, ABORTS_DOUBLE_FREE, 0, NULL },
	{ "double_free_mid_32k", case_double_free_mid_32k, ABORTS_DOUBLE_FREE, 0, NULL },
	{ "double_free_later", case_double_free_later, ABORTS_DOUBLE_FREE, 0, NULL },
#ifdef CONFIG_THREADS
	{ "double_free_remote_tiny", case_double_free_remote_tiny, ABORTS_DOUBLE_FREE, 0, NULL },
	{ "double_free_remote_mid", case_double_free_remote_mid, ABORTS_DOUBLE_FREE, 0, NULL },
#endif
#endif
	{ "huge_sizes", case_huge_sizes, CONTINUES, 0, NULL },
	{ "beyond_memory", case_beyond_memory, CONTINUES, 0, NULL },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* The child of run_case(): the case, then a malloc that must work. */
static void case_child(void *arg)
{
	const struct bcase *c = arg;

	c->fn();
	survive();
}

/* Run one case in a child; 1 if the outcome is the expected one. */
static int run_case(const struct bcase *c)
{
	int fd, status;
	char err[8192];
	size_t got;
	pid_t pid;
	const char *why = NULL;
	char whybuf[256], wanted[128];

	pid = child_start(&fd, case_child, (void *)c);
	if (pid < 0)
		die("fork: %s", strerror(errno));
	status = child_finish(pid, fd, err, sizeof(err));
	if (status < 0)
		die("waitpid: %s", strerror(errno));
	got = strlen(err);

	switch (c->expect) {
	case CONTINUES:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			why = "expected the process to continue";
		break;
	case CONTINUES_OR_ABORTS:
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
		    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
			why = "expected the process to continue or abort (SIGABRT)";
		break;
	case ABORTS_DOUBLE_FREE:
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
			why = "expected SIGABRT";
		else if (!strstr(err, "double free"))
			why = "expected \"double free\" on stderr";
		break;
	}
	if (!why && c->stderr_has && !strstr(err, c->stderr_has)) {
		snprintf(wanted, sizeof(wanted), "expected \"%s\" on stderr", c->stderr_has);
		why = wanted;
	}
	if (why) {
		if (WIFEXITED(status))
			snprintf(whybuf, sizeof(whybuf), "%s; exit status %d", why, WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(whybuf, sizeof(whybuf), "%s; killed by signal %d (%s)", why,
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			snprintf(whybuf, sizeof(whybuf), "%s", why);
		printf("FAIL %s: %s\n", c->name, whybuf);
		if (got)
			printf("---- stderr of %s:\n%s%s----\n", c->name, err,
			       err[got - 1] == '\n' ? "" : "\n");
		return 0;
	}
	printf("PASS %s%s\n", c->name,
	       WIFSIGNALED(status) ? " (aborted)" : c->expect == CONTINUES_OR_ABORTS ? " (ignored)" : "");
	if (verbose && got)
		printf("---- stderr of %s:\n%s----\n", c->name, err);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned int passed = 0, failed = 0, i;
	int a, first = 1;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		first = 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef HK_USE_LIBC
	{
		Dl_info info;
		const char *want = getenv("HK_EXPECT_MALLOC_FROM");

		if (dladdr((void *)malloc, &info) && info.dli_fname) {
			printf("badinput: malloc is from %s\n", info.dli_fname);
			if (want && !strstr(info.dli_fname, want)) {
				printf("badinput: expected malloc from %s (LD_PRELOAD?)\n", want);
				printf("badinput: 0 passed, 1 failed\n");
				return 1;
			}
		}
	}
#endif
	for (i = 0; i < NCASES; i++) {
		if (argc > first) {
			int want = 0;

			for (a = first; a < argc; a++)
				if (!strcmp(argv[a], cases[i].name))
					want = 1;
			if (!want)
				continue;
		}
		if (run_case(&cases[i]))
			passed++;
		else
			failed++;
	}
	printf("badinput: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
