// SPDX-License-Identifier: MIT
/*
 * mm/prof/prof.c - the sampling heap profiler (CONFIG_HEAP_PROFILE).
 *
 * Sampling. Every thread draws the distance to its next sample, in bytes,
 * from an exponential distribution of mean HAKMEM_PROF_SAMPLE (2 MiB by
 * default, tcmalloc's; Documentation/profiling.md says why) and counts
 * its allocations down from it (prof_left, inline in the entry points).
 * The sample points form a Poisson process over the bytes allocated: an
 * allocation of s bytes holds at least one of them with probability
 * 1 - exp(-s / mean), and is sampled then; its estimate is that many
 * allocations, 1 / (1 - exp(-s / mean)), of s bytes each.
 * After a sample the next distance is drawn afresh (the process has no
 * memory, so the rest of the crossing allocation does not count).
 *
 * A sampled block records its call stack (the .eh_frame tables, no frame
 * pointers needed: mm/prof/unwind.c on x86-64, which keeps the decoded rule
 * of each return address, else libgcc's _Unwind_Backtrace; either way the
 * stack starts at the program's call) and is served by the box of its
 * size: a small one from a slab class, with PROF_OFFSET bytes more, at an
 * address PROF_OFFSET bytes into the block, which is not a block start,
 * so that its free fails the block-start test of free's fast path and
 * reaches the slow path of bad pointers; a Large one (or an aligned one)
 * by the Large box, whose free reaches core_free_slow(). Those slow paths
 * are the only places that ask the profiler (prof_block()). A slab
 * sample's first PROF_OFFSET bytes, below the program's address, point to
 * its record and hold a tag that only the profiler can compute (a keyed
 * hash of the address and the record: struct prof_head), so that its free
 * finds the record in two loads; Large samples are found in an
 * open-addressing table keyed by address, with a filter of counts by
 * address hash that the free of an unsampled Large block reads without
 * the lock. The profiler's tables live in memory it maps itself (never
 * malloc): stacks, interned in a hash table, with the estimated live and
 * total counts and bytes of their samples, the records of the slab
 * samples, and the table of the Large ones. One lock covers them; no
 * allocation, unwinding or system call of the allocator
 * happens under it, and nothing under it can call malloc.
 *
 * Recursion: the unwinder may call malloc (libgcc sorts the FDEs of
 * objects registered with __register_frame_info); a thread inside the
 * profiler serves nested allocations without sampling them.
 *
 * Peak: after each sample that raises the live estimate above its
 * maximum, the peak generation advances; a stack keeps its values of the
 * last peak (saved the first time it changes after it), so the peak
 * profile costs O(1) per sample.
 *
 * Dumps: the text format of the gperftools heap profiler,
 *
 *   heap profile: <live count>: <live bytes> [<alloc count>: <alloc bytes>] @ heapprofile
 *   <count>: <bytes> [<count>: <bytes>] @ 0x<pc> 0x<pc> ...
 *   ...
 *   MAPPED_LIBRARIES:
 *   <the contents of /proc/self/maps>
 *
 * written without allocating: at exit, on request (hak_prof_dump()), or
 * on a signal. The signal handler dumps at once if it gets the lock, or
 * leaves the dump to the thread that holds it, which writes it when it
 * lets go. See Documentation/profiling.md.
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <asm/bitops.h>
#include <hakmem.h>
#include <hakmem/alloc.h>
#include <hakmem/errno.h>
#include <hakmem/print.h>
#include <hakmem/valgrind.h>
#include "large/large.h"
#include "os/os.h"
#include "superslab/registry.h"
#include "prof.h"
#include "unwind.h"

#define PROF_DEFAULT_SAMPLE	(2UL << 20)	/* mean bytes between samples */
#define PROF_MAX_DEPTH		64		/* frames kept per stack */
#define PROF_SKIP_MAX		16		/* allocator frames above the program's */
#define PROF_FP_SHIFT		16		/* counts are fixed point, 1/65536 */
#define PROF_CHUNK		(1UL << 20)	/* arena chunk for stack records */
#define PROF_PREFIX_MAX		200		/* longest HAKMEM_PROF_PREFIX used */
#define PROF_OFFSET		HK_MIN_ALIGN	/* a sampled slab block: the program's address in it */
#define PROF_DEPTH_SAME		(~0U)		/* prof_backtrace(): the memo's stack */

/* A distinct call stack and the estimates of its samples. */
struct prof_stack {
	struct prof_stack *next;	/* every stack, newest first */
	uint64_t hash;			/* of the frames */
	uint64_t live_count;		/* estimated live blocks, fixed point */
	uint64_t live_bytes;		/* estimated live bytes */
	uint64_t alloc_count;		/* estimated blocks ever allocated, fixed point */
	uint64_t alloc_bytes;		/* estimated bytes ever allocated */
	uint64_t peak_count;		/* live_count at the last peak (if gen is current) */
	uint64_t peak_bytes;		/* live_bytes at the last peak (if gen is current) */
	unsigned long gen;		/* peak generation when peak_* were saved */
	unsigned int depth;		/* frames in pc[] */
	uintptr_t pc[];			/* return addresses, the allocating call first */
};

/*
 * A sampled block that is alive: a slot of prof_sample_tab (a Large or
 * aligned block), or a record that the block's first PROF_OFFSET bytes
 * point to (a slab block, handed out PROF_OFFSET bytes in; struct
 * prof_head).
 */
struct prof_sample {
	uintptr_t ptr;			/* the block, prof_hide()n (0: empty slot, free record) */
	struct prof_stack *stack;	/* where it was allocated (free record: next free one) */
	uint64_t count;			/* its estimated count, fixed point */
	uint64_t bytes;			/* its estimated bytes */
};

/*
 * The PROF_OFFSET bytes before a sampled slab block, at its block start:
 * its record, and a tag that only the profiler can compute (a keyed hash
 * of the address and the record), so that the free of a pointer that is
 * not a block start finds its sample in two loads, and a bad pointer's
 * words are not taken for one.
 */
struct prof_head {
	struct prof_sample *rec;	/* the sample's record */
	uintptr_t tag;			/* prof_tag(the program's address, rec) */
};

/* A thread's sampling state (beside prof_left). */
struct prof_tls {
	uint64_t rng;			/* xorshift state; 0 before the first sample point */
	int busy;			/* inside the profiler: do not sample */
	struct prof_uw_memos memo;	/* the last two stacks unwound (mm/prof/unwind.h) */
};

static __hk_tls struct prof_tls prof_tls;
static unsigned long prof_nr_live;		/* Large (and aligned) samples alive */
int prof_any;

/* Configuration, read once from the environment. */
static int prof_ready;			/* 0: not read, 1: read */
static int prof_on;			/* HAKMEM_PROF */
static int prof_started;		/* the constructor has run: sample */
static double prof_mean;		/* HAKMEM_PROF_SAMPLE */
static double prof_inv_mean;		/* 1 / prof_mean */
static int prof_at_exit;		/* HAKMEM_PROF_AT_EXIT (default 1) */
static int prof_peak_at_exit;		/* HAKMEM_PROF_PEAK (default 1) */
static int prof_signo;			/* HAKMEM_PROF_SIGNAL (default 0: none) */
static int prof_libgcc;			/* HAKMEM_PROF_UNWIND=libgcc: always _Unwind_Backtrace */
static char prof_prefix[PROF_PREFIX_MAX + 1];	/* HAKMEM_PROF_PREFIX (default "hakmem") */
static uintptr_t prof_key;		/* secret of prof_tag() (random) */

/* Under prof_lock_word. */
static int prof_lock_word;
static struct prof_stack *prof_stacks;		/* list of every stack */
static struct prof_stack **prof_stack_tab;	/* hash table of the stacks */
static unsigned long prof_stack_cap;		/* its size (power of two) */
static unsigned long prof_nr_stacks;
static struct prof_sample *prof_sample_tab;	/* hash table of the live samples */
static unsigned long prof_sample_cap;		/* its size (power of two) */
static char *prof_arena, *prof_arena_end;	/* bump allocation of stack records */
static uint64_t prof_live_bytes;		/* sum of live_bytes */
static uint64_t prof_peak_bytes;		/* its maximum */
static unsigned long prof_peak_gen = 1;		/* advances at each new maximum */
static unsigned long prof_nr_samples;		/* samples taken */
static unsigned long prof_nr_libgcc;		/* of which _Unwind_Backtrace unwound */
static unsigned long prof_nr_lookups;		/* frees that looked for their sample */
static struct prof_sample *prof_rec_free;	/* free records of slab samples */

/*
 * Live Large samples by a hash of their address (prof.h): the free of a
 * Large block looks in prof_sample_tab, under the lock, only if its entry
 * is not zero (prof_free_block()). Mapped once, never unmapped.
 */
#define PROF_FILTER		(1UL << PROF_FILTER_SHIFT)
static uint16_t *prof_filter;
uint16_t *prof_live_filter;			/* prof_filter while prof_nr_live, else NULL */

/* The filter count of address ptr (prof_filter not NULL). Under the lock. */
static __always_inline uint16_t *prof_filter_of(uintptr_t ptr)
{
	return prof_filter_at(prof_filter, ptr);
}

static int prof_dump_pending;			/* a signal asked for a dump */
static unsigned long prof_dump_seq;		/* dumps numbered per process */

#define barrier()	__asm__ __volatile__("" ::: "memory")

/*
 * The unwinder's interface (the Itanium C++ ABI's level 1, as in the LSB;
 * libgcc_s, or libgcc_eh in a static link), declared here rather than
 * taken from gcc's <unwind.h>, which sparse cannot read.
 */
struct _Unwind_Context;
#define URC_NO_REASON		0
#define URC_END_OF_STACK	5
typedef int (*unwind_trace_fn)(struct _Unwind_Context *ctx, void *arg);
extern int _Unwind_Backtrace(unwind_trace_fn fn, void *arg);
extern uintptr_t _Unwind_GetIP(struct _Unwind_Context *ctx);

/* ------------------------------------------------------------------ */
/* Lock                                                               */
/* ------------------------------------------------------------------ */

/*
 * An exchange, not a compare-and-swap: the same try-lock (the old value
 * says whether it was free), in 4 instructions where the CAS took 8.
 */
static __always_inline int prof_trylock(void)
{
	int ok = !a_swap(&prof_lock_word, 1, A_ACQUIRE);

	barrier();
	return ok;
}

static __noinline void prof_lock_wait(void)
{
	while (!prof_trylock())
		sched_yield();
}

/* Inline: a call to a function of its own cost 9 instructions a lock. */
static __always_inline void prof_lock(void)
{
	if (unlikely(!prof_trylock()))
		prof_lock_wait();
}

static void prof_dump_signalled(void);

/* A signal came while the lock was held: its dump is ours to write. */
static __noinline void prof_unlock_dump(void)
{
	if (prof_trylock()) {
		prof_dump_signalled();
		barrier();
		a_store(&prof_lock_word, 0, A_RELEASE);
	}
}

static __always_inline void prof_unlock(void)
{
	barrier();
	a_store(&prof_lock_word, 0, A_RELEASE);
	if (unlikely(a_load(&prof_dump_pending, A_ACQUIRE)))
		prof_unlock_dump();
}

void prof_fork_prepare(void)
{
	prof_lock();
}

void prof_fork_parent(void)
{
	barrier();
	a_store(&prof_lock_word, 0, A_RELEASE);
}

void prof_fork_child(void)
{
	prof_unwind_fork_child();
	barrier();
	a_store(&prof_lock_word, 0, A_RELEASE);
}

/* ------------------------------------------------------------------ */
/* Arithmetic without libm                                            */
/* ------------------------------------------------------------------ */

#define PROF_LN2	0.69314718055994530942

/*
 * The bits of a double and back, through a union (GNU C): memcpy is a
 * call here (-fno-builtin), 2 x 12 instructions a sample.
 */
union prof_bits {
	double d;		/* the value */
	uint64_t u;		/* its IEEE 754 bits */
};

static double prof_bits_double(uint64_t b)
{
	union prof_bits x = { .u = b };

	return x.d;
}

static uint64_t prof_double_bits(double d)
{
	union prof_bits x = { .d = d };

	return x.u;
}

/* 1/k: the series below multiply rather than divide. */
static const double prof_inv[] = {
	0, 1.0 / 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7, 1.0 / 8,
	1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15,
	1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20, 1.0 / 21, 1.0 / 22,
	1.0 / 23, 1.0 / 24, 1.0 / 25,
};

/* exp(-x) for x >= 0. */
static double prof_exp_neg(double x)
{
	double r, term, sum;
	unsigned long k;
	int i;

	if (x > 700)
		return 0;
	/* x = k ln 2 + r, 0 <= r < ln 2: exp(-x) = 2^-k exp(-r). */
	k = (unsigned long)(x / PROF_LN2);
	r = x - (double)k * PROF_LN2;
	term = 1;
	sum = 1;
	/* r^18 / 18! < 1e-18 */
	for (i = 1; i < 18; i++) {
		term *= -r * prof_inv[i];
		sum += term;
	}
	return sum * prof_bits_double((uint64_t)(1023 - k) << 52);
}

/*
 * The weight of a sample of x = size / mean, 1 / (1 - exp(-x)), x > 0.
 * Below 0.5 (the sampled sizes are mostly x < 0.1) it is (1/x) times
 * x / (1 - exp(-x)) = 1 + x/2 + x^2/12 - x^4/720 + x^6/30240 -
 * x^8/1209600 + ... (the Bernoulli numbers), cut after x^6: the first
 * term left out is below 3.3e-9 of the sum (x < 0.5), far below the
 * sampling error of any estimate. Some 16 instructions where the series
 * of 1 - exp(-x) took 140 (and the terms to x^10, 2e-13, took 20).
 */
static __always_inline double prof_weight(double x)
{
	double y = x * x;

	if (x >= 0.5)
		return 1 / (1 - prof_exp_neg(x));
	return (1 + 0.5 * x + y * (1.0 / 12 + y * (-1.0 / 720 + y * (1.0 / 30240)))) / x;
}

/* ln(u) for 0 < u <= 1. */
static double prof_ln(double u)
{
	uint64_t b;
	double m, z, z2, sum;
	int e;

	b = prof_double_bits(u);
	e = (int)((b >> 52) & 0x7ff) - 1023;
	m = prof_bits_double((b & ((1ULL << 52) - 1)) | (1023ULL << 52));	/* [1, 2) */
	if (m > 1.4142135623730951) {		/* [sqrt(1/2), sqrt(2)): z below 0.172 */
		m *= 0.5;
		e++;
	}
	/*
	 * ln m = 2 atanh(z), z = (m - 1) / (m + 1): z^2 < 0.0295, the
	 * first term left out 2 z^17 / 17 < 1.2e-14 (a distance to the next
	 * sample needs no more).
	 */
	z = (m - 1) / (m + 1);
	z2 = z * z;
	/* Written out: the loop cost 40 instructions where this is 16. */
	sum = 1.0 / 15;
	sum = sum * z2 + 1.0 / 13;
	sum = sum * z2 + 1.0 / 11;
	sum = sum * z2 + 1.0 / 9;
	sum = sum * z2 + 1.0 / 7;
	sum = sum * z2 + 1.0 / 5;
	sum = sum * z2 + 1.0 / 3;
	sum = sum * z2 + 1;
	return e * PROF_LN2 + 2 * z * sum;
}

static __always_inline uint64_t prof_random(struct prof_tls *t)
{
	uint64_t x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * The next distance: exponential, of mean prof_mean, drawn by the
 * ziggurat method (Marsaglia and Tsang, 2000) rather than as -ln(u) * mean
 * (a table of ln(1 + f) and a cubic: 45 instructions a draw with the
 * random word; this takes about 20, see Documentation/profiling.md).
 *
 * The area under f(x) = exp(-x) is cut into PROF_ZIG_N layers of equal
 * area v: layer 0 is the rectangle [0, r] x [0, f(r)] with the tail
 * beyond r; layer i > 0 the rectangle [0, x_i] x [f(x_i), f(x_i+1)],
 * x_1 = r, f(x_i+1) = f(x_i) + v / x_i, x_N = 0. A draw picks a layer i
 * and a point x uniform in [0, x_i] (x_0 = v / f(r), layer 0's width if
 * it were a rectangle): below x_i+1 the point is under the curve whatever
 * its height, and x is the draw (the fast path: a table row, a
 * comparison and a multiplication). Else, in layer 0, the draw is r plus
 * a new draw (the exponential has no memory); in another layer, a height
 * y uniform in [f(x_i), f(x_i+1)] keeps x if y < f(x), and a new layer
 * and point are drawn if not. So every x is drawn with density exactly
 * f (to the 2^-53 of the uniform words). r = 7.69711747013104972 makes
 * the last layer's area v for N = 256, as in the paper; the table is
 * made once (prof_zig_init(), one logarithm a row) with the mean folded
 * into the widths.
 */
#define PROF_ZIG_N	256
#define PROF_ZIG_R	7.69711747013104972
#define PROF_ZIG_ONE	9007199254740992.0	/* 2^53 */

/* One layer of the ziggurat. */
struct prof_zig_row {
	uint64_t k;		/* 2^53 x_i+1 / x_i: a point j / 2^53 below it is under the curve */
	double w;		/* x_i mean / 2^53: the draw is j times this */
};

static struct prof_zig_row prof_zig[PROF_ZIG_N];
static double prof_zig_f[PROF_ZIG_N + 1];	/* f(x_i) (layer 0: f(r)), f(x_N) = 1 */

static void prof_zig_init(void)
{
	double x[PROF_ZIG_N + 1], v;
	unsigned int i;

	prof_zig_f[1] = prof_exp_neg(PROF_ZIG_R);
	v = (PROF_ZIG_R + 1) * prof_zig_f[1];
	x[0] = v / prof_zig_f[1];
	x[1] = PROF_ZIG_R;
	for (i = 1; i < PROF_ZIG_N - 1; i++) {
		prof_zig_f[i + 1] = prof_zig_f[i] + v / x[i];
		x[i + 1] = -prof_ln(prof_zig_f[i + 1]);
	}
	x[PROF_ZIG_N] = 0;
	prof_zig_f[PROF_ZIG_N] = 1;
	prof_zig_f[0] = prof_zig_f[1];
	for (i = 0; i < PROF_ZIG_N; i++) {
		prof_zig[i].k = (uint64_t)(x[i + 1] / x[i] * PROF_ZIG_ONE);
		prof_zig[i].w = x[i] / PROF_ZIG_ONE * prof_mean;
	}
}

/*
 * The draw of a point that is not below x_i+1 (about 2% of the draws):
 * r more and a new draw (layer 0), or the height test. Returns bytes.
 */
static __noinline double prof_zig_slow(struct prof_tls *t, uint64_t u)
{
	double add = 0, x, y;
	unsigned int i;
	uint64_t j;

	for (;;) {
		i = u & (PROF_ZIG_N - 1);
		j = u >> 11;
		x = (double)(int64_t)j * prof_zig[i].w;
		if (j < prof_zig[i].k)
			return add + x;
		if (!i) {
			add += PROF_ZIG_R * prof_mean;
		} else {
			y = (double)(int64_t)(prof_random(t) >> 11) * (1 / PROF_ZIG_ONE);
			y = prof_zig_f[i] + y * (prof_zig_f[i + 1] - prof_zig_f[i]);
			if (y < prof_exp_neg(x * prof_inv_mean))
				return add + x;
		}
		u = prof_random(t);
	}
}

/* Bytes to the next sample point: exponential, of mean prof_mean. */
static __always_inline unsigned long prof_draw(struct prof_tls *t)
{
	uint64_t u = prof_random(t);
	const struct prof_zig_row *z = &prof_zig[u & (PROF_ZIG_N - 1)];
	uint64_t j = u >> 11;
	double d;

	/* The layer from the low 8 bits, the point from the top 53. */
	if (likely(j < z->k))
		d = (double)(int64_t)j * z->w;
	else
		d = prof_zig_slow(t, u);
	/*
	 * Below 2^63 once clamped: a signed conversion, one instruction
	 * where an unsigned one takes six.
	 */
	if (d > 1e15)
		d = 1e15;
	return (unsigned long)(long)d;
}

/* ------------------------------------------------------------------ */
/* Memory of the profiler: its own mappings                           */
/* ------------------------------------------------------------------ */

static void *prof_map(size_t size)
{
	return os_map_aligned(ALIGN_UP(size, os_page_size), os_page_size);
}

static void prof_unmap(void *p, size_t size)
{
	if (p)
		os_unmap(p, ALIGN_UP(size, os_page_size));
}

static void *prof_arena_alloc(size_t size)
{
	void *p;

	size = ALIGN_UP(size, 16);
	if ((size_t)(prof_arena_end - prof_arena) < size) {
		char *c = prof_map(PROF_CHUNK);

		if (!c)
			return NULL;
		prof_arena = c;
		prof_arena_end = c + PROF_CHUNK;
	}
	p = prof_arena;
	prof_arena += size;
	return p;
}

/* ------------------------------------------------------------------ */
/* Stacks                                                             */
/* ------------------------------------------------------------------ */

static uint64_t prof_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t prof_stack_hash(const uintptr_t *pc, unsigned int depth)
{
	uint64_t h = depth;
	unsigned int i;

	for (i = 0; i < depth; i++)
		h = prof_mix(h ^ pc[i]) + i;
	return h | 1;
}

static int prof_stack_grow(void)
{
	unsigned long cap = prof_stack_cap ? prof_stack_cap * 2 : 1024, j;
	struct prof_stack **tab = prof_map(cap * sizeof(*tab));
	struct prof_stack *s;

	if (!tab)
		return -1;
	for (s = prof_stacks; s; s = s->next) {
		for (j = s->hash & (cap - 1); tab[j]; j = (j + 1) & (cap - 1))
			;
		tab[j] = s;
	}
	prof_unmap(prof_stack_tab, prof_stack_cap * sizeof(*tab));
	prof_stack_tab = tab;
	prof_stack_cap = cap;
	return 0;
}

/* The record of this stack, created if new; NULL if out of memory. */
static struct prof_stack *prof_stack_get(const uintptr_t *pc, unsigned int depth)
{
	uint64_t h = prof_stack_hash(pc, depth);
	struct prof_stack *s;
	unsigned long j;

	if ((prof_nr_stacks + 1) * 2 > prof_stack_cap && prof_stack_grow())
		return NULL;
	for (j = h & (prof_stack_cap - 1); (s = prof_stack_tab[j]); j = (j + 1) & (prof_stack_cap - 1))
		if (s->hash == h && s->depth == depth &&
		    !memcmp(s->pc, pc, depth * sizeof(*pc)))
			return s;
	s = prof_arena_alloc(sizeof(*s) + depth * sizeof(*pc));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->hash = h;
	s->depth = depth;
	memcpy(s->pc, pc, depth * sizeof(*pc));
	s->next = prof_stacks;
	prof_stacks = s;
	prof_stack_tab[j] = s;
	prof_nr_stacks++;
	return s;
}

/* s is about to change: keep its values of the last peak. */
static void prof_stack_touch(struct prof_stack *s)
{
	if (s->gen != prof_peak_gen) {
		s->peak_count = s->live_count;
		s->peak_bytes = s->live_bytes;
		s->gen = prof_peak_gen;
	}
}

/* ------------------------------------------------------------------ */
/* Samples                                                            */
/* ------------------------------------------------------------------ */

/*
 * A sample's address as its record keeps it. Under Valgrind
 * (CONFIG_VALGRIND) memcheck's leak check scans the profiler's own
 * mappings too, and would take a record holding a block's address for a
 * pointer to the block: a leaked block that was sampled would be "still
 * reachable". The complement points nowhere. Without the box: the address.
 */
static __always_inline uintptr_t prof_hide(const void *ptr)
{
	return (uintptr_t)ptr ^ (IS_ENABLED(CONFIG_VALGRIND) ? ~(uintptr_t)0 : 0);
}

/* The slot of a hidden address (prof_hide()) in a table of cap slots. */
static unsigned long prof_slot(uintptr_t ptr, unsigned long cap)
{
	return (unsigned long)prof_mix(ptr >> 4) & (cap - 1);
}

static int prof_sample_grow(void)
{
	unsigned long cap = prof_sample_cap ? prof_sample_cap * 2 : 4096, i, j;
	struct prof_sample *tab = prof_map(cap * sizeof(*tab));

	if (!tab)
		return -1;
	for (i = 0; i < prof_sample_cap; i++) {
		if (!prof_sample_tab[i].ptr)
			continue;
		for (j = prof_slot(prof_sample_tab[i].ptr, cap); tab[j].ptr; j = (j + 1) & (cap - 1))
			;
		tab[j] = prof_sample_tab[i];
	}
	prof_unmap(prof_sample_tab, prof_sample_cap * sizeof(*tab));
	prof_sample_tab = tab;
	prof_sample_cap = cap;
	return 0;
}

/*
 * The tag of a slab sample's header (struct prof_head): the program's
 * address and the record, hashed with prof_key; never 0, the tag of a
 * block no longer sampled. A bad pointer's two words below it match only
 * by chance (2^-63), and its record pointer is followed only then. One
 * multiplication by an odd constant (a bijection but for the low bit: the
 * header copied in front of another address, with the same record,
 * matches there only if the two sums differ by exactly the constant's
 * inverse) rather than prof_mix(): 4 instructions where it took 11,
 * twice a sample (its allocation and its free).
 */
static __always_inline uintptr_t prof_tag(const void *ptr, const struct prof_sample *e)
{
	return ((((uintptr_t)ptr ^ prof_key) + (uintptr_t)e) * 0x9e3779b97f4a7c15ULL) | 1;
}

/* A record for a slab sample, or NULL. Under the lock. */
static __always_inline struct prof_sample *prof_rec_get(void)
{
	struct prof_sample *e = prof_rec_free;

	if (likely(e)) {
		prof_rec_free = (struct prof_sample *)e->stack;
		return e;
	}
	return prof_arena_alloc(sizeof(*e));
}

/* Give record e back. Under the lock. */
static void prof_rec_put(struct prof_sample *e)
{
	e->ptr = 0;
	e->stack = (struct prof_stack *)prof_rec_free;
	prof_rec_free = e;
}

/*
 * The slot of a Large sample p in prof_sample_tab (the table grown if
 * needed), or NULL. Under the lock.
 */
static struct prof_sample *prof_slot_new(void *p)
{
	unsigned long j;

	if ((prof_nr_live + 1) * 2 > prof_sample_cap && prof_sample_grow())
		return NULL;
	if (!prof_filter) {
		uint16_t *f = prof_map(PROF_FILTER * sizeof(*prof_filter));

		if (!f)
			return NULL;
		prof_filter = f;
	}
	if (*prof_filter_of((uintptr_t)p) == UINT16_MAX)
		return NULL;
	for (j = prof_slot(prof_hide(p), prof_sample_cap); prof_sample_tab[j].ptr;
	     j = (j + 1) & (prof_sample_cap - 1))
		;
	a_store(prof_filter_of((uintptr_t)p), *prof_filter_of((uintptr_t)p) + 1, A_RELAXED);
	if (!prof_nr_live++)
		a_store(&prof_live_filter, prof_filter, A_RELEASE);
	return &prof_sample_tab[j];
}

/*
 * Record the sample p of size bytes, allocated from the stack pc[depth]
 * (depth PROF_DEPTH_SAME: the stack of the thread's memo, m). inner: p
 * is a slab block handed out PROF_OFFSET bytes in, whose header gets a
 * record; else p goes into prof_sample_tab. 0, or -1 if it could not be
 * recorded (out of memory).
 */
static __always_inline int prof_record(void *p, int inner, size_t size, const uintptr_t *pc,
				       unsigned int depth, int slow, struct prof_uw_memos *m)
{
	/* size < 2^63: a signed conversion (an unsigned one branches on the sign). */
	double sz = (double)(long)size;
	double w = prof_weight(sz * prof_inv_mean);
	struct prof_stack *s;
	struct prof_sample *e;
	struct prof_head *h;
	uint64_t count, bytes;
	int ret = -1;

	/*
	 * The estimates before the lock, in integer registers: the stack's
	 * sums take them from there, not from e (which the compiler must
	 * reload after each store to s), and w is not spilled around
	 * prof_stack_get(). Below 2^63 (a signed conversion is 1
	 * instruction, an unsigned 6).
	 */
	count = (uint64_t)(int64_t)(w * (1 << PROF_FP_SHIFT) + 0.5);
	bytes = (uint64_t)(int64_t)(w * sz + 0.5);
	prof_lock();
	if (depth == PROF_DEPTH_SAME) {
		s = prof_memo_cur(m)->stack;
	} else {
		s = prof_stack_get(pc, depth);
		/*
		 * The memo describes this walk (if it kept one: nr > 0): its
		 * stack is s. A memo without reads is no memo (libgcc's
		 * walk, or too many reads): its stack stays NULL, so that
		 * prof_unwind() checks only the stack.
		 */
		prof_memo_cur(m)->stack = prof_memo_cur(m)->nr ? s : NULL;
		/* (A memo's stack is never NULL: prof_unwind() checks.) */
		if (!s)
			goto out;
	}
	e = inner ? prof_rec_get() : prof_slot_new(p);
	if (!e)
		goto out;
	prof_nr_samples++;
	prof_nr_libgcc += slow;
	e->ptr = prof_hide(p);
	e->stack = s;
	e->count = count;
	e->bytes = bytes;
	if (inner) {
		h = (struct prof_head *)((char *)p - PROF_OFFSET);
		/* Not the program's: no-access under Valgrind. */
		vg_open(h, PROF_OFFSET);
		h->rec = e;
		h->tag = prof_tag(p, e);
		vg_close(h, PROF_OFFSET);
	}
	prof_stack_touch(s);
	s->live_count += count;
	s->live_bytes += bytes;
	s->alloc_count += count;
	s->alloc_bytes += bytes;
	prof_live_bytes += bytes;
	if (prof_live_bytes > prof_peak_bytes) {
		prof_peak_bytes = prof_live_bytes;
		prof_peak_gen++;
	}
	ret = 0;
out:
	prof_unlock();
	return ret;
}

/* The slot of ptr's sample in prof_sample_tab, or -1. Under the lock. */
static long prof_find(const void *ptr)
{
	unsigned long mask = prof_sample_cap - 1, i;

	prof_nr_lookups++;
	for (i = prof_slot(prof_hide(ptr), prof_sample_cap); prof_sample_tab[i].ptr != prof_hide(ptr);
	     i = (i + 1) & mask)
		if (!prof_sample_tab[i].ptr)
			return -1;
	return (long)i;
}

/* Sample e leaves the estimates. Under the lock. */
static __always_inline void prof_unaccount(const struct prof_sample *e)
{
	struct prof_stack *s = e->stack;

	prof_stack_touch(s);
	s->live_count -= e->count;
	s->live_bytes -= e->bytes;
	prof_live_bytes -= e->bytes;
}

/* Drop the sample in slot i of prof_sample_tab. Under the lock. */
static void prof_remove(unsigned long i)
{
	unsigned long mask = prof_sample_cap - 1, j, k;
	uintptr_t ptr = prof_hide((const void *)prof_sample_tab[i].ptr);

	a_store(prof_filter_of(ptr), *prof_filter_of(ptr) - 1, A_RELAXED);
	prof_unaccount(&prof_sample_tab[i]);
	if (!--prof_nr_live)
		a_store(&prof_live_filter, NULL, A_RELAXED);
	/* Backward-shift deletion: no tombstones. */
	for (j = (i + 1) & mask; prof_sample_tab[j].ptr; j = (j + 1) & mask) {
		k = prof_slot(prof_sample_tab[j].ptr, prof_sample_cap);
		/* Move j to the hole i unless its home k lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			prof_sample_tab[i] = prof_sample_tab[j];
			i = j;
		}
	}
	prof_sample_tab[i].ptr = 0;
}

/* A Large block (or one resized in place) is freed: drop its sample if it has one. */
void prof_forget(const void *ptr)
{
	long i;

	/* (prof_free_block() found ptr's filter entry not zero.) */
	prof_lock();
	i = prof_find(ptr);
	if (i >= 0)
		prof_remove((unsigned long)i);
	prof_unlock();
}

/*
 * The header of ptr (in a slab, not a block start) if ptr is a slab
 * sample's address: its two words below ptr hold a record and a tag that
 * matches. NULL otherwise. Reading them is safe: ptr lies in a slab, so
 * ptr - PROF_OFFSET lies in its SuperSlab (at worst in the slot before,
 * or in the SuperSlab's own header), which stays mapped; it need not be
 * a block start (a tag that matches says it is). The record still has
 * to name ptr (under the lock): the header of a block freed, or freed
 * and sampled again at the same address, can be stale. Returns the
 * record the header names.
 *
 * Under Valgrind (CONFIG_VALGRIND) the header is no-access (the block
 * was handed out 16 bytes in), and a bad pointer's two words can be
 * anything, a live block's undefined bytes too: they are read with
 * memcheck's reports off, and nothing is marked.
 */
static __always_inline struct prof_sample *prof_head_tagged(const void *ptr)
{
	struct prof_head *h = (struct prof_head *)((uintptr_t)ptr - PROF_OFFSET);
	struct prof_sample *e;
	int ok;

	/* A sample's address is 16-aligned: a bad pointer that is not is not read below. */
	if ((uintptr_t)ptr & (PROF_OFFSET - 1))
		return NULL;
	vg_quiet_begin();
	e = h->rec;
	ok = h->tag == prof_tag(ptr, e);
	/*
	 * The answer is defined whatever the words were: a bad pointer's
	 * undefined bytes must not make memcheck report the branch on it.
	 */
	vg_defined(&ok, sizeof(ok));
	vg_defined(&e, sizeof(e));
	vg_quiet_end();
	return ok ? e : NULL;
}

/* prof_head_tagged() of ptr in a slab of blocks (any slab: its head's kind is read). */
static __always_inline struct prof_sample *prof_head_of(const void *ptr)
{
	if (unlikely(slab_block_head(ptr)->kind != SLAB_BLOCKS))
		return NULL;
	return prof_head_tagged(ptr);
}

/*
 * ptr is in a slab, not a block start, and not a live sample: if the
 * block 16 bytes below is a free block, ptr is a sampled block freed
 * twice (the first free wrote the block's link and key over its
 * header), reported as the double free it is.
 */
static void prof_check_twice(void *ptr)
{
	char *b = (char *)ptr - PROF_OFFSET;
	struct slab *s = slab_block_head(ptr);

	if (s->kind == SLAB_BLOCKS && slab_is_block_start(s, b) && dfkey_is_free(s, b))
		guard_double_free(ptr);
}

/*
 * ptr's header named record e: if e is still ptr's sample, the sample
 * leaves the estimates, e goes back, and the header's tag is cleared
 * (1); else 0 (a stale header).
 */
static __always_inline int prof_drop(void *ptr, struct prof_sample *e)
{
	struct prof_head *h = (struct prof_head *)((char *)ptr - PROF_OFFSET);
	int live = 0;

	prof_lock();
	prof_nr_lookups++;
	if (likely(e->ptr == prof_hide(ptr))) {
		prof_unaccount(e);
		prof_rec_put(e);
		live = 1;
	}
	prof_unlock();
	if (likely(live)) {
		vg_open(h, PROF_OFFSET);
		h->tag = 0;
		vg_close(h, PROF_OFFSET);
	}
	return live;
}

/*
 * The free of ptr, a block of the caller's heap in slab s (slab_of(ptr):
 * its slot's metadata, which a tail slot mirrors) that is not a block
 * start (heap_free_nonlocal()). heap_free_nonlocal() has found s and
 * its owner already: the header is read without the slab's kind (a slab
 * of the caller's heap holds blocks; a tag matches only in a header the
 * profiler wrote, and the record it names is the profiler's, never
 * unmapped), and the block goes into the caller's bin through s, which
 * the block's own slot mirrors too. prof_free_inner() found the slab
 * twice more and tested the owner again: 99 instructions a sample
 * there, against 76 here (callgrind, bench_random_mixed 32768 262144).
 */
void prof_free_local_inner(void *ptr, struct slab *s, const void *caller)
{
	struct prof_sample *e = prof_head_tagged(ptr);
	char *h = (char *)ptr - PROF_OFFSET;

	if (likely(e) && likely(prof_drop(ptr, e))) {
		heap_free_local(s, tp_bin(s->bin_tpoff), h);
		return;
	}
	prof_check_twice(ptr);
	guard_foreign(ptr, GUARD_FREE, caller);
}

int prof_free_inner(void *ptr)
{
	struct prof_sample *e = prof_head_of(ptr);
	struct prof_head *h = (struct prof_head *)((char *)ptr - PROF_OFFSET);
	struct slab *s;

	if (!e || !prof_drop(ptr, e)) {
		prof_check_twice(ptr);
		return 0;
	}
	/*
	 * The block itself: the owner's free into its bin, as
	 * heap_free_nonlocal() frees a block start of the caller's heap
	 * (hk_free() would look the SuperSlab up in the registry again and
	 * test the block start again: some 20 instructions a sample), or
	 * hk_free()'s remote free if the slab is another thread's.
	 */
	s = slab_of(h);
	if (likely(s->owner && s->owner == hk_tls.heap))
		heap_free_local(s, tp_bin(s->bin_tpoff), h);
	else
		hk_free(h);
	return 1;
}

size_t prof_usable_inner(const void *ptr)
{
	struct prof_sample *e = prof_head_of(ptr);
	struct slab *s;
	int live;

	if (!e)
		return 0;
	/*
	 * Without the lock: ptr is the caller's, so its record changes only
	 * at its free (and is never unmapped).
	 */
	live = a_load(&e->ptr, A_RELAXED) == prof_hide(ptr);
	if (!live)
		return 0;
	s = slab_block_head(ptr);
	return s->block_size - PROF_OFFSET;
}

/*
 * A realloc of ptr, a live slab sample, to size bytes, which its block
 * holds (as hk_resize() keeps a block start: at most half empty): ptr,
 * the block staying where it is, 16 bytes in, with the sample out of the
 * estimates; NULL if ptr is not a live sample or must move. Before, such
 * a realloc moved the block, and a sampled realloc (which moves a slab
 * block into one 16 bytes larger) was followed by a second copy at the
 * next realloc of a buffer growing in its block (bench_realloc: 214 of
 * its 225 sampled moves, 1.7 M instructions of copies).
 *
 * Unsampled (drop 0, prof_resize_inner()): the header and the record stay,
 * so that its free, usable size and next realloc still find it, with a
 * weight of 0, as a free and an unsampled allocation would take it out.
 * Sampled (drop 1, prof_realloc()): the record goes back too, and the
 * caller records the new sample in the same place.
 */
static void *prof_stay(void *ptr, size_t size, int drop)
{
	struct prof_sample *e = prof_head_of(ptr);
	size_t n;
	int live = 0;

	if (!e)
		return NULL;
	n = slab_block_head(ptr)->block_size - PROF_OFFSET;
	if (size > n || size < n / 2)
		return NULL;
	/*
	 * Out of the estimates already (an earlier realloc: a weight is
	 * never 0 otherwise): nothing to take out, no lock. ptr is the
	 * caller's, so its record changes only at its free.
	 */
	if (!drop && !a_load(&e->count, A_RELAXED) && a_load(&e->ptr, A_RELAXED) == prof_hide(ptr))
		return ptr;
	prof_lock();
	if (e->ptr == prof_hide(ptr)) {
		prof_unaccount(e);
		if (drop) {
			prof_rec_put(e);
		} else {
			e->count = 0;
			e->bytes = 0;
		}
		live = 1;
	}
	prof_unlock();
	return live ? ptr : NULL;
}

void *prof_resize_inner(void *ptr, size_t size)
{
	return prof_stay(ptr, size, 0);
}

/* prof_copy_down(): memmove()s of less than glibc's threshold for `rep movsb` (2048). */
#define PROF_COPY_CHUNK		2032

/*
 * Move n bytes at src PROF_OFFSET bytes down (dst = src - PROF_OFFSET),
 * in pieces of PROF_COPY_CHUNK bytes, from the first: each piece's
 * destination overlaps only its own source and the piece before, already
 * moved. Not one memmove(): glibc's copies a block of some KiB forwards
 * with `rep movsb` (unless the CPU is known to be slow at it with a
 * source so close above its destination: only some Intel ones), which
 * callgrind counts as one instruction a byte (16 600 instructions for
 * 16 KiB, where the pieces take 2 100: glibc's vector loop), and the
 * pieces cost no more CPU time on this machine (a loop of 16 KiB moves,
 * `rep movsb` 164-371 ns, the pieces 168-290 ns).
 */
static void prof_copy_down(char *dst, const char *src, size_t n)
{
	size_t k;

	for (k = 0; k < n; k += PROF_COPY_CHUNK)
		memmove(dst + k, src + k, n - k < PROF_COPY_CHUNK ? n - k : PROF_COPY_CHUNK);
}

/*
 * An unsampled realloc of a live slab sample to size bytes, which its
 * block holds (at most half empty, hk_realloc_usable_size()'s
 * HK_REALLOC_SAMPLE): the sample leaves the estimates, its record goes
 * back, and its bytes move PROF_OFFSET down to the block start, which is
 * returned: a plain block again, whose next realloc stays on realloc's
 * fast path (a block start of the caller's) and whose free never asks
 * the profiler. NULL if ptr is no longer a live sample.
 *
 * Before (prof_resize_inner(), which hk_resize() still uses), the block
 * stayed a sample of weight 0, 16 bytes in, so that every later realloc
 * of a buffer sampled once failed the fast path's block-start test and
 * went through realloc's slow path, the header checked twice (some 230
 * instructions where the fast path takes 20: bench_strbuild, +20%). The
 * move of its bytes is paid once per sample, as prof_shift() pays one to
 * make the sample.
 */
void *prof_unsample_inner(void *ptr, size_t size)
{
	struct prof_head *h = (struct prof_head *)((char *)ptr - PROF_OFFSET);

	/*
	 * A block start holds its class's size: with CONFIG_HEAP_STRIDE_PAD
	 * the sample's usable size (the stride less 16) may be more, and
	 * such a realloc moves. (ptr is a slab block of the region:
	 * hk_realloc_usable_size() said HK_REALLOC_SAMPLE.) Then the
	 * sample leaves the estimates and its record goes back, as for a
	 * sampled realloc that stays (prof_stay()).
	 */
	if (size > hk_classes[slab_block_head(ptr)->class_idx].size || !prof_stay(ptr, size, 1))
		return NULL;
	/*
	 * The copy covers the tag only if size is 16 or more: clear it
	 * first, so that no header names ptr once it is no sample.
	 */
	vg_open(h, PROF_OFFSET);
	h->tag = 0;
	vg_close(h, PROF_OFFSET);
	prof_copy_down((char *)h, ptr, size);
	return h;
}

/* ------------------------------------------------------------------ */
/* Call stacks                                                        */
/* ------------------------------------------------------------------ */

struct prof_bt {
	uintptr_t pc[PROF_MAX_DEPTH + PROF_SKIP_MAX];	/* frames, innermost first */
	unsigned int n;					/* frames in pc[] */
};

static int prof_bt_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct prof_bt *bt = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);

	if (!ip || bt->n >= ARRAY_SIZE(bt->pc))
		return URC_END_OF_STACK;
	bt->pc[bt->n++] = ip;
	return URC_NO_REASON;
}

/* prof_backtrace() by libgcc's _Unwind_Backtrace. */
static __noinline unsigned int prof_backtrace_libgcc(uintptr_t *pc, const void *caller)
{
	struct prof_bt bt;
	unsigned int i, from = 0, n;

	bt.n = 0;
	_Unwind_Backtrace(prof_bt_frame, &bt);
	for (i = 0; i < bt.n && i < PROF_SKIP_MAX; i++) {
		if (bt.pc[i] == (uintptr_t)caller) {
			from = i;
			break;
		}
	}
	n = bt.n - from;
	if (n > PROF_MAX_DEPTH)
		n = PROF_MAX_DEPTH;
	memcpy(pc, &bt.pc[from], n * sizeof(*pc));
	if (n)
		pc[0]--;
	return n;
}

/*
 * The call stack from the program's call of the allocator (caller, the
 * entry point's return address) outwards, into pc[]; returns the depth.
 * The first address is moved back into the call instruction (pprof does
 * that for the others). *slow: 1 if libgcc's unwinder did it (mm/prof/
 * unwind.c could not, or HAKMEM_PROF_UNWIND=libgcc).
 */
static __always_inline unsigned int prof_backtrace(uintptr_t *pc, const void *caller, int *slow,
						   struct prof_uw_memos *m)
{
	int got;
	unsigned int n;

	/*
	 * Under Valgrind (CONFIG_VALGRIND) the walk reads stack words that
	 * memcheck may take as undefined (saved registers, a static
	 * program's first frames): no reports from it, and the return
	 * addresses it found count as defined.
	 */
	vg_quiet_begin();
	/* -1 with HAKMEM_PROF_UNWIND=libgcc: it has no cache (prof_warm_up()). */
	got = prof_unwind(pc, PROF_MAX_DEPTH, (uintptr_t)caller, m);
	if (got == PROF_UNWIND_SAME) {
		vg_quiet_end();
		*slow = 0;
		return PROF_DEPTH_SAME;
	}
	*slow = got < 0;
	if (unlikely(got < 0)) {
		/* libgcc's walks are not remembered. */
		prof_memo_cur(m)->nr = 0;
		n = prof_backtrace_libgcc(pc, caller);
	} else {
		/* Straight into pc[], from the program's frame. */
		n = (unsigned int)got;
		if (n)
			pc[0]--;
	}
	vg_defined(pc, n * sizeof(*pc));
	vg_quiet_end();
	return n;
}

/* ------------------------------------------------------------------ */
/* Dumps                                                              */
/* ------------------------------------------------------------------ */

struct prof_out {
	int fd;				/* where to */
	int err;			/* a write failed */
	size_t len;			/* bytes in buf */
	char buf[4096];			/* pending output */
};

static void prof_flush(struct prof_out *o)
{
	size_t done = 0;
	ssize_t n;

	while (done < o->len && !o->err) {
		n = write(o->fd, o->buf + done, o->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = 1;
		else
			done += (size_t)n;
	}
	o->len = 0;
}

static void prof_put(struct prof_out *o, const char *s, size_t n)
{
	while (n) {
		size_t k = sizeof(o->buf) - o->len;

		if (!k) {
			prof_flush(o);
			continue;
		}
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

static void prof_puts(struct prof_out *o, const char *s)
{
	prof_put(o, s, strlen(s));
}

/* v in base 10 or 16, right-aligned in width. */
static void prof_putnum(struct prof_out *o, uint64_t v, unsigned int base, unsigned int width)
{
	char tmp[24];
	unsigned int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width > n) {
		prof_put(o, " ", 1);
		width--;
	}
	while (n)
		prof_put(o, &tmp[--n], 1);
}

static uint64_t prof_count(uint64_t fp)
{
	return (fp + (1U << (PROF_FP_SHIFT - 1))) >> PROF_FP_SHIFT;
}

/* The live values of s (peak: at the last peak). */
static void prof_values(const struct prof_stack *s, int peak, uint64_t *count, uint64_t *bytes)
{
	if (peak && s->gen == prof_peak_gen) {
		*count = prof_count(s->peak_count);
		*bytes = s->peak_bytes;
	} else {
		*count = prof_count(s->live_count);
		*bytes = s->live_bytes;
	}
}

static void prof_put_pair(struct prof_out *o, uint64_t c1, uint64_t b1, uint64_t c2, uint64_t b2)
{
	prof_putnum(o, c1, 10, 6);
	prof_puts(o, ": ");
	prof_putnum(o, b1, 10, 8);
	prof_puts(o, " [");
	prof_putnum(o, c2, 10, 6);
	prof_puts(o, ": ");
	prof_putnum(o, b2, 10, 8);
	prof_puts(o, "] @");
}

/* Copy /proc/self/maps. */
static void prof_put_maps(struct prof_out *o)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	prof_puts(o, "\nMAPPED_LIBRARIES:\n");
	if (fd < 0)
		return;
	for (;;) {
		if (o->len == sizeof(o->buf))
			prof_flush(o);
		n = read(fd, o->buf + o->len, sizeof(o->buf) - o->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		o->len += (size_t)n;
	}
	close(fd);
}

/* Write the profile (peak: at the peak) to fd. Under the lock. */
static int prof_write(int fd, int peak)
{
	uint64_t tc = 0, tb = 0, ac = 0, ab = 0, c, b;
	struct prof_stack *s;
	struct prof_out o;
	unsigned int i;

	o.fd = fd;
	o.err = 0;
	o.len = 0;
	for (s = prof_stacks; s; s = s->next) {
		prof_values(s, peak, &c, &b);
		tc += c;
		tb += b;
		ac += prof_count(s->alloc_count);
		ab += s->alloc_bytes;
	}
	prof_puts(&o, "heap profile: ");
	prof_put_pair(&o, tc, tb, ac, ab);
	prof_puts(&o, " heapprofile\n");
	for (s = prof_stacks; s; s = s->next) {
		prof_values(s, peak, &c, &b);
		prof_put_pair(&o, c, b, prof_count(s->alloc_count), s->alloc_bytes);
		for (i = 0; i < s->depth; i++) {
			prof_puts(&o, " 0x");
			prof_putnum(&o, s->pc[i], 16, 0);
		}
		prof_puts(&o, "\n");
	}
	prof_put_maps(&o);
	prof_flush(&o);
	return o.err ? -1 : 0;
}

static int prof_dump_to(const char *path, int peak)
{
	int fd, ret, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ret = prof_write(fd, peak);
	saved = errno;
	if (close(fd) && !ret)
		ret = -1;
	else
		errno = saved;
	return ret;
}

/* path = PREFIX.PID.what.heap, or PREFIX.PID.N.heap if what is NULL. */
static void prof_path(char *path, size_t size, const char *what)
{
	struct prof_out o;

	o.fd = -1;
	o.err = 0;
	o.len = 0;
	prof_puts(&o, prof_prefix);
	prof_puts(&o, ".");
	prof_putnum(&o, (uint64_t)getpid(), 10, 0);
	prof_puts(&o, ".");
	if (what)
		prof_puts(&o, what);
	else
		prof_putnum(&o, a_fetch_add(&prof_dump_seq, 1, A_RELAXED), 10, 0);
	prof_puts(&o, ".heap");
	if (o.len >= size)
		o.len = size - 1;
	memcpy(path, o.buf, o.len);
	path[o.len] = 0;
}

/* Under the lock: the dump a signal asked for. */
static void prof_dump_signalled(void)
{
	char path[PROF_PREFIX_MAX + 64];

	while (a_swap(&prof_dump_pending, 0, A_ACQ_REL)) {
		prof_path(path, sizeof(path), NULL);
		if (prof_dump_to(path, 0))
			hk_dprintf(STDERR_FILENO, "hakmem: prof: cannot write %s\n", path);
	}
}

static void prof_signal(int sig)
{
	int saved = errno;

	a_store(&prof_dump_pending, 1, A_RELEASE);
	if (prof_trylock()) {
		prof_dump_signalled();
		barrier();
		a_store(&prof_lock_word, 0, A_RELEASE);
	}
	errno = saved;
}

__export int hak_prof_dump(const char *path)
{
	int ret;

	if (!path) {
		hk_set_errno(EINVAL);
		return -1;
	}
	prof_lock();
	ret = prof_dump_to(path, 0);
	prof_unlock();
	return ret;
}

__export int hak_prof_dump_peak(const char *path)
{
	int ret;

	if (!path) {
		hk_set_errno(EINVAL);
		return -1;
	}
	prof_lock();
	ret = prof_dump_to(path, 1);
	prof_unlock();
	return ret;
}

static int prof_streq(const char *a, const char *b)
{
	while (*b)
		if (*a++ != *b++)
			return 0;
	return !*a;
}

int prof_stat(const char *name, unsigned long *value)
{
	if (prof_streq(name, "prof_samples"))
		*value = a_load(&prof_nr_samples, A_RELAXED);
	else if (prof_streq(name, "prof_libgcc_unwinds"))
		*value = a_load(&prof_nr_libgcc, A_RELAXED);
	else if (prof_streq(name, "prof_free_lookups"))
		*value = a_load(&prof_nr_lookups, A_RELAXED);
	else
		return -ENOENT;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

static void prof_init(void)
{
	const char *prefix;
	long v;

	prof_mean = (double)PROF_DEFAULT_SAMPLE;
	v = hk_env_long("HAKMEM_PROF_SAMPLE", (long)PROF_DEFAULT_SAMPLE);
	if (v > 0)
		prof_mean = (double)v;
	prof_inv_mean = 1 / prof_mean;
	prof_at_exit = hk_env_long("HAKMEM_PROF_AT_EXIT", 1) > 0;
	prof_peak_at_exit = hk_env_long("HAKMEM_PROF_PEAK", 1) > 0;
	v = hk_env_long("HAKMEM_PROF_SIGNAL", 0);
	prof_signo = v > 0 && v < 65 ? (int)v : 0;
	prefix = getenv("HAKMEM_PROF_UNWIND");
	prof_libgcc = prefix && !strcmp(prefix, "libgcc");
	prefix = getenv("HAKMEM_PROF_PREFIX");
	if (!prefix || !*prefix || strlen(prefix) > PROF_PREFIX_MAX)
		prefix = "hakmem";
	memcpy(prof_prefix, prefix, strlen(prefix) + 1);
	prof_on = hk_env_long("HAKMEM_PROF", 0) > 0;
	if (prof_on) {
		prof_key = os_random_word();
		prof_zig_init();
	}
	a_store(&prof_ready, 1, A_RELEASE);
}

/* Have the unwinder set itself up now, not first inside a malloc. */
static void prof_warm_up(void)
{
	uintptr_t pc[PROF_MAX_DEPTH];

	int slow;

	prof_tls.busy++;
	/*
	 * HAKMEM_PROF_UNWIND=libgcc: no cache, so that prof_unwind() always
	 * answers -1 (libgcc's walk) without a test of prof_libgcc a sample.
	 */
	if (!prof_libgcc)
		prof_unwind_init();
	prof_backtrace(pc, NULL, &slow, &prof_tls.memo);
	prof_tls.busy--;
}

__attribute__((constructor)) static void prof_ctor(void)
{
	struct sigaction sa;

	if (!a_load(&prof_ready, A_ACQUIRE))
		prof_init();
	if (!prof_on)
		return;
	/*
	 * A static program's first thread has its TLS in the brk segment,
	 * which memcheck takes as undefined although the kernel zeroed it;
	 * nothing wrote prof_tls before this (CONFIG_VALGRIND; nothing
	 * without it).
	 */
	vg_defined(&prof_tls, sizeof(prof_tls));
	prof_warm_up();
	/* Before the first sample (set there, it cost 2 instructions a sample). */
	a_store(&prof_any, 1, A_RELAXED);
	a_store(&prof_started, 1, A_RELEASE);
	if (prof_signo) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = prof_signal;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(prof_signo, &sa, NULL);
	}
}

/*
 * At exit: the lock, but not forever (exit() called by a signal handler
 * that interrupted this very thread inside the profiler would wait for
 * itself).
 */
static int prof_lock_at_exit(void)
{
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		if (prof_trylock())
			return 0;
		sched_yield();
	}
	hk_dprintf(STDERR_FILENO, "hakmem: prof: the profiler is busy at exit: no exit dump\n");
	return -1;
}

static void prof_dump_at_exit(const char *what, int peak)
{
	char path[PROF_PREFIX_MAX + 64];

	prof_path(path, sizeof(path), what);
	if (prof_dump_to(path, peak))
		hk_dprintf(STDERR_FILENO, "hakmem: prof: cannot write %s\n", path);
}

__attribute__((destructor)) static void prof_dtor(void)
{
	if (!prof_on || (!prof_at_exit && !prof_peak_at_exit) || prof_lock_at_exit())
		return;
	if (prof_at_exit)
		prof_dump_at_exit("exit", 0);
	if (prof_peak_at_exit)
		prof_dump_at_exit("peak", 1);
	prof_unlock();
}

/* ------------------------------------------------------------------ */
/* Allocation                                                         */
/* ------------------------------------------------------------------ */

/* As the entry point would have, without sampling. */
static void *prof_plain(size_t size, size_t align, int zero)
{
	void *p;

	if (zero)
		return hk_alloc_zeroed(size);
	if (align <= HK_MIN_ALIGN)
		return hk_alloc(size);
	p = hk_alloc_aligned(align, size);
	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	return p;
}

/* A sampled block from the Large box. */
static void *prof_large(size_t size, size_t align, int zero)
{
	void *p = NULL;

	if (likely(size <= HK_MAX_REQUEST) && likely(!heap_init()))
		p = zero ? large_calloc(size) : large_alloc(size, align < HK_MIN_ALIGN ? HK_MIN_ALIGN : align);
	if (unlikely(!p))
		hk_set_errno(ENOMEM);
	return p;
}

/*
 * A sampled block. One that a slab class can hold with PROF_OFFSET bytes
 * more comes from that class (the box of its size), and the program gets
 * the address PROF_OFFSET bytes into it: not a block start, so that its
 * free fails the block-start test of free's fast path and reaches the
 * slow path that reports bad pointers (heap_bad_pointer(), or
 * heap_free_other() from another thread), which asks the profiler first
 * (prof_free_bad()). Every other free is left as it was. An aligned block
 * (align > 16), a larger one, and a block that realloc grows to Large
 * (grown_large: hk_grown_large() of the realloc) is a Large block, whose
 * free asks the profiler in core_free_slow().
 */
static __always_inline void *prof_block(size_t size, size_t align, int zero, int grown_large,
					 int *inner)
{
	char *p;

	*inner = HK_NR_CLASSES && align <= HK_MIN_ALIGN && size <= HEAP_MAX_SIZE - PROF_OFFSET &&
		 !grown_large;
	if (*inner) {
		p = zero ? hk_alloc_zeroed(size + PROF_OFFSET) : hk_alloc(size + PROF_OFFSET);
		return p ? p + PROF_OFFSET : NULL;
	}
	return prof_large(size, align, zero);
}

/*
 * Record the sampled block p (see prof_record()). A block handed out
 * inside its block (inner) that could not be recorded is handed out at
 * its block start instead: its free must not look like a bad pointer's.
 */
static __always_inline void *prof_keep(void *p, int inner, size_t size, const uintptr_t *pc,
				       unsigned int depth, int slow, struct prof_uw_memos *m)
{
	if (prof_record(p, inner, size, pc, depth, slow, m) && inner)
		return (char *)p - PROF_OFFSET;
	return p;
}

/*
 * prof_take() where it is not the sample point of a thread that has
 * sampled before: the first allocations of the process (the environment
 * not read, the constructor not run), profiling off, a thread's first
 * sample point.
 */
static __noinline int prof_take_first(struct prof_tls *t, size_t size)
{
	if (unlikely(!a_load(&prof_ready, A_ACQUIRE))) {
		/*
		 * The dynamic linker may allocate before the C library has
		 * set environ: ask again a little later.
		 */
		if (!environ) {
			prof_left = 1UL << 16;
			return 0;
		}
		prof_init();
	}
	if (!prof_on) {
		prof_left = LONG_MAX;
		return 0;
	}
	/*
	 * Not before the constructor: in a static program the C library
	 * allocates before the unwinder can find its tables.
	 */
	if (unlikely(!a_load(&prof_started, A_ACQUIRE))) {
		prof_left = 1UL << 16;
		return 0;
	}
	if (!t->rng) {
		/* The thread's first allocation: draw its first point. */
		t->rng = os_random_word() ^ (uintptr_t)t;
		if (!t->rng)
			t->rng = 1;
		prof_left = prof_draw(t);
		if (size <= prof_left) {
			prof_left -= size;
			return 0;
		}
	}
	prof_left = prof_draw(t);
	return !t->busy;
}

/*
 * Is this allocation (size bytes; prof_left has crossed zero) sampled?
 * Sets the thread's next sample point either way. (prof_started: the
 * constructor has run with profiling on.)
 */
static __always_inline int prof_take(struct prof_tls *t, size_t size)
{
	/*
	 * t->rng is set only by prof_take_first() once prof_started is:
	 * not 0 says both. With CONFIG_VALGRIND prof_started is read first:
	 * before the constructor, a static program's TLS is undefined to
	 * memcheck (prof_ctor()), and t->rng must not be read.
	 */
	if (unlikely((IS_ENABLED(CONFIG_VALGRIND) && !a_load(&prof_started, A_ACQUIRE)) ||
		     !t->rng))
		return prof_take_first(t, size);
	prof_left = prof_draw(t);
	return !t->busy;
}

__slowpath void *prof_alloc(size_t size, size_t align, int zero, const void *caller)
{
	struct prof_tls *t = &prof_tls;
	uintptr_t pc[PROF_MAX_DEPTH];
	unsigned int depth;
	int slow, inner;
	void *p;

	if (!prof_take(t, size))
		return prof_plain(size, align, zero);
	t->busy++;
	depth = prof_backtrace(pc, caller, &slow, &t->memo);
	p = prof_block(size, align, zero, 0, &inner);
	/* inner a constant in each: prof_record() without its tests (6 instructions). */
	if (likely(inner))
		p = p ? prof_keep(p, 1, size, pc, depth, slow, &t->memo) : NULL;
	else if (p)
		p = prof_keep(p, 0, size, pc, depth, slow, &t->memo);
	t->busy--;
	return p;
}

/*
 * A sampled realloc of ptr, a slab block start, to size bytes: if its
 * block holds size + PROF_OFFSET bytes and stays at most half empty (as
 * hk_resize() would keep it), the bytes kept move PROF_OFFSET up inside
 * the block, which becomes a sample where it is (its free then reaches
 * the profiler): the address handed out, or NULL (the caller moves the
 * block to another one). Before, every such realloc took a new block of
 * the class of size + PROF_OFFSET, a copy to it and the free of the old
 * one; memmove() within the block touches no other memory.
 */
static void *prof_shift(void *ptr, size_t size, size_t old)
{
	struct slab *s = slab_block_head(ptr);
	size_t n;

	if (s->kind != SLAB_BLOCKS || !slab_is_block_start(s, ptr))
		return NULL;
	n = s->block_size;
	if (size > n - PROF_OFFSET || size < n / 2)
		return NULL;
	memmove((char *)ptr + PROF_OFFSET, ptr, old < size ? old : size);
	return (char *)ptr + PROF_OFFSET;
}

/*
 * realloc after the countdown crossed: as realloc would (resize in place
 * if the block's box can, else move), and if sampled, the block that
 * results is recorded. (Moving every sampled realloc made a loop that
 * grows a buffer copy it at nearly every step: at 1 MiB a realloc is
 * sampled with probability 0.86.)
 */
__slowpath void *prof_realloc(void *ptr, size_t size, size_t old, const void *caller)
{
	struct prof_tls *t = &prof_tls;
	uintptr_t pc[PROF_MAX_DEPTH];
	unsigned int depth = 0;
	int sampled, slow = 0, inner = 0;
	void *p;

	sampled = prof_take(t, size);
	if (sampled) {
		t->busy++;
		depth = prof_backtrace(pc, caller, &slow, &t->memo);
	}
	/*
	 * A sampled slab block must be handed out inside its block (its
	 * free must reach the profiler): such a realloc moves. A Large
	 * block's free reaches it anyway.
	 */
	p = NULL;
	if (!sampled || registry_lookup((uintptr_t)ptr) != REG_SUPERSLAB) {
		p = hk_resize(ptr, size);
	} else {
		p = prof_shift(ptr, size, old);
		if (p) {
			/* A block start: not a sample before. */
			if (prof_record(p, 1, size, pc, depth, slow, &t->memo)) {
				/* Not recorded: back to its block start. */
				memmove(ptr, p, size);
				p = ptr;
			}
			t->busy--;
			return p;
		}
		p = prof_stay(ptr, size, 1);
		if (p) {
			/* A sample that stays: a new record in its header. */
			if (prof_record(p, 1, size, pc, depth, slow, &t->memo)) {
				/* Not recorded: to its block start, a plain block. */
				p = (char *)ptr - PROF_OFFSET;
				memmove(p, ptr, size);
			}
			t->busy--;
			return p;
		}
	}
	if (p) {
		/* In place (or moved by mremap): the old sample goes. */
		prof_free_block(ptr);
		if (sampled)
			prof_record(p, 0, size, pc, depth, slow, &t->memo);
	} else {
		/*
		 * A sampled block that moves gets the room an unsampled one
		 * would (hk_grown_ask()), and from the same box
		 * (hk_grown_large()): without the room, a buffer grown by
		 * small steps moved again at its next realloc, where the
		 * unsampled one stays (bench_realloc: 225 sampled moves,
		 * 1.83 M instructions of copies).
		 */
		p = sampled ? prof_block(hk_grown_ask(size, old), 0, 0,
					 hk_grown_large(size, old), &inner) :
			      hk_alloc_grown(size, old);
		if (p) {
			if (sampled)
				p = prof_keep(p, inner, size, pc, depth, slow, &t->memo);
			memcpy(p, ptr, old < size ? old : size);
			hk_free(ptr);
		}
	}
	if (sampled)
		t->busy--;
	return p;
}
