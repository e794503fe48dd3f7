// SPDX-License-Identifier: MIT
/*
 * tests/prof/slab.c - a sampled block is served by its usual box, and its
 * free (by its thread, by another thread, in a child of fork, by realloc)
 * takes it out of the profile.
 *
 *   slab box           print, for each size below, how many Large blocks
 *                      its blocks added (and check their usable size)
 *   slab DIR           the same (first lines), then the profile checks
 *   slab realloc DIR   a sampled realloc in place (realloc_in_place())
 *   slab shift DIR     a sampled realloc that the block holds with 16
 *                      bytes more stays in it (realloc_shift())
 *   slab restay DIR    a sampled realloc of a sample that its block holds
 *                      stays in place (resample_in_place())
 *   slab grow DIR      a sampled realloc that moves a block leaves it the
 *                      room of an unsampled one (realloc_grow())
 *   slab resize DIR    an unsampled realloc of a sample (resize_sample())
 *   slab twice         free a sampled block twice (must abort)
 *   slab bad DIR       bad pointers with the header of a live sample in
 *                      front of them (bad_pointers())
 *
 * tests/prof/run.sh runs "slab box" with the profiler off and "slab DIR"
 * with every allocation sampled (HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=1): the
 * "box" lines of both runs must be the same, i.e. a sampled block comes
 * from the box an unsampled one does (before, every sampled block was a
 * Large block, of some 40 KiB for a 64-byte request), and the usable size
 * of every block must be at least its size and less than twice it. With a mean of one
 * byte, every allocation of 64 bytes or more is sampled with a weight of
 * exactly 1, so the live bytes of a dump are exact: the checks compare
 * them with what the program holds.
 *
 *   1. a thread is started (it waits), DIR/0.heap: B0 live bytes
 *   2. N blocks of each size, and one block grown by realloc (100 B to
 *      5000 B); DIR/1.heap: B0 + all of them
 *   3. fork: the child frees every block and dumps DIR/child.heap: B0 + the
 *      realloc'd block
 *   4. the parent frees half of the blocks itself, the thread the other
 *      half (remote frees); DIR/2.heap: B0 + the realloc'd block
 *   5. free the realloc'd block; DIR/3.heap: B0
 *
 * Prints "slab: done" if every check passed.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <malloc.h>
#include <generated/autoconf.h>

/*
 * A box whose blocks share slabs (Tiny, Small-Mid, Mid). With only the
 * Large box every block is a Large one, of the first Large class at least
 * (some 40 KiB for a 64-byte request), sampled or not, and there is no
 * slab sample for the realloc, shift, restay, grow, resize and bad cases
 * to work on (randconfig KCONFIG_SEED=0x50f6daa3).
 */
#if defined(CONFIG_TINY) || defined(CONFIG_SMALLMID) || defined(CONFIG_MID)
#define HAVE_SLABS	1
#else
#define HAVE_SLABS	0
#endif

extern int hak_prof_dump(const char *path) __attribute__((weak));
extern int hak_option_get(const char *name, unsigned long *value) __attribute__((weak));

#define N	32
static const size_t sizes[] = { 64, 1000, 3000, 20000, 100000 };
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

static void *blocks[NR_SIZES][N];
static sem_t go, done;
static int failed;

static void fail(const char *what, unsigned long got, unsigned long want)
{
	printf("FAIL %s: %lu, expected %lu\n", what, got, want);
	failed = 1;
}

/* A statistic, or ULONG_MAX if the library has none of that name. */
static unsigned long stat(const char *name)
{
	unsigned long v;

	if (!hak_option_get || hak_option_get(name, &v))
		return (unsigned long)-1;
	return v;
}

/* The live bytes of a dump to DIR/NAME (its first line). */
static unsigned long live_bytes(const char *dir, const char *name)
{
	unsigned long count, bytes;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!hak_prof_dump || hak_prof_dump(path)) {
		printf("FAIL hak_prof_dump(%s)\n", path);
		exit(1);
	}
	f = fopen(path, "r");
	if (!f || fscanf(f, "heap profile: %lu: %lu", &count, &bytes) != 2) {
		printf("FAIL %s: no heap profile header\n", path);
		exit(1);
	}
	fclose(f);
	return bytes;
}

/* The samples the profiler has taken, or ULONG_MAX without the statistic. */
static unsigned long samples(void)
{
	return stat("stat.prof_samples");
}

/*
 * A case that needs stat.prof_samples to tell sampled allocations from
 * others: without it (CONFIG_OPTIONS off), says it is skipped and
 * returns 1.
 */
static int prof_skip_without_stat(void)
{
	if (samples() != (unsigned long)-1)
		return 0;
	printf("slab: done (no stat.prof_samples, CONFIG_OPTIONS: skipped)\n");
	return 1;
}

/*
 * A case about what only a slab sample does (handed out 16 bytes into its
 * slab block, grown by a quarter as a slab block is): without a slab box,
 * says why it is skipped and returns 1. A Large sample starts where an
 * unsampled Large block does and grows by Large classes, as an unsampled
 * one does (3000 bytes: 40912 usable, 49104 after a realloc to 64 more,
 * sampled or not).
 */
static int slab_skip_without_slabs(void)
{
	if (HAVE_SLABS)
		return prof_skip_without_stat();
	printf("slab: done (no slab box, only Large: no slab sample: skipped)\n");
	return 1;
}

/* n bytes of a pattern that differs from one round (seed) to the next. */
static void pattern(char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(i * 7 + i / 251 + seed);
}

static int pattern_is(const char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (char)(i * 7 + i / 251 + seed))
			return 0;
	return 1;
}

/*
 * realloc(p, size) of a block whose first old bytes hold pattern(seed):
 * every byte it keeps must still hold it (a copy off by 16 bytes loses
 * it); then its size bytes get the pattern of seed. Exits if realloc
 * fails.
 */
static char *realloc_kept(char *p, size_t old, size_t size, unsigned int seed)
{
	size_t kept = old < size ? old : size;
	char *q = realloc(p, size);

	if (!q) {
		printf("FAIL realloc\n");
		exit(1);
	}
	if (!pattern_is(q, kept, seed)) {
		printf("FAIL contents lost\n");
		failed = 1;
	}
	pattern(q, size, seed);
	return q;
}

/*
 * The end of a case: a dump to DIR/NAME must have the b0 live bytes of
 * the one at its start (what: after what); prints "slab: done" if every
 * check of the case passed.
 */
static int slab_finish(const char *dir, const char *name, unsigned long b0, const char *what)
{
	unsigned long b = live_bytes(dir, name);

	if (b != b0)
		fail(what, b, b0);
	if (!failed)
		printf("slab: done\n");
	return failed;
}

/* The other thread: frees the odd blocks of each size when told to. */
static void *remote(void *arg)
{
	unsigned int i, j;

	sem_wait(&go);
	for (i = 0; i < NR_SIZES; i++)
		for (j = 1; j < N; j += 2)
			free(blocks[i][j]);
	sem_post(&done);
	return NULL;
}

/*
 * "box" lines: Large blocks added per size. The usable size of a block
 * must be at least the size asked and less than twice it (a Large block
 * serving a 64-byte request has some 40 KiB); with only Large, less than
 * twice the first Large class's (what a 1-byte request gets).
 */
static size_t least;		/* only Large: the usable size of malloc(1) */

static void allocate(void)
{
	unsigned long large, now;
	unsigned int i, j, bad;
	size_t u;

	for (i = 0; i < NR_SIZES; i++) {
		size_t bound = 2 * (sizes[i] > least ? sizes[i] : least);

		bad = 0;
		large = stat("stat.large_blocks");
		for (j = 0; j < N; j++) {
			blocks[i][j] = malloc(sizes[i]);
			if (!blocks[i][j]) {
				printf("FAIL malloc(%zu)\n", sizes[i]);
				exit(1);
			}
			memset(blocks[i][j], 0x5a, sizes[i]);
			u = malloc_usable_size(blocks[i][j]);
			if ((u < sizes[i] || u >= bound) && !bad++)
				fail("usable size", u, sizes[i]);
		}
		now = stat("stat.large_blocks");
		if (large == (unsigned long)-1 || now == (unsigned long)-1)
			printf("box %zu: Large blocks -\n", sizes[i]);
		else
			printf("box %zu: Large blocks +%lu\n", sizes[i], now - large);
	}
}

/*
 * A block of size bytes that malloc sampled (sampled 1) or did not (0),
 * the others freed; NULL after 1000 tries, with a FAIL line.
 */
static char *malloc_sampled_or_not(size_t size, int sampled)
{
	unsigned long s;
	unsigned int tries;
	char *p;

	for (tries = 0; tries < 1000; tries++) {
		s = samples();
		p = malloc(size);
		if (!p) {
			printf("FAIL malloc\n");
			return NULL;
		}
		if ((samples() != s) == sampled)
			return p;
		free(p);
	}
	printf("FAIL no %s malloc in 1000 tries\n", sampled ? "sampled" : "unsampled");
	return NULL;
}

/*
 * "slab realloc DIR", with a mean of 4096 bytes: an unsampled 64-byte
 * block (a block start) is resized to 60 and 64 bytes, which its class
 * holds in place, until one of these reallocs is sampled; then it is
 * freed, and the dump must be what it was before (a sampled realloc
 * kept in place would be a block start, whose free never reaches the
 * profiler: its estimate, some 4 KiB, would stay).
 */
static int realloc_in_place(const char *dir)
{
	unsigned long b0, s;
	size_t size = 64, prev;
	unsigned int k;
	char *p;

	if (prof_skip_without_stat())
		return 0;
	b0 = live_bytes(dir, "r0.heap");
	p = malloc_sampled_or_not(64, 0);
	if (!p)
		return 1;
	pattern(p, size, 0x2b);
	for (k = 0; k < 100000; k++) {
		prev = size;
		size = k & 1 ? 64 : 60;
		s = samples();
		p = realloc_kept(p, prev, size, 0x2b);
		if (samples() != s)
			break;
	}
	free(p);
	return slab_finish(dir, "r1.heap", b0, "live bytes after the free of a block a sampled realloc resized");
}

/*
 * "slab shift DIR", with a mean of 4096 bytes: an unsampled 3000-byte
 * block (a block start of usable size n) is resized to n - 100 and
 * n - 200 bytes, which its block holds with 16 bytes to spare, until one
 * of these reallocs is sampled: that one must keep the block, its bytes
 * 16 bytes up (the address + 16; before, it moved to another block), with
 * its contents, and the block's free must take the sample out of the
 * profile (the dump is what it was before the malloc).
 */
static int realloc_shift(const char *dir)
{
	unsigned long b0, b, s;
	unsigned int k;
	size_t n, size, prev;
	char *p, *q;

	if (slab_skip_without_slabs())
		return 0;
	b0 = live_bytes(dir, "f0.heap");
	p = malloc_sampled_or_not(3000, 0);
	if (!p)
		return 1;
	n = malloc_usable_size(p);
	prev = 3000;
	pattern(p, prev, 0x6d);
	for (k = 0; k < 100000; k++) {
		size = k & 1 ? n - 200 : n - 100;
		s = samples();
		q = realloc_kept(p, prev, size, 0x6d);
		prev = size;
		if (samples() != s) {
			if (q != p + 16) {
				printf("FAIL a sampled realloc to %zu bytes of a block of %zu moved it (%p -> %p, want %p)\n",
				       size, n, (void *)p, (void *)q, (void *)(p + 16));
				failed = 1;
			}
			if (malloc_usable_size(q) < size)
				fail("usable size after the sampled realloc", malloc_usable_size(q), size);
			b = live_bytes(dir, "f1.heap");
			if (b <= b0)
				fail("live bytes with the sampled realloc's block (more than)", b, b0);
			p = q;
			break;
		}
		if (q != p) {
			printf("FAIL an unsampled realloc in the block moved it\n");
			failed = 1;
		}
		p = q;
	}
	free(p);
	return slab_finish(dir, "f2.heap", b0, "live bytes after the free of the block a sampled realloc kept");
}

/*
 * "slab restay DIR", with a mean of 4096 bytes: a sampled block of 3000
 * bytes (16 bytes into its block), then a realloc to 2900 bytes, which
 * its block holds, until that realloc is sampled too (a fresh sampled
 * block each try: an unsampled realloc hands the block back at its block
 * start, a plain block): it must keep the block where it is (before, it
 * moved: a copy and another block) with its contents, as a live sample
 * (the dump has more than before the malloc), and the block's free must
 * take it out of the profile.
 */
static int resample_in_place(const char *dir)
{
	unsigned long b0, b, s;
	unsigned int k;
	char *p, *q;
	int done = 0;

	if (prof_skip_without_stat())
		return 0;
	b0 = live_bytes(dir, "t0.heap");
	for (k = 0; k < 1000 && !done; k++) {
		p = malloc_sampled_or_not(3000, 1);
		if (!p)
			return 1;
		pattern(p, 3000, k);
		s = samples();
		q = realloc_kept(p, 3000, 2900, k);
		if (samples() != s) {
			if (q != p) {
				printf("FAIL a sampled realloc of a sample to 2900 bytes, which its block holds, moved it (%p -> %p)\n",
				       (void *)p, (void *)q);
				failed = 1;
			}
			b = live_bytes(dir, "t1.heap");
			if (b <= b0)
				fail("live bytes with the resampled block (more than)", b, b0);
			done = 1;
			p = q;
			break;
		}
		free(q);
	}
	if (!done) {
		printf("FAIL no sampled realloc of a sample in 1000 tries\n");
		return 1;
	}
	free(p);
	return slab_finish(dir, "t2.heap", b0, "live bytes after the free of the resampled block");
}

/*
 * "slab grow DIR", with a mean of 4096 bytes: an unsampled 3000-byte
 * block (a block start of usable size n) grows to n + 64 bytes, which its
 * block does not hold, until that realloc is sampled (a fresh block each
 * try). The sampled realloc moves it, and must give it the room that an
 * unsampled one does, a quarter more than n (hk_grown_size()): the next
 * realloc, to n + 128 bytes, if not sampled, then keeps it in its block
 * (at its block start, 16 bytes below: a plain block again). Before, a
 * sampled move took the class of n + 64 + 16 bytes, and the buffer moved
 * again at its next small growth.
 */
static int realloc_grow(const char *dir)
{
	unsigned long b0, s;
	unsigned int k, checked = 0;
	size_t n;
	char *p, *q, *r;

	if (slab_skip_without_slabs())
		return 0;
	b0 = live_bytes(dir, "g0.heap");
	for (k = 0; k < 1000 && !checked; k++) {
		p = malloc_sampled_or_not(3000, 0);
		if (!p)
			return 1;
		n = malloc_usable_size(p);
		pattern(p, n, 0x5a);
		s = samples();
		q = realloc_kept(p, n, n + 64, 0x5a);
		if (samples() == s) {
			free(q);
			continue;
		}
		if (malloc_usable_size(q) < n + n / 4)
			fail("usable size after a sampled realloc that moved (at least)",
			     malloc_usable_size(q), n + n / 4);
		s = samples();
		r = realloc_kept(q, n + 64, n + 128, 0x5a);
		/*
		 * In its block: the sample (16 bytes in) handed back at its
		 * block start, a plain block (prof_unsample_inner()).
		 */
		if (samples() == s) {
			if (r != q - 16) {
				printf("FAIL the unsampled realloc after a sampled move did not keep it in its block at its block start (%p -> %p)\n",
				       (void *)q, (void *)r);
				failed = 1;
			}
			checked = 1;
		}
		free(r);
	}
	if (!checked) {
		printf("FAIL no sampled move followed by an unsampled realloc in 1000 tries\n");
		failed = 1;
	}
	return slab_finish(dir, "g1.heap", b0, "live bytes after the frees");
}

/*
 * "slab resize DIR", with a mean of 4096 bytes: a sampled block of 3000
 * bytes (16 bytes into its block), then reallocs to 3000 and 2900 bytes
 * until one is not sampled: its block holds that size, so the block must
 * stay where it is (before branch profband, it moved: a copy) and leave
 * the profile (the dump is what it was before the malloc), handed back at
 * its block start, 16 bytes below (before branch prof, it stayed a sample
 * of weight 0, 16 bytes in, and every later realloc of it took realloc's
 * slow path); a second unsampled realloc keeps that address, and the
 * usable size and the free must still work with it, and the dump after
 * the free is the same.
 */
static int resize_sample(const char *dir)
{
	unsigned long b0, b, s;
	unsigned int k, stays = 0;
	size_t prev = 3000;
	char *p, *q;

	if (slab_skip_without_slabs())
		return 0;
	b0 = live_bytes(dir, "s0.heap");
	p = malloc_sampled_or_not(3000, 1);
	if (!p)
		return 1;
	pattern(p, 3000, 0x3c);
	for (k = 0; k < 100000 && stays < 2; k++) {
		size_t size = k & 1 ? 2900 : 3000;

		s = samples();
		q = realloc_kept(p, prev, size, 0x3c);
		prev = size;
		if (samples() != s) {
			/* Sampled: a new sample (it may move). */
			p = q;
			stays = 0;
			continue;
		}
		if (q != (stays ? p : p - 16)) {
			printf("FAIL an unsampled realloc of a %s to %zu bytes, which its block holds, %s (%p -> %p)\n",
			       stays ? "block" : "sample", size,
			       stays ? "moved it" : "did not hand it back at its block start, 16 bytes below",
			       (void *)p, (void *)q);
			failed = 1;
		}
		p = q;
		if (malloc_usable_size(p) < size || malloc_usable_size(p) >= 2 * size) {
			printf("FAIL usable size %zu for %zu bytes\n", malloc_usable_size(p), size);
			failed = 1;
		}
		if (!stays++) {
			b = live_bytes(dir, "s1.heap");
			if (b != b0)
				fail("live bytes after an unsampled realloc of a sample", b, b0);
		}
	}
	if (stays < 2) {
		printf("FAIL no two unsampled reallocs in a row\n");
		return 1;
	}
	free(p);
	return slab_finish(dir, "s2.heap", b0, "live bytes after the free of a sample resized in place");
}

/*
 * "slab bad DIR", with a mean of 4096 bytes: a sampled block p and an
 * unsampled one q of 200 bytes. The profiler finds a slab sample from the
 * 16 bytes below its address (a record pointer and a tag); q's first 16
 * bytes get a copy of p's, and q + 16 is freed, then q + 3: both are bad
 * pointers, reported and left alone (the tag is of p's address, not
 * q + 16's; q + 3 is not 16-aligned). The dump's live bytes must not
 * move, q must still be whole, and the frees of q and p must take their
 * blocks (and p's estimate) as before.
 */
static int bad_pointers(const char *dir)
{
	unsigned long b0, b, s;
	unsigned int tries;
	char *p = NULL, *q = NULL, *x;

	if (prof_skip_without_stat())
		return 0;
	b0 = live_bytes(dir, "b0.heap");
	for (tries = 0; tries < 100000 && (!p || !q); tries++) {
		s = samples();
		x = malloc(200);
		if (!x) {
			printf("FAIL malloc\n");
			return 1;
		}
		if (samples() != s && !p)
			p = x;
		else if (samples() == s && !q)
			q = x;
		else
			free(x);
	}
	if (!p || !q) {
		printf("FAIL no sampled and unsampled block in %u tries\n", tries);
		return 1;
	}
	memset(p, 0x11, 200);
	memset(q, 0x22, 200);
	b = live_bytes(dir, "b1.heap");
	memcpy(q, p - 16, 16);		/* p's header, in front of q + 16 */
	free(q + 16);
	free(q + 3);
	if (live_bytes(dir, "b2.heap") != b)
		fail("live bytes after the bad frees", live_bytes(dir, "b2.heap"), b);
	for (unsigned int i = 16; i < 200; i++)
		if (q[i] != 0x22) {
			fail("q's byte after the bad frees", (unsigned char)q[i], 0x22);
			break;
		}
	free(q);
	free(p);
	return slab_finish(dir, "b3.heap", b0, "live bytes after the frees of p and q");
}

int main(int argc, char **argv)
{
	unsigned long b0, b, held = 0, s0;
	const char *dir = argc > 1 ? argv[1] : "box";
	unsigned int i, j;
	pthread_t t;
	char *r;
	pid_t pid;
	int status;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!HAVE_SLABS) {
		/* Before the first dump and the samples counted. */
		r = malloc(1);
		least = malloc_usable_size(r);
		free(r);
	}
	if (!strcmp(dir, "box")) {
		allocate();
		return failed;
	}
	if (!strcmp(dir, "realloc") && argc > 2)
		return realloc_in_place(argv[2]);
	if (!strcmp(dir, "shift") && argc > 2)
		return realloc_shift(argv[2]);
	if (!strcmp(dir, "resize") && argc > 2)
		return resize_sample(argv[2]);
	if (!strcmp(dir, "restay") && argc > 2)
		return resample_in_place(argv[2]);
	if (!strcmp(dir, "grow") && argc > 2)
		return realloc_grow(argv[2]);
	if (!strcmp(dir, "bad") && argc > 2)
		return bad_pointers(argv[2]);
	if (!strcmp(dir, "twice")) {
		/* A sampled block freed twice: the second free must abort. */
		char *volatile q = malloc(100);

		free(q);
		free(q);
		printf("slab: the second free returned\n");
		return 0;
	}
	if (sem_init(&go, 0, 0) || sem_init(&done, 0, 0) || pthread_create(&t, NULL, remote, NULL)) {
		printf("FAIL thread\n");
		return 1;
	}
	b0 = live_bytes(dir, "0.heap");
	s0 = samples();
	allocate();
	r = malloc(100);
	r = realloc(r, 5000);
	memset(r, 1, 5000);
	if (s0 != (unsigned long)-1 && samples() - s0 != NR_SIZES * N + 2)
		fail("samples taken", samples() - s0, NR_SIZES * N + 2);
	for (i = 0; i < NR_SIZES; i++)
		held += N * sizes[i];
	b = live_bytes(dir, "1.heap");
	if (b != b0 + held + 5000)
		fail("live bytes with every block held", b, b0 + held + 5000);

	pid = fork();
	if (pid == 0) {
		for (i = 0; i < NR_SIZES; i++)
			for (j = 0; j < N; j++)
				free(blocks[i][j]);
		b = live_bytes(dir, "child.heap");
		if (b != b0 + 5000)
			fail("child: live bytes after its frees", b, b0 + 5000);
		_exit(failed);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child", (unsigned long)status, 0);

	for (i = 0; i < NR_SIZES; i++)
		for (j = 0; j < N; j += 2)
			free(blocks[i][j]);
	b = live_bytes(dir, "half.heap");
	if (b != b0 + held / 2 + 5000)
		fail("live bytes after the local frees", b, b0 + held / 2 + 5000);
	sem_post(&go);
	sem_wait(&done);
	b = live_bytes(dir, "2.heap");
	if (b != b0 + 5000)
		fail("live bytes after the remote frees", b, b0 + 5000);
	free(r);
	failed = slab_finish(dir, "3.heap", b0, "live bytes after the realloc'd block's free");
	pthread_join(t, NULL);
	return failed;
}
