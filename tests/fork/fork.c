// SPDX-License-Identifier: MIT
/*
 * fork: fork while other threads are inside the allocator. Every lock
 * of the allocator must be taken around fork (include/hakmem/lock.h), or
 * a child finds one held by a thread that does not exist in it and spins
 * forever at its first allocation or free.
 *
 *	fork [-t threads] [-n forks] [-w seconds] [-q]
 *
 *	-t n	worker threads (default 4)
 *	-n n	forks (default 300)
 *	-w s	how long a child may take before it counts as deadlocked
 *		(default 20; an alarm in the child, so that a deadlock is a
 *		failure, not a hang)
 *	-q	quiet: only the summary line
 *
 * The workers, until the main thread is done forking: allocate blocks of
 * every tier (8 B ... 1 MiB, some aligned), write them, swap them into a
 * shared table and free what they took out (so most frees are remote,
 * of another thread's block), free foreign pointers (a static array, the
 * NULL page, outside the address space: the ExternalGuard in the mmap
 * build, with its statistics lock when CONFIG_EXTERNAL_GUARD_STATS is
 * on), realloc, and now and then trim.
 *
 * The main thread forks -n times. Each child mallocs blocks of every tier
 * (in a new thread too, every fourth child), checks and frees them, frees
 * a foreign pointer and a block the parent's workers allocated, and exits
 * 0. A child that deadlocks is killed by its alarm. Last line:
 * "fork: N passed, M failed" (children); exit status 1 if M > 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "hk_api.h"

#define TABLE		256	/* blocks shared by the workers */
#define MAX_THREADS	64

static unsigned int nthreads = 4;
static unsigned int nforks = 300;
static unsigned int child_wait = 20;
static int quiet;

static void *table[TABLE];		/* atomic exchange */
static int stop;			/* atomic: workers end */
static char foreign[4096] __attribute__((aligned(64)));

/* Sizes of every tier; the arena build gets small ones only. */
#ifdef CONFIG_BACKEND_ARENA
static const size_t sizes[] = { 8, 24, 40, 100, 200, 500, 1000 };
#else
static const size_t sizes[] = { 8, 24, 100, 500, 1000, 3000, 20000, 40000, 300000, 1 << 20 };
#endif
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A size for a worker: mostly small, now and then one of the big ones. */
static size_t pick_size(uint64_t r)
{
	size_t i = (size_t)(r % 64);

	return sizes[i < 56 ? i % (NR_SIZES / 2 + 1) : i % NR_SIZES];
}

static void *worker(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	unsigned long ops = 0, i;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t r = rng_next(&s);
		size_t n = pick_size(r >> 8);
		void *p, *old;

		switch (r % 16) {
		case 0:
			if (t_posix_memalign(&p, (size_t)64 << (r >> 40) % 6, n))
				p = NULL;
			break;
		case 1:
			p = t_calloc(1, n);
			break;
		default:
			p = t_malloc(n);
			break;
		}
		if (p)
			memset(p, (int)(r >> 16), n < 64 ? n : 64);
		old = __atomic_exchange_n(&table[(r >> 24) % TABLE], p, __ATOMIC_ACQ_REL);
		if (old && (r >> 32) % 8 == 0) {
			/* Grow or shrink someone else's block, then free it. */
			void *q = t_realloc(old, pick_size(r >> 36));

			old = q ? q : old;
		}
		t_free(old);
		/*
		 * Pointers nobody allocated: the guard (and its lock). Those in
		 * the NULL page and outside the address space need no system
		 * call to classify, so the guard's lock is taken often.
		 */
		t_free(foreign + 64 * (r % (sizeof(foreign) / 64)));
		for (i = 0; i < 8; i++) {
			t_free((void *)(uintptr_t)(16 * (i + 1)));
			t_free((void *)(uintptr_t)(1UL << 60 | i << 4));
		}
		if (++ops % 4096 == 0)
			t_malloc_trim(0);
	}
	return NULL;
}

/* What each child does, in its main thread or in a new one. */
static void *child_work(void *arg)
{
	void *p[NR_SIZES];
	size_t i, j;

	for (i = 0; i < NR_SIZES; i++) {
		p[i] = t_malloc(sizes[i]);
		if (!p[i])
			return (void *)1;
		memset(p[i], (int)i + 1, sizes[i]);
	}
	t_free(foreign + 128);
	for (i = 0; i < NR_SIZES; i++) {
		for (j = 0; j < sizes[i]; j += 61)
			if (((unsigned char *)p[i])[j] != (unsigned char)(i + 1))
				return (void *)2;
		t_free(p[i]);
	}
	return NULL;
}

static int child(unsigned int k)
{
	void *ret = NULL;
	unsigned int i;
	pthread_t t;

	alarm(child_wait);
	/* Blocks of the parent's workers: frees of dead threads' blocks. */
	for (i = 0; i < 32; i++)
		t_free(__atomic_exchange_n(&table[(k + i) % TABLE], NULL, __ATOMIC_ACQ_REL));
	if (child_work(NULL))
		return 2;
	if (k % 4 == 0) {
		if (pthread_create(&t, NULL, child_work, NULL) || pthread_join(t, &ret))
			return 3;
		if (ret)
			return 4;
	}
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t threads] [-n forks] [-w seconds] [-q]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	unsigned int i, k, passed = 0, failed = 0;
	int opt, status;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:n:w:q")) != -1) {
		switch (opt) {
		case 't':
			nthreads = (unsigned int)atoi(optarg);
			break;
		case 'n':
			nforks = (unsigned int)atoi(optarg);
			break;
		case 'w':
			child_wait = (unsigned int)atoi(optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (nthreads > MAX_THREADS || !child_wait)
		usage(argv[0]);
	if (!quiet)
		printf("fork: %u threads, %u forks (%s)\n", nthreads, nforks, T_NAME);

	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i)) {
			fprintf(stderr, "fork: pthread_create failed\n");
			return 2;
		}

	for (k = 0; k < nforks && failed < 3; k++) {
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "fork: fork: %s\n", strerror(errno));
			failed++;
			continue;
		}
		if (pid == 0)
			_exit(child(k));
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passed++;
			continue;
		}
		failed++;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			fprintf(stderr, "fork: child %u deadlocked (no exit after %u s)\n",
				k, child_wait);
		else if (WIFSIGNALED(status))
			fprintf(stderr, "fork: child %u killed by signal %d\n", k, WTERMSIG(status));
		else
			fprintf(stderr, "fork: child %u exited with %d\n", k, WEXITSTATUS(status));
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < TABLE; i++)
		t_free(table[i]);
	if (failed >= 3 && k < nforks)
		fprintf(stderr, "fork: stopped after %u failures\n", failed);
	printf("fork: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
