// SPDX-License-Identifier: MIT
/*
 * mm/prof/unwind.c - the heap profiler's unwinder for x86-64.
 *
 * libgcc's _Unwind_Backtrace finds, for every frame of every sample, the
 * FDE of the return address, decodes its CIE, runs the call frame program
 * up to the address and builds a full register context: about 1 500
 * instructions a frame, nearly all of a sample's cost. A program samples
 * from a few hundred call sites, whose rules never change. This unwinder
 * asks libgcc only for the FDE (_Unwind_Find_FDE, which takes no lock and
 * does not allocate with glibc's _dl_find_object), decodes the rule of the
 * address once - where the CFA is (rsp or rbp plus an offset), where the
 * return address and rbp were saved - and keeps it in a cache keyed by the
 * address. A frame then costs a hash, two loads of the cache and one or
 * two of the stack.
 *
 * Only the rules that compilers emit for ordinary x86-64 code are decoded:
 * the CFA from rsp or rbp, the return address and rbp at offsets from it.
 * A frame that needs anything else (a signal frame, a DWARF expression, the
 * CFA in another register) makes prof_unwind() return -1, and the profiler
 * asks _Unwind_Backtrace for that stack: same result, old cost. An address
 * without an FDE ends the stack, as it does for libgcc.
 *
 * The cache: 8192 entries, direct mapped, each a key (the address looked
 * up) and a rule (one 64-bit word), in memory the profiler maps itself.
 * Readers take no lock: they read the key, the rule, and the key again,
 * and use the rule if the key was the address both times; a writer (under
 * a try-lock: a writer that would wait does not cache) clears the key,
 * writes the rule, then the key.
 */
#include <string.h>
#include <hakmem/atomic.h>
#include <hakmem/compiler.h>
#include "os/os.h"
#include "unwind.h"

#define UW_CACHE_SHIFT	13
#define UW_CACHE_SIZE	(1UL << UW_CACHE_SHIFT)
#define UW_MAX_FRAME	(256UL << 20)	/* larger steps between two CFAs: a broken stack */
#define UW_STATES	8		/* depth of DW_CFA_remember_state */
#define UW_SKIP_MAX	16		/* frames walked before the first one kept */

/* DWARF register numbers of x86-64 (System V ABI, figure 3.36). */
#define UW_RBP		6
#define UW_RSP		7
#define UW_RA		16

enum uw_kind {
	UW_NONE,		/* not decoded (an empty cache entry) */
	UW_FRAME,		/* an ordinary frame: the rule below */
	UW_END,			/* the outermost frame (return address undefined) or no FDE */
	UW_SLOW,		/* needs what this unwinder does not decode */
};

/* How to go from a frame to its caller's; one 64-bit word. */
union uw_rule {
	struct {
		int32_t cfa_off;	/* CFA = base register + cfa_off */
		int16_t rbp_off;	/* rbp saved at CFA + rbp_off (if rbp_saved) */
		int8_t ra_off;		/* return address at CFA + ra_off */
		uint8_t kind : 2;	/* enum uw_kind */
		uint8_t cfa_rbp : 1;	/* base register: rbp (else rsp) */
		uint8_t rbp_saved : 1;	/* rbp was saved in the frame */
	};
	uint64_t word;			/* the rule as stored in the cache */
};

/* A cached rule. */
struct uw_entry {
	uintptr_t key;			/* the address it is the rule of (0: empty) */
	uint64_t rule;			/* union uw_rule's word */
};

static struct uw_entry *uw_cache;	/* UW_CACHE_SIZE entries, or NULL */
static int uw_cache_lock;		/* writers of uw_cache */

/* libgcc (unwind-dw2-fde.h): the FDE of pc, and the start of its function. */
struct dwarf_eh_bases {
	void *tbase;			/* text base (unused on x86-64) */
	void *dbase;			/* data base (unused on x86-64) */
	void *func;			/* start of the function of the FDE */
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

void prof_unwind_init(void)
{
	if (!uw_cache)
		uw_cache = os_map_aligned(ALIGN_UP(UW_CACHE_SIZE * sizeof(struct uw_entry),
						   os_page_size), os_page_size);
}

void prof_unwind_fork_child(void)
{
	a_store(&uw_cache_lock, 0, A_RELEASE);
}

/* ------------------------------------------------------------------ */
/* Decoding the call frame information                                */
/* ------------------------------------------------------------------ */

/* The rules of one row of the call frame table that the walk needs. */
struct uw_row {
	long cfa_off;			/* CFA = cfa_reg + cfa_off */
	unsigned long cfa_reg;		/* DWARF register of the CFA */
	long rbp_off;			/* rbp saved at CFA + rbp_off (rbp_how 1) */
	long ra_off;			/* return address at CFA + ra_off (ra_how 1) */
	unsigned char rbp_how;		/* 0 same value, 1 saved at an offset, 2 other */
	unsigned char ra_how;		/* 0 not given, 1 at an offset, 2 undefined, 3 other */
};

/* A byte stream being decoded. */
struct uw_in {
	const uint8_t *p;		/* next byte */
	const uint8_t *end;		/* end of the stream */
	int bad;			/* read past the end */
};

static uint8_t uw_u8(struct uw_in *in)
{
	if (in->p >= in->end) {
		in->bad = 1;
		return 0;
	}
	return *in->p++;
}

/* A LEB128 number's bits; *shift: how many it had, *last: its last byte. */
static unsigned long uw_leb(struct uw_in *in, unsigned int *shift, uint8_t *last)
{
	unsigned long v = 0;
	uint8_t b;

	*shift = 0;
	do {
		b = uw_u8(in);
		if (*shift < 64)
			v |= (unsigned long)(b & 0x7f) << *shift;
		*shift += 7;
	} while ((b & 0x80) && !in->bad);
	*last = b;
	return v;
}

static unsigned long uw_uleb(struct uw_in *in)
{
	unsigned int shift;
	uint8_t b;

	return uw_leb(in, &shift, &b);
}

static long uw_sleb(struct uw_in *in)
{
	unsigned int shift;
	uint8_t b;
	unsigned long v = uw_leb(in, &shift, &b);

	if (shift < 64 && (b & 0x40))
		v |= ~0UL << shift;
	return (long)v;
}

static unsigned long uw_fixed(struct uw_in *in, unsigned int n)
{
	unsigned long v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (unsigned long)uw_u8(in) << (8 * i);
	return v;
}

/* Skip a pointer of encoding enc (DW_EH_PE_*); -1 if the format is unknown. */
static int uw_skip_ptr(struct uw_in *in, uint8_t enc)
{
	if (enc == 0xff)		/* DW_EH_PE_omit */
		return 0;
	switch (enc & 0x0f) {
	case 0x00:			/* absptr */
	case 0x04:			/* udata8 */
	case 0x0c:			/* sdata8 */
		uw_fixed(in, 8);
		return 0;
	case 0x02:			/* udata2 */
	case 0x0a:			/* sdata2 */
		uw_fixed(in, 2);
		return 0;
	case 0x03:			/* udata4 */
	case 0x0b:			/* sdata4 */
		uw_fixed(in, 4);
		return 0;
	case 0x01:			/* uleb128 */
		uw_uleb(in);
		return 0;
	case 0x09:			/* sleb128 */
		uw_sleb(in);
		return 0;
	}
	return -1;
}

/* What the CIE tells. */
struct uw_cie {
	unsigned long code_align;	/* factor of advance_loc */
	long data_align;		/* factor of the offsets */
	uint8_t fde_enc;		/* encoding of the FDE's addresses */
	int has_aug;			/* 'z': the FDE has an augmentation length */
	struct uw_in insns;		/* initial instructions */
};

/* Decode the CIE at cie; -1 if it is one this unwinder does not take. */
static int uw_read_cie(const uint8_t *cie, struct uw_cie *c)
{
	struct uw_in in;
	const char *aug;
	uint32_t len;
	unsigned long ra_reg;
	uint8_t version;

	len = (uint32_t)cie[0] | (uint32_t)cie[1] << 8 | (uint32_t)cie[2] << 16 | (uint32_t)cie[3] << 24;
	if (len == 0 || len == 0xffffffffU)
		return -1;
	in.p = cie + 4;
	in.end = cie + 4 + len;
	in.bad = 0;
	if (uw_fixed(&in, 4) != 0)		/* CIE id */
		return -1;
	version = uw_u8(&in);
	if (version != 1 && version != 3)
		return -1;
	aug = (const char *)in.p;
	while (uw_u8(&in))
		;
	c->code_align = uw_uleb(&in);
	c->data_align = uw_sleb(&in);
	ra_reg = version == 1 ? uw_u8(&in) : uw_uleb(&in);
	if (ra_reg != UW_RA)
		return -1;
	c->fde_enc = 0;				/* DW_EH_PE_absptr */
	c->has_aug = aug[0] == 'z';
	if (c->has_aug) {
		unsigned long alen = uw_uleb(&in);
		const uint8_t *aend = in.p + alen;
		const char *a;

		for (a = aug + 1; *a && !in.bad; a++) {
			if (*a == 'R') {
				c->fde_enc = uw_u8(&in);
			} else if (*a == 'P') {
				if (uw_skip_ptr(&in, uw_u8(&in) & 0x7f))
					return -1;
			} else if (*a == 'L') {
				uw_u8(&in);
			} else {
				/* 'S' (a signal frame) or unknown. */
				return -1;
			}
		}
		if (aend > in.end)
			return -1;
		in.p = aend;
	} else if (aug[0]) {
		return -1;
	}
	if (in.bad)
		return -1;
	c->insns = in;
	return 0;
}

/*
 * Run the call frame instructions of in on row, from location loc, up to
 * the row that covers target. init: the row after the CIE's instructions
 * (DW_CFA_restore), or NULL while running them. Returns 0, or -1 for an
 * instruction this unwinder does not decode.
 */
static int uw_run(struct uw_in *in, const struct uw_cie *c, struct uw_row *row,
		  const struct uw_row *init, uintptr_t loc, uintptr_t target)
{
	struct uw_row saved[UW_STATES];
	unsigned int nsaved = 0;
	unsigned long reg, delta;
	long off;
	uint8_t op;

	while (in->p < in->end) {
		op = uw_u8(in);
		delta = 0;
		reg = ~0UL;
		switch (op >> 6) {
		case 1:				/* DW_CFA_advance_loc */
			delta = (op & 0x3f) * c->code_align;
			goto advance;
		case 2:				/* DW_CFA_offset */
			reg = op & 0x3f;
			off = (long)uw_uleb(in) * c->data_align;
			goto offset;
		case 3:				/* DW_CFA_restore */
			reg = op & 0x3f;
			goto restore;
		}
		switch (op) {
		case 0x00:			/* DW_CFA_nop */
			break;
		case 0x02:			/* DW_CFA_advance_loc1 */
			delta = uw_fixed(in, 1) * c->code_align;
			goto advance;
		case 0x03:			/* DW_CFA_advance_loc2 */
			delta = uw_fixed(in, 2) * c->code_align;
			goto advance;
		case 0x04:			/* DW_CFA_advance_loc4 */
			delta = uw_fixed(in, 4) * c->code_align;
			goto advance;
		case 0x05:			/* DW_CFA_offset_extended */
			reg = uw_uleb(in);
			off = (long)uw_uleb(in) * c->data_align;
			goto offset;
		case 0x11:			/* DW_CFA_offset_extended_sf */
			reg = uw_uleb(in);
			off = uw_sleb(in) * c->data_align;
			goto offset;
		case 0x2f:			/* DW_CFA_GNU_negative_offset_extended */
			reg = uw_uleb(in);
			off = -(long)uw_uleb(in) * c->data_align;
			goto offset;
		case 0x06:			/* DW_CFA_restore_extended */
			reg = uw_uleb(in);
			goto restore;
		case 0x07:			/* DW_CFA_undefined */
			reg = uw_uleb(in);
			if (reg == UW_RA)
				row->ra_how = 2;
			else if (reg == UW_RBP)
				row->rbp_how = 2;
			break;
		case 0x08:			/* DW_CFA_same_value */
			reg = uw_uleb(in);
			if (reg == UW_RA)
				row->ra_how = 3;
			else if (reg == UW_RBP)
				row->rbp_how = 0;
			break;
		case 0x09:			/* DW_CFA_register */
			reg = uw_uleb(in);
			uw_uleb(in);
			if (reg == UW_RA || reg == UW_RBP)
				return -1;
			break;
		case 0x0a:			/* DW_CFA_remember_state */
			if (nsaved == UW_STATES)
				return -1;
			saved[nsaved++] = *row;
			break;
		case 0x0b:			/* DW_CFA_restore_state */
			if (!nsaved)
				return -1;
			*row = saved[--nsaved];
			break;
		case 0x0c:			/* DW_CFA_def_cfa */
			row->cfa_reg = uw_uleb(in);
			row->cfa_off = (long)uw_uleb(in);
			break;
		case 0x12:			/* DW_CFA_def_cfa_sf */
			row->cfa_reg = uw_uleb(in);
			row->cfa_off = uw_sleb(in) * c->data_align;
			break;
		case 0x0d:			/* DW_CFA_def_cfa_register */
			row->cfa_reg = uw_uleb(in);
			break;
		case 0x0e:			/* DW_CFA_def_cfa_offset */
			row->cfa_off = (long)uw_uleb(in);
			break;
		case 0x13:			/* DW_CFA_def_cfa_offset_sf */
			row->cfa_off = uw_sleb(in) * c->data_align;
			break;
		case 0x10:			/* DW_CFA_expression */
		case 0x16:			/* DW_CFA_val_expression */
			reg = uw_uleb(in);
			delta = uw_uleb(in);
			if (reg == UW_RA || reg == UW_RBP || delta > (unsigned long)(in->end - in->p))
				return -1;
			in->p += delta;
			break;
		case 0x14:			/* DW_CFA_val_offset */
		case 0x15:			/* DW_CFA_val_offset_sf */
			reg = uw_uleb(in);
			if (op == 0x14)
				uw_uleb(in);
			else
				uw_sleb(in);
			if (reg == UW_RA || reg == UW_RBP)
				return -1;
			break;
		case 0x2e:			/* DW_CFA_GNU_args_size */
			uw_uleb(in);
			break;
		default:
			/* DW_CFA_set_loc, DW_CFA_def_cfa_expression, ... */
			return -1;
		}
		if (in->bad)
			return -1;
		continue;
advance:
		if (!init || loc + delta > target)
			return in->bad ? -1 : 0;
		loc += delta;
		continue;
offset:
		if (reg == UW_RA) {
			row->ra_how = 1;
			row->ra_off = off;
		} else if (reg == UW_RBP) {
			row->rbp_how = 1;
			row->rbp_off = off;
		}
		continue;
restore:
		if (!init)
			return -1;
		if (reg == UW_RA) {
			row->ra_how = init->ra_how;
			row->ra_off = init->ra_off;
		} else if (reg == UW_RBP) {
			row->rbp_how = init->rbp_how;
			row->rbp_off = init->rbp_off;
		}
	}
	return in->bad ? -1 : 0;
}

/* The rule of the frame whose code is at target (decoded, not cached). */
static __noinline union uw_rule uw_decode(uintptr_t target)
{
	union uw_rule r = { .word = 0 };
	struct dwarf_eh_bases bases;
	const uint8_t *fde;
	struct uw_row row, init;
	struct uw_cie c;
	struct uw_in in;
	uint32_t len, cie_off;

	fde = _Unwind_Find_FDE((void *)target, &bases);
	if (!fde) {
		r.kind = UW_END;
		return r;
	}
	r.kind = UW_SLOW;
	memcpy(&len, fde, 4);
	memcpy(&cie_off, fde + 4, 4);
	if (len == 0xffffffffU || len < 8)
		return r;
	if (uw_read_cie(fde + 4 - cie_off, &c))
		return r;
	/* The CIE's initial instructions. */
	memset(&row, 0, sizeof(row));
	row.cfa_reg = ~0UL;
	if (uw_run(&c.insns, &c, &row, NULL, 0, 0))
		return r;
	init = row;
	/* The FDE's, from the start of the function to target. */
	in.p = fde + 8;
	in.end = fde + 4 + len;
	in.bad = 0;
	if (uw_skip_ptr(&in, c.fde_enc) || uw_skip_ptr(&in, c.fde_enc & 0x0f))
		return r;
	if (c.has_aug)
		in.p += uw_uleb(&in);
	if (in.bad || in.p > in.end)
		return r;
	if (uw_run(&in, &c, &row, &init, (uintptr_t)bases.func, target))
		return r;
	if (row.ra_how == 2) {
		r.kind = UW_END;
		return r;
	}
	if ((row.cfa_reg != UW_RSP && row.cfa_reg != UW_RBP) || row.ra_how != 1 ||
	    row.rbp_how == 2 || row.cfa_off != (int32_t)row.cfa_off ||
	    row.ra_off != (int8_t)row.ra_off || row.rbp_off != (int16_t)row.rbp_off)
		return r;
	r.cfa_off = (int32_t)row.cfa_off;
	r.cfa_rbp = row.cfa_reg == UW_RBP;
	r.ra_off = (int8_t)row.ra_off;
	r.rbp_saved = row.rbp_how == 1;
	r.rbp_off = r.rbp_saved ? (int16_t)row.rbp_off : 0;
	r.kind = UW_FRAME;
	return r;
}

/* ------------------------------------------------------------------ */
/* The cache and the walk                                             */
/* ------------------------------------------------------------------ */

static __always_inline struct uw_entry *uw_slot(uintptr_t key)
{
	return &uw_cache[(key * 0x9e3779b97f4a7c15ULL) >> (64 - UW_CACHE_SHIFT)];
}

static __always_inline union uw_rule uw_rule_of(uintptr_t target)
{
	union uw_rule r;
	struct uw_entry *e;
	int expected = 0;

	e = uw_slot(target);
	if (likely(a_load(&e->key, A_ACQUIRE) == target)) {
		r.word = a_load(&e->rule, A_RELAXED);
		a_fence(A_ACQUIRE);
		if (likely(a_load(&e->key, A_RELAXED) == target))
			return r;
	}
	r = uw_decode(target);
	if (a_cas(&uw_cache_lock, &expected, 1, A_ACQUIRE)) {
		e = uw_slot(target);
		a_store(&e->key, 0, A_RELAXED);
		a_fence(A_RELEASE);
		a_store(&e->rule, r.word, A_RELAXED);
		a_store(&e->key, target, A_RELEASE);
		a_store(&uw_cache_lock, 0, A_RELEASE);
	}
	return r;
}

/* Keep the read of val at addr in the memo (ok: 0 if it has no room). */
static __always_inline void uw_memo_read(struct prof_uw_memo *m, unsigned int *nr, int *ok,
					 uintptr_t addr, uintptr_t val)
{
	if (*nr < PROF_MEMO_READS) {
		m->rd[*nr].addr = addr;
		m->rd[*nr].val = val;
		(*nr)++;
	} else {
		*ok = 0;
	}
}

/*
 * Is the walk from sp, bp and from the one m describes? Each address is
 * the one the walk would read now, since the words read before it are the
 * same: reading it is as safe as the walk. The reads stop at the first
 * that differs, the sentinel (rd[nr]) at the latest: 5 instructions a
 * read, where a loop that counted them took 7 (callgrind,
 * bench_random_mixed 32768 262144: 7 reads a sample).
 */
static __always_inline int uw_memo_same(const struct prof_uw_memo *m, uintptr_t sp, uintptr_t bp,
					uintptr_t from)
{
	const struct prof_uw_read *r;

	if (!m->stack || m->sp != sp || (m->bp_used && m->bp != bp) || m->from != from)
		return 0;
	for (r = m->rd;; r += 2) {
		if (*(const uintptr_t *)r[0].addr != r[0].val)
			break;
		/* r[0] was no sentinel: r[1] is a read or the sentinel. */
		if (*(const uintptr_t *)r[1].addr != r[1].val) {
			r++;
			break;
		}
	}
	return r == m->last;
}

/* A memo's sentinel after its reads, and the pointer to it. */
static __always_inline void uw_memo_seal(struct prof_uw_memo *m)
{
	m->end = 0;
	m->rd[m->nr].addr = (uintptr_t)&m->end;
	m->rd[m->nr].val = 1;
	m->last = &m->rd[m->nr];
}

/*
 * The walk of prof_unwind(), from its frame: pc, sp and bp are where it
 * read them. Its caller's frame stays where it is while this runs (it is
 * not a tail call), and the walk reads only that frame and the ones above.
 */
static __noinline int uw_walk(uintptr_t *out, unsigned int max, uintptr_t from,
			      struct prof_uw_memo *m, uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
	uintptr_t sp0, bp0, cfa, target, ra;
	union uw_rule r;
	unsigned int n = 0, skipped = 0, nr = 0;
	uintptr_t bp_addr = 0;
	int ok = 1, bp_first = 1, bp_used = 0, bp_pending = 0;

	m->nr = 0;
	m->stack = NULL;
	sp0 = sp;
	bp0 = bp;
	/* The first frame is at pc exactly; the others just before their return address. */
	target = pc;
	while (n < max) {
		if (n || !from || pc == from) {
			out[n++] = pc;
		} else if (++skipped > UW_SKIP_MAX) {
			return -1;
		}
		r = uw_rule_of(target);
		if (r.kind == UW_END)
			break;
		if (unlikely(r.kind != UW_FRAME))
			return -1;
		/*
		 * rbp is often a plain register (its saved value a loop
		 * counter of the caller's): the memo keeps rbp, and each
		 * saved rbp read, only when a rule uses it.
		 */
		if (r.cfa_rbp) {
			bp_used |= bp_first;
			if (bp_pending)
				uw_memo_read(m, &nr, &ok, bp_addr, bp);
			bp_pending = 0;
		}
		cfa = (r.cfa_rbp ? bp : sp) + (long)r.cfa_off;
		/* A CFA must lie above the frame below it, 8-aligned: else stop. */
		if (unlikely(cfa <= sp || cfa - sp > UW_MAX_FRAME || (cfa & 7)))
			break;
		ra = *(const uintptr_t *)(cfa + (long)r.ra_off);
		uw_memo_read(m, &nr, &ok, cfa + (long)r.ra_off, ra);
		if (r.rbp_saved) {
			bp_addr = cfa + (long)r.rbp_off;
			bp = *(const uintptr_t *)bp_addr;
			bp_pending = 1;
			bp_first = 0;
		}
		sp = cfa;
		if (!ra)
			break;
		pc = ra;
		target = ra - 1;
	}
	if (!n && from)
		return -1;
	if (ok) {
		m->sp = sp0;
		m->bp = bp0;
		m->bp_used = bp_used;
		m->from = from;
		m->nr = nr;
		/* The sentinel: end holds 0, never 1. */
		uw_memo_seal(m);
	}
	return (int)n;
}

/* Exchange the values of a and b (lvalues of one type). */
#define uw_swap(a, b)	do { __typeof__(a) __t = (a); (a) = (b); (b) = __t; } while (0)

/* Swap memos a and b: their reads, in one pass, and their sentinels written again. */
static void uw_memo_swap(struct prof_uw_memo *a, struct prof_uw_memo *b)
{
	unsigned int i, n = a->nr > b->nr ? a->nr : b->nr;

	uw_swap(a->sp, b->sp);
	uw_swap(a->bp, b->bp);
	uw_swap(a->bp_used, b->bp_used);
	uw_swap(a->from, b->from);
	uw_swap(a->stack, b->stack);
	uw_swap(a->nr, b->nr);
	for (i = 0; i < n; i++)
		uw_swap(a->rd[i], b->rd[i]);
	uw_memo_seal(a);
	uw_memo_seal(b);
}

/*
 * prof_unwind() after m[0] did not match: m[1] matches (the two swap), or
 * the walk, into m[0], whose stack becomes m[1]. Apart, so that a match
 * of m[0] saves no more registers than with one memo. Called, not jumped
 * to: prof_unwind()'s frame, where the walk starts, stays.
 */
static __noinline int uw_other(uintptr_t *out, unsigned int max, uintptr_t from,
			       struct prof_uw_memos *ms, uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
	int same;

	/* A memo comes from a walk, which had the cache (never unmapped). */
	if (unlikely(!uw_cache))
		return -1;
	same = uw_memo_same(&ms->m[1], sp, bp, from);
	uw_memo_swap(&ms->m[0], &ms->m[1]);
	if (same)
		return PROF_UNWIND_SAME;
	return uw_walk(out, max, from, &ms->m[0], pc, sp, bp);
}

/*
 * The memo's check apart from the walk (uw_walk()): a sample whose stack
 * is the last one (most of them) runs only this, which needs no register
 * saved; with the walk in the same function, the check paid the walk's
 * prologue and epilogue (callgrind, bench_random_mixed 32768 262144: 83
 * instructions a sample in prof_unwind(), now 70 with the memo's
 * simpler test).
 */
__noinline int prof_unwind(uintptr_t *out, unsigned int max, uintptr_t from,
			  struct prof_uw_memos *ms)
{
	struct prof_uw_memo *m = prof_memo_cur(ms);
	uintptr_t pc, sp, bp;
	int n;

	/* Where this function is, and its rsp and rbp there. */
	__asm__ __volatile__("lea 0(%%rip), %0\n\t"
			     "mov %%rsp, %1\n\t"
			     "mov %%rbp, %2"
			     : "=r"(pc), "=r"(sp), "=r"(bp));
	if (uw_memo_same(m, sp, bp, from))
		return PROF_UNWIND_SAME;
	/* The other memo, or the walk. */
	n = uw_other(out, max, from, ms, pc, sp, bp);
	/* Not a tail call: this frame, where the walk starts, must stay. */
	__asm__ __volatile__("" : "+r"(n));
	return n;
}
