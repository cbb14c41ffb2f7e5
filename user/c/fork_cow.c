/* fork_cow: processes made by fork, their copy-on-write memory and how they end.
 *   - exit statuses through waitpid (WEXITSTATUS, and WTERMSIG for a child killed by
 *     SIGSEGV), getppid, WNOHANG, ECHILD;
 *   - isolation: the parent fills 64 pages, forks, and parent and child, pinned to
 *     different CPUs, write different values over them and each reads back its own;
 *   - a pipe between parent and child, and a file descriptor the child inherits;
 *   - the write-protect shootdown (`stale` mode, argv[1]): a thread of the parent on
 *     another CPU keeps writing a counter into one page while the main thread forks; the
 *     child must see that page frozen at its fork-time copy. Without the shootdown (the
 *     kernel's `no-fork-flush`) the thread writes through its stale writable translation
 *     into the frame the child now shares, and the child sees the counter move: it prints
 *     STALE and the program exits 1.
 * Prints one line per fact (the same lines as on Linux, where it also runs); exits 0
 * unless a check failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64
#define PAGE 4096

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	failures += !ok;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof set, &set);
}

/* Fills every page of `buf` with `value`; counts the words that differ from it. */
static void fill(unsigned *buf, unsigned value)
{
	for (int i = 0; i < PAGES * PAGE / 4; i++)
		buf[i] = value;
}

static int differing(const unsigned *buf, unsigned value)
{
	int n = 0;
	for (int i = 0; i < PAGES * PAGE / 4; i++)
		n += buf[i] != value;
	return n;
}

static void statuses(void)
{
	pid_t me = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		_exit(getppid() == me ? 7 : 99);
	}
	int status = 0;
	check(waitpid(pid, &status, 0) == pid, "waitpid returns the child's pid");
	printf("child exit: exited=%d status=%d\n", WIFEXITED(status), WEXITSTATUS(status));

	pid = fork();
	if (pid == 0) {
		*(volatile int *)0 = 1;
		_exit(0);
	}
	check(waitpid(pid, &status, 0) == pid, "waitpid of a child killed by a fault");
	printf("child killed: signaled=%d signal=%d\n", WIFSIGNALED(status), WTERMSIG(status));

	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		char c;
		read(p[0], &c, 1); /* wait for the parent's word */
		_exit(3);
	}
	check(waitpid(pid, &status, WNOHANG) == 0, "WNOHANG while the child runs: 0");
	write(p[1], "g", 1);
	check(waitpid(-1, &status, 0) == pid && WEXITSTATUS(status) == 3, "waitpid(-1) after it ends");
	errno = 0;
	check(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "no child left: ECHILD");
	close(p[0]);
	close(p[1]);
}

static void isolation(void)
{
	unsigned *buf = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(buf, 0xAAAAAAAA);
	int p[2];
	pipe(p);
	pin(0);
	pid_t pid = fork();
	if (pid == 0) {
		pin(1);
		int before = differing(buf, 0xAAAAAAAA);
		fill(buf, 0xBBBBBBBB);
		int after = differing(buf, 0xBBBBBBBB);
		char line[80];
		int n = snprintf(line, sizeof line, "child: %d words changed before its writes, %d after\n",
				 before, after);
		write(p[1], line, n);
		_exit(before || after ? 1 : 0);
	}
	close(p[1]);
	fill(buf, 0xCCCCCCCC);
	char line[80] = {0};
	read(p[0], line, sizeof line - 1);
	int status;
	waitpid(pid, &status, 0);
	printf("%s", line);
	printf("parent: %d words not its own after the child wrote\n", differing(buf, 0xCCCCCCCC));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child saw only its own writes");
	close(p[0]);
	munmap(buf, PAGES * PAGE);
}

static _Atomic unsigned *counter;
static atomic_int stop, running;

static void *writer(void *arg)
{
	(void)arg;
	pin(2);
	running = 1;
	while (!stop)
		atomic_fetch_add(counter, 1);
	return NULL;
}

/* The write-protect shootdown: the child's copy of the page must not move. */
static int stale(void)
{
	counter = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	while (!running)
		;
	usleep(20000);
	pin(0);
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		pin(3);
		unsigned first = *counter;
		unsigned moved = 0;
		for (int i = 0; i < 50; i++) {
			usleep(2000);
			moved += *counter != first;
		}
		char c = moved ? 'S' : 'F';
		write(p[1], &c, 1);
		_exit(0);
	}
	close(p[1]);
	char c = '?';
	read(p[0], &c, 1); /* 0 bytes: the child died first */
	stop = 1;
	pthread_join(t, NULL);
	int status = 0;
	waitpid(pid, &status, 0);
	if (c == 'S') {
		printf("STALE: the child's copy of the page moved after the fork\n");
		return 1;
	}
	if (c != 'F') {
		/* Without the shootdown every CPU of the parent, this one too, keeps writing
		 * into frames the child now shares: its stack among them. */
		printf("STALE: the child died (signal %d) with its memory written by the parent\n",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return 1;
	}
	printf("ok: the child's copy stayed as it was at the fork while the parent's thread wrote\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "stale"))
		return stale();
	printf("fork_cow: start\n");
	statuses();
	isolation();
	/* Many short children: every frame and page table they took comes back (the
	 * kernel's leak check at the end of the run). */
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(i);
		int status;
		waitpid(pid, &status, 0);
		failures += WEXITSTATUS(status) != i;
	}
	printf("20 children reaped\n");
	printf("fork_cow: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
