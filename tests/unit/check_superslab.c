// SPDX-License-Identifier: MIT
/*
 * The SuperSlab backend (mm/superslab): slot claiming and release, slot
 * states UNUSED / ACTIVE / EMPTY, claiming under contention (lock-free or
 * locked, whichever is configured), trim, and the ownership registry.
 */
#include "unit.h"

#ifdef CONFIG_BACKEND_MMAP
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <hakmem.h>
#include "heap/heap.h"
#include "large/large.h"
#include "os/os.h"

static struct ss_pool test_pool = SS_POOL_INIT;
/* Every lock is registered (CONFIG_DEBUG_ASSERT checks it), this one too. */
HK_LOCK_REGISTER(&test_pool.lock, HK_LOCK_SS_POOL);

static void ss_setup(void)
{
	ck_assert_int_eq(heap_init(), 0);
}

START_TEST(test_claim_release_states)
{
	struct slab *s, *t;
	struct superslab *ss;
	unsigned int idx;
	int empty;

	ss_setup();
	s = ss_claim(&test_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss = ss_of(s);
	idx = (unsigned int)(s - ss->slabs);
	ck_assert_ptr_eq(ss->pool, &test_pool);
	ck_assert_uint_gt(idx, 0);			/* slot 0 is the header */
	ck_assert_uint_eq(s->state, SLOT_ACTIVE);
	ck_assert(!(ss->free_mask & (1UL << idx)));
	ck_assert_uint_eq(registry_lookup((uintptr_t)slab_start(s)), REG_SUPERSLAB);

	/* Memory of the slot is usable. */
	memset(slab_start(s), 0xa5, SLOT_SIZE);

	s->kind = SLAB_BLOCKS;
	ss_release(s, 1);
	ck_assert(ss->free_mask & (1UL << idx));
	ck_assert(s->state == SLOT_EMPTY || s->state == SLOT_UNUSED);
	ck_assert_uint_eq(s->kind, SLAB_FREE);

	/*
	 * Within the hysteresis budget (the process holds far fewer than
	 * CONFIG_SUPERSLAB_DIRTY_SLOTS free committed slots here) the slot
	 * stays committed: EMPTY, and claimed again first (no page faults).
	 */
	empty = s->state == SLOT_EMPTY;
	ck_assert_msg(empty || CONFIG_SUPERSLAB_DIRTY_SLOTS == 0,
		      "a released slot was decommitted at once (state %u)", s->state);
	ck_assert(ss->dirty_mask & (1UL << idx) || !empty);
	t = ss_claim(&test_pool, 1);
	if (empty)
		ck_assert_ptr_eq(t, s);
	ck_assert_uint_eq(t->state, SLOT_ACTIVE);
	ck_assert(!(ss->dirty_mask & (1UL << idx)));
	ss_release(t, 1);
}
END_TEST

START_TEST(test_claim_spans)
{
	struct slab *a, *b;

	ss_setup();
	a = ss_claim(&test_pool, 4);
	b = ss_claim(&test_pool, 4);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* Four contiguous slots each, no overlap. */
	ck_assert(ss_of(a) != ss_of(b) || a + 4 <= b || b + 4 <= a);
	memset(slab_start(a), 1, 4 * SLOT_SIZE);
	memset(slab_start(b), 2, 4 * SLOT_SIZE);
	ck_assert_int_eq(((char *)slab_start(a))[4 * SLOT_SIZE - 1], 1);
	ss_release(a, 4);
	ss_release(b, 4);
}
END_TEST

/* A full SuperSlab makes the pool map another. */
START_TEST(test_pool_grows)
{
	struct slab *s[3 * SS_SLOTS];
	unsigned int i, n = 3 * (SS_SLOTS - 1);

	ss_setup();
	for (i = 0; i < n; i++) {
		s[i] = ss_claim(&test_pool, 1);
		ck_assert_ptr_nonnull(s[i]);
	}
	ck_assert_uint_ge(test_pool.nr_superslabs, 3);
	for (i = 0; i < n; i++)
		ss_release(s[i], 1);
}
END_TEST

/*
 * Claims are next fit: one that follows a run of claims starts where the
 * last one succeeded, so that taking back the slabs of many SuperSlabs
 * (a heap of 160 MB freed and allocated again) does not walk the full
 * SuperSlabs at the head of the list again at every claim (quadratic: 40
 * SuperSlabs, 80 claims of half a SuperSlab looked at 1,600 of them).
 */
static struct ss_pool fit_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&fit_pool.lock, HK_LOCK_SS_POOL);

START_TEST(test_claim_next_fit)
{
	enum { K = 40 };
	const unsigned int nr = (SS_SLOTS - 1) / 2;
	static struct slab *s[2 * K];
	unsigned long visits;
	unsigned int i;

	ss_setup();
	/*
	 * Freed slots stay committed for the whole test (no decay purge).
	 * Without CONFIG_OPTIONS there is no option to set (randconfig
	 * KCONFIG_SEED=0x17b305d2, 0x2ec6107a): the configured budget holds.
	 */
	if (IS_ENABLED(CONFIG_OPTIONS))
		ck_assert_int_eq(hak_option_set("dirty_slots", 1UL << 20), 0);
	for (i = 0; i < 2 * K; i++) {
		s[i] = ss_claim(&fit_pool, nr);
		ck_assert_ptr_nonnull(s[i]);
	}
	ck_assert_uint_ge(fit_pool.nr_superslabs, K);
	for (i = 0; i < 2 * K; i++)
		ss_release(s[i], nr);
	visits = a_load(&fit_pool.claim_visits, A_RELAXED);
	for (i = 0; i < 2 * K; i++) {
		s[i] = ss_claim(&fit_pool, nr);
		ck_assert_ptr_nonnull(s[i]);
		memset(slab_start(s[i]), 1, SLOT_SIZE);
	}
	visits = a_load(&fit_pool.claim_visits, A_RELAXED) - visits;
	/* Every run comes back from the SuperSlabs already mapped. */
	ck_assert_uint_le(fit_pool.nr_superslabs, K + 1);
	/* About one SuperSlab looked at per claim, not the K before it. */
	ck_assert_msg(visits <= 4 * 2 * K, "%lu SuperSlabs looked at in %u claims",
		      visits, 2 * K);
	for (i = 0; i < 2 * K; i++)
		ss_release(s[i], nr);
	if (IS_ENABLED(CONFIG_OPTIONS))
		ck_assert_int_eq(hak_option_set("dirty_slots", CONFIG_SUPERSLAB_DIRTY_SLOTS), 0);
}
END_TEST

/*
 * A release of committed slots in a SuperSlab nearer the list's head than
 * the hint moves the hint back to it: the next claim takes those slots
 * (written last round) rather than the ones after the last successful
 * claim. Without the rewind, claims went on round the whole footprint
 * and a batch of slabs freed and claimed again came back in the order of
 * the slots idle longest (bench_batch 16384: most blocks reused after
 * more than 24 MiB of other writes, out of the caches).
 */
static struct ss_pool rewind_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&rewind_pool.lock, HK_LOCK_SS_POOL);

START_TEST(test_claim_rewinds_to_released)
{
	/*
	 * Without CONFIG_OPTIONS and with CONFIG_SUPERSLAB_DIRTY_SLOTS=0 the
	 * dirty budget is 0 (randconfig KCONFIG_SEED=0x9617c60a): a release
	 * decommits, and slots no longer committed do not move the hint.
	 */
	const int keeps = IS_ENABLED(CONFIG_OPTIONS) || CONFIG_SUPERSLAB_DIRTY_SLOTS > 0;
	const unsigned int nr = SS_SLOTS - 1;
	struct slab *a, *b, *c, *x;

	ss_setup();
	/* Freed slots stay committed (see test_claim_next_fit). */
	if (IS_ENABLED(CONFIG_OPTIONS))
		ck_assert_int_eq(hak_option_set("dirty_slots", 1UL << 20), 0);
	/* One whole SuperSlab each: the third is the list's head and the hint. */
	a = ss_claim(&rewind_pool, nr);
	b = ss_claim(&rewind_pool, nr);
	c = ss_claim(&rewind_pool, nr);
	ck_assert(a && b && c);
	ck_assert_uint_eq(rewind_pool.nr_superslabs, 3);
	ck_assert_ptr_eq(a_load(&rewind_pool.hint, A_RELAXED), ss_of(c));
	/* a's slots again: the walk from the hint ends there, the hint with it. */
	ss_release(a, nr);
	x = ss_claim(&rewind_pool, nr);
	ck_assert_ptr_eq(x, a);
	ck_assert_ptr_eq(a_load(&rewind_pool.hint, A_RELAXED), ss_of(a));
	/*
	 * c's slots back, then a's: the next claim takes c's, nearer the
	 * head. Decommitted, neither moved the hint: the claim goes on from
	 * a's SuperSlab, where the last one succeeded.
	 */
	ss_release(c, nr);
	ss_release(a, nr);
	ck_assert_uint_eq(c->state, keeps ? SLOT_EMPTY : SLOT_UNUSED);
	ck_assert_uint_eq(a->state, keeps ? SLOT_EMPTY : SLOT_UNUSED);
	x = ss_claim(&rewind_pool, nr);
	ck_assert_ptr_eq(x, keeps ? c : a);
	ss_release(x, nr);
	ss_release(b, nr);
	if (IS_ENABLED(CONFIG_OPTIONS))
		ck_assert_int_eq(hak_option_set("dirty_slots", CONFIG_SUPERSLAB_DIRTY_SLOTS), 0);
}
END_TEST

/*
 * Header colours: the slot metadata of two SuperSlabs next to each other
 * (numbers of different parity) does not sit at the same offset of each,
 * so that it does not fall in the same cache sets; slab_of() of any byte
 * of a slot still finds the slot's record, inside slot 0.
 */
static struct ss_pool colour_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&colour_pool.lock, HK_LOCK_SS_POOL);

START_TEST(test_header_colours)
{
	enum { MAX = 16 * SS_SLOTS };
	static struct slab *s[MAX];
	unsigned int i, j, n, pairs = 0;

	ss_setup();
	for (n = 0; n < MAX; n++) {
		uintptr_t start, off;

		s[n] = ss_claim(&colour_pool, 1);
		ck_assert_ptr_nonnull(s[n]);
		start = (uintptr_t)slab_start(s[n]);
		off = (uintptr_t)s[n] & SS_MASK;
		ck_assert_ptr_eq(slab_of((void *)start), s[n]);
		ck_assert_ptr_eq(slab_of((void *)(start + SLOT_SIZE - 1)), s[n]);
		ck_assert_ptr_eq(ss_of((void *)start), ss_of(s[n]));
		ck_assert_ptr_eq(ss_of(s[n])->pool, &colour_pool);
		ck_assert_uint_le(off + sizeof(struct slab), SLOT_SIZE);
		for (i = 0; i < n; i++) {
			uintptr_t a = (uintptr_t)s[i], b = (uintptr_t)s[n];

			if (!(((a >> SS_SHIFT) ^ (b >> SS_SHIFT)) & 1) ||
			    (start >> SLOT_SHIFT & (SS_SLOTS - 1)) !=
			    ((uintptr_t)slab_start(s[i]) >> SLOT_SHIFT & (SS_SLOTS - 1)))
				continue;
			pairs++;
			ck_assert_msg((a & SS_MASK) != (b & SS_MASK),
				      "slot %lu has its metadata at offset %#lx in two neighbouring SuperSlabs",
				      (unsigned long)(start >> SLOT_SHIFT & (SS_SLOTS - 1)),
				      (unsigned long)(b & SS_MASK));
		}
		if (pairs >= SS_SLOTS - 1) {
			n++;
			break;
		}
	}
	/*
	 * Whether or not the pool got two neighbours: slab_of() is
	 * arithmetic, so check it on the SuperSlab next to the first one.
	 */
	for (i = 1; i < SS_SLOTS; i++) {
		uintptr_t p = ((uintptr_t)slab_start(s[0]) & ~SS_MASK) + ((uintptr_t)i << SLOT_SHIFT);
		uintptr_t a = (uintptr_t)slab_of((void *)p), b = (uintptr_t)slab_of((void *)(p + SS_SIZE));

		ck_assert_msg((a & SS_MASK) != (b & SS_MASK),
			      "slot %u has its metadata at offset %#lx in two neighbouring SuperSlabs",
			      i, (unsigned long)(a & SS_MASK));
		ck_assert_uint_le((b & SS_MASK) + sizeof(struct slab), SLOT_SIZE);
		ck_assert_uint_eq(b & ~SS_MASK, (p + SS_SIZE) & ~SS_MASK);
	}
	for (j = 0; j < n; j++)
		ss_release(s[j], 1);
}
END_TEST

START_TEST(test_trim_returns_empty_slots)
{
	struct slab *s[8];
	unsigned int i;

	ss_setup();
	for (i = 0; i < 8; i++) {
		s[i] = ss_claim(&test_pool, 1);
		memset(slab_start(s[i]), 0x5a, SLOT_SIZE);
	}
	for (i = 0; i < 8; i++)
		ss_release(s[i], 1);
	ss_trim(&test_pool);
	for (i = 0; i < 8; i++) {
		ck_assert_uint_eq(s[i]->state, SLOT_UNUSED);
		/* Returned memory reads as zero again. */
		ck_assert_int_eq(((char *)slab_start(s[i]))[100], 0);
	}
}
END_TEST

/* ------------------------------------------------------------------ */

#ifdef CONFIG_THREADS
#define CLAIM_THREADS	4
#define CLAIM_ROUNDS	2000

static struct ss_pool race_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&race_pool.lock, HK_LOCK_SS_POOL);

/* Each thread claims, stamps, checks and releases slots: no slot twice. */
static void *claim_worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	long i, rounds = hk_test_scale(CLAIM_ROUNDS);

	for (i = 0; i < rounds; i++) {
		unsigned int nr = 1 + (unsigned int)((i + id) % 3);
		struct slab *s = ss_claim(&race_pool, nr);
		volatile uintptr_t *w;
		unsigned int k;

		if (!s)
			return (void *)1;
		w = (volatile uintptr_t *)slab_start(s);
		for (k = 0; k < nr; k++)
			w[k * SLOT_SIZE / sizeof(*w)] = id;
		for (k = 0; k < 50; k++)
			cpu_relax();
		for (k = 0; k < nr; k++)
			if (w[k * SLOT_SIZE / sizeof(*w)] != id)
				return (void *)2;
		ss_release(s, nr);
	}
	return NULL;
}

START_TEST(test_claim_contention)
{
	pthread_t t[CLAIM_THREADS];
	uintptr_t i;
	void *ret;

	ss_setup();
	for (i = 0; i < CLAIM_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, claim_worker, (void *)(i + 1)), 0);
	for (i = 0; i < CLAIM_THREADS; i++) {
		pthread_join(t[i], &ret);
		ck_assert_ptr_null(ret);
	}
}
END_TEST
#endif

/* ------------------------------------------------------------------ */

static int static_object;

/*
 * ptr is not ours by the registry: its chunk is REG_FOREIGN, or the chunk
 * of an exactly mapped coloured block (REG_LARGE_OFF(j), j > 0), whose
 * pages are only part of the chunk, and ptr is not that block (its header
 * of 48 bytes right before it). The kernel places other mappings in the
 * rest of such a chunk: with only Large the runner's blocks are coloured
 * ones, and one shared its chunk with the start of libc.so, strlen() in
 * the same chunk above it (randconfig KCONFIG_SEED=0xc4536f1a, 1 run in
 * 3). Free and malloc_usable_size() find no header of ours for ptr and
 * leave it to the guard.
 */
static int foreign_in_registry(const void *ptr)
{
	unsigned int reg = registry_lookup((uintptr_t)ptr);
	uintptr_t off = (uintptr_t)ptr & SS_MASK;

	if (reg == REG_FOREIGN)
		return 1;
	return reg > REG_LARGE_OFF(0) && reg < REG_LARGE_BACK(0) &&
	       off != (reg - REG_LARGE_OFF(0)) * REG_LARGE_STEP + 48;
}

START_TEST(test_registry_ours_and_foreign)
{
	int local;
	/* The largest slab class: Mid's top (MID_MAX_SIZE), or Tiny's or Small-Mid's. */
	void *small = hak_malloc(64), *mid = hak_malloc(HEAP_MAX_SIZE);
	void *large = hak_malloc(HEAP_MAX_SIZE + (1 << 20));
	void *libc;

	/*
	 * Without slab boxes (only Large) every block is a Large one: in a
	 * whole chunk (REG_LARGE) or mapped exactly, its header's colour in
	 * the registry (a value above; randconfig KCONFIG_SEED=0x4e6b95d7).
	 */
	if (HK_NR_CLASSES) {
		ck_assert_uint_eq(registry_lookup((uintptr_t)small), REG_SUPERSLAB);
		ck_assert_uint_eq(registry_lookup((uintptr_t)mid), REG_SUPERSLAB);
	} else {
		ck_assert_uint_ge(registry_lookup((uintptr_t)small), REG_LARGE);
		ck_assert_uint_ge(registry_lookup((uintptr_t)mid), REG_LARGE);
	}
	ck_assert_uint_ge(registry_lookup((uintptr_t)large), REG_LARGE);
	ck_assert(foreign_in_registry(&local));
	ck_assert(foreign_in_registry(&static_object));
	ck_assert_uint_eq(hak_malloc_usable_size(&local), 0);
	ck_assert_uint_eq(hak_malloc_usable_size(&static_object), 0);
	ck_assert_uint_eq(registry_lookup(0), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup(~(uintptr_t)0), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup((uintptr_t)1 << 60), REG_FOREIGN);
	libc = (void *)&strlen;
	ck_assert(foreign_in_registry(libc));
	ck_assert_uint_eq(hak_malloc_usable_size(libc), 0);
	hak_free(small);
	hak_free(mid);
	hak_free(large);
	/*
	 * A freed large block may stay registered while the cache holds it
	 * (a second free is then found and aborts); once trim empties the
	 * cache its mapping leaves the registry.
	 */
	hak_malloc_trim(0);
	ck_assert_uint_eq(registry_lookup((uintptr_t)large), REG_FOREIGN);
	/* The SuperSlab stays registered: SuperSlabs are never unmapped. */
	if (HK_NR_CLASSES)
		ck_assert_uint_eq(registry_lookup((uintptr_t)small), REG_SUPERSLAB);
}
END_TEST

/*
 * The registry costs a few KiB of directory, not a byte per chunk of the
 * address space; a range where nothing was mapped reads the zero table,
 * and a prepared one stores what is set.
 */
START_TEST(test_registry_two_level)
{
	/* Far from any mapping of a 2 MiB-aligned user process: 2^(VA-2). */
	uintptr_t far = (uintptr_t)1 << (ARCH_VA_BITS - 2);
	uintptr_t i = far >> SS_SHIFT >> REG_L2_BITS;

	ck_assert_uint_le(sizeof(hk_registry_dir), 64 * 1024);
	ck_assert_uint_eq(registry_lookup(far), REG_FOREIGN);
	if (a_load(&hk_registry_dir[i], A_RELAXED) != registry_unmapped(i))
		return;		/* something of ours lives there after all */
	ck_assert_int_eq(registry_prepare(far, SS_SIZE), 0);
	ck_assert_uint_ne(hk_registry_dir[i], registry_unmapped(i));
	ck_assert_uint_eq(registry_lookup(far), REG_FOREIGN);
	registry_set(far, REG_SUPERSLAB);
	ck_assert_uint_eq(registry_lookup(far), REG_SUPERSLAB);
	ck_assert_uint_eq(registry_lookup(far + SS_SIZE - 1), REG_SUPERSLAB);
	ck_assert_uint_eq(registry_lookup(far + SS_SIZE), REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup(far - 1), REG_FOREIGN);
	registry_set(far, REG_FOREIGN);
	ck_assert_uint_eq(registry_lookup(far), REG_FOREIGN);
	/* The zero table stayed zero. */
	ck_assert_uint_eq(registry_lookup(far + REG_L2_SPAN), REG_FOREIGN);
}
END_TEST

/*
 * The smaps entry of the mapping that holds addr: its permissions (4
 * characters), its resident kilobytes and its inode (0: anonymous); 0,
 * or -1 if not found.
 */
static int smaps_of(const void *addr, char perms[5], long *rss_kb,
		    unsigned long *inode)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &lo, &hi, p, &ino) == 4) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			if (in) {
				memcpy(perms, p, 5);
				*inode = ino;
			}
		} else if (in && sscanf(line, "Rss: %ld kB", rss_kb) == 1) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * Resident KiB of an untouched anonymous mapping the size of the zero
 * table after one read per page: 0 where the kernel maps its shared zero
 * page for a read fault, all of it where it does not (a guest kernel
 * booted with pvm_no_zero_page=1 gives every read fault a page of its
 * own).
 */
static long anon_read_rss(void)
{
	size_t len = sizeof(hk_registry_zero);
	volatile unsigned char *m;
	char perms[5] = "";
	unsigned long inode;
	long rss = -1;
	size_t off;

	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne((void *)m, MAP_FAILED);
	for (off = 0; off < len; off += 4096)
		(void)m[off];
	ck_assert_int_eq(smaps_of((const void *)m, perms, &rss, &inode), 0);
	munmap((void *)m, len);
	return rss;
}

/*
 * The zero table is read by every lookup in a range where nothing of
 * ours was mapped, yet costs no more resident memory than untouched
 * anonymous memory read as much (its pages are the kernel's zero page,
 * not page cache of the library mapped with its neighbours: with
 * fault-around, 64 KiB per process) and is read-only (a stray store
 * faults).
 */
START_TEST(test_registry_zero_table_not_resident)
{
	uintptr_t far = (uintptr_t)1 << (ARCH_VA_BITS - 2);
	uintptr_t i = far >> SS_SHIFT >> REG_L2_BITS;
	uintptr_t step = (uintptr_t)4096 << SS_SHIFT;	/* a page of the table */
	char perms[5] = "";
	unsigned long inode = 1;
	long rss = -1, anon;
	unsigned int k;

	if (a_load(&hk_registry_dir[i], A_RELAXED) != registry_unmapped(i))
		return;		/* something of ours lives there after all */
	if (sysconf(_SC_PAGESIZE) > 4096)
		return;		/* aligned to 4 KiB: mprotect() refuses it */
	for (k = 0; k < REG_L2_ENTRIES / 4096; k++)
		ck_assert_uint_eq(registry_lookup(far + k * step), REG_FOREIGN);
	ck_assert_int_eq(smaps_of(hk_registry_zero, perms, &rss, &inode), 0);
	ck_assert_str_eq(perms, "r--p");
	ck_assert_msg(inode == 0, "zero table mapped from a file (inode %lu), not anonymous", inode);
	anon = anon_read_rss();
	ck_assert_msg(rss <= anon, "zero table: %ld KiB resident after a read per page, anonymous memory %ld KiB",
		rss, anon);
}
END_TEST

/* A page of addr is mapped (mincore fails with ENOMEM on unmapped ones). */
static int mapped(const void *addr)
{
	unsigned char v;
	uintptr_t pg = (uintptr_t)addr & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);

	return mincore((void *)pg, 1, &v) == 0;
}

/*
 * Under address-space pressure the free slots of SuperSlabs are unmapped
 * (SLOT_UNMAPPED) and mapped again when they are claimed.
 */
START_TEST(test_unmap_free_slots)
{
	struct slab *s, *t[SS_SLOTS];
	struct superslab *ss;
	unsigned int idx, i, n = 0;

	ss_setup();
	s = ss_claim(&test_pool, 2);
	ck_assert_ptr_nonnull(s);
	ss = ss_of(s);
	idx = (unsigned int)(s - ss->slabs);
	memset(slab_start(s), 0x11, 2 * SLOT_SIZE);
	ss_release(s, 2);
	ck_assert_uint_ge(ss_unmap_pool(&test_pool), 2);
	ck_assert_uint_eq(s[0].state, SLOT_UNMAPPED);
	ck_assert_uint_eq(s[1].state, SLOT_UNMAPPED);
	ck_assert(ss->unmapped_mask & (1UL << idx));
	ck_assert(ss->free_mask & (1UL << idx));
	ck_assert(!(ss->dirty_mask & (3UL << idx)));
	ck_assert(!mapped(slab_start(s)));
	ck_assert(mapped(ss));				/* the header stays */
	ck_assert_uint_eq(registry_lookup((uintptr_t)slab_start(s)), REG_SUPERSLAB);
	/* Nothing left to unmap: a second pass does nothing. */
	ck_assert_uint_eq(ss_unmap_pool(&test_pool), 0);

	/* Claim every slot of the pool: the unmapped ones come back, zeroed. */
	while (n < SS_SLOTS && (t[n] = ss_claim(&test_pool, 1)) != NULL) {
		if (ss_of(t[n]) != ss) {
			ss_release(t[n], 1);
			break;
		}
		n++;
	}
	ck_assert_uint_eq(ss->free_mask, 0);
	ck_assert_uint_eq(ss->unmapped_mask, 0);
	ck_assert(mapped(slab_start(s)));
	ck_assert_uint_eq(*(unsigned char *)slab_start(s), 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(t[i]->state, SLOT_ACTIVE);
		memset(slab_start(t[i]), 0x22, SLOT_SIZE);
	}
	for (i = 0; i < n; i++)
		ss_release(t[i], 1);
}
END_TEST

/*
 * Under an address-space limit the header slot gives way too: only the
 * pages of the header stay mapped, the rest of slot 0 (never read or
 * written) is unmapped once, and the SuperSlab keeps working.
 */
static struct ss_pool hdr_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&hdr_pool.lock, HK_LOCK_SS_POOL);

START_TEST(test_unmap_header_slot)
{
	uintptr_t base, lo, hi;
	struct superslab *ss;
	struct slab *s;

	ss_setup();
	s = ss_claim(&hdr_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss = ss_of(s);
	base = ss_base(ss);
	lo = ALIGN_DOWN((uintptr_t)ss, os_page_size);
	hi = ALIGN_UP((uintptr_t)(ss + 1), os_page_size);
	ck_assert(mapped((void *)base));
	ss_unmap_pool(&hdr_pool);
	ck_assert(mapped(ss) && mapped((char *)(ss + 1) - 1));	/* the header stays */
	ck_assert_uint_eq(hdr_pool.hdr_unmapped, SLOT_SIZE - (hi - lo));
	if (lo > base)
		ck_assert(!mapped((void *)base));
	if (hi < base + SLOT_SIZE)
		ck_assert(!mapped((void *)hi));
	/* Once: nothing more the next time. */
	ss_unmap_pool(&hdr_pool);
	ck_assert_uint_eq(hdr_pool.hdr_unmapped, SLOT_SIZE - (hi - lo));
	/* The slab in use and new claims work as before. */
	memset(slab_start(s), 0x33, SLOT_SIZE);
	ss_release(s, 1);
	s = ss_claim(&hdr_pool, 2);
	ck_assert_ptr_nonnull(s);
	memset(slab_start(s), 0x44, 2 * SLOT_SIZE);
	ss_release(s, 2);
}
END_TEST

static unsigned long vm_size_bytes(void)
{
	unsigned long size = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu", &size) != 1)
			size = 0;
		fclose(f);
	}
	return size * (unsigned long)sysconf(_SC_PAGESIZE);
}

/*
 * Under an address-space limit a large block is mapped exactly, its header
 * at the start of its chunk (REG_LARGE_OFF(0)), not in a whole coloured
 * chunk; it still works as a block (usable size, free, reuse).
 */
START_TEST(test_large_exact_under_rlimit)
{
	/* A Large block (100000 B when Large started above 32 KiB). */
	enum { BIG = UNIT_LARGE(100000) };
	struct rlimit rl = { 0, 0 };
	unsigned long vm = vm_size_bytes();
	char *p, *q;
	int i;

	ck_assert_uint_gt(vm, 0);
	rl.rlim_cur = rl.rlim_max = vm + 64 * 1024 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	/* qemu-user takes RLIMIT_AS for itself and ignores it: nothing to test. */
	p = mmap(NULL, 128 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		munmap(p, 128 << 20);
		return;
	}
	/*
	 * Nothing mapped before the limit may serve it: without Mid, Check's
	 * own allocations are Large blocks and leave chunks in the cache and
	 * the reserve (reclaim empties both).
	 */
	for (i = 0; i < 4; i++) {
		/*
		 * Again in each round: the blocks freed in the last one may be
		 * cached (the cache reads the limit once per decay epoch) or
		 * their chunk reserved, and reusing them costs no address
		 * space (randconfig KCONFIG_SEED=0x13bb3144: 4 MiB chunks,
		 * the second round's block came from a whole chunk).
		 */
		hak_malloc_trim(0);
		large_reclaim();
		p = hak_malloc(BIG);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(registry_lookup((uintptr_t)p), REG_LARGE_OFF(0));
		ck_assert_uint_eq((uintptr_t)p & SS_MASK, 48);
		ck_assert_uint_ge(hak_malloc_usable_size(p), BIG);
		memset(p, 0x5a, BIG);
		q = hak_malloc(SS_SIZE * 3 / 2);	/* more than a chunk */
		ck_assert_ptr_nonnull(q);
		ck_assert_uint_eq((uintptr_t)q & SS_MASK, 48);
		memset(q, 0x6b, SS_SIZE * 3 / 2);
		ck_assert_uint_eq((unsigned char)p[BIG - 1], 0x5a);
		hak_free(q);
		hak_free(p);
	}
	/*
	 * The limit is the limit: ENOMEM, and the process goes on. errno is
	 * read before the next ck_assert: Check's own bookkeeping mallocs,
	 * and a malloc that succeeds may leave a failed system call's errno.
	 */
	errno = 0;
	p = hak_malloc(128 << 20);
	i = errno;
	ck_assert_ptr_null(p);
	ck_assert_int_eq(i, ENOMEM);
	p = hak_malloc(BIG);
	ck_assert_ptr_nonnull(p);
	hak_free(p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The region (free's range test, Documentation/superslab.md)          */
/* ------------------------------------------------------------------ */

static struct ss_pool region_pool = SS_POOL_INIT;
HK_LOCK_REGISTER(&region_pool.lock, HK_LOCK_SS_POOL);

/*
 * Every chunk of [base, base + span) is a live SuperSlab: registered,
 * its header mapped and set up (free reads it for any pointer there).
 */
static void region_check_chunks(void)
{
	uintptr_t base = hk_ss_region.base, end = base + hk_ss_region.span, c;

	for (c = base; c < end; c += SS_SIZE) {
		ck_assert_msg(registry_lookup(c) == REG_SUPERSLAB,
			      "region chunk %#lx: registry %u", (unsigned long)c, registry_lookup(c));
		ck_assert(mapped(ss_of((void *)c)));
		ck_assert_ptr_nonnull(ss_of((void *)c)->pool);
		ck_assert_uint_eq(ss_of((void *)c)->slabs[0].state, SLOT_ACTIVE);
	}
}

/*
 * New SuperSlabs are mapped one after another upwards from the region's
 * base, and span covers each once its header is set up: free's range
 * test finds them without the registry.
 */
START_TEST(test_region_grows_upward)
{
	struct slab *s[4 * SS_SLOTS];
	unsigned int n = 0, i;
	char *p;

	ss_setup();
	p = hak_malloc(64);
	if (HK_NR_CLASSES)
		ck_assert(ss_in_region((uintptr_t)p));
	hak_free(p);
	while (region_pool.nr_superslabs < 3) {
		unsigned long had = region_pool.nr_superslabs;
		/* Without slab boxes (only Large) this may be the region's first. */
		int first = hk_ss_region.base == SS_REGION_NONE;
		uintptr_t end = hk_ss_region.base + hk_ss_region.span;

		ck_assert_uint_lt(n, 4 * SS_SLOTS);
		s[n] = ss_claim(&region_pool, 1);
		ck_assert_ptr_nonnull(s[n]);
		ck_assert_uint_ne(hk_ss_region.base, SS_REGION_NONE);
		ck_assert(ss_in_region((uintptr_t)s[n]));
		ck_assert(ss_in_region((uintptr_t)slab_start(s[n])));
		if (region_pool.nr_superslabs > had && first) {
			/* The region's first chunk. */
			ck_assert_uint_eq(ss_base(s[n]), hk_ss_region.base);
			ck_assert_uint_eq(hk_ss_region.span, SS_SIZE);
		} else if (region_pool.nr_superslabs > had) {
			/* The new one is the chunk right above the region. */
			ck_assert_uint_eq(ss_base(s[n]), end);
			ck_assert_uint_eq(hk_ss_region.base + hk_ss_region.span, end + SS_SIZE);
		}
		n++;
	}
	ck_assert_int_eq(ss_region_closed, 0);
	/* Aligned to every header colour: free takes the slot from p - base. */
	ck_assert_uint_eq(hk_ss_region.base % SS_REGION_ALIGN, 0);
	region_check_chunks();
	for (i = 0; i < n; i++)
		ss_release(s[i], 1);
}
END_TEST

/*
 * The region's bounds: base is in, base - 1 and base + span (the chunk
 * above, not a SuperSlab yet) are out, and free, realloc's first test
 * and malloc_usable_size refuse pointers there (the guard) as they
 * refuse a pointer into the header slot of a region SuperSlab.
 */
START_TEST(test_region_bounds)
{
	uintptr_t base, span;
	char *p, *q;

	ss_setup();
	if (!HK_NR_CLASSES)
		return;
	p = hak_malloc(64);
	ck_assert_ptr_nonnull(p);
	base = hk_ss_region.base;
	span = hk_ss_region.span;
	ck_assert_uint_ge(span, SS_SIZE);
	ck_assert(ss_in_region(base));
	ck_assert(ss_in_region(base + span - 1));
	ck_assert(!ss_in_region(base - 1));
	ck_assert(!ss_in_region(base + span));
	ck_assert(!ss_in_region(0));
	ck_assert(!ss_in_region(~(uintptr_t)0));
	ck_assert_uint_eq(registry_lookup(base + span), REG_FOREIGN);
	ck_assert_uint_eq(hak_malloc_usable_size((void *)(base + span)), 0);
	ck_assert_uint_eq(hak_malloc_usable_size((void *)(base - 64)), 0);
	ck_assert_uint_eq(hak_malloc_usable_size((void *)(base + 64)), 0);
	hak_free(launder((void *)(base + span)));	/* refused: leaked */
	hak_free(launder((void *)(base + span + 64)));
	hak_free(launder((void *)(base - 64)));
	hak_free(launder((void *)(base + 64)));		/* slot 0: the header's */
	/* Nothing of it reached a bin: the next blocks are ordinary ones. */
	q = hak_malloc(64);
	ck_assert(ss_in_region((uintptr_t)q));
	ck_assert(q != (char *)(base + span) && q != (char *)(base - 64) && q != (char *)(base + 64));
	memset(q, 1, 64);
	hak_free(q);
	hak_free(p);
	ck_assert_uint_eq(hk_ss_region.span, span);
}
END_TEST

/*
 * A stale pointer into a slot of the region that was given back (its
 * slab released, then the slot unmapped): free reads the slot's header
 * record, which says free slot, and refuses it; the memory is not
 * touched and the allocator goes on.
 */
START_TEST(test_region_released_slot)
{
	unsigned int cls = HK_NR_CLASSES - 1;
	uint32_t size;
	char *p, *q;

	ss_setup();
	if (!HK_NR_CLASSES)
		return;
	size = hk_classes[cls].size;
	p = hak_malloc(size);
	ck_assert_ptr_nonnull(p);
	ck_assert(ss_in_region((uintptr_t)p));
	hak_free(p);
	hak_malloc_trim(0);
	if (slab_block_head(p)->kind != SLAB_FREE)
		return;		/* kept (a dirty floor): nothing to try */
	ss_unmap_free();
	ck_assert(ss_in_region((uintptr_t)p));
	if (slab_of(p)->state == SLOT_UNMAPPED)
		ck_assert(!mapped(p));
	hak_free(launder(p));		/* refused: leaked by the guard */
	ck_assert_uint_eq(hak_malloc_usable_size(p), 0);
	ck_assert_uint_eq(slab_of(p)->kind, SLAB_FREE);
	q = hak_malloc(size);
	ck_assert_ptr_nonnull(q);
	memset(q, 2, size);
	hak_free(q);
}
END_TEST

/*
 * The chunk above the region is someone else's (ss_region_closed): new
 * SuperSlabs are mapped elsewhere, free finds them in the registry on
 * its slow path (core_free_slow()), and their blocks are freed, reused
 * and sized as those of the region.
 */
START_TEST(test_region_closed_fallback)
{
	unsigned int cls = HK_NR_CLASSES - 1;
	uintptr_t span;
	size_t n, i, max;
	uint32_t size;
	char *out = NULL, *q, *last = NULL, *prev;

	ss_setup();
	if (!HK_NR_CLASSES)
		return;
	size = hk_classes[cls].size;
	q = hak_malloc(size);		/* the region exists */
	hak_free(q);
	ss_region_closed = 1;
	span = hk_ss_region.span;
	/*
	 * The region's free room is less than its span (the runner's heap,
	 * forked, may hold partly used SuperSlabs of it): that and two
	 * SuperSlabs more must bring one from outside. The blocks are
	 * chained through their first word.
	 */
	max = (span + 2 * SS_SIZE) / size + 1;
	for (n = 0; n < max && !out; n++) {
		q = hak_malloc(size);
		ck_assert_ptr_nonnull(q);
		memset(q, 3, size);
		memcpy(q, &last, sizeof(last));
		last = q;
		if (!ss_in_region((uintptr_t)q))
			out = q;
	}
	ck_assert_msg(out != NULL, "%zu blocks of %u B, none outside the region", n, size);
	ck_assert_uint_eq(hk_ss_region.span, span);
	ck_assert_uint_eq(registry_lookup((uintptr_t)out), REG_SUPERSLAB);
	ck_assert_uint_ge(hak_malloc_usable_size(out), size);
	/* out is last: take it off the chain before it is freed and reused. */
	memcpy(&last, out, sizeof(last));
	hak_free(out);
	/* Freed into this thread's bin: a malloc of the class hands it out again. */
	for (i = 0; i < 4 * (size_t)hk_classes[cls].limit + 64; i++) {
		q = hak_malloc(size);
		ck_assert_ptr_nonnull(q);
		if (q == out)
			break;
		memcpy(q, &last, sizeof(last));
		last = q;
		n++;
	}
	ck_assert_ptr_eq(q, out);
	q = hak_realloc(q, size / 2);
	ck_assert_ptr_eq(q, out);	/* at most half empty: stays */
	hak_free(q);
	for (i = 1; i < n && last; i++) {
		memcpy(&prev, last, sizeof(prev));
		hak_free(last);
		last = prev;
	}
	ck_assert_uint_eq(hk_ss_region.span, span);
}
END_TEST

#ifndef HK_TEST_EMULATED
/*
 * Under an address-space limit the region still grows: nothing is
 * reserved ahead, each chunk is mapped when a SuperSlab is needed, and
 * the virtual size grows by the SuperSlabs alone.
 */
START_TEST(test_region_under_rlimit)
{
	enum { N = 8192, SIZE = 2048 };
	static char *v[N];
	struct rlimit rl = { 0, 0 };
	unsigned long vm, grew;
	uintptr_t span;
	unsigned int i;
	char *p;

	ss_setup();
	if (!HK_NR_CLASSES || SIZE > HEAP_MAX_SIZE)
		return;
	p = hak_malloc(SIZE);
	hak_free(p);
	span = hk_ss_region.span;
	vm = vm_size_bytes();
	ck_assert_uint_gt(vm, 0);
	rl.rlim_cur = rl.rlim_max = vm + 64 * 1024 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	for (i = 0; i < N; i++) {
		v[i] = hak_malloc(SIZE);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert(ss_in_region((uintptr_t)v[i]));
		memset(v[i], 4, SIZE);
	}
	/* 16 MiB of blocks: the region grew (by 2-8 chunks, as SS_SIZE). */
	ck_assert_uint_gt(hk_ss_region.span, span);
	grew = vm_size_bytes() - vm;
	/* Slack for the heap's own tables and Check's allocations. */
	ck_assert_msg(grew <= hk_ss_region.span - span + 4 * SS_SIZE + (8UL << 20),
		      "VmSize grew by %lu KiB for %lu KiB of new SuperSlabs",
		      grew >> 10, (unsigned long)(hk_ss_region.span - span) >> 10);
	region_check_chunks();
	for (i = 0; i < N; i++)
		hak_free(v[i]);
}
END_TEST
#endif

#if defined(CONFIG_SUPERSLAB_THP) && defined(CONFIG_OPTIONS) && !defined(HK_TEST_EMULATED)
/*
 * Claim single slots of test_pool (kept) until it maps a new SuperSlab;
 * *last is that slot, *active the slots in use before its claim. With
 * touch, every slot claimed is written through, as a dense heap is.
 */
static struct superslab *thp_new_superslab(struct slab **last, unsigned long *active, int touch)
{
	unsigned long n = test_pool.nr_superslabs, dirty;
	struct slab *s;

	do {
		ss_slot_counts(active, &dirty);
		s = ss_claim(&test_pool, 1);
		ck_assert_ptr_nonnull(s);
		if (touch)
			memset(slab_start(s), 0x5a, SLOT_SIZE);
	} while (test_pool.nr_superslabs == n);
	*last = s;
	return ss_of(s);
}

/* Fill the rest of the SuperSlab of s (written through or not). */
static void thp_fill(struct slab *s, int touch)
{
	struct superslab *ss = ss_of(s);
	unsigned long n = test_pool.nr_superslabs;

	while (a_load(&ss->free_mask, A_RELAXED)) {
		s = ss_claim(&test_pool, 1);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(test_pool.nr_superslabs, n);
		if (touch)
			memset(slab_start(s), 0x5a, SLOT_SIZE);
	}
}

/*
 * thp_min_mb: SuperSlabs mapped while the slots in use are below it keep
 * 4 KiB pages; the ones mapped from then on are madvised MADV_HUGEPAGE
 * while the newest SuperSlabs with 4 KiB pages are dense (written
 * through), not when they are sparse. The first return of memory from a
 * marked one madvises it MADV_NOHUGEPAGE.
 */
START_TEST(test_thp_threshold)
{
	unsigned long active, min_mb;
	struct superslab *ss;
	struct slab *s;
	int i;

	ss_setup();
	if (SS_SIZE < os_thp_size())
		return;		/* a SuperSlab smaller than a huge page: never */
	ck_assert_int_eq(hak_option_set("thp", 1), 0);
	ck_assert_int_eq(hak_option_set("thp_min_mb", 1UL << 20), 0);
	ss = thp_new_superslab(&s, &active, 1);
	ck_assert_uint_eq(ss->thp, SS_THP_NONE);
	ck_assert(!hk_test_vma_flag(s, "hg"));
	thp_fill(s, 1);

	/*
	 * A threshold one SuperSlab and 1 MiB above the slots in use
	 * before the first one: the first one filled stays below it, the
	 * second one crosses it (3 MiB with 2 MiB SuperSlabs; with 4 MiB
	 * ones 3 MiB was crossed by the first: randconfig
	 * KCONFIG_SEED=0x0599940e).
	 */
	min_mb = ((active << SLOT_SHIFT) >> 20) + (SS_SIZE >> 20) + 1;
	ck_assert_int_eq(hak_option_set("thp_min_mb", min_mb), 0);
	for (i = 0; i < 8; i++) {
		ss = thp_new_superslab(&s, &active, 1);
		if (active << SLOT_SHIFT < min_mb << 20) {
			ck_assert_uint_eq(ss->thp, SS_THP_NONE);
			ck_assert(!hk_test_vma_flag(s, "hg"));
			thp_fill(s, 1);
			continue;
		}
		ck_assert_uint_eq(ss->thp, SS_THP_ON);
		ck_assert_msg(hk_test_vma_flag(s, "hg"), "thp_min_mb=%lu, %lu slots in use: no MADV_HUGEPAGE",
			      min_mb, active);
		break;
	}
	ck_assert_int_gt(i, 0);		/* the first one was below */
	ck_assert_int_lt(i, 8);		/* and one crossed it */

	/* No hysteresis: the slot's pages go back at once and split the huge page. */
	ck_assert_int_eq(hak_option_set("dirty_slots", 0), 0);
	ss_release(s, 1);
	ck_assert_uint_eq(s->state, SLOT_UNUSED);
	ck_assert_uint_eq(ss->thp, SS_THP_SPLIT);
	ck_assert(!hk_test_vma_flag(ss, "hg"));
	ck_assert_msg(hk_test_vma_flag(ss, "nh"), "a SuperSlab that returned memory is still VM_HUGEPAGE");
	ck_assert_int_eq(hak_option_set("dirty_slots", CONFIG_SUPERSLAB_DIRTY_SLOTS), 0);

	/* A sparse heap: its newest 4 KiB SuperSlabs mostly untouched. */
	ck_assert_int_eq(hak_option_set("thp_min_mb", 1UL << 20), 0);
	for (i = 0; i < 4; i++) {
		ss = thp_new_superslab(&s, &active, 0);
		ck_assert_uint_eq(ss->thp, SS_THP_NONE);
		thp_fill(s, 0);
	}
	ck_assert_int_eq(hak_option_set("thp_min_mb", 2), 0);
	ss = thp_new_superslab(&s, &active, 0);
	ck_assert_msg(ss->thp == SS_THP_NONE && !hk_test_vma_flag(s, "hg"),
		      "a sparse heap got huge pages");

	/* thp_min_mb=0: every SuperSlab, sparse or not. */
	ck_assert_int_eq(hak_option_set("thp_min_mb", 0), 0);
	thp_fill(s, 0);
	ss = thp_new_superslab(&s, &active, 0);
	ck_assert_uint_eq(ss->thp, SS_THP_ON);

	/* thp=0: no SuperSlab marked, whatever the threshold. */
	ck_assert_int_eq(hak_option_set("thp", 0), 0);
	thp_fill(s, 0);
	ss = thp_new_superslab(&s, &active, 0);
	ck_assert_uint_eq(ss->thp, SS_THP_NONE);
	ck_assert(!hk_test_vma_flag(s, "hg"));
}
END_TEST
#endif

static Suite *superslab_suite(void)
{
	Suite *s = suite_create("superslab");
	TCase *tc = tcase_create("slots");

	tcase_add_test(tc, test_claim_release_states);
	tcase_add_test(tc, test_claim_spans);
	tcase_add_test(tc, test_pool_grows);
	tcase_add_test(tc, test_claim_next_fit);
	tcase_add_test(tc, test_claim_rewinds_to_released);
	tcase_add_test(tc, test_header_colours);
	tcase_add_test(tc, test_trim_returns_empty_slots);
#ifdef CONFIG_THREADS
	tcase_add_test(tc, test_claim_contention);
#endif
	tcase_add_test(tc, test_registry_ours_and_foreign);
	tcase_add_test(tc, test_registry_two_level);
	tcase_add_test(tc, test_registry_zero_table_not_resident);
	tcase_add_test(tc, test_unmap_free_slots);
	tcase_add_test(tc, test_unmap_header_slot);
	tcase_add_test(tc, test_large_exact_under_rlimit);
	/* No region under ThreadSanitizer (HK_TSAN): nothing to test. */
	if (!HK_TSAN) {
		tcase_add_test(tc, test_region_grows_upward);
		tcase_add_test(tc, test_region_bounds);
		tcase_add_test(tc, test_region_released_slot);
	}
	tcase_add_test(tc, test_region_closed_fallback);
#ifndef HK_TEST_EMULATED
	if (!HK_TSAN)
		tcase_add_test(tc, test_region_under_rlimit);
#endif
#if defined(CONFIG_SUPERSLAB_THP) && defined(CONFIG_OPTIONS) && !defined(HK_TEST_EMULATED)
	tcase_add_test(tc, test_thp_threshold);
#endif
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(superslab_suite);

/* ------------------------------------------------------------------ */
/* Slot states and counts (issue 12, part 5)                          */
/* ------------------------------------------------------------------ */

static struct ss_pool state_pool = { .lock = HK_LOCK_INIT };
HK_LOCK_REGISTER(&state_pool.lock, HK_LOCK_SS_POOL);

/* Index of slab s in its SuperSlab. */
static unsigned int slot_index(struct slab *s)
{
	return (unsigned int)(s - ss_of(s)->slabs);
}

/* Bits of the nr slots from s. */
static unsigned long slot_bits(struct slab *s, unsigned int nr)
{
	return ((1UL << nr) - 1) << slot_index(s);
}

/*
 * A run of 4: claimed ACTIVE (free and dirty bits clear), released EMPTY
 * (dirty bits set, within the dirty budget) and claimed again in place,
 * trimmed to UNUSED; the pool's counts agree with the states throughout.
 */
START_TEST(test_slot_run4_cycle)
{
	struct slab *s, *t;
	struct superslab *ss;
	unsigned long bits;
	unsigned int i;

	ss_setup();
	hak_malloc_trim(0);
	ss_check_counts();
	s = ss_claim(&state_pool, 4);
	ck_assert_ptr_nonnull(s);
	ss = ss_of(s);
	bits = slot_bits(s, 4);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(s[i].state, SLOT_ACTIVE);
	ck_assert(!(ss->free_mask & bits));
	ck_assert(!(ss->dirty_mask & bits));
	ss_check_counts();
	memset(slab_start(s), 0x3c, 4 * SLOT_SIZE);

	ss_release(s, 4);
	ck_assert_uint_eq(ss->free_mask & bits, bits);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(s[i].kind, SLAB_FREE);
		ck_assert(s[i].owner == HEAP_NONE);
	}
	ss_check_counts();
	ss_check_pool(&state_pool);
	if (s[0].state == SLOT_EMPTY) {
		/* Kept committed: dirty, and the first choice of the next claim. */
		for (i = 0; i < 4; i++)
			ck_assert_uint_eq(s[i].state, SLOT_EMPTY);
		ck_assert_uint_eq(ss->dirty_mask & bits, bits);
		t = ss_claim(&state_pool, 4);
		ck_assert_ptr_eq(t, s);
		ck_assert(!(ss->dirty_mask & bits));
		ck_assert_uint_eq(((unsigned char *)slab_start(t))[SLOT_SIZE + 5], 0x3c);
		ss_check_counts();
		ss_release(t, 4);
	}
	ss_trim(&state_pool);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(s[i].state, SLOT_UNUSED);
	ck_assert(!(ss->dirty_mask & bits));
	ck_assert_uint_eq(ss->free_mask & bits, bits);
	ss_check_counts();
}
END_TEST

/*
 * Dirty accounting over single slots: every released slot is EMPTY or
 * UNUSED and its dirty bit says which; trim, unmap and claiming back
 * keep the counts in step with the states.
 */
START_TEST(test_slot_dirty_accounting)
{
	struct slab *s[12];
	unsigned int i, empty = 0;

	ss_setup();
	for (i = 0; i < 12; i++) {
		s[i] = ss_claim(&state_pool, 1);
		ck_assert_ptr_nonnull(s[i]);
		memset(slab_start(s[i]), 0x5a, 4096);
	}
	ss_check_counts();
	for (i = 0; i < 12; i += 2)
		ss_release(s[i], 1);
	for (i = 0; i < 12; i += 2) {
		struct superslab *ss = ss_of(s[i]);
		int dirty = !!(ss->dirty_mask & slot_bits(s[i], 1));

		ck_assert(s[i]->state == SLOT_EMPTY || s[i]->state == SLOT_UNUSED);
		ck_assert_int_eq(dirty, s[i]->state == SLOT_EMPTY);
		empty += s[i]->state == SLOT_EMPTY;
	}
	ss_check_counts();
	ss_check_pool(&state_pool);
	/* Claimed again: the EMPTY ones first, ACTIVE, no longer dirty. */
	for (i = 0; i < empty; i++) {
		struct slab *t = ss_claim(&state_pool, 1);

		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(t->state, SLOT_ACTIVE);
		ck_assert_uint_eq(*(unsigned char *)slab_start(t), 0x5a);
		ss_release(t, 1);
	}
	ss_check_counts();
	for (i = 1; i < 12; i += 2)
		ss_release(s[i], 1);
	ss_check_counts();
	ck_assert_uint_ge(ss_unmap_pool(&state_pool), 12);
	for (i = 0; i < 12; i++)
		ck_assert_uint_eq(s[i]->state, SLOT_UNMAPPED);
	ss_check_counts();
	ss_check_pool(&state_pool);
	for (i = 0; i < 12; i++) {
		s[i] = ss_claim(&state_pool, 1);
		ck_assert_ptr_nonnull(s[i]);
		ck_assert_uint_eq(s[i]->state, SLOT_ACTIVE);
	}
	ss_check_counts();
	for (i = 0; i < 12; i++)
		ss_release(s[i], 1);
	ss_trim(&state_pool);
	ss_check_counts();
}
END_TEST

/*
 * A run of 4 is contiguous: claimed beside single slots, released in
 * the middle of them, claimed again whole; no slot is in two claims.
 */
START_TEST(test_slot_runs_and_singles)
{
	struct slab *one[6], *run[3];
	unsigned int i, j;

	ss_setup();
	for (i = 0; i < 3; i++) {
		one[2 * i] = ss_claim(&state_pool, 1);
		run[i] = ss_claim(&state_pool, 4);
		one[2 * i + 1] = ss_claim(&state_pool, 1);
		ck_assert_ptr_nonnull(one[2 * i]);
		ck_assert_ptr_nonnull(run[i]);
		ck_assert_ptr_nonnull(one[2 * i + 1]);
		ck_assert_uint_le(slot_index(run[i]) + 4, SS_SLOTS);
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 6; j++)
			ck_assert(ss_of(one[j]) != ss_of(run[i]) ||
				  !(slot_bits(one[j], 1) & slot_bits(run[i], 4)));
	ss_check_counts();
	ss_release(run[1], 4);
	ss_check_counts();
	run[1] = ss_claim(&state_pool, 4);
	ck_assert_ptr_nonnull(run[1]);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(run[1][i].state, SLOT_ACTIVE);
	ss_check_counts();
	for (i = 0; i < 3; i++)
		ss_release(run[i], 4);
	for (j = 0; j < 6; j++)
		ss_release(one[j], 1);
	ss_check_counts();
}
END_TEST

/* A committed (EMPTY) slot is claimed before a returned (UNUSED) one. */
START_TEST(test_claim_prefers_dirty)
{
	struct slab *x, *y, *z;

	ss_setup();
	x = ss_claim(&state_pool, 1);
	y = ss_claim(&state_pool, 1);
	ck_assert(x && y && ss_of(x) == ss_of(y) && x < y);
	ss_release(x, 1);
	ss_trim(&state_pool);
	ck_assert_uint_eq(x->state, SLOT_UNUSED);
	ss_release(y, 1);
	if (y->state != SLOT_EMPTY)
		return;		/* no dirty budget configured */
	z = ss_claim(&state_pool, 1);
	ck_assert_ptr_eq(z, y);
	ss_check_counts();
	ss_release(z, 1);
}
END_TEST

/* A run of 4 never takes single free slots between claimed ones. */
START_TEST(test_run4_skips_holes)
{
	struct slab *one[5], *run;
	unsigned int i;

	ss_setup();
	for (i = 0; i < 5; i++) {
		one[i] = ss_claim(&state_pool, 1);
		ck_assert_ptr_nonnull(one[i]);
	}
	ss_release(one[1], 1);
	ss_release(one[3], 1);
	run = ss_claim(&state_pool, 4);
	ck_assert_ptr_nonnull(run);
	for (i = 0; i < 5; i++)
		ck_assert(ss_of(one[i]) != ss_of(run) ||
			  !(slot_bits(one[i], 1) & slot_bits(run, 4)));
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(run[i].state, SLOT_ACTIVE);
	ss_check_counts();
	ss_release(run, 4);
	ss_release(one[0], 1);
	ss_release(one[2], 1);
	ss_release(one[4], 1);
	ss_check_counts();
}
END_TEST

#if defined(CONFIG_THREADS) && defined(CONFIG_DEBUG_ASSERT)
static int check_race_stop;

/* Claim, stamp, release runs of 1 to 3 slots until told to stop. */
static void *check_race_worker(void *arg)
{
	unsigned long i;

	for (i = 0; !a_load(&check_race_stop, A_ACQUIRE); i++) {
		unsigned int nr = 1 + (unsigned int)(i % 3);
		struct slab *s = ss_claim(&state_pool, nr);

		if (!s)
			return (void *)1;
		*(volatile char *)slab_start(s) = 1;
		ss_release(s, nr);
		if (i % 64 == 0)
			ss_trim(&state_pool);	/* runs ss_check_pool() too */
	}
	return NULL;
}

/*
 * ss_check_pool() holds the free slots it reads: it finds nothing wrong
 * while other threads claim, release and trim.
 */
START_TEST(test_check_pool_concurrent)
{
	pthread_t t[3];
	long i, rounds = hk_test_scale(3000);
	void *ret;

	ss_setup();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, check_race_worker, NULL), 0);
	for (i = 0; i < rounds; i++)
		ss_check_pool(&state_pool);
	a_store(&check_race_stop, 1, A_RELEASE);
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], &ret);
		ck_assert_ptr_null(ret);
	}
	ss_check_counts();
}
END_TEST
#endif

#ifdef CONFIG_DEBUG_ASSERT
/*
 * Each breaks the agreement of a slot's state with its bits or with the
 * counts, and expects the self-check to abort. Before the checks, trim
 * and release went on without a word.
 */

/* An EMPTY slot whose dirty bit was lost: ss_trim() checks the pool. */
START_TEST(test_inv_dirty_bit_lost)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss_release(s, 1);
	if (s->state == SLOT_EMPTY)
		a_fetch_and(&ss_of(s)->dirty_mask, ~slot_bits(s, 1), A_RELAXED);
	else
		s->state = SLOT_EMPTY;	/* UNUSED, says EMPTY: no dirty bit */
	ss_trim(&state_pool);
	ck_abort_msg("EMPTY slot without its dirty bit unnoticed");
}
END_TEST

/* A free slot that still names an owner (a slab's stale metadata). */
START_TEST(test_inv_free_slot_owned)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss_release(s, 1);
	s->kind = SLAB_BLOCKS;
	ss_trim(&state_pool);
	ck_abort_msg("free slot with kind SLAB_BLOCKS unnoticed");
}
END_TEST

/* Releasing a slot that is not ACTIVE. */
START_TEST(test_inv_release_not_active)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	s->state = SLOT_EMPTY;
	ss_release(s, 1);
	ck_abort_msg("release of a slot that is not ACTIVE unnoticed");
}
END_TEST

/* One more EMPTY slot than ss_dirty_slots counts (bits and state agree). */
START_TEST(test_inv_dirty_count)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss_release(s, 1);
	ss_trim(&state_pool);
	ck_assert_uint_eq(s->state, SLOT_UNUSED);
	ss_check_counts();
	s->state = SLOT_EMPTY;
	a_fetch_or(&ss_of(s)->dirty_mask, slot_bits(s, 1), A_RELAXED);
	ss_check_counts();
	ck_abort_msg("EMPTY slots and ss_dirty_slots disagree unnoticed");
}
END_TEST

/* A claimed slot not ACTIVE: ss_active_slots and the states disagree. */
START_TEST(test_inv_active_count)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	ss_check_counts();
	s->state = SLOT_UNUSED;
	ss_check_counts();
	ck_abort_msg("claimed slot not ACTIVE unnoticed");
}
END_TEST

/*
 * The region's span covers a chunk that is no SuperSlab (the one above
 * it): free would read a header there. The registry is asked first, so
 * the check reads nothing through the chunk.
 */
START_TEST(test_inv_region_not_superslab)
{
	struct slab *s;

	ss_setup();
	s = ss_claim(&state_pool, 1);
	ck_assert_ptr_nonnull(s);
	ck_assert(ss_in_region((uintptr_t)s));
	ss_check_counts();
	hk_ss_region.span += SS_SIZE;
	ss_check_counts();
	ck_abort_msg("region span past its SuperSlabs unnoticed");
}
END_TEST
#endif /* CONFIG_DEBUG_ASSERT */

static Suite *superslab_states_suite(void)
{
	Suite *s = suite_create("superslab-states");
	TCase *tc = tcase_create("states");

	tcase_add_test(tc, test_slot_run4_cycle);
	tcase_add_test(tc, test_slot_dirty_accounting);
	tcase_add_test(tc, test_slot_runs_and_singles);
	tcase_add_test(tc, test_claim_prefers_dirty);
	tcase_add_test(tc, test_run4_skips_holes);
#if defined(CONFIG_THREADS) && defined(CONFIG_DEBUG_ASSERT)
	tcase_add_test(tc, test_check_pool_concurrent);
#endif
#ifdef CONFIG_DEBUG_ASSERT
	tcase_add_test_raise_signal(tc, test_inv_dirty_bit_lost, SIGABRT);
	tcase_add_test_raise_signal(tc, test_inv_free_slot_owned, SIGABRT);
	tcase_add_test_raise_signal(tc, test_inv_release_not_active, SIGABRT);
	tcase_add_test_raise_signal(tc, test_inv_dirty_count, SIGABRT);
	tcase_add_test_raise_signal(tc, test_inv_active_count, SIGABRT);
	if (!HK_TSAN)
		tcase_add_test_raise_signal(tc, test_inv_region_not_superslab, SIGABRT);
#endif
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(superslab_states_suite);

/* ------------------------------------------------------------------ */
/* Decay of the dirty budget: the window                               */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_OPTIONS
/*
 * The tests move the decay clock on themselves (ss_clock_skew_ms), one
 * epoch at a time, so nothing depends on how fast the machine is: the
 * window is 800 s (epochs of 100 s), and real time adds at most one
 * epoch to what the test counts over the whole test.
 */
#define DECAY_WINDOW_MS	800000UL
#define DECAY_EPOCH_MS	(DECAY_WINDOW_MS / SS_DECAY_HOLD)
#define DECAY_N		64	/* slots the tests claim (4 MiB) */
#define DECAY_FLOOR	1	/* dirty_slots: the budget's floor */

static void decay_setup(void)
{
	ss_setup();
	ck_assert_int_eq(hak_option_set("dirty_slots", DECAY_FLOOR), 0);
	ck_assert_int_eq(hak_option_set("dirty_decay_ms", DECAY_WINDOW_MS), 0);
	/* A first epoch boundary, then no EMPTY slot but the tests' own. */
	a_fetch_add(&ss_clock_skew_ms, 4 * DECAY_WINDOW_MS, A_RELAXED);
	ss_tick();
	ss_trim_all();
}

/* The clock moves on by n epochs; the next claim or release (here a tick) sees it. */
static void decay_advance(unsigned long n)
{
	a_fetch_add(&ss_clock_skew_ms, n * DECAY_EPOCH_MS, A_RELAXED);
	ss_tick();
}

/* Slots of s[0..n) still committed (EMPTY). */
static unsigned int decay_empty(struct slab **s, unsigned int n)
{
	unsigned int i, e = 0;

	for (i = 0; i < n; i++)
		e += s[i]->state == SLOT_EMPTY;
	return e;
}

/*
 * The pattern of bench_batch 16384: a program frees 4 MiB and allocates
 * it again, over and over. Each epoch boundary falls between the free
 * and the next allocation; the memory was in use within the window, so
 * it stays committed: no slot is returned (and faulted in again). The
 * old budget halved the peak at each boundary and returned half the
 * slots there.
 */
START_TEST(test_decay_reuse_kept)
{
	static struct slab *s[DECAY_N];
	unsigned int i, r, e;

	decay_setup();
	for (r = 0; r < 3 * SS_DECAY_EPOCHS; r++) {
		for (i = 0; i < DECAY_N; i++) {
			s[i] = ss_claim(&ss_pool_main, 1);
			if (!s[i])
				ck_abort_msg("claim %u of round %u failed", i, r);
			*(volatile char *)slab_start(s[i]) = (char)r;
		}
		for (i = 0; i < DECAY_N; i++)
			ss_release(s[i], 1);
		e = decay_empty(s, DECAY_N);
		if (e != DECAY_N)
			ck_abort_msg("round %u: %u of %u freed slots returned at once",
				     r, DECAY_N - e, DECAY_N);
		decay_advance(1);
		e = decay_empty(s, DECAY_N);
		if (e != DECAY_N)
			ck_abort_msg("round %u: the epoch's end returned %u of %u slots used in it",
				     r, DECAY_N - e, DECAY_N);
	}
}
END_TEST

/*
 * Slots idle for longer than the window go back, gradually: none while
 * the window still holds their use (SS_DECAY_HOLD - 1 epochs counted by
 * the test: real time may add one), then a share each epoch, and every
 * one but the floor within SS_DECAY_EPOCHS epochs and one more.
 */
START_TEST(test_decay_idle_returned)
{
	static struct slab *s[DECAY_N];
	unsigned int i, step, e, last = DECAY_N, partial = 0;
	unsigned long active, dirty;

	decay_setup();
	for (i = 0; i < DECAY_N; i++) {
		s[i] = ss_claim(&ss_pool_main, 1);
		ck_assert_ptr_nonnull(s[i]);
		memset(slab_start(s[i]), 0x3c, 4096);
	}
	for (i = 0; i < DECAY_N; i++)
		ss_release(s[i], 1);
	ck_assert_uint_eq(decay_empty(s, DECAY_N), DECAY_N);
	for (step = 1; step <= SS_DECAY_EPOCHS + 2; step++) {
		decay_advance(1);
		e = decay_empty(s, DECAY_N);
		if (step < SS_DECAY_HOLD && e != DECAY_N)
			ck_abort_msg("%u of %u slots returned %u epochs after their use (window %u)",
				     DECAY_N - e, DECAY_N, step, SS_DECAY_HOLD);
		if (e > last)
			ck_abort_msg("epoch %u: %u slots committed, %u before", step, e, last);
		partial += e > 0 && e < DECAY_N;
		last = e;
	}
	/* Every slot but the floor went back, and not all at once. */
	ck_assert_uint_le(last, DECAY_FLOOR);
	ss_slot_counts(&active, &dirty);
	ck_assert_uint_le(dirty, DECAY_FLOOR);
	ck_assert_msg(partial >= 3, "the slots went back in %u epochs, not gradually", partial + 1);
	/* Returned slots read as zero. */
	for (i = 0; i < DECAY_N; i++)
		if (s[i]->state == SLOT_UNUSED && ((char *)slab_start(s[i]))[100])
			ck_abort_msg("slot %u returned but its memory kept", i);
}
END_TEST

/*
 * What is committed (slots in use plus EMPTY ones) never exceeds the
 * window's peak of slots in use plus the floor: random claims and
 * releases of 1-3 slots while the clock moves 0-2 epochs now and then,
 * first around a high working set, then a low one. The test keeps its
 * own record of the most slots in use in each epoch it counted; the
 * window it checks against is one epoch longer than SS_DECAY_EPOCHS (the
 * real clock may add one). After SS_DECAY_EPOCHS + 1 epochs of the low
 * phase nothing of the high one may be left.
 */
START_TEST(test_decay_bound)
{
	enum { MAXH = 96, ROUNDS = 6000, HIST = SS_DECAY_EPOCHS + 2 };
	static struct slab *s[MAXH];
	static unsigned int nr[MAXH];
	unsigned long hist[HIST] = { 0 }, epoch = 0, active, dirty, peak;
	unsigned int held = 0, r, k, cap;
	unsigned long low_from = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	decay_setup();
	for (r = 0; r < ROUNDS; r++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		cap = r < ROUNDS / 2 ? MAXH : 8;
		if (r == ROUNDS / 2)
			low_from = epoch;
		if (held < cap && (x % 3 || !held) && !(held > cap / 2 && x % 5 == 0)) {
			nr[held] = 1 + (unsigned int)(x >> 8) % 3;
			s[held] = ss_claim(&ss_pool_main, nr[held]);
			ck_assert_ptr_nonnull(s[held]);
			held++;
		} else if (held) {
			k = (unsigned int)(x >> 16) % held;
			ss_release(s[k], nr[k]);
			s[k] = s[held - 1];
			nr[k] = nr[held - 1];
			held--;
		}
		if ((x >> 24) % 64 == 0) {
			unsigned int n = (unsigned int)(x >> 32) % 3, j;

			for (j = 0; j < n; j++)
				hist[++epoch % HIST] = 0;
			if (n)
				decay_advance(n);
		}
		ss_slot_counts(&active, &dirty);
		if (active > hist[epoch % HIST])
			hist[epoch % HIST] = active;
		for (peak = 0, k = 0; k < HIST; k++)
			if (hist[k] > peak)
				peak = hist[k];
		if (active + dirty > peak + DECAY_FLOOR)
			ck_abort_msg("round %u: %lu slots in use and %lu committed free, window peak %lu",
				     r, active, dirty, peak);
	}
	ck_assert_uint_gt(epoch - low_from, HIST);
	while (held) {
		held--;
		ss_release(s[held], nr[held]);
	}
	/* CONFIG_DEBUG_ASSERT: the counters agree with the slots' states. */
	ss_check_counts();
}
END_TEST

#ifdef CONFIG_THREADS
/*
 * fork() while another thread was returning the excess (its flag set):
 * the child, where that thread does not exist, still decays its budget.
 */
START_TEST(test_decay_after_fork_mid_purge)
{
	static struct slab *s[DECAY_N];
	unsigned int i, step;
	int status;
	pid_t pid;

	decay_setup();
	for (i = 0; i < DECAY_N; i++) {
		s[i] = ss_claim(&ss_pool_main, 1);
		ck_assert_ptr_nonnull(s[i]);
	}
	for (i = 0; i < DECAY_N; i++)
		ss_release(s[i], 1);
	a_store(&ss_purging, 1, A_RELAXED);	/* as if a thread were purging */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		for (step = 0; step < SS_DECAY_EPOCHS + 2; step++)
			decay_advance(1);
		_exit(decay_empty(s, DECAY_N) <= DECAY_FLOOR ? 0 : 1);
	}
	a_store(&ss_purging, 0, A_RELAXED);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the child kept its idle slots: its purge flag was never cleared");
}
END_TEST
#endif

static Suite *superslab_decay_suite(void)
{
	Suite *s = suite_create("superslab-decay");
	TCase *tc = tcase_create("decay");

	tcase_add_test(tc, test_decay_reuse_kept);
	tcase_add_test(tc, test_decay_idle_returned);
	tcase_add_test(tc, test_decay_bound);
#ifdef CONFIG_THREADS
	tcase_add_test(tc, test_decay_after_fork_mid_purge);
#endif
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
HK_SUITE(superslab_decay_suite);
#endif /* CONFIG_OPTIONS */

#endif /* CONFIG_BACKEND_MMAP */
