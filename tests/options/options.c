// SPDX-License-Identifier: MIT
/*
 * options: what HAKMEM_OPTIONS (and the older HAKMEM_STATS,
 * HAKMEM_EXTERNAL_GUARD_LOG) do when a process starts with them
 * (CONFIG_OPTIONS, Documentation/options.md). The unit tests cover the
 * parser and the options that can change at run time; this program
 * covers what is read once at start-up: it runs itself with the
 * environment of each case and checks the child's output.
 *
 *	options			run every case
 *	options -c CASE		(the child) do CASE's work
 *
 * Built on the hak_* API with libhakmem.a. Last line: "options: N
 * passed, M failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>
#include <hakmem.h>

/* 1 if the option is configured in. */
#ifdef CONFIG_STATS
#define HAVE_STATS	1
#else
#define HAVE_STATS	0
#endif
#ifdef CONFIG_LARGE_CACHE
#define HAVE_LARGE_CACHE 1
#else
#define HAVE_LARGE_CACHE 0
#endif
#ifdef CONFIG_EXTERNAL_GUARD_LOG
#define HAVE_GUARD_LOG	1
#else
#define HAVE_GUARD_LOG	0
#endif
#ifdef CONFIG_EXTERNAL_GUARD_STATS
#define HAVE_GUARD_STATS 1
#else
#define HAVE_GUARD_STATS 0
#endif
/* Bins that grow (0: fixed limits, tcache_pct= scales them alone). */
#ifdef CONFIG_HEAP_CACHE_GROW_KB
#define GROW_KB		CONFIG_HEAP_CACHE_GROW_KB
#else
#define GROW_KB		0
#endif
#ifdef CONFIG_MALLOC_INFO
#define HAVE_MALLOC_INFO 1
#else
#define HAVE_MALLOC_INFO 0
#endif

static int passed, failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
} while (0)

/* ------------------------------------------------------------------------
 * The child's work
 */

/* Some allocations of every tier. */
static void child_plain(void)
{
	void *p[100];
	int i;

	for (i = 0; i < 100; i++)
		p[i] = hak_malloc((size_t)(i + 1) * 700);
	for (i = 0; i < 100; i++)
		hak_free(p[i]);
}

/*
 * Free TCACHE_N (at most 20000) 256-byte blocks, print how many the
 * thread cache keeps.
 */
static void child_tcache(void)
{
	static void *p[20000];
	unsigned long cached = 0;
	const char *env = getenv("TCACHE_N");
	int i, n = env ? atoi(env) : 20000;

	if (n < 0 || n > 20000)
		n = 20000;
	for (i = 0; i < n; i++)
		p[i] = hak_malloc(256);
	for (i = 0; i < n; i++)
		hak_free(p[i]);
	if (hak_option_get("stat.cached", &cached)) {
		printf("no stat.cached\n");
		return;
	}
	printf("cached %lu\n", cached / 256);
}

/* Free foreign pointers (addresses on the stack): the guard sees them. */
static void child_guard(void)
{
	char buf[64];
	int i;

	for (i = 0; i < 5; i++)
		hak_free(buf + 16 * (i % 4));
}

/* ------------------------------------------------------------------------
 * The driver
 */

static char out[65536];
static const char *self;

/*
 * Run "self -c what" with HAKMEM_OPTIONS=options (NULL: unset) and the
 * extra variable env ("NAME=value" or NULL); its stdout and stderr in
 * out. Returns the exit status.
 */
static int run(const char *what, const char *options, const char *env)
{
	int fd[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[0]);
		unsetenv("HAKMEM_OPTIONS");
		unsetenv("HAKMEM_STATS");
		unsetenv("HAKMEM_EXTERNAL_GUARD_LOG");
		if (options)
			setenv("HAKMEM_OPTIONS", options, 1);
		if (env)
			putenv((char *)env);
		execl(self, self, "-c", what, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while ((r = read(fd[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (; (text = strstr(text, what)); text++)
		n++;
	return n;
}

static void case_plain(void)
{
	int rc = run("plain", NULL, NULL);

	CHECK(rc == 0 && out[0] == 0, "no options: rc %d, printed '%s'", rc, out);
}

static void case_warnings(void)
{
	/*
	 * dirty_decay_ms, not decay_ms: that one is CONFIG_LARGE_CACHE's,
	 * and without it the warning is "not built in" (randconfig
	 * KCONFIG_SEED=0x449dfeb9).
	 */
	int rc = run("plain", "bogus=1,dirty_decay_ms=abc,tcache_pct=5", NULL);

	CHECK(rc == 0, "rc %d", rc);
	CHECK(count(out, "\n") == 3, "three warnings, one line each: '%s'", out);
	CHECK(strstr(out, "hakmem: HAKMEM_OPTIONS: unknown option 'bogus'; ignored\n") != NULL,
	      "unknown option: '%s'", out);
	CHECK(strstr(out, "hakmem: HAKMEM_OPTIONS: dirty_decay_ms=abc: not a number") != NULL,
	      "bad value: '%s'", out);
	CHECK(strstr(out, "tcache_pct=5: not a number from 10 to 1000; using 100") != NULL,
	      "out of range: '%s'", out);
	/* The same process must not warn twice (read once). */
	CHECK(count(out, "bogus") == 1, "warned %d times", count(out, "bogus"));
}

static void case_verbose(void)
{
	int rc = run("plain", "verbose=1,decay_ms=77", NULL);

	CHECK(rc == 0, "rc %d", rc);
	CHECK(strstr(out, "hakmem: config: hakmem ") != NULL, "no report: '%s'", out);
	CHECK(strstr(out, "hakmem: config: option decay_ms         77\n") != NULL ||
	      !HAVE_LARGE_CACHE, "decay_ms in the report: '%s'", out);
	CHECK(count(out, "hakmem: config: hakmem ") == 1, "report printed %d times",
	      count(out, "hakmem: config: hakmem "));
	run("plain", "verbose=0", NULL);
	CHECK(out[0] == 0, "verbose=0 printed '%s'", out);
}

static void case_tcache(void)
{
	unsigned long def = 0, big = 0, small = 0, outrun = 0;

	/*
	 * The thread cache's bytes are a CONFIG_MALLOC_INFO figure: without
	 * it there is nothing to count them by (randconfig
	 * KCONFIG_SEED=0x21ff5b0d read 0 blocks three times), only the
	 * figure's absence to check.
	 */
	if (!HAVE_MALLOC_INFO) {
		run("tcache", "tcache_pct=400", NULL);
		CHECK(strcmp(out, "no stat.cached\n") == 0,
		      "stat.cached without CONFIG_MALLOC_INFO: '%s'", out);
		return;
	}
	run("tcache", NULL, "TCACHE_N=6000");
	sscanf(out, "cached %lu", &def);
	run("tcache", "tcache_pct=400", "TCACHE_N=20000");
	sscanf(out, "cached %lu", &big);
	run("tcache", "tcache_pct=50", "TCACHE_N=12000");
	sscanf(out, "cached %lu", &small);
	run("tcache", NULL, "TCACHE_N=20000");
	sscanf(out, "cached %lu", &outrun);
	printf("256 B blocks kept by the thread cache: %lu of 6000 (default), %lu of 20000 (400%%), "
	       "%lu of 12000 (50%%), %lu of 20000 (default)\n", def, big, small, outrun);
	/*
	 * The bin starts at 128 blocks and grows while it overflows, up to
	 * 16384 blocks (HEAP_BIN_MAX_BYTES, 4 MiB; HEAP_BIN_MAX_BLOCKS is
	 * 32768) by default; tcache_pct scales both (4096 and 1 MiB before
	 * branch batch, 8192 and 2 MiB before branch batch2). A grown bin
	 * that overflows at its most (20000 frees by default, 12000 at 50%)
	 * goes back to its first limit and keeps nothing, the frees after
	 * it going on to their slabs in batches of 64 (heap_bin_flush(),
	 * heap_bin_pass(): frees that outrun the cache are not a batch that
	 * comes back), so that one batch at most stays.
	 */
	if (!GROW_KB) {
		/* Fixed limits: 128 blocks, 512 at 400%, 64 at 50%. */
		CHECK(def <= 128 && big <= 512 && big > def && small <= 64 && outrun <= 128,
		      "bins that do not grow: %lu, %lu (400%%), %lu (50%%), %lu blocks",
		      def, big, small, outrun);
		return;
	}
	CHECK(def > 128 && def <= 16384, "default: %lu blocks (bin 128, grows to 16384)", def);
	CHECK(big > 16384 && big <= 65535, "tcache_pct=400: %lu blocks (grows to 65535)", big);
	CHECK(small <= 64 && small < def,
	      "tcache_pct=50: %lu blocks (grows to 8192, outrun: a batch at most kept)", small);
	CHECK(outrun <= 128,
	      "default, 20000 frees: %lu blocks (grows to 16384, outrun: a batch at most kept)", outrun);
}

static void case_stats(void)
{
	char path[128], buf[8192];
	int rc, fd;
	ssize_t n;

	if (!HAVE_STATS) {
		run("plain", "stats=1", NULL);
		CHECK(strstr(out, "stats: not built in (CONFIG_STATS=n)") != NULL, "'%s'", out);
		run("plain", NULL, "HAKMEM_STATS=1");
		CHECK(out[0] == 0, "HAKMEM_STATS=1 without CONFIG_STATS printed '%s'", out);
		return;
	}
	rc = run("plain", "stats=1", NULL);
	CHECK(rc == 0 && strstr(out, "hakmem: stats: ---- hakmem statistics"), "stats=1: '%s'", out);
	run("plain", NULL, "HAKMEM_STATS=1");
	CHECK(strstr(out, "hakmem: stats: ----") != NULL, "alias HAKMEM_STATS=1: '%s'", out);
	run("plain", NULL, "HAKMEM_STATS=yes");
	CHECK(strstr(out, "hakmem: stats: ----") != NULL, "alias HAKMEM_STATS=yes: '%s'", out);
	run("plain", "stats=0", "HAKMEM_STATS=1");
	CHECK(out[0] == 0, "HAKMEM_OPTIONS=stats=0 wins over HAKMEM_STATS=1: '%s'", out);
	run("plain", NULL, "HAKMEM_STATS=0");
	CHECK(out[0] == 0, "HAKMEM_STATS=0: '%s'", out);

	snprintf(path, sizeof(path), "/tmp/hakmem-options-test.%d", (int)getpid());
	unlink(path);
	snprintf(buf, sizeof(buf), "stats_file=%s", path);
	rc = run("plain", buf, NULL);
	CHECK(rc == 0 && out[0] == 0, "stats_file: printed '%s' on stderr", out);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	unlink(path);
	CHECK(strstr(buf, "hakmem: stats: ---- hakmem statistics") != NULL,
	      "stats_file=%s holds '%s'", path, buf);
}

static void case_guard(void)
{
	int rc;

	if (HAVE_GUARD_LOG) {
		/* By default the first 10 foreign pointers are reported. */
		run("guard", NULL, NULL);
		CHECK(count(out, "hakmem: guard: free(") == 5, "default: 5 lines expected: '%s'", out);
		run("guard", NULL, "HAKMEM_EXTERNAL_GUARD_LOG=0");
		CHECK(!strstr(out, "hakmem: guard: free("), "alias =0 logged: '%s'", out);
		run("guard", "guard_log=0", NULL);
		CHECK(!strstr(out, "hakmem: guard: free("), "guard_log=0 logged: '%s'", out);
		run("guard", NULL, "HAKMEM_EXTERNAL_GUARD_LOG=1");
		CHECK(count(out, "hakmem: guard: free(") == 5, "alias: 5 lines expected: '%s'", out);
		run("guard", "guard_log=1", NULL);
		CHECK(count(out, "hakmem: guard: free(") == 5, "guard_log=1: '%s'", out);
	}
	if (HAVE_GUARD_STATS) {
		rc = run("guard", "guard_threshold=3", NULL);
		CHECK(rc == 0 && strstr(out, "hakmem: guard: report (threshold): 3 foreign"),
		      "guard_threshold=3: '%s'", out);
		run("guard", NULL, NULL);
		CHECK(!strstr(out, "report (threshold)"), "default threshold reached by 5: '%s'", out);
	} else {
		run("guard", "guard_threshold=3", NULL);
		CHECK(strstr(out, "guard_threshold: not built in") != NULL, "'%s'", out);
	}
}

int main(int argc, char **argv)
{
	self = "/proc/self/exe";
	if (argc == 3 && strcmp(argv[1], "-c") == 0) {
		if (strcmp(argv[2], "tcache") == 0)
			child_tcache();
		else if (strcmp(argv[2], "guard") == 0)
			child_guard();
		else
			child_plain();
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	case_plain();
	case_warnings();
	case_verbose();
	case_tcache();
	case_stats();
	case_guard();
	printf("options: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
