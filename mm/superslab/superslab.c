// SPDX-License-Identifier: MIT
/*
 * mm/superslab/superslab.c - SuperSlab pools: mapping, slot claiming and
 * release, returning memory to the kernel.
 *
 * Slots are claimed by clearing bits of a SuperSlab's free-slot mask:
 * with CONFIG_SUPERSLAB_LOCKFREE by compare-exchange, otherwise under the
 * pool lock. SuperSlabs are never unmapped: a SuperSlab whose slots are
 * all free has had their memory returned with madvise and costs only its
 * header page. That keeps the pool list append-only, so lock-free readers
 * never see a SuperSlab disappear under them.
 */
#include <errno.h>
#include <hakmem/print.h>
#include "os/os.h"
#include "stats/stats.h"
#include "options/options.h"
#include "box.h"
#include "superslab.h"

/* The pool of every slab box that has none of its own. */
struct ss_pool ss_pool_main = SS_POOL_INIT;
uintptr_t ss_slot_tpoff;
HK_LOCK_REGISTER(&ss_pool_main.lock, HK_LOCK_SS_POOL);

/* Free slots still committed, over all pools (hysteresis budget). */
static unsigned long ss_dirty_slots;
/* Slots in use (ACTIVE, the headers excluded), over all pools. */
static unsigned long ss_active_slots;
/*
 * The dirty budget follows the program's peak of slots in use over a
 * sliding window: a program that frees what it will allocate again
 * within the window keeps the memory committed (no madvise, no page
 * faults on the way back), and what is committed never exceeds that
 * peak plus CONFIG_SUPERSLAB_DIRTY_SLOTS. The window (dirty_decay_ms=,
 * SS_DECAY_HOLD epochs) is a ring of per-epoch maxima: the peak of an
 * epoch counts in full while it is at most SS_DECAY_HOLD epochs old, then
 * loses an eighth of itself per epoch (SS_DECAY_EPOCHS - SS_DECAY_HOLD
 * of them), so memory unused for a whole window goes back gradually and
 * all of it within two. The release or claim that sees an epoch go by
 * returns the excess to the kernel.
 */
BUILD_BUG_ON(SS_DECAY_EPOCHS & (SS_DECAY_EPOCHS - 1));
BUILD_BUG_ON(SS_DECAY_HOLD >= SS_DECAY_EPOCHS);
static unsigned long ss_epoch_peak[SS_DECAY_EPOCHS];	/* most slots in use in each recent epoch */
static unsigned long ss_epoch;		/* epochs so far (ring index of the current one) */
static unsigned long ss_recent_peak;	/* the window's peak, tapered: the budget's base */
static unsigned long ss_epoch_ms;	/* when the current decay epoch began */
int ss_purging;				/* a thread is returning the excess */
unsigned long ss_clock_skew_ms;		/* test hook: added to the clock (unit tests) */

void ss_slot_counts(unsigned long *active, unsigned long *dirty)
{
	*active = a_load(&ss_active_slots, A_RELAXED);
	*dirty = a_load(&ss_dirty_slots, A_RELAXED);
}

static unsigned long ss_purge(unsigned long max);

/* Every pool that mapped a SuperSlab (atomic push, never removed). */
static struct ss_pool *ss_pools;

/* Claims take the pool lock only without CONFIG_SUPERSLAB_LOCKFREE. */
static inline void ss_claim_lock(struct ss_pool *pool)
{
	if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
		hk_lock(&pool->lock);
}

static inline void ss_claim_unlock(struct ss_pool *pool)
{
	if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
		hk_unlock(&pool->lock);
}

/* ------------------------------------------------------------------ */
/* Mapping a SuperSlab                                                */
/* ------------------------------------------------------------------ */

/*
 * Huge pages for big, dense heaps (CONFIG_SUPERSLAB_THP). A SuperSlab
 * madvised MADV_HUGEPAGE before its first touch faults in whole at that
 * touch (the header's write): 2 MiB resident, however little of it the
 * program touches. That is noise in a heap of hundreds of MiB written
 * through, where one fault per 2 MiB instead of 512 and the TLB's reach
 * pay (bench_list: 134 page faults instead of 15,763), and up to +120% of
 * peak RSS in a heap of a few MiB. So a new SuperSlab is marked only
 *
 *  - once the slots in use reach thp_min_mb (the first thp_min_mb of
 *    every heap keeps 4 KiB pages), and
 *  - while the pool's newest SuperSlabs with 4 KiB pages (up to
 *    SS_THP_SAMPLE of them, mincore) have at least 15/16 of their pages
 *    resident: the program writes its slabs through, so a huge page
 *    costs it little more than it would touch anyway (slot 0's unused
 *    60 KiB, 3%). A heap touched sparsely (slabs carved in part, big
 *    blocks written in part: python3 82%, sqlite3 87%, larson 50%,
 *    bench_list 96%) would be made resident whole.
 *
 * SuperSlabs are mapped only when no existing one has room, so while the
 * heap grows past the threshold nearly all of the growth is in marked
 * SuperSlabs, and the sample is the heap's last 4 KiB SuperSlabs: once
 * marking has started it goes on while they stay dense. thp_min_mb=0
 * marks every SuperSlab, without the sample (the behaviour before).
 * A SuperSlab smaller than a huge page (1 MiB SuperSlabs, or 64 KiB base
 * pages) never gets one.
 */
#define SS_THP_SAMPLE		4
#define SS_THP_DENSE_SHIFT	4	/* at most 1/16 of the sample's pages not resident */

static int ss_thp_dense(struct ss_pool *pool)
{
	struct superslab *ss;
	unsigned long pages = 0, resident = 0;
	unsigned int n = 0;

	for (ss = a_load(&pool->head, A_ACQUIRE); ss && n < SS_THP_SAMPLE; ss = ss->next) {
		long r;

		if (a_load(&ss->thp, A_RELAXED) == SS_THP_ON)
			continue;
		/* Slots unmapped under an address-space limit: not dense. */
		r = os_resident((void *)ss_base(ss), SS_SIZE);
		if (r < 0)
			return 0;
		resident += (unsigned long)r;
		pages += SS_SIZE / os_page_size;
		n++;
	}
	return pages && resident >= pages - (pages >> SS_THP_DENSE_SHIFT);
}

static int ss_wants_thp(struct ss_pool *pool)
{
	unsigned long min_mb;

	if (!IS_ENABLED(CONFIG_SUPERSLAB_THP) || !hk_opt_inited(OPT_THP) || SS_SIZE < os_thp_size())
		return 0;
	min_mb = hk_opt_inited(OPT_THP_MIN_MB);
	if (!min_mb)
		return 1;
	return a_load(&ss_active_slots, A_RELAXED) >= (min_mb << 20) >> SLOT_SHIFT &&
	       ss_thp_dense(pool);
}

#ifdef CONFIG_SUPERSLAB_THP
/*
 * A return of memory (MADV_DONTNEED of a slot, or of a free big block's
 * pages) from a SuperSlab with a huge page splits it: the kernel maps the
 * rest with 4 KiB pages, drops the returned ones from the resident set and
 * queues the huge page for a deferred split, which frees their memory when
 * it needs memory. Left VM_HUGEPAGE, the range would be collapsed into a
 * huge page again by khugepaged (with its default max_ptes_none of 511,
 * whatever few pages are resident), the returned pages resident again:
 * so the first return madvises the SuperSlab MADV_NOHUGEPAGE, once. It
 * keeps 4 KiB pages from then on; what is resident of it stays what
 * the program uses.
 */
void ss_thp_split(struct superslab *ss)
{
	unsigned long on = SS_THP_ON;

	if (a_cas(&ss->thp, &on, SS_THP_SPLIT, A_RELAXED))
		os_nohugepage((void *)ss_base(ss), SS_SIZE);
}
#endif

/* Set up the header of the SuperSlab at base (mapped, not yet touched). */
static struct superslab *ss_setup_header(struct ss_pool *pool, void *base)
{
	struct superslab *ss;
	unsigned int i;
	int thp = ss_wants_thp(pool);

	/* Before the first touch, so that the first fault takes a huge page. */
	if (thp)
		os_hugepage(base, SS_SIZE);
	ss = ss_of(base);
	ss->pool = pool;
	if (IS_ENABLED(CONFIG_SUPERSLAB_THP))
		ss->thp = thp ? SS_THP_ON : SS_THP_NONE;
	for (i = 0; i < SS_SLOTS; i++) {
		ss->slabs[i].owner = HEAP_NONE;
		ss->slabs[i].bin_tpoff = ss_slot_tpoff;
		ss->slabs[i].start_mul = slab_start_mul(16);
		ss->slabs[i].start_limit = 0;
		slab_set_free_tag(&ss->slabs[i]);
		ss->slabs[i].kind = SLAB_FREE;
		ss->slabs[i].state = SLOT_UNUSED;
	}
	ss->slabs[0].state = SLOT_ACTIVE;	/* the header */
	ss->free_mask = ~0UL >> (8 * sizeof(unsigned long) - SS_SLOTS) & ~1UL;
	ss->dirty_mask = 0;
	ss->unmapped_mask = 0;
	ss->hdr_trimmed = 0;
	registry_set((uintptr_t)base, REG_SUPERSLAB);
	STAT_INC(STAT_SS_MAPPED);
	return ss;
}

/* ------------------------------------------------------------------ */
/* The region                                                         */
/* ------------------------------------------------------------------ */

struct ss_region hk_ss_region = { .base = SS_REGION_NONE };
/* Held while the region grows: a chunk is set up before span covers it. */
static struct hk_lock ss_region_lock = HK_LOCK_INIT;
HK_LOCK_REGISTER(&ss_region_lock, HK_LOCK_SS_REGION);
/*
 * The next chunk above the region is not ours to take: stop trying.
 * Closed from the start under ThreadSanitizer (HK_TSAN).
 */
int ss_region_closed = HK_TSAN;

/*
 * Where the region starts: SS_REGION_GAP below the kernel's mmap area
 * (found from the address of a stack variable: the main thread's stack
 * lies above the area, another thread's stack in it), less a random
 * number of SS_REGION_ALIGN steps (16 MiB with 2 MiB SuperSlabs) below
 * SS_REGION_JITTER, so that the heap's address is
 * not a fixed distance from the stack's. The kernel hands out mmap
 * addresses top-down from the area's top: it would have to map
 * SS_REGION_GAP before its mappings reach the region's, and the region
 * grows upwards, into that gap. On a small address space (39 bits on
 * some aarch64 kernels) each shrinks to an eighth of the stack's address.
 */
#define SS_REGION_GAP		(4UL << 40)
#define SS_REGION_JITTER	(1UL << 40)

static uintptr_t ss_region_pick(void)
{
	uintptr_t top = (uintptr_t)__builtin_frame_address(0);
	uintptr_t gap = SS_REGION_GAP, jitter = SS_REGION_JITTER;

	if (top / 4 < gap + jitter) {
		gap = top / 8;
		jitter = top / 8;
	}
	jitter = jitter ? os_random_word() % jitter : 0;
	return ALIGN_DOWN(top - gap - jitter, SS_REGION_ALIGN);
}

/*
 * Map the chunk right above the region (the region's first at its
 * start): its address, or 0 if it could not be mapped there (the caller
 * maps a SuperSlab elsewhere). Under ss_region_lock. Address space is
 * taken one chunk at a time, as os_map_aligned() would: nothing is
 * reserved ahead, so an address-space limit (RLIMIT_AS) sees exactly the
 * SuperSlabs, and the virtual size at start-up does not grow. A chunk
 * that is someone else's (EEXIST, or an old kernel that placed it
 * elsewhere) closes the region; out of memory (ENOMEM under a limit) does
 * not: the next SuperSlab tries again.
 */
static uintptr_t ss_region_try(uintptr_t want)
{
	if (registry_prepare(want, SS_SIZE))
		return 0;
	errno = 0;
	if (!os_map_at((void *)want, SS_SIZE))
		return want;
	if (errno != ENOMEM)
		ss_region_closed = 1;
	return 0;
}

static uintptr_t ss_region_map_next(void)
{
	uintptr_t base = a_load(&hk_ss_region.base, A_RELAXED), want = 0;
	int saved = errno, tries;

	if (ss_region_closed)
		return 0;
	if (base != SS_REGION_NONE) {
		want = base + a_load(&hk_ss_region.span, A_RELAXED);
		/* Not past the top of the address space (a pointer's p - base). */
		if (want + SS_SIZE > HK_OS_MAX_MAP * 2 || want + SS_SIZE < want)
			ss_region_closed = 1;
		else
			want = ss_region_try(want);
	} else {
		/* A start whose first chunk is taken: pick another, a few times. */
		for (tries = 0; tries < 4; tries++) {
			ss_region_closed = 0;
			want = ss_region_try(ss_region_pick());
			if (want || !ss_region_closed)
				break;
		}
		HK_ASSERT(!(want & (SS_REGION_ALIGN - 1)));
		if (want)
			a_store(&hk_ss_region.base, want, A_RELAXED);
	}
	errno = saved;
	return want;
}

/* The next chunk of the region as a SuperSlab of pool, or NULL. */
static struct superslab *ss_region_grow(struct ss_pool *pool)
{
	struct superslab *ss = NULL;
	uintptr_t chunk;

	hk_lock(&ss_region_lock);
	chunk = ss_region_map_next();
	if (chunk) {
		ss = ss_setup_header(pool, (void *)chunk);
		a_store(&hk_ss_region.span, chunk + SS_SIZE - hk_ss_region.base, A_RELEASE);
	}
	hk_unlock(&ss_region_lock);
	return ss;
}

/*
 * A new SuperSlab: the next chunk of the region if it can be mapped, its
 * header set up before span covers it (free reads the header of any
 * pointer below base + span). Out of address space (an address-space
 * limit): what the boxes keep goes back (core_reclaim(), as
 * os_map_aligned() would do), and the region is tried again. Else
 * anywhere (os_map_aligned()): the registry finds it.
 */
static __slowpath struct superslab *ss_map(struct ss_pool *pool)
{
	struct superslab *ss = ss_region_grow(pool);
	void *base;

	if (ss)
		return ss;
	if (!a_load(&ss_region_closed, A_RELAXED) && core_reclaim()) {
		ss = ss_region_grow(pool);
		if (ss)
			return ss;
	}
	base = os_map_aligned(SS_SIZE, SS_SIZE);
	if (!base)
		return NULL;
	return ss_setup_header(pool, base);
}

/* ------------------------------------------------------------------ */
/* Claiming slots                                                     */
/* ------------------------------------------------------------------ */

/*
 * Bits where a run of nr set bits of m starts. A bit of run stands for
 * the have bits from it: run & (run >> k), k <= have, for have + k of
 * them, so a run of nr takes log2(nr) steps (the slabs of the big Mid
 * classes span 15 slots).
 */
static inline unsigned long ss_run_starts(unsigned long m, unsigned int nr)
{
	unsigned long run = m;
	unsigned int have = 1;

	while (have < nr) {
		unsigned int k = have < nr - have ? have : nr - have;

		run &= run >> k;
		have += k;
	}
	return run;
}

/*
 * How a claim may pick its run of slots: only slots all still committed
 * (no page faults, no zeroing by the kernel), any mapped slots, or any
 * slots at all (the caller maps the unmapped ones of the run again).
 */
enum ss_claim_mode {
	SS_CLAIM_DIRTY,
	SS_CLAIM_MAPPED,
	SS_CLAIM_ANY,
};

/* Try to claim nr contiguous slots of ss; index of the first or -1. */
static int ss_try_claim(struct superslab *ss, unsigned int nr, enum ss_claim_mode mode)
{
	unsigned long m = a_load(&ss->free_mask, A_ACQUIRE);

	for (;;) {
		unsigned long u = a_load(&ss->unmapped_mask, A_RELAXED);
		unsigned long run = ss_run_starts(mode == SS_CLAIM_ANY ? m : m & ~u, nr);
		unsigned long dirty, want;
		unsigned int idx;

		if (!run)
			return -1;
		/* Prefer runs all committed, then mapped ones. */
		dirty = ss_run_starts(m & a_load(&ss->dirty_mask, A_RELAXED), nr);
		if (mode == SS_CLAIM_DIRTY && !dirty)
			return -1;
		if (!dirty && mode == SS_CLAIM_ANY)
			dirty = ss_run_starts(m & ~u, nr);
		idx = hk_ctz(dirty ? dirty : run);
		want = ((1UL << nr) - 1) << idx;
		if (!IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE)) {
			/* Under the pool lock: nobody else claims. */
			a_store(&ss->free_mask, m & ~want, A_RELAXED);
			return (int)idx;
		}
		if (a_cas(&ss->free_mask, &m, m & ~want, A_ACQUIRE))
			return (int)idx;
	}
}

/* The dirty budget now: the recent peak's slots not in use, at least the floor. */
static unsigned long ss_dirty_budget(void)
{
	unsigned long peak = a_load(&ss_recent_peak, A_RELAXED);
	unsigned long active = a_load(&ss_active_slots, A_RELAXED);
	unsigned long spare = peak > active ? peak - active : 0;

	unsigned long floor = hk_opt_inited(OPT_DIRTY_SLOTS);

	/* dirty_slots=0: no hysteresis at all, every freed slot goes back. */
	if (!floor)
		return 0;
	return spare > floor ? spare : floor;
}

/* The decay clock: the coarse monotonic clock, plus the tests' skew. */
static inline unsigned long ss_now_ms(void)
{
	return os_now_ms() + a_load(&ss_clock_skew_ms, A_RELAXED);
}

/* Raise *v to at least x. */
static inline void ss_raise(unsigned long *v, unsigned long x)
{
	unsigned long old = a_load(v, A_RELAXED);

	while (x > old && !a_cas(v, &old, x, A_RELAXED))
		;
}

/*
 * The budget's peak at the start of epoch e: the most slots in use in
 * any of the last SS_DECAY_HOLD epochs and this one, or a shrinking share
 * of an older epoch's (7/8 one epoch past the window, 1/8 seven epochs
 * past it), and at least what is in use now.
 */
static unsigned long ss_window_peak(unsigned long e, unsigned long active)
{
	unsigned long peak = active, age;

	for (age = 0; age < SS_DECAY_EPOCHS; age++) {
		unsigned long v = a_load(&ss_epoch_peak[(e - age) % SS_DECAY_EPOCHS], A_RELAXED);

		if (age > SS_DECAY_HOLD)
			v = v * (SS_DECAY_EPOCHS - age) / (SS_DECAY_EPOCHS - SS_DECAY_HOLD);
		if (v > peak)
			peak = v;
	}
	return peak;
}

/* Return the EMPTY slots above the dirty budget (the caller holds ss_purging). */
static void ss_purge_excess(void)
{
	unsigned long dirty = a_load(&ss_dirty_slots, A_RELAXED);
	unsigned long budget = ss_dirty_budget();

	if (dirty > budget)
		ss_purge(dirty - budget);
}

/*
 * A new count of slots in use: raise the recent peak and this epoch's;
 * at the end of an epoch move the window on and return the dirty slots
 * above the new budget to the kernel. dirty_decay_ms=0: the window is
 * the current millisecond, the budget the floor alone.
 */
static void ss_note_active(unsigned long active)
{
	unsigned long window = hk_opt_inited(OPT_DIRTY_DECAY_MS);
	unsigned long len = window >= SS_DECAY_HOLD ? window / SS_DECAY_HOLD : 1;
	unsigned long now, epochs, e, i;

	ss_raise(&ss_recent_peak, active);
	ss_raise(&ss_epoch_peak[a_load(&ss_epoch, A_RELAXED) % SS_DECAY_EPOCHS], active);
	now = ss_now_ms();
	epochs = (now - a_load(&ss_epoch_ms, A_RELAXED)) / len;
	if (likely(!epochs))
		return;
	if (a_swap(&ss_purging, 1, A_ACQUIRE))
		return;		/* another thread does it */
	/*
	 * The epochs that went by without a claim or release had the use
	 * of now; the new current epoch starts with it. Slots first, then
	 * the index, so that a raise through the new index lands on top.
	 */
	e = a_load(&ss_epoch, A_RELAXED);
	for (i = 1; i <= epochs && i <= SS_DECAY_EPOCHS; i++)
		a_store(&ss_epoch_peak[(e + i) % SS_DECAY_EPOCHS], active, A_RELAXED);
	e += epochs;
	a_store(&ss_epoch, e, A_RELAXED);
	a_store(&ss_epoch_ms, now - (now - a_load(&ss_epoch_ms, A_RELAXED)) % len, A_RELAXED);
	a_store(&ss_recent_peak, window ? ss_window_peak(e, active) : active, A_RELAXED);
	ss_purge_excess();
	a_store(&ss_purging, 0, A_RELEASE);
	/* The caches that age with their own traffic age with this clock too. */
	core_epoch();
}

/* Map the unmapped slots among bits (held by the caller) again; 0 or -1. */
static __slowpath int ss_remap_slots(struct superslab *ss, unsigned long bits)
{
	unsigned long u = a_load(&ss->unmapped_mask, A_ACQUIRE) & bits;

	while (u) {
		unsigned int i = hk_ctz(u), n = hk_ctz(~(u >> i));
		unsigned long run = (n >= 8 * sizeof(unsigned long) ? ~0UL : (1UL << n) - 1) << i;

		if (os_map_at((char *)ss_base(ss) + ((size_t)i << SLOT_SHIFT), (size_t)n << SLOT_SHIFT))
			return -1;
		for (; n; n--, i++)
			ss->slabs[i].state = SLOT_UNUSED;
		a_fetch_and(&ss->unmapped_mask, ~run, A_RELEASE);
		u &= ~run;
	}
	return 0;
}

/*
 * In the child of fork() only the forking thread exists: a purge another
 * thread was running is over, and its flag must not keep the child's
 * budget from ever decaying again.
 */
void ss_fork_child(void)
{
	a_store(&ss_purging, 0, A_RELAXED);
}

void ss_tick(void)
{
	ss_note_active(a_load(&ss_active_slots, A_RELAXED));
}

#ifdef CONFIG_HEAP_PURGE
unsigned long ss_epoch_now(void)
{
	return a_load(&ss_epoch, A_RELAXED);
}
#endif

/*
 * Account the slots we now hold: EMPTY ones leave the dirty budget. A
 * run that could not be found among the EMPTY slots commits new memory
 * while they stay: return those above the budget now, so that what is
 * committed stays within the window's peak and the floor.
 */
static unsigned int ss_take_slots(struct superslab *ss, unsigned int idx, unsigned int nr)
{
	unsigned int i, fresh = 0;

	for (i = idx; i < idx + nr; i++) {
		struct slab *s = &ss->slabs[i];

		HK_ASSERT(s->state != SLOT_UNMAPPED && s->state != SLOT_ACTIVE);
		HK_ASSERT(s->kind == SLAB_FREE && s->owner == HEAP_NONE);
		HK_ASSERT(!(a_load(&ss->dirty_mask, A_RELAXED) & (1UL << i)) == (s->state != SLOT_EMPTY));
		if (s->state == SLOT_EMPTY) {
			a_fetch_sub(&ss_dirty_slots, 1UL, A_RELAXED);
			a_fetch_and(&ss->dirty_mask, ~(1UL << i), A_RELAXED);
		} else {
			fresh++;
		}
		s->state = SLOT_ACTIVE;
	}
	ss_note_active(a_fetch_add(&ss_active_slots, (unsigned long)nr, A_RELAXED) + nr);
	if (!fresh)
		return 0;
	if (unlikely(a_load(&ss_dirty_slots, A_RELAXED) > ss_dirty_budget()) &&
	    !a_swap(&ss_purging, 1, A_ACQUIRE)) {
		ss_purge_excess();
		a_store(&ss_purging, 0, A_RELEASE);
	}
	/* The footprint grew: the Large cache's bound counts it. */
	core_slabs_grew((size_t)fresh << SLOT_SHIFT);
	return fresh;
}

/* Give back slots claimed but not taken. */
static void ss_unclaim(struct superslab *ss, unsigned int idx, unsigned int nr)
{
	ss_claim_lock(ss->pool);
	a_fetch_or(&ss->free_mask, ((1UL << nr) - 1) << idx, A_RELEASE);
	ss_claim_unlock(ss->pool);
}

/*
 * Committed slots of ss were released: if ss comes before the hint in the
 * pool's list, claims look there first from now on. Claims then take
 * committed slots in the order of the list, the first with room first,
 * as a first fit would, and not round the whole footprint: a program that
 * frees a batch of slabs and allocates a batch again gets the same slots
 * in the same order, written one batch ago, where next fit alone went on
 * from where the last claim stopped and handed out the slots idle the
 * longest, written a whole footprint ago (bench_batch 16384: 67% of the
 * blocks reused after more than 24 MiB of other writes, against 34% with
 * the rewind; Documentation/benchmarks.md, "fifth session"). The walk
 * from the hint still goes round the list once, so a claim visits no more
 * SuperSlabs than before; the hint moves back at most once per release.
 */
static void ss_hint_rewind(struct superslab *ss)
{
	struct ss_pool *pool = ss->pool;
	/* Acquire: hint->seq was written before the hint was stored (release). */
	struct superslab *hint = a_load(&pool->hint, A_ACQUIRE);

	if (!hint || ss->seq > hint->seq)
		a_store(&pool->hint, ss, A_RELEASE);
}

/*
 * Claim a run in a SuperSlab of pool; NULL if none has one. Next fit: the
 * walk starts at the SuperSlab of the last successful claim (pool->hint)
 * and goes round the list once (on to its end, then from the head up to
 * the hint). A program that claims many slabs in a row (a burst of
 * allocations that fills one SuperSlab after another, or one that takes
 * back a heap it freed) would otherwise walk every full SuperSlab before
 * the first with room at every claim: quadratic in the SuperSlabs (4000
 * blocks of 40,000 B: 80 SuperSlabs, a third of the instructions of the
 * whole program in ss_try_claim()). The list only grows at its head and
 * no SuperSlab is ever removed, so a stale hint is still a node of it.
 */
static struct superslab *ss_claim_existing(struct ss_pool *pool, unsigned int nr,
					   enum ss_claim_mode mode, int *idx)
{
	struct superslab *head = a_load(&pool->head, A_ACQUIRE);
	struct superslab *hint = a_load(&pool->hint, A_ACQUIRE);
	struct superslab *ss, *found = NULL;
	unsigned long visits = 0;

	if (!hint)
		hint = head;
	for (ss = hint; ss; ss = ss->next) {
		visits++;
		*idx = ss_try_claim(ss, nr, mode);
		if (*idx >= 0) {
			found = ss;
			goto out;
		}
	}
	for (ss = head; ss && ss != hint; ss = ss->next) {
		visits++;
		*idx = ss_try_claim(ss, nr, mode);
		if (*idx >= 0) {
			found = ss;
			goto out;
		}
	}
out:
	if (found && found != hint)
		a_store(&pool->hint, found, A_RELEASE);
	a_fetch_add(&pool->claim_visits, visits, A_RELAXED);
	return found;
}

struct slab *ss_claim_run(struct ss_pool *pool, unsigned int nr, unsigned int *fresh)
{
	struct superslab *ss;
	unsigned int n;
	int idx = -1;

	ss_claim_lock(pool);
	/* Committed slots anywhere first, then any mapped run. */
	ss = NULL;
	if (a_load(&ss_dirty_slots, A_RELAXED) >= nr)
		ss = ss_claim_existing(pool, nr, SS_CLAIM_DIRTY, &idx);
	if (!ss)
		ss = ss_claim_existing(pool, nr, SS_CLAIM_MAPPED, &idx);
	/*
	 * Slots whose address space was given back cost less to map again
	 * than a new SuperSlab.
	 */
	if (unlikely(!ss))
		ss = ss_claim_existing(pool, nr, SS_CLAIM_ANY, &idx);
	/*
	 * Even the first pass may get unmapped slots: ss_unmap_free() may
	 * have unmapped them and set their free bits again between our
	 * reading the masks and our compare-exchange. The bits are ours
	 * now, so their unmapped bits hold still. At the limit, what the
	 * boxes keep goes first (core_reclaim(), without the claim lock:
	 * the heaps' kept slabs go back through it); a range taken
	 * meanwhile (EEXIST): a new SuperSlab is the last resort.
	 */
	if (ss && unlikely(a_load(&ss->unmapped_mask, A_ACQUIRE) & (((1UL << nr) - 1) << idx)) &&
	    ss_remap_slots(ss, ((1UL << nr) - 1) << idx)) {
		ss_claim_unlock(pool);
		if (!core_reclaim() || ss_remap_slots(ss, ((1UL << nr) - 1) << idx)) {
			ss_unclaim(ss, (unsigned int)idx, nr);
			ss = NULL;
		}
		ss_claim_lock(pool);
	}
	if (!ss) {
		/*
		 * Mapped without the claim lock, as lock-free claims do:
		 * ss_map() may call core_reclaim(), whose heaps give their
		 * kept slabs back to this pool under its lock (held here,
		 * they stayed kept: 87.7% of the room served under
		 * RLIMIT_AS without CONFIG_SUPERSLAB_LOCKFREE, tests/aslimit).
		 * Two threads may then map one each; both are published.
		 */
		ss_claim_unlock(pool);
		ss = ss_map(pool);
		ss_claim_lock(pool);
		if (ss) {
			idx = ss_try_claim(ss, nr, SS_CLAIM_MAPPED);
			/*
			 * Publish: next before head, so readers see a whole
			 * node. Lock-free claimers do not hold the lock yet.
			 */
			if (IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
				hk_lock(&pool->lock);
			if (!pool->head) {
				/* The pool's first SuperSlab: list the pool. */
				struct ss_pool *old = a_load(&ss_pools, A_RELAXED);

				do {
					pool->all_next = old;
				} while (!a_cas(&ss_pools, &old, pool, A_RELEASE));
			}
			ss->seq = pool->nr_superslabs;
			ss->next = pool->head;
			a_store(&pool->head, ss, A_RELEASE);
			/* The next claims start in the new SuperSlab. */
			a_store(&pool->hint, ss, A_RELEASE);
			pool->nr_superslabs++;
			if (IS_ENABLED(CONFIG_SUPERSLAB_LOCKFREE))
				hk_unlock(&pool->lock);
		}
	}
	ss_claim_unlock(pool);
	if (!ss || idx < 0)
		return NULL;
	n = ss_take_slots(ss, (unsigned int)idx, nr);
	if (fresh)
		*fresh = n;
	return &ss->slabs[idx];
}

struct slab *ss_claim_committed(struct ss_pool *pool, unsigned int nr)
{
	struct superslab *ss;
	int idx = -1;

	if (a_load(&ss_dirty_slots, A_RELAXED) < nr)
		return NULL;
	ss_claim_lock(pool);
	ss = ss_claim_existing(pool, nr, SS_CLAIM_DIRTY, &idx);
	ss_claim_unlock(pool);
	if (!ss || idx < 0)
		return NULL;
	/*
	 * Lock-free, a purge may have taken and decommitted a slot of the
	 * run between our look at the dirty bits and our claim: it faults
	 * in as a fresh claim's would, nothing worse.
	 */
	(void)ss_take_slots(ss, (unsigned int)idx, nr);
	return &ss->slabs[idx];
}

/* ------------------------------------------------------------------ */
/* Releasing slots                                                    */
/* ------------------------------------------------------------------ */

void ss_release(struct slab *head, unsigned int nr)
{
	struct superslab *ss = ss_of(head);
	unsigned int idx = (unsigned int)(head - ss->slabs);
	unsigned long bits = ((1UL << nr) - 1) << idx;
	unsigned long active;
	unsigned int i, state;

	HK_ASSERT(idx > 0 && idx + nr <= SS_SLOTS);
	HK_ASSERT(!(a_load(&ss->free_mask, A_RELAXED) & bits));
	HK_ASSERT(!(a_load(&ss->dirty_mask, A_RELAXED) & bits));
	HK_ASSERT(!(a_load(&ss->unmapped_mask, A_RELAXED) & bits));
	for (i = idx; i < idx + nr; i++)
		HK_ASSERT(ss->slabs[i].state == SLOT_ACTIVE);

	/* No longer in use: the budget counts them as spare. */
	active = a_fetch_sub(&ss_active_slots, (unsigned long)nr, A_RELAXED) - nr;
	if (a_load(&ss_dirty_slots, A_RELAXED) + nr > ss_dirty_budget()) {
		/* The double-free check reads the blocks first (heap.c, dfkey_retire()). */
		ss_slot_sweep(head);
		ss_decommit(slab_start(head), (size_t)nr << SLOT_SHIFT);
		STAT_ADD(STAT_SLOTS_DECOMMIT, nr);
		state = SLOT_UNUSED;
	} else {
		a_fetch_add(&ss_dirty_slots, (unsigned long)nr, A_RELAXED);
		a_fetch_or(&ss->dirty_mask, bits, A_RELAXED);
		state = SLOT_EMPTY;
	}
	for (i = idx; i < idx + nr; i++) {
		ss->slabs[i].kind = SLAB_FREE;
		ss->slabs[i].owner = HEAP_NONE;
		slab_set_free_tag(&ss->slabs[i]);
		ss->slabs[i].state = (uint8_t)state;
	}
	ss_claim_lock(ss->pool);
	a_fetch_or(&ss->free_mask, bits, A_RELEASE);
	if (state == SLOT_EMPTY)
		ss_hint_rewind(ss);
	ss_claim_unlock(ss->pool);
	ss_note_active(active);
}

/* ------------------------------------------------------------------ */
/* Trimming                                                           */
/* ------------------------------------------------------------------ */

/* Claim exactly the slots in want (all or nothing). */
static int ss_claim_bits(struct superslab *ss, unsigned long want)
{
	unsigned long m = a_load(&ss->free_mask, A_ACQUIRE);

	do {
		if ((m & want) != want)
			return 0;
	} while (!a_cas(&ss->free_mask, &m, m & ~want, A_ACQUIRE));
	return 1;
}

/* Return up to max EMPTY slots of pool to the kernel. */
static unsigned long ss_purge_pool(struct ss_pool *pool, unsigned long max)
{
	struct superslab *ss;
	unsigned long done = 0;

	ss_claim_lock(pool);
	for (ss = a_load(&pool->head, A_ACQUIRE); ss && done < max; ss = ss->next) {
		unsigned long dirty = a_load(&ss->dirty_mask, A_RELAXED);

		while (dirty && done < max) {
			unsigned int i = hk_ctz(dirty);
			unsigned long bit = 1UL << i;

			dirty &= ~bit;
			if (!ss_claim_bits(ss, bit))
				continue;
			if (ss->slabs[i].state == SLOT_EMPTY) {
				ss_slot_sweep(&ss->slabs[i]);
				ss_decommit((char *)ss_base(ss) + ((size_t)i << SLOT_SHIFT), SLOT_SIZE);
				ss->slabs[i].state = SLOT_UNUSED;
				a_fetch_and(&ss->dirty_mask, ~bit, A_RELAXED);
				a_fetch_sub(&ss_dirty_slots, 1UL, A_RELAXED);
				done++;
			}
			a_fetch_or(&ss->free_mask, bit, A_RELEASE);
		}
	}
	ss_claim_unlock(pool);
	STAT_ADD(STAT_SLOTS_DECOMMIT, done);
	return done;
}

unsigned long ss_trim(struct ss_pool *pool)
{
	unsigned long done = ss_purge_pool(pool, ~0UL);

	ss_check_pool(pool);
	return done;
}

/*
 * The sum of fn over every pool: the shared one first, then the
 * registered boxes' own pools in link order (ss_trim, ss_unmap_pool).
 */
static unsigned long ss_sum_pools(unsigned long (*fn)(struct ss_pool *pool))
{
	const struct hk_box *b;
	struct ss_pool *pool;
	unsigned long done = 0;

	for_each_ss_pool(pool, b)
		done += fn(pool);
	return done;
}

unsigned long ss_trim_all(void)
{
	return ss_sum_pools(ss_trim);
}

/* Return up to max EMPTY slots, from any pool. */
static unsigned long ss_purge(unsigned long max)
{
	const struct hk_box *b;
	struct ss_pool *pool;
	unsigned long done = 0;

	for_each_ss_pool(pool, b)
		if (done < max)
			done += ss_purge_pool(pool, max - done);
	return done;
}

#ifdef CONFIG_DEBUG_ASSERT
/* ------------------------------------------------------------------ */
/* Self-checks                                                        */
/* ------------------------------------------------------------------ */

/* One free slot (held by the caller, or quiescent): its state and bits. */
static void ss_check_free_slot(struct superslab *ss, unsigned int i,
			       unsigned long dirty, unsigned long unmapped)
{
	const struct slab *s = &ss->slabs[i];
	unsigned long bit = 1UL << i;

	if (unlikely(s->state == SLOT_ACTIVE || s->state > SLOT_UNMAPPED ||
		     s->kind != SLAB_FREE || s->owner != HEAP_NONE ||
		     !(dirty & bit) != (s->state != SLOT_EMPTY) ||
		     !(unmapped & bit) != (s->state != SLOT_UNMAPPED)))
		hk_fatal("superslab %p slot %u: free, state %u, kind %u, owner %p, dirty %d, unmapped %d",
			 (void *)ss, i, s->state, s->kind, (void *)s->owner,
			 !!(dirty & bit), !!(unmapped & bit));
}

static void ss_check_header(struct ss_pool *pool, struct superslab *ss)
{
	HK_ASSERT(ss->pool == pool);
	HK_ASSERT(registry_lookup((uintptr_t)ss) == REG_SUPERSLAB);
	HK_ASSERT(ss->slabs[0].state == SLOT_ACTIVE && ss->slabs[0].kind == SLAB_FREE);
	HK_ASSERT(!(a_load(&ss->free_mask, A_RELAXED) & 1UL));
}

void ss_check_pool(struct ss_pool *pool)
{
	struct superslab *ss;

	ss_claim_lock(pool);
	for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
		unsigned long held = a_load(&ss->free_mask, A_ACQUIRE), m, dirty, unmapped;
		unsigned long empty = 0;

		ss_check_header(pool, ss);
		/* Hold every free slot: nobody changes them meanwhile. */
		while (held && !a_cas(&ss->free_mask, &held, 0UL, A_ACQUIRE))
			;
		dirty = a_load(&ss->dirty_mask, A_ACQUIRE);
		unmapped = a_load(&ss->unmapped_mask, A_ACQUIRE);
		for (m = held; m; m &= m - 1) {
			unsigned int i = hk_ctz(m);

			ss_check_free_slot(ss, i, dirty, unmapped);
			empty += ss->slabs[i].state == SLOT_EMPTY;
		}
		/*
		 * While held they stay counted in ss_dirty_slots (the slots
		 * of SuperSlabs already given back may have been claimed).
		 */
		HK_ASSERT(empty <= a_load(&ss_dirty_slots, A_RELAXED));
		if (held)
			a_fetch_or(&ss->free_mask, held, A_RELEASE);
	}
	ss_claim_unlock(pool);
}

/* Every chunk of the region is a registered SuperSlab with a set-up header. */
static void ss_check_region(void)
{
	uintptr_t base = a_load(&hk_ss_region.base, A_RELAXED), c;
	uintptr_t span = a_load(&hk_ss_region.span, A_ACQUIRE);

	if (base == SS_REGION_NONE) {
		HK_ASSERT(!span);
		return;
	}
	for (c = base; c < base + span; c += SS_SIZE) {
		/* The registry first: nothing is read through a chunk it disowns. */
		if (unlikely(registry_lookup(c) != REG_SUPERSLAB))
			hk_fatal("superslab region [%p, %p): chunk %p is not a SuperSlab (registry %u)",
				 (void *)base, (void *)(base + span), (void *)c, registry_lookup(c));
		if (unlikely(ss_of((void *)c)->slabs[0].state != SLOT_ACTIVE || !ss_of((void *)c)->pool))
			hk_fatal("superslab region [%p, %p): chunk %p: header not set up",
				 (void *)base, (void *)(base + span), (void *)c);
	}
}

void ss_check_counts(void)
{
	struct ss_pool *pool;
	struct superslab *ss;
	unsigned long empty = 0, active = 0;
	unsigned int i;

	ss_check_region();

	for (pool = a_load(&ss_pools, A_ACQUIRE); pool; pool = pool->all_next) {
		for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
			unsigned long free = a_load(&ss->free_mask, A_ACQUIRE);
			unsigned long dirty = a_load(&ss->dirty_mask, A_RELAXED);
			unsigned long unmapped = a_load(&ss->unmapped_mask, A_RELAXED);

			ss_check_header(pool, ss);
			for (i = 1; i < SS_SLOTS; i++) {
				const struct slab *s = &ss->slabs[i];

				if (!(free & (1UL << i))) {
					if (unlikely(s->state != SLOT_ACTIVE ||
						     ((dirty | unmapped) & (1UL << i))))
						hk_fatal("superslab %p slot %u: claimed, state %u, dirty %d, unmapped %d",
							 (void *)ss, i, s->state,
							 !!(dirty & (1UL << i)),
							 !!(unmapped & (1UL << i)));
					active++;
					continue;
				}
				ss_check_free_slot(ss, i, dirty, unmapped);
				empty += s->state == SLOT_EMPTY;
			}
		}
	}
	if (unlikely(empty != a_load(&ss_dirty_slots, A_RELAXED) ||
		     active != a_load(&ss_active_slots, A_RELAXED)))
		hk_fatal("superslab counts: %lu EMPTY slots, ss_dirty_slots %lu; %lu ACTIVE slots, ss_active_slots %lu",
			 empty, a_load(&ss_dirty_slots, A_RELAXED),
			 active, a_load(&ss_active_slots, A_RELAXED));
}
#endif /* CONFIG_DEBUG_ASSERT */

#ifdef CONFIG_MALLOC_INFO
/* ------------------------------------------------------------------ */
/* Usage (mallinfo, malloc_stats, malloc_info)                        */
/* ------------------------------------------------------------------ */

/*
 * Walk the pool without taking a lock: the list is append-only and the
 * slot metadata is never unmapped. Fields of a slab being set up or
 * retired meanwhile may be read half old, half new; the figures are
 * clamped so that a torn read is an inexact count, never a wild one.
 */
void ss_usage(struct ss_pool *pool, struct ss_usage *u, ss_slab_fn fn, void *arg)
{
	struct superslab *ss;
	unsigned int i;

	for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
		u->superslabs++;
		u->header_slots++;
		for (i = 1; i < SS_SLOTS; i++) {
			struct slab *s = &ss->slabs[i];
			unsigned int kind = a_load(&s->kind, A_RELAXED);
			unsigned int state = a_load(&s->state, A_RELAXED);
			unsigned long used, cap;
			unsigned int span;

			if (kind == SLAB_BLOCKS) {
				/*
				 * The blocks on the slab's remote list were freed
				 * (by other threads): used until its owner takes
				 * them, free for the program.
				 */
				uint32_t remote = REMOTE_COUNT(a_load(&s->remote, A_RELAXED));

				used = a_load(&s->used, A_RELAXED);
				cap = a_load(&s->capacity, A_RELAXED);
				span = a_load(&s->span, A_RELAXED);
				used = used > remote ? used - remote : 0;
				if (used > cap)
					used = cap;
				if (span < 1 || span > SS_SLOTS - i)
					span = 1;
				fn(arg, a_load(&s->class_idx, A_RELAXED), used, cap, span);
			} else if (kind == SLAB_FREE) {
				if (state == SLOT_EMPTY)
					u->empty_slots++;
				else if (state == SLOT_UNUSED)
					u->unused_slots++;
			}
		}
	}
}
#endif /* CONFIG_MALLOC_INFO */

/* ------------------------------------------------------------------ */
/* Giving address space back                                          */
/* ------------------------------------------------------------------ */

/*
 * SuperSlabs stay mapped (lock-free readers walk the lists and read the
 * headers), but the free slots of each can go: claim them all, unmap them
 * run by run, mark them UNMAPPED and free again. ss_claim() maps them
 * back (MAP_FIXED_NOREPLACE) when no mapped slots are left.
 */
/*
 * The header takes a page or two of slot 0 (at its colour offset); the
 * rest of the slot is never read or written. Under an address-space
 * limit it is worth unmapping: 56 of 64 KiB per SuperSlab with 4 KiB
 * pages, 3% of the address space the pool maps. Once per SuperSlab, under
 * the pool lock. Returns the bytes unmapped.
 */
static size_t ss_trim_header_slot(struct superslab *ss)
{
	uintptr_t base = ss_base(ss), lo, hi;
	size_t done = 0;

	if (ss->hdr_trimmed)
		return 0;
	ss->hdr_trimmed = 1;
	lo = ALIGN_DOWN((uintptr_t)ss, os_page_size);
	hi = ALIGN_UP((uintptr_t)(ss + 1), os_page_size);
	if (lo > base) {
		os_unmap((void *)base, lo - base);
		done += lo - base;
	}
	if (hi < base + SLOT_SIZE) {
		os_unmap((void *)hi, base + SLOT_SIZE - hi);
		done += base + SLOT_SIZE - hi;
	}
	return done;
}

unsigned long ss_unmap_pool(struct ss_pool *pool)
{
	struct superslab *ss;
	unsigned long done = 0;

	if (!hk_trylock(&pool->lock))
		return 0;
	for (ss = a_load(&pool->head, A_ACQUIRE); ss; ss = ss->next) {
		unsigned long want = a_load(&ss->free_mask, A_ACQUIRE) &
				     ~a_load(&ss->unmapped_mask, A_RELAXED);
		unsigned long left;

		/* Holes in a huge page split it, as a decommit does. */
		if (IS_ENABLED(CONFIG_SUPERSLAB_THP) && a_load(&ss->thp, A_RELAXED) == SS_THP_ON)
			ss_thp_split(ss);
		pool->hdr_unmapped += ss_trim_header_slot(ss);
		if (!want || !ss_claim_bits(ss, want))
			continue;
		for (left = want; left; ) {
			unsigned int i = hk_ctz(left), n = hk_ctz(~(left >> i)), j;
			unsigned long run = (n >= 8 * sizeof(unsigned long) ? ~0UL : (1UL << n) - 1) << i;

			for (j = i; j < i + n; j++) {
				ss_slot_sweep(&ss->slabs[j]);
				if (ss->slabs[j].state == SLOT_EMPTY) {
					a_fetch_and(&ss->dirty_mask, ~(1UL << j), A_RELAXED);
					a_fetch_sub(&ss_dirty_slots, 1UL, A_RELAXED);
				}
				ss->slabs[j].state = SLOT_UNMAPPED;
			}
			ss_resident_clear((char *)ss_base(ss) + ((size_t)i << SLOT_SHIFT), (size_t)n << SLOT_SHIFT);
			os_unmap((char *)ss_base(ss) + ((size_t)i << SLOT_SHIFT), (size_t)n << SLOT_SHIFT);
			left &= ~run;
			done += n;
		}
		a_fetch_or(&ss->unmapped_mask, want, A_RELEASE);
		a_fetch_or(&ss->free_mask, want, A_RELEASE);
	}
	hk_unlock(&pool->lock);
	return done;
}

unsigned long ss_unmap_free(void)
{
	return ss_sum_pools(ss_unmap_pool);
}
