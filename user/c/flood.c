/* flood: a fork bomb and a pipe flood, bounded by the kernel's limits, not by the program.
 *   - fork until it fails (EAGAIN past the thread limit, or ENOMEM), every child waiting
 *     on a pipe; then the parent lets them all go and reaps them;
 *   - in each of up to 16 forked children: pipes until EMFILE, each filled with writes of
 *     4096 bytes until EAGAIN (64 KiB a pipe), so the pipes hold several MiB of frames at
 *     once; then everything is closed as the children exit.
 * Afterwards the kernel's summary must show every frame, page table and temp slot back
 * (the QEMU test checks). Prints what it reached; exits 0 unless a call failed with an
 * error no kernel may give. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int bomb(void)
{
	int gate[2];
	pipe(gate);
	int children = 0, err = 0;
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			char c;
			close(gate[1]);
			read(gate[0], &c, 1); /* end of file when the parent lets go */
			_exit(0);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		children++;
	}
	close(gate[1]);
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	close(gate[0]);
	printf("fork bomb: %d children, then %s; %d reaped\n", children,
	       err == EAGAIN ? "EAGAIN" : err == ENOMEM ? "ENOMEM" : strerror(err), reaped);
	return (err == EAGAIN || err == ENOMEM) && reaped == children && children > 10 ? 0 : 1;
}

static int flood_one(void)
{
	static char page[4096];
	memset(page, 'f', sizeof page);
	int pipes = 0;
	long bytes = 0;
	int p[2];
	while (pipe2(p, O_NONBLOCK) == 0) {
		pipes++;
		ssize_t n;
		while ((n = write(p[1], page, sizeof page)) > 0)
			bytes += n;
		if (errno != EAGAIN && errno != ENOMEM)
			return 2;
	}
	if (errno != EMFILE && errno != ENOMEM)
		return 3;
	return bytes >= (long)pipes * 65536 - 65536 ? 0 : 4;
}

static int flood(void)
{
	int gate[2];
	pipe(gate);
	int started = 0;
	for (int i = 0; i < 16; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(gate[1]);
			int r = flood_one();
			char c;
			read(gate[0], &c, 1); /* hold the pipes until every child has filled its own */
			_exit(r);
		}
		if (pid < 0)
			break;
		started++;
	}
	close(gate[1]);
	int bad = 0, status;
	while (wait(&status) > 0)
		bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	close(gate[0]);
	printf("pipe flood: %d children filled their pipes, %d failed\n", started, bad);
	return bad;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int failures = bomb();
	failures += flood();
	printf("flood: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
