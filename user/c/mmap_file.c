/* mmap_file DIR: maps a file it writes in DIR privately (whole, from a page offset, over an
 * existing mapping with MAP_FIXED), writes to the mappings, forks, and says
 * what it sees; takes address hints; resizes and moves a mapping with mremap; then the
 * errors such calls must give. The same static binary runs on the
 * host and on Tempest: the QEMU test compares the outputs line by line. Addresses are not
 * printed. Exits 0 unless a call failed that must not. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
/* Three pages and a bit: the last page is partly past the end. (A page wholly past the end
 * is not touched: Linux raises SIGBUS there, Tempest maps zeroes.) */
#define SIZE (3 * PAGE + 100)

static int failures;

#define MUST(call)                                                                          \
	do {                                                                                \
		if ((call) < 0) {                                                           \
			printf("FAIL: %s: %s (line %d)\n", #call, strerror(errno), __LINE__); \
			failures++;                                                         \
		}                                                                           \
	} while (0)

static uint32_t fnv(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static unsigned char byte_at(size_t i)
{
	return (unsigned char)(i * 7 + i / PAGE);
}

/* An mmap's result as the test prints it: the error's name, or "ok". */
static const char *outcome(void *p)
{
	return p == MAP_FAILED ? strerror(errno) : "ok";
}

static void show(const char *what, const unsigned char *p, size_t n)
{
	printf("%s: fnv=%08x first=%u last=%u\n", what, fnv(p, n), p[0], p[n - 1]);
}

int main(int argc, char **argv)
{
	printf("mmap_file: start\n");
	if (argc < 2 || chdir(argv[1]) < 0) {
		printf("mmap_file: no directory\n");
		return 2;
	}
	static unsigned char data[SIZE];
	for (size_t i = 0; i < SIZE; i++)
		data[i] = byte_at(i);
	int fd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	MUST(fd);
	MUST(write(fd, data, SIZE));
	show("file", data, SIZE);

	/* The whole file, and the zeroes after its end in the last page. */
	unsigned char *whole = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("map whole: %s\n", outcome(whole));
	if (whole != MAP_FAILED) {
		show("whole", whole, SIZE);
		size_t zeroes = 0;
		for (size_t i = SIZE; i < 4 * PAGE; i++)
			zeroes += whole[i] == 0;
		printf("whole: %zu of %d bytes past the end are zero\n", zeroes, 4 * PAGE - SIZE);
		printf("whole matches the file: %s\n", memcmp(whole, data, SIZE) ? "no" : "yes");
	}

	/* From page 1 on, written: the file does not change (private). */
	unsigned char *tail = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
	printf("map from page 1: %s\n", outcome(tail));
	if (tail != MAP_FAILED) {
		printf("tail starts at file byte 4096: %s\n",
		       memcmp(tail, data + PAGE, 2 * PAGE) ? "no" : "yes");
		memset(tail, 0xAB, 2 * PAGE);
		unsigned char back[2 * PAGE];
		MUST(pread(fd, back, sizeof back, PAGE));
		printf("file after writing the private map: %s\n",
		       memcmp(back, data + PAGE, sizeof back) ? "changed" : "unchanged");
		show("tail after write", tail, 2 * PAGE);

		/* A child sees the parent's written copy, and its own write stays its own. */
		pid_t child = fork();
		if (child == 0) {
			int same = tail[5] == 0xAB;
			tail[5] = 0x11;
			_exit(same ? 0 : 1);
		}
		int status = 0;
		MUST(waitpid(child, &status, 0));
		printf("child saw the written copy: %s; parent still has 0x%02x\n",
		       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no", tail[5]);
		MUST(munmap(tail, 2 * PAGE));
	}

	/* MAP_FIXED over an anonymous mapping: the file replaces the zeroes. */
	unsigned char *anon = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("map anonymous: %s\n", outcome(anon));
	if (anon != MAP_FAILED) {
		memset(anon, 0x55, 3 * PAGE);
		unsigned char *fixed = mmap(anon + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * PAGE);
		printf("map fixed at page 1 of it: %s, at the address asked: %s\n", outcome(fixed),
		       fixed == anon + PAGE ? "yes" : "no");
		printf("fixed page is file page 2: %s; neighbours kept: %u %u\n",
		       memcmp(anon + PAGE, data + 2 * PAGE, PAGE) ? "no" : "yes", anon[PAGE - 1],
		       anon[2 * PAGE]);
		MUST(munmap(anon, 3 * PAGE));
	}

	/* /dev/zero maps as anonymous memory. */
	int zero = open("/dev/zero", O_RDONLY);
	unsigned char *z = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
	printf("map /dev/zero: %s\n", outcome(z));
	if (z != MAP_FAILED) {
		z[10] = 1;
		printf("/dev/zero page: %u %u\n", z[0], z[10]);
	}

	/* An address without MAP_FIXED is a hint: taken when the range is free, else the
	 * mapping goes elsewhere and the old one stays. */
	unsigned char *want = (unsigned char *)0x10000;
	unsigned char *hinted = mmap(want, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("hint at a free address: %s, at the hint: %s\n", outcome(hinted),
	       hinted == want ? "yes" : "no");
	if (hinted != MAP_FAILED) {
		hinted[0] = 7;
		unsigned char *again = mmap(want, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("hint at a taken address: %s, elsewhere: %s, old page kept: %u\n",
		       outcome(again), again != want ? "yes" : "no", hinted[0]);
		unsigned char *odd = mmap(want + 2 * PAGE + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("unaligned hint: %s, rounded down to its page: %s\n", outcome(odd),
		       odd == want + 2 * PAGE ? "yes" : "no");
	}

	/* mremap: growing in place into free pages, refused without MREMAP_MAYMOVE when the
	 * next page is taken, moved with it (the contents go along), shrunk, and moved to a
	 * fixed address. Addresses come from free hints, the same on both kernels. */
	unsigned char *r = mmap((void *)0x30000, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mremap: map: %s\n", outcome(r));
	if (r != MAP_FAILED) {
		memset(r, 0x5a, 2 * PAGE);
		unsigned char *g = mremap(r, 2 * PAGE, 4 * PAGE, 0);
		printf("mremap: grow in place: %s, same place: %s, old bytes kept: %s, new ones zero: %s\n",
		       outcome(g), g == r ? "yes" : "no", g != MAP_FAILED && g[2 * PAGE - 1] == 0x5a ? "yes" : "no",
		       g != MAP_FAILED && g[3 * PAGE] == 0 ? "yes" : "no");
		unsigned char *block = mmap(r + 4 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		printf("mremap: block the next page: %s\n", outcome(block));
		errno = 0;
		printf("mremap: grow without MAYMOVE: %s\n", outcome(mremap(r, 4 * PAGE, 6 * PAGE, 0)));
		r[4 * PAGE - 1] = 0x77;
		unsigned char *m = mremap(r, 4 * PAGE, 6 * PAGE, MREMAP_MAYMOVE);
		printf("mremap: grow with MAYMOVE: %s, moved: %s, bytes kept: %s %s, new zero: %s\n",
		       outcome(m), m != r ? "yes" : "no", m != MAP_FAILED && m[0] == 0x5a ? "yes" : "no",
		       m != MAP_FAILED && m[4 * PAGE - 1] == 0x77 ? "yes" : "no",
		       m != MAP_FAILED && m[5 * PAGE] == 0 ? "yes" : "no");
		errno = 0;
		printf("mremap: the old place is gone: %s\n", outcome(mremap(r, PAGE, PAGE, 0)));
		if (m != MAP_FAILED) {
			unsigned char *s2 = mremap(m, 6 * PAGE, PAGE, 0);
			errno = 0;
			printf("mremap: shrink: %s, same place: %s; the tail gone: %s\n", outcome(s2),
			       s2 == m ? "yes" : "no", outcome(mremap(m + PAGE, PAGE, PAGE, 0)));
			unsigned char *to = (unsigned char *)0x60000;
			unsigned char *f = mremap(m, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			printf("mremap: to a fixed address: %s, there: %s, byte kept: %s\n", outcome(f),
			       f == to ? "yes" : "no", f == to && f[0] == 0x5a ? "yes" : "no");
			errno = 0;
			printf("mremap: fixed onto a range it overlaps: %s\n",
			       outcome(mremap(to, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to + PAGE)));
		}
		errno = 0;
		printf("mremap: unaligned: %s\n", outcome(mremap(r + 1, PAGE, PAGE, 0)));
		errno = 0;
		printf("mremap: FIXED without MAYMOVE: %s\n",
		       outcome(mremap(block, PAGE, PAGE, MREMAP_FIXED, (void *)0x70000)));
		errno = 0;
		printf("mremap: size 0: %s\n", outcome(mremap(block, PAGE, 0, 0)));
	}

	/* The errors. */
	errno = 0;
	printf("bad fd: %s\n", outcome(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 99, 0)));
	int wronly = open("data", O_WRONLY);
	printf("write-only fd: %s\n", outcome(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wronly, 0)));
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	printf("directory: %s\n", outcome(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0)));
	int p[2];
	MUST(pipe(p));
	printf("pipe: %s\n", outcome(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, p[0], 0)));
	printf("neither shared nor private: %s\n",
	       outcome(mmap(NULL, PAGE, PROT_READ, 0, fd, 0)));
	printf("length 0: %s\n", outcome(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0)));

	printf("mmap_file: %d failure(s)\n", failures);
	return failures != 0;
}
