/* SPDX-License-Identifier: MIT */
/*
 * A case run in a forked child whose stderr the parent reads: the
 * badinput and dfuzz programs, whose cases may abort (a double free
 * reported) or crash, which is an outcome, not the end of the run.
 */
#ifndef _HK_TESTS_CHILD_H
#define _HK_TESTS_CHILD_H

#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Fork a child that runs fn(arg) with its stderr into a pipe, without a
 * core file and with a 60-second alarm; fn ends the child itself
 * (_exit), else it exits with 0. Returns the child's pid (*fd: the
 * pipe's read end), or -1 with errno set.
 */
static inline pid_t child_start(int *fd, void (*fn)(void *), void *arg)
{
	int pipefd[2];
	pid_t pid;

	fflush(NULL);
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		close(pipefd[0]);
		dup2(pipefd[1], 2);
		close(pipefd[1]);
		alarm(60);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	close(pipefd[1]);
	*fd = pipefd[0];
	return pid;
}

/*
 * Read the child's stderr from fd into err (at most size - 1 bytes and a
 * NUL; the rest is read and dropped so that the child never blocks),
 * close fd and wait for the child: its wait status, or -1 with errno set.
 */
static inline int child_finish(pid_t pid, int fd, char *err, size_t size)
{
	size_t got = 0;
	ssize_t r;
	int status;

	while ((r = read(fd, err + got, size - 1 - got)) > 0) {
		got += (size_t)r;
		if (got == size - 1) {
			char sink[4096];

			while (read(fd, sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	err[got] = 0;
	close(fd);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#endif /* _HK_TESTS_CHILD_H */
