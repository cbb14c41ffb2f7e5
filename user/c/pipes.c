/* pipes: what programs and shells rely on from a pipe, between threads on several CPUs
 * (processes come with fork): 300 000 bytes through it while the writer blocks on a full
 * pipe; four writers of 512-byte records at once, every record whole (PIPE_BUF
 * atomicity) and each writer's in order; end of file after the last writer closes;
 * EPIPE and SIGPIPE with no reader; O_NONBLOCK (EAGAIN, and 16 writes of 4096 bytes fit);
 * poll (a timeout, POLLIN, POLLHUP); a blocked read ended by a signal (EINTR); fstat
 * (a FIFO) and lseek (ESPIPE); stdout redirected into a pipe with dup2. Prints one line
 * per fact; the same static binary runs on the host, and the QEMU test compares the two
 * outputs. Exits 0 unless a check failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	failures += !ok;
}

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

#define BIG 300000
static int big_fd;

static void *big_writer(void *arg)
{
	(void)arg;
	unsigned char chunk[1000];
	for (int sent = 0; sent < BIG; sent += sizeof chunk) {
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = (unsigned char)((sent + i) * 13 + (sent + i) / 4096);
		if (write(big_fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
			printf("FAIL: big write at %d: %s\n", sent, strerror(errno));
	}
	close(big_fd);
	return NULL;
}

#define RECORD 512
#define RECORDS 400
#define WRITERS 4
static int rec_fd;

static void *record_writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned char rec[RECORD];
	for (int seq = 0; seq < RECORDS; seq++) {
		memset(rec, id, RECORD);
		memcpy(rec + 1, &seq, sizeof seq);
		if (write(rec_fd, rec, RECORD) != RECORD)
			printf("FAIL: record write: %s\n", strerror(errno));
	}
	return NULL;
}

static volatile sig_atomic_t pipes_signalled, usr1;

static void on_sigpipe(int sig)
{
	(void)sig;
	pipes_signalled++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static pthread_t reader_thread;

static void *kicker(void *arg)
{
	(void)arg;
	usleep(100000);
	pthread_kill(reader_thread, SIGUSR1);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pipes: start\n");
	int p[2];

	/* 300 000 bytes, the writer blocking whenever 64 KiB wait unread. */
	check(pipe(p) == 0, "pipe");
	big_fd = p[1];
	pthread_t t;
	pthread_create(&t, NULL, big_writer, NULL);
	unsigned char buf[4096];
	uint32_t h = 2166136261u, want = 2166136261u;
	long total = 0;
	ssize_t n;
	usleep(50000); /* let the writer fill the pipe and block */
	while ((n = read(p[0], buf, 777)) > 0) {
		h = fnv(h, buf, n);
		total += n;
	}
	pthread_join(t, NULL);
	for (long i = 0; i < BIG; i++) {
		unsigned char c = (unsigned char)(i * 13 + i / 4096);
		want = fnv(want, &c, 1);
	}
	printf("big: %ld bytes, the same as sent: %s\n", total, h == want ? "yes" : "no");
	check(n == 0, "end of file after the writer closed");
	close(p[0]);

	/* Four writers of records at once: each record whole, each writer in order. */
	check(pipe(p) == 0, "pipe");
	rec_fd = p[1];
	pthread_t w[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, record_writer, (void *)(intptr_t)(i + 1));
	int next[WRITERS + 1] = {0}, torn = 0, disorder = 0, got = 0;
	unsigned char rec[RECORD];
	while (got < WRITERS * RECORDS) {
		size_t have = 0;
		while (have < RECORD) {
			n = read(p[0], rec + have, RECORD - have);
			if (n <= 0)
				break;
			have += n;
		}
		if (have < RECORD)
			break;
		int id = rec[0], seq;
		memcpy(&seq, rec + 1, sizeof seq);
		for (int i = 1 + sizeof seq; i < RECORD; i++)
			torn += rec[i] != id;
		if (id < 1 || id > WRITERS || seq != next[id]++)
			disorder++;
		got++;
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	printf("records: %d read, %d torn bytes, %d out of order\n", got, torn, disorder);
	close(p[1]);
	check(read(p[0], buf, 1) == 0, "end of file after every writer closed");
	close(p[0]);

	/* No reader: EPIPE, and SIGPIPE to the writer. */
	signal(SIGPIPE, on_sigpipe);
	check(pipe(p) == 0, "pipe");
	close(p[0]);
	errno = 0;
	n = write(p[1], "x", 1);
	printf("write without a reader: %zd %s, SIGPIPE %d\n", n, errno == EPIPE ? "EPIPE" : strerror(errno),
	       (int)pipes_signalled);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	n = write(p[1], "x", 1);
	printf("again with SIGPIPE ignored: %zd %s, SIGPIPE %d\n", n, errno == EPIPE ? "EPIPE" : strerror(errno),
	       (int)pipes_signalled);
	close(p[1]);

	/* O_NONBLOCK: an empty read and a full pipe say EAGAIN; 65 536 bytes fit. */
	check(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2(O_NONBLOCK | O_CLOEXEC)");
	check(fcntl(p[0], F_GETFD) == FD_CLOEXEC, "FD_CLOEXEC on the read end");
	check((fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0, "O_NONBLOCK on the write end");
	errno = 0;
	check(read(p[0], buf, 1) == -1 && errno == EAGAIN, "empty read: EAGAIN");
	long fitted = 0;
	memset(buf, 'z', sizeof buf);
	while ((n = write(p[1], buf, 4096)) > 0)
		fitted += n;
	printf("non-blocking fill: %ld bytes, then %s\n", fitted, errno == EAGAIN ? "EAGAIN" : strerror(errno));

	/* poll. */
	/* poll (its result taken before printing: C leaves the order of arguments open). */
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	int ready = poll(&pf, 1, 0);
	printf("poll a full pipe for reading: %d revents=%#x\n", ready, pf.revents);
	pf = (struct pollfd){.fd = p[1], .events = POLLOUT};
	ready = poll(&pf, 1, 50);
	printf("poll a full pipe for writing, 50 ms: %d revents=%#x\n", ready, pf.revents);
	n = read(p[0], buf, 100);
	pf = (struct pollfd){.fd = p[1], .events = POLLOUT};
	ready = poll(&pf, 1, 0);
	printf("poll after reading %zd bytes: %d revents=%#x\n", n, ready, pf.revents);
	n = read(p[0], buf, 4096);
	ready = poll(&pf, 1, 0);
	printf("poll after reading %zd more: %d revents=%#x\n", n, ready, pf.revents);
	close(p[1]);
	while (read(p[0], buf, sizeof buf) > 0)
		;
	pf = (struct pollfd){.fd = p[0], .events = POLLIN};
	ready = poll(&pf, 1, -1);
	printf("poll a drained pipe without writers: %d revents=%#x\n", ready, pf.revents);
	close(p[0]);
	check(pipe(p) == 0, "pipe");
	pf = (struct pollfd){.fd = p[0], .events = POLLIN};
	ready = poll(&pf, 1, 50);
	printf("poll an empty pipe, 50 ms: %d revents=%#x\n", ready, pf.revents);

	/* fstat and lseek. */
	struct stat st;
	fstat(p[0], &st);
	check(S_ISFIFO(st.st_mode), "fstat: a FIFO");
	errno = 0;
	check(lseek(p[0], 0, SEEK_CUR) == -1 && errno == ESPIPE, "lseek: ESPIPE");

	/* A blocked read ended by a signal whose handler does not ask for a restart. */
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	reader_thread = pthread_self();
	pthread_create(&t, NULL, kicker, NULL);
	errno = 0;
	n = read(p[0], buf, 1);
	printf("blocked read, then a signal: %zd %s, handler ran %d time(s)\n", n,
	       errno == EINTR ? "EINTR" : strerror(errno), (int)usr1);
	pthread_join(t, NULL);

	/* stdout into the pipe, and back. */
	int saved = dup(1);
	fflush(stdout);
	dup2(p[1], 1);
	printf("through the pipe\n");
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read back from stdout's pipe: %s", buf);
	close(p[0]);
	close(p[1]);

	printf("pipes: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
