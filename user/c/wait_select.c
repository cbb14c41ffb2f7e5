/* wait_select: the select family (old select, _newselect, pselect6 with a signal mask,
 * ppoll, and glibc's select) on pipes, and waitid and waitpid by pid, by process group and
 * with WNOWAIT, printing what each returns. The same static binary runs on the host and on
 * Tempest: the QEMU test compares the outputs line by line. Pids and times are not
 * printed, only whether they are what they must be. Exits 0 unless a call failed that
 * must not. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define MUST(call)                                                                          \
	do {                                                                                \
		if ((call) < 0) {                                                           \
			printf("FAIL: %s: %s (line %d)\n", #call, strerror(errno), __LINE__); \
			failures++;                                                         \
		}                                                                           \
	} while (0)

/* The kernel's 32-bit timeval and timespec (i386). */
struct tv32 {
	int32_t sec, usec;
};
struct ts32 {
	int32_t sec, nsec;
};

/* A result as the test prints it: the value, or the error's name. */
static void said(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, strerror(errno));
	else
		printf("%s: %ld\n", what, r);
}

/* Which of fds 0..nfds-1 a set holds. */
static void show_set(const char *name, fd_set *set, int nfds)
{
	printf("  %s:", name);
	for (int fd = 0; fd < nfds; fd++)
		if (FD_ISSET(fd, set))
			printf(" %d", fd);
	printf("\n");
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void selects(void)
{
	int p[2];
	MUST(pipe(p));
	/* p[0] and p[1] are fds 3 and 4 in both runs (0-2 are the console or the host's). */
	printf("pipe fds: %d %d\n", p[0], p[1]);
	int nfds = p[1] + 1;
	fd_set r, w;

	/* An empty pipe: not readable, writable; a zero timeout is a plain look. */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	struct tv32 tv = {0, 0};
	said("_newselect empty", syscall(SYS__newselect, nfds, &r, &w, NULL, &tv));
	show_set("read", &r, nfds);
	show_set("write", &w, nfds);

	/* A timeout that runs out: 0, the sets emptied, nothing left of the timeout. */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct tv32){0, 30000};
	said("_newselect 30 ms", syscall(SYS__newselect, nfds, &r, NULL, NULL, &tv));
	show_set("read", &r, nfds);
	printf("  timeout left: %d %d\n", tv.sec, tv.usec);

	/* Bytes in it: readable, through the old select's argument block too. */
	MUST(write(p[1], "x", 1));
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &r);
	FD_SET(p[1], &w);
	struct {
		uint32_t n, in, out, ex, tv;
	} block = {nfds, (uint32_t)(uintptr_t)&r, (uint32_t)(uintptr_t)&w, 0, 0};
	said("old select with a byte in", syscall(SYS_select, &block));
	show_set("read", &r, nfds);
	show_set("write", &w, nfds);

	/* glibc's own select (pselect6_time64 or an older call underneath). */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timeval gtv = {1, 0};
	said("glibc select", select(nfds, &r, NULL, NULL, &gtv));
	show_set("read", &r, nfds);

	/* The writer gone, the byte read: readable (end of file). */
	char c;
	MUST(read(p[0], &c, 1));
	MUST(close(p[1]));
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	said("pselect6 writer gone", syscall(SYS_pselect6, nfds, &r, NULL, NULL, NULL, NULL));
	show_set("read", &r, nfds);

	/* The errors. */
	FD_ZERO(&r);
	FD_SET(p[1], &r); /* closed */
	tv = (struct tv32){0, 0};
	said("closed fd in a set", syscall(SYS__newselect, nfds, &r, NULL, NULL, &tv));
	said("negative nfds", syscall(SYS__newselect, -1, NULL, NULL, NULL, &tv));
	tv = (struct tv32){-1, 0};
	said("negative timeout", syscall(SYS__newselect, 0, NULL, NULL, NULL, &tv));
	said("bad set pointer", syscall(SYS__newselect, nfds, (void *)16, NULL, NULL, NULL));
	MUST(close(p[0]));
}

/* pselect6 with a signal mask: SIGUSR1 is blocked, a child sends it, pselect6 lets it in
 * while it waits (EINTR, the handler ran) and the mask is back after. */
static void pselect_mask(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	MUST(sigaction(SIGUSR1, &sa, NULL));
	sigset_t block, none, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	MUST(sigprocmask(SIG_BLOCK, &block, NULL));
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		kill(parent, SIGUSR1);
		_exit(0);
	}
	/* Let the signal arrive while blocked; pselect6 must then take it at once. */
	int status;
	MUST(waitpid(child, &status, 0));
	printf("usr1 handled before pselect6: %d\n", usr1);
	struct {
		uint32_t set, size;
	} mask = {(uint32_t)(uintptr_t)&none, 8};
	struct ts32 ts = {5, 0};
	said("pselect6 with the signal let in", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, &mask));
	MUST(sigprocmask(SIG_BLOCK, NULL, &now));
	printf("usr1 handled: %d; still blocked after: %s\n", usr1,
	       sigismember(&now, SIGUSR1) ? "yes" : "no");
	mask.size = 4;
	said("pselect6 with a bad sigset size", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, &mask));
	MUST(sigprocmask(SIG_UNBLOCK, &block, NULL));

	/* ppoll: a zero timeout, then the signal mask the same way. */
	struct pollfd pfd = {.fd = 0, .events = 0};
	struct ts32 zero = {0, 0};
	said("ppoll nothing asked", syscall(SYS_ppoll, &pfd, 1, &zero, NULL, 8));
}

static void waits(void)
{
	siginfo_t si;
	/* A child that exits 7: waitid with WNOWAIT sees it and leaves it. */
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	memset(&si, 0xff, sizeof si);
	said("waitid WNOWAIT", syscall(SYS_waitid, P_PID, child, &si, WEXITED | WNOWAIT, NULL));
	printf("  signo %d code %d status %d pid matches %s\n", si.si_signo, si.si_code, si.si_status,
	       si.si_pid == child ? "yes" : "no");
	memset(&si, 0, sizeof si);
	said("waitid again", syscall(SYS_waitid, P_PID, child, &si, WEXITED, NULL));
	printf("  signo %d code %d status %d pid matches %s\n", si.si_signo, si.si_code, si.si_status,
	       si.si_pid == child ? "yes" : "no");
	said("waitid when it is gone", syscall(SYS_waitid, P_PID, child, &si, WEXITED, NULL));

	/* Killed by a signal: CLD_KILLED and the signal. */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	memset(&si, 0xff, sizeof si);
	said("waitid WNOHANG while it runs", syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG, NULL));
	printf("  signo %d pid %d\n", si.si_signo, si.si_pid);
	MUST(kill(child, SIGKILL));
	said("waitid P_ALL", syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, NULL));
	printf("  signo %d code %d status %d\n", si.si_signo, si.si_code, si.si_status);

	/* A child in a group of its own: waitpid(0) does not take it, waitpid(-pgid) and
	 * waitid(P_PGID) do. */
	int go[2];
	MUST(pipe(go));
	child = fork();
	if (child == 0) {
		char c;
		setpgid(0, 0);
		close(go[1]);
		read(go[0], &c, 1); /* until the parent has looked */
		_exit(3);
	}
	MUST(setpgid(child, child)); /* either may win the race: both ask the same */
	MUST(close(go[0]));
	int status = 0;
	said("waitpid(0, WNOHANG) with the child elsewhere", waitpid(0, &status, WNOHANG));
	said("waitpid(-pgid, WNOHANG) while it runs", waitpid(-child, &status, WNOHANG));
	MUST(close(go[1]));
	memset(&si, 0, sizeof si);
	said("waitid P_PGID WNOWAIT", syscall(SYS_waitid, P_PGID, child, &si, WEXITED | WNOWAIT, NULL));
	printf("  code %d status %d\n", si.si_code, si.si_status);
	long r = waitpid(-child, &status, 0);
	printf("waitpid(-pgid): %s, exit status %d\n", r == child ? "the child" : strerror(errno),
	       WEXITSTATUS(status));

	/* The errors. */
	said("waitid no children", syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, NULL));
	said("waitid bad idtype", syscall(SYS_waitid, 7, 0, &si, WEXITED, NULL));
	said("waitid no options", syscall(SYS_waitid, P_ALL, 0, &si, 0, NULL));
}

int main(void)
{
	printf("wait_select: start\n");
	selects();
	pselect_mask();
	waits();
	printf("wait_select: %d failure(s)\n", failures);
	return failures != 0;
}
