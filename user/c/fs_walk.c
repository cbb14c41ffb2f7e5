/* fs_walk ROOT: lists everything under ROOT, depth first, names in byte order, with what
 * a program can learn of each by reading: its type and permission bits, its modification
 * time, a file's size, link count and bytes (an FNV-1a hash of them read 1000 bytes at a
 * time, so reads cross pages), a pread from the middle, lseek to the end and back, and a
 * link's target and what it leads to. Then the errors a read-only walk can meet. The
 * same static binary runs on the host (ROOT a directory) and on Tempest (ROOT `/`, the
 * directory packed as the initramfs): the QEMU test compares the two outputs line by
 * line. Directory sizes, link counts and inode numbers differ between file systems and
 * are not printed. Exits 0 unless a call failed that must not. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

static void fail(const char *what, const char *path)
{
	printf("FAIL: %s %s: %s\n", what, path, strerror(errno));
	failures++;
}

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A regular file: bytes, pread and lseek. */
static void show_file(int dir, const char *name, const char *rel, const struct stat *st)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("openat", rel);
		return;
	}
	unsigned char buf[1000];
	uint32_t h = 2166136261u;
	long long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		h = fnv(h, buf, n);
		total += n;
	}
	if (n < 0)
		fail("read", rel);
	unsigned char mid[10];
	ssize_t got = pread(fd, mid, sizeof mid, st->st_size / 2);
	uint32_t hm = fnv(2166136261u, mid, got > 0 ? got : 0);
	off_t end = lseek(fd, 0, SEEK_END);
	off_t back = lseek(fd, -1, SEEK_CUR);
	unsigned char last = 0;
	ssize_t one = read(fd, &last, 1);
	printf("  bytes=%lld fnv=%08x pread(%lld)=%zd:%08x end=%lld last=%zd:%02x\n", total, h,
	       (long long)st->st_size / 2, got, hm, (long long)end, one, last);
	if (back != end - 1 && end > 0)
		printf("FAIL: lseek(-1, SEEK_CUR) = %lld at end %lld\n", (long long)back,
		       (long long)end);
	close(fd);
}

static void walk(const char *root, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	DIR *d = opendir(path);
	if (!d) {
		fail("opendir", rel);
		return;
	}
	char *names[512];
	int count = 0;
	struct dirent *e;
	int dots = 0;
	while ((e = readdir(d)) && count < 512) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			dots++;
			continue;
		}
		names[count++] = strdup(e->d_name);
	}
	if (dots != 2)
		printf("FAIL: %s lists %d of . and ..\n", rel, dots);
	qsort(names, count, sizeof *names, by_name);
	for (int i = 0; i < count; i++) {
		char child[4096];
		snprintf(child, sizeof child, "%s/%s", rel, names[i]);
		struct stat st;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fail("fstatat", child);
			continue;
		}
		char kind = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISREG(st.st_mode) ? 'f' : '?';
		printf("%c %s mode=%04o mtime=%lld", kind, child, (unsigned)(st.st_mode & 07777),
		       (long long)st.st_mtime);
		if (S_ISREG(st.st_mode))
			printf(" size=%lld nlink=%u\n", (long long)st.st_size, (unsigned)st.st_nlink);
		else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), names[i], target, sizeof target - 1);
			target[n < 0 ? 0 : n] = 0;
			struct stat to;
			char full[4096];
			snprintf(full, sizeof full, "%s/%s", root, child);
			int ok = stat(full, &to);
			printf(" size=%lld -> %s (%s)\n", (long long)st.st_size, target,
			       ok < 0 ? strerror(errno) : S_ISDIR(to.st_mode) ? "a directory" : "a file");
		} else
			printf("\n");
		if (S_ISREG(st.st_mode))
			show_file(dirfd(d), names[i], child, &st);
		if (S_ISDIR(st.st_mode))
			walk(root, child);
		free(names[i]);
	}
	closedir(d);
}

/* What `call` returned: the errno name for the few a read-only walk meets. */
static const char *err(int ret)
{
	if (ret >= 0)
		return "ok";
	switch (errno) {
	case ENOENT: return "ENOENT";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ELOOP: return "ELOOP";
	case EBADF: return "EBADF";
	default: return strerror(errno);
	}
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "/";
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fs_walk: start\n");
	walk(strcmp(root, "/") ? root : "", ".");

	/* Errors, each on a name the test tree has. */
	char p[4096];
	int dir = open(strcmp(root, "/") ? root : "/", O_RDONLY | O_DIRECTORY);
	printf("open(root, O_DIRECTORY): %s\n", err(dir));
	printf("openat(root, none): %s\n", err(openat(dir, "none", O_RDONLY)));
	printf("openat(root, etc, O_WRONLY): %s\n", err(openat(dir, "etc", O_WRONLY)));
	printf("openat(root, etc/motd/x): %s\n", err(openat(dir, "etc/motd/x", O_RDONLY)));
	printf("openat(root, etc/motd, O_DIRECTORY): %s\n",
	       err(openat(dir, "etc/motd", O_RDONLY | O_DIRECTORY)));
	printf("openat(root, bin/sh, O_NOFOLLOW): %s\n", err(openat(dir, "bin/sh", O_RDONLY | O_NOFOLLOW)));
	printf("openat(root, loop): %s\n", err(openat(dir, "loop", O_RDONLY)));
	char t[16];
	printf("readlinkat(root, etc/motd): %s\n", err(readlinkat(dir, "etc/motd", t, sizeof t)));
	int f = openat(dir, "etc/motd", O_RDONLY);
	char ents[256];
	printf("getdents64(a file): %s\n", err(syscall(220, f, ents, sizeof ents)));
	printf("getdents64(root, 8 bytes): %s\n", err(syscall(220, dir, ents, 8)));
	printf("read(a directory): %s\n", err(read(dir, ents, sizeof ents)));
	printf("lseek(a file, -1, SEEK_SET): %s\n", err(lseek(f, -1, SEEK_SET)));
	snprintf(p, sizeof p, "%s/etc/../etc/./motd", strcmp(root, "/") ? root : "");
	printf("access(etc/../etc/./motd, R_OK): %s\n", err(access(p, R_OK)));
	printf("access(etc/motd, X_OK): %s\n", err(access(p, X_OK)) );
	close(f);
	close(dir);
	printf("fs_walk: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
