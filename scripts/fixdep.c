// SPDX-License-Identifier: MIT
/*
 * fixdep - turn a gcc -MD dependency file into a kbuild .cmd file.
 *
 * Usage: fixdep <depfile> <target> <cmdline> <configdir>
 *
 * Writes to stdout:
 *
 *   savedcmd_<target> := <cmdline>
 *
 *   source_<target> := <first prerequisite>
 *
 *   deps_<target> := \
 *     <prerequisite> \
 *     $(wildcard <configdir>/foo/bar.h) \
 *     ...
 *
 *   <target>: $(deps_<target>)
 *
 *   $(deps_<target>):
 *
 * Every prerequisite gcc listed is kept, except the generated headers
 * include/generated/autoconf.h and include/config/auto.conf: depending
 * on them would rebuild everything on any configuration change. Instead,
 * each prerequisite is scanned for CONFIG_<SYMBOL> words, and the object
 * gets a dependency on the per-symbol file kconfiglib's sync_deps()
 * touches when that symbol changes value. kconfiglib 14 names the file
 * of CONFIG_FOO_BAR_BAZ "<configdir>/foo/bar/baz.h" (lower case, every
 * '_' becomes '/'). The files are wrapped in $(wildcard) because a
 * symbol that never changed has no file yet (or is not a Kconfig symbol
 * at all, like a CONFIG_ word in a comment).
 *
 * The trailing "$(deps_<target>):" line makes every prerequisite a target
 * without a recipe, so a deleted header does not break the build.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *target;
static const char *configdir;

static void die(const char *what, const char *name)
{
	fprintf(stderr, "fixdep: %s %s: %s\n", what, name, strerror(errno));
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "fixdep: out of memory\n");
		exit(2);
	}
	return p;
}

/* A small open-addressing set of strings (config symbols, files seen). */
struct set {
	char **slot;
	size_t size;
	size_t used;
};

static unsigned long hash(const char *s, size_t n)
{
	unsigned long h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* Returns 1 if (s, n) was added, 0 if it was already there. */
static int set_add(struct set *set, const char *s, size_t n)
{
	size_t i;

	if (2 * (set->used + 1) > set->size) {
		struct set bigger;
		size_t j;

		bigger.size = set->size ? 2 * set->size : 256;
		bigger.used = 0;
		bigger.slot = calloc(bigger.size, sizeof(*bigger.slot));
		if (!bigger.slot) {
			fprintf(stderr, "fixdep: out of memory\n");
			exit(2);
		}
		for (j = 0; j < set->size; j++)
			if (set->slot[j])
				set_add(&bigger, set->slot[j], strlen(set->slot[j]));
		for (j = 0; j < set->size; j++)
			free(set->slot[j]);
		free(set->slot);
		*set = bigger;
	}
	for (i = hash(s, n) & (set->size - 1); set->slot[i];
	     i = (i + 1) & (set->size - 1))
		if (strlen(set->slot[i]) == n && !memcmp(set->slot[i], s, n))
			return 0;
	set->slot[i] = xmalloc(n + 1);
	memcpy(set->slot[i], s, n);
	set->slot[i][n] = '\0';
	set->used++;
	return 1;
}

static struct set symbols;

static int is_ident(int c)
{
	return isalnum(c) || c == '_';
}

static void use_config(const char *name, size_t len)
{
	size_t i;

	if (!set_add(&symbols, name, len))
		return;
	printf("  $(wildcard %s/", configdir);
	for (i = 0; i < len; i++)
		putchar(name[i] == '_' ? '/' : tolower((unsigned char)name[i]));
	printf(".h) \\\n");
}

/* Scan a prerequisite for CONFIG_ words. */
static void parse_config_file(const char *name)
{
	struct stat st;
	const char *map, *p, *end;
	int fd;

	fd = open(name, O_RDONLY);
	if (fd < 0) {
		/* gcc listed it, so it existed a moment ago; be lenient. */
		fprintf(stderr, "fixdep: warning: cannot open %s: %s\n", name,
			strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0)
		die("fstat", name);
	if (st.st_size == 0) {
		close(fd);
		return;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("mmap", name);
	close(fd);

	end = map + st.st_size;
	for (p = map; p + 7 < end; p++) {
		const char *q;

		if (memcmp(p, "CONFIG_", 7))
			continue;
		if (p > map && is_ident((unsigned char)p[-1]))
			continue;
		p += 7;
		for (q = p; q < end && is_ident((unsigned char)*q); q++)
			;
		if (q > p)
			use_config(p, q - p);
		p = q - 1;
	}
	munmap((void *)map, st.st_size);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m) &&
	       (n == m || s[n - m - 1] == '/');
}

/* Print a file name for make, escaping what make treats specially. */
static void print_name(const char *s)
{
	for (; *s; s++) {
		if (*s == '$')
			putchar('$');
		else if (*s == '#' || *s == ' ')
			putchar('\\');
		putchar(*s);
	}
}

static char *read_file(const char *name, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd;

	fd = open(name, O_RDONLY);
	if (fd < 0)
		die("open", name);
	if (fstat(fd, &st) < 0)
		die("fstat", name);
	buf = xmalloc(st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, st.st_size - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read", name);
		}
		if (r == 0)
			break;
		got += r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

static void parse_dep_file(char *buf, size_t len)
{
	struct set files = { 0 };
	char *p = buf, *end = buf + len;
	int first = 1, seen_colon = 0;

	while (p < end) {
		char *start, *w;
		size_t n;

		/* Skip blanks and line continuations. */
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || !*p ||
				   *p == '\r' || (*p == '\\' && p + 1 < end &&
						  (p[1] == '\n' || p[1] == '\r'))))
			p++;
		if (p >= end)
			break;

		/* One word; "\ " is an escaped space inside a name. */
		start = w = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\n' &&
		       *p != '\r') {
			if (*p == '\\' && p + 1 < end && (p[1] == ' ' ||
							  p[1] == '#'))
				p++;
			else if (*p == '$' && p + 1 < end && p[1] == '$')
				p++;
			else if (*p == '\\' && p + 1 < end && p[1] == '\n')
				break;
			*w++ = *p++;
		}
		n = w - start;
		if (p < end && *p != '\\')
			p++;	/* past the blank that ended the word */
		start[n] = '\0';

		if (!seen_colon) {
			/* The target part, up to and including "xxx.o:". */
			if (n && start[n - 1] == ':')
				seen_colon = 1;
			continue;
		}
		if (n == 0 || (n == 1 && start[0] == ':'))
			continue;
		if (start[n - 1] == ':') {
			/* A second rule (-MP style phony targets): stop. */
			break;
		}
		if (ends_with(start, n, "include/generated/autoconf.h") ||
		    ends_with(start, n, "include/config/auto.conf"))
			continue;
		if (!set_add(&files, start, n))
			continue;

		if (first) {
			printf("source_%s := ", target);
			print_name(start);
			printf("\n\ndeps_%s := \\\n", target);
			first = 0;
		}
		printf("  ");
		print_name(start);
		printf(" \\\n");
		parse_config_file(start);
	}

	if (first) {
		fprintf(stderr, "fixdep: no prerequisites in dependency file\n");
		exit(1);
	}
	printf("\n%s: $(deps_%s)\n\n$(deps_%s):\n", target, target, target);
}

int main(int argc, char *argv[])
{
	const char *depfile, *cmdline;
	size_t len;
	char *buf;

	if (argc != 5) {
		fprintf(stderr,
			"usage: fixdep <depfile> <target> <cmdline> <configdir>\n");
		return 2;
	}
	depfile = argv[1];
	target = argv[2];
	cmdline = argv[3];
	configdir = argv[4];

	printf("savedcmd_%s := %s\n\n", target, cmdline);
	buf = read_file(depfile, &len);
	parse_dep_file(buf, len);
	free(buf);

	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "fixdep: write error\n");
		return 2;
	}
	return 0;
}
