// SPDX-License-Identifier: MIT
/*
 * fuzz_alloc: a libFuzzer target for the hak_* API.
 *
 * The input is a program over a table of 64 live blocks. Each operation
 * is one opcode byte and its operands:
 *
 *	op % 16	 operands		operation on slot s (= next byte % 64)
 *	 0	 s size			malloc
 *	 1	 s n1 size		calloc(n1, size / n1), checked zeroed
 *	 2	 s size			realloc (contents kept up to the smaller size)
 *	 3	 s			free
 *	 4,5,6	 s align size		posix_memalign, aligned_alloc, memalign
 *	 7	 s			usable size: >= requested, all writable
 *	 8	 s			free_sized
 *	 9	 s n1 size		reallocarray(n1, size), overflow -> ENOMEM
 *	10	 s size			valloc, or pvalloc if the size byte is odd
 *	11	 s			free_aligned_sized (aligned blocks)
 *	12	 s			malloc(0)
 *	13	 s			realloc(p, 0): frees, returns NULL
 *	14	 s t			move slot s to slot t (free t's block)
 *	15	 s size			realloc(NULL, size)
 *
 * size is two bytes: the low three bits pick a range (0..256 B for 0-3,
 * 0..4 KiB for 4-5, 0..64 KiB for 6, 0..4 MiB for 7), the other 13 bits
 * the size in it. align is one
 * byte: 1 << (b % 23), or with bit 7 set a value that is not a power of
 * two (the call must then fail with EINVAL, except memalign).
 *
 * Every block is filled with a pattern of its slot's seed, checked before
 * it is freed or moved, and its alignment is checked. Blocks above
 * 8 KiB are patterned in their first and last 512 bytes only. Live memory is
 * capped at 64 MiB. In the arena build (CONFIG_BACKEND_ARENA) allocations
 * may fail with ENOMEM; elsewhere a failure of a sane request is a bug.
 * Everything is freed at the end of each input.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined against the ASan
 * build of the library (EXPORT_MALLOC off): see tests/Makefile.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <generated/autoconf.h>
#include <hakmem.h>

#define SLOTS		64
#define LIVE_MAX	((size_t)64 << 20)
#define PART		512		/* patterned head and tail of big blocks */

struct slot {
	unsigned char *p;
	size_t n;		/* requested size */
	size_t align;		/* 0: plain malloc alignment */
	uint32_t seed;
};

static struct slot slots[SLOTS];
static size_t live;
static uint32_t next_seed = 1;

#ifdef CONFIG_BACKEND_ARENA
# define MAY_FAIL	1
# if CONFIG_ARENA_SIZE_KB == 0
static char arena[1 << 20] __attribute__((aligned(64)));
# endif
#else
# define MAY_FAIL	0
#endif

/* FUZZ_TRACE=1: print every operation (to replay a crash by hand). */
static int trace;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	trace = getenv("FUZZ_TRACE") != NULL;
#if defined(CONFIG_BACKEND_ARENA) && CONFIG_ARENA_SIZE_KB == 0
	hak_arena_init(arena, sizeof(arena));
#endif
	return 0;
}

#define bug(...) do {							\
	fprintf(stderr, "fuzz_alloc: BUG: " __VA_ARGS__);		\
	fputc('\n', stderr);						\
	__builtin_trap();						\
} while (0)

/* ------------------------------------------------------------------------
 * Input
 */

struct in {
	const uint8_t *d;
	size_t n, i;
};

static int more(const struct in *in)
{
	return in->i < in->n;
}

static uint8_t byte(struct in *in)
{
	return in->i < in->n ? in->d[in->i++] : 0;
}

static size_t size_arg(struct in *in)
{
	unsigned int b0 = byte(in), b1 = byte(in);
	size_t v = (b0 >> 3) | (b1 << 5);	/* 13 bits */

	switch (b0 & 7) {
	case 0: case 1: case 2: case 3:
		return v % 257;
	case 4: case 5:
		return v % 4097;
	case 6:
		return (v * 8) % 65537;
	default:
		return v * 512 + (b1 & 0x1ff);	/* up to 4 MiB */
	}
}

static size_t align_arg(struct in *in, int *valid)
{
	unsigned int b = byte(in);
	size_t a = (size_t)1 << ((b & 0x7f) % 23);

	*valid = 1;
	if (b & 0x80) {
		/* Not a power of two (or 0). */
		a = (b & 0x40) ? 0 : a * 3;
		*valid = 0;
	}
	return a;
}

/* ------------------------------------------------------------------------
 * Patterns
 */

static inline unsigned char pat(uint32_t seed, size_t i)
{
	return (unsigned char)(seed * 0x9e3779b1u + i * 31u + (i >> 9));
}

static void fill_range(unsigned char *p, size_t from, size_t to, uint32_t seed)
{
	size_t i;

	for (i = from; i < to; i++)
		p[i] = pat(seed, i);
}

static void fill(struct slot *s)
{
	if (s->n <= 16 * PART) {
		fill_range(s->p, 0, s->n, s->seed);
	} else {
		fill_range(s->p, 0, PART, s->seed);
		fill_range(s->p, s->n - PART, s->n, s->seed);
	}
}

/* Check bytes [from, to) of what was patterned (clipped to n). */
static void check_range(const unsigned char *p, size_t from, size_t to, size_t n,
			uint32_t seed, const char *what)
{
	size_t i;

	if (n > 16 * PART) {
		for (i = from; i < to && i < PART; i++)
			if (p[i] != pat(seed, i))
				bug("%s: %p byte %zu of %zu corrupt", what, (void *)p, i, n);
		for (i = n - PART > from ? n - PART : from; i < to; i++)
			if (p[i] != pat(seed, i))
				bug("%s: %p byte %zu of %zu corrupt", what, (void *)p, i, n);
		return;
	}
	for (i = from; i < to; i++)
		if (p[i] != pat(seed, i))
			bug("%s: %p byte %zu of %zu corrupt", what, (void *)p, i, n);
}

static void check(const struct slot *s, const char *what)
{
	check_range(s->p, 0, s->n, s->n, s->seed, what);
}

static void check_block(const struct slot *s, const char *what)
{
	size_t a = s->align > 16 ? s->align : (s->n <= 8 ? 8 : 16);
	size_t u = hak_malloc_usable_size(s->p);

	if ((uintptr_t)s->p & (a - 1))
		bug("%s: %p (size %zu) not aligned to %zu", what, (void *)s->p, s->n, a);
	if (u < s->n)
		bug("%s: %p usable size %zu < %zu", what, (void *)s->p, u, s->n);
}

/* ------------------------------------------------------------------------
 * Operations
 */

static void release(struct slot *s)
{
	if (!s->p)
		return;
	check(s, "free");
	hak_free(s->p);
	live -= s->n;
	s->p = NULL;
}

static void take(struct slot *s, void *p, size_t n, size_t align, int zeroed)
{
	s->p = p;
	s->n = n;
	s->align = align;
	s->seed = next_seed++;
	live += n;
	check_block(s, "new block");
	if (zeroed) {
		size_t i;

		/* Head and tail, and one byte in every 64 between. */
		for (i = 0; i < n; i += (i < PART || i + PART >= n) ? 1 : 64)
			if (s->p[i])
				bug("calloc: %p byte %zu of %zu is 0x%02x", p, i, n, s->p[i]);
	}
	fill(s);
}

/* A failed allocation: fine if out of memory is possible or the request is absurd. */
static void failed(const char *what, size_t n, int err)
{
	if (err != ENOMEM)
		bug("%s(%zu) failed with errno %d, not ENOMEM", what, n, err);
	if (!MAY_FAIL && n < ((size_t)1 << 30))
		bug("%s(%zu) failed", what, n);
}

static int room(size_t n)
{
	return live + n <= LIVE_MAX;
}

static void op_alloc(struct slot *s, int kind, size_t n)
{
	void *p;

	release(s);
	if (!room(n))
		return;
	errno = 0;
	p = kind == 15 ? hak_realloc(NULL, n) : hak_malloc(n);
	if (!p)
		return failed("malloc", n, errno);
	take(s, p, n, 0, 0);
}

static void op_calloc(struct slot *s, unsigned int n1, size_t size)
{
	size_t each;
	void *p;

	release(s);
	n1 = n1 ? n1 : 1;
	each = size / n1;
	if (!room(n1 * each))
		return;
	errno = 0;
	p = hak_calloc(n1, each);
	if (!p)
		return failed("calloc", n1 * each, errno);
	take(s, p, n1 * each, 0, 1);
}

static void op_realloc_zero(struct slot *s);

static void op_realloc(struct slot *s, size_t n)
{
	size_t keep;
	void *p;
	struct slot old = *s;

	if (!s->p)
		return op_alloc(s, 0, n);
	if (n == 0)
		return op_realloc_zero(s);
	if (!room(n))
		return;
	check(s, "realloc");
	errno = 0;
	p = hak_realloc(s->p, n);
	if (!p) {
		failed("realloc", n, errno);
		check(s, "after failed realloc");
		return;
	}
	keep = n < old.n ? n : old.n;
	/* The kept part is the old pattern at the new place. */
	if (old.n <= 16 * PART)
		check_range(p, 0, keep, old.n, old.seed, "realloc moved");
	else
		check_range(p, 0, keep < PART ? keep : PART, old.n, old.seed, "realloc moved");
	live -= old.n;
	s->p = NULL;
	take(s, p, n, 0, 0);
}

static void op_aligned(struct slot *s, int kind, size_t align, int valid, size_t n)
{
	void *p = NULL;
	int r;

	release(s);
	if (!room(n + align))
		return;
	errno = 0;
	switch (kind) {
	case 4:
		r = hak_posix_memalign(&p, align, n);
		if (align < sizeof(void *))
			valid = 0;
		if (!valid) {
			if (r != EINVAL)
				bug("posix_memalign(%zu, %zu) = %d, not EINVAL", align, n, r);
			return;
		}
		if (r)
			return failed("posix_memalign", n, r);
		break;
	case 5:
		p = hak_aligned_alloc(align, n);
		if (!valid) {
			if (p || errno != EINVAL)
				bug("aligned_alloc(%zu, %zu) = %p errno %d, not NULL EINVAL",
				    align, n, p, errno);
			return;
		}
		if (!p)
			return failed("aligned_alloc", n, errno);
		break;
	default:
		p = hak_memalign(align, n);
		if (!p)
			return failed("memalign", n, errno);
		if (!valid) {
			/* Rounded up to a power of two, like glibc. */
			size_t a = 1;

			while (a < align)
				a <<= 1;
			align = a;
		}
		break;
	}
	take(s, p, n, align, 0);
}

static void op_usable(struct slot *s)
{
	size_t u;

	if (!s->p)
		return;
	check_block(s, "usable size");
	u = hak_malloc_usable_size(s->p);
	/* The slack past the request is ours to write. */
	memset(s->p + s->n, 0xa5, u - s->n < 65536 ? u - s->n : 65536);
	check(s, "after writing the slack");
}

static void op_free_sized(struct slot *s, int aligned)
{
	if (!s->p)
		return;
	check(s, "free_sized");
	if (aligned && s->align > 16)
		hak_free_aligned_sized(s->p, s->align, s->n);
	else
		hak_free_sized(s->p, s->n);
	live -= s->n;
	s->p = NULL;
}

static void op_reallocarray(struct slot *s, unsigned int n1, size_t size)
{
	size_t total;
	int ovf;
	void *p;

	/* Large factors to reach the overflow check now and then. */
	if (n1 >= 0xf0)
		size = SIZE_MAX / (n1 - 0xef) + 1;
	ovf = __builtin_mul_overflow((size_t)n1, size, &total);
	if (ovf) {
		errno = 0;
		p = hak_reallocarray(s->p, n1, size);
		if (p || errno != ENOMEM)
			bug("reallocarray(%u, %zu) overflow: %p errno %d", n1, size, p, errno);
		if (s->p)
			check(s, "after overflowing reallocarray");
		return;
	}
	if (total == 0 || !room(total))
		return;
	op_realloc(s, total);
}

static void op_valloc(struct slot *s, size_t n, int pv)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	release(s);
	if (!room(n + pg))
		return;
	errno = 0;
	p = pv ? hak_pvalloc(n) : hak_valloc(n);
	if (!p)
		return failed(pv ? "pvalloc" : "valloc", n, errno);
	if (pv && n && hak_malloc_usable_size(p) < (n + pg - 1) / pg * pg)
		bug("pvalloc(%zu): usable %zu", n, hak_malloc_usable_size(p));
	take(s, p, n, pg, 0);
}

static void op_realloc_zero(struct slot *s)
{
	if (!s->p)
		return;
	check(s, "realloc(p, 0)");
	if (hak_realloc(s->p, 0) != NULL)
		bug("realloc(%p, 0) did not return NULL", (void *)s->p);
	live -= s->n;
	s->p = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };
	unsigned int i;

	while (more(&in)) {
		unsigned int op = byte(&in) % 16;
		struct slot *s = &slots[byte(&in) % SLOTS];
		int valid;
		size_t a, n;
		unsigned int n1;

		if (trace)
			fprintf(stderr, "op %2u slot %2ld (%p, %zu bytes) next bytes %02x %02x %02x\n",
				op, (long)(s - slots), (void *)s->p, s->n,
				in.i < in.n ? in.d[in.i] : 0, in.i + 1 < in.n ? in.d[in.i + 1] : 0,
				in.i + 2 < in.n ? in.d[in.i + 2] : 0);
		switch (op) {
		case 0:
		case 15:
			op_alloc(s, (int)op, size_arg(&in));
			break;
		case 1:
			n1 = byte(&in);
			op_calloc(s, n1, size_arg(&in));
			break;
		case 2:
			op_realloc(s, size_arg(&in));
			break;
		case 3:
			release(s);
			break;
		case 4: case 5: case 6:
			a = align_arg(&in, &valid);
			n = size_arg(&in);
			op_aligned(s, (int)op, a, valid, n);
			break;
		case 7:
			op_usable(s);
			break;
		case 8:
			op_free_sized(s, 0);
			break;
		case 9:
			n1 = byte(&in);
			op_reallocarray(s, n1, size_arg(&in) / 16 + 1);
			break;
		case 10:
			n = size_arg(&in);
			op_valloc(s, n, (int)(n & 1));
			break;
		case 11:
			op_free_sized(s, 1);
			break;
		case 12:
			op_alloc(s, 0, 0);
			break;
		case 13:
			op_realloc_zero(s);
			break;
		case 14: {
			struct slot *t = &slots[byte(&in) % SLOTS];

			if (t != s && s->p) {
				release(t);
				*t = *s;
				s->p = NULL;
			}
			break;
		}
		}
	}
	for (i = 0; i < SLOTS; i++)
		release(&slots[i]);
	if (live != 0)
		bug("live byte count %zu after freeing everything", live);
	return 0;
}
