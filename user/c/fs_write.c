/* fs_write DIR: changes the empty directory DIR the way programs and shells do, and says
 * what it sees after each step: files created, written across pages, appended to, written
 * at an offset past the end (a hole), truncated shorter and longer, renamed (files and
 * directories), hard-linked, linked symbolically, removed while open, directories made
 * with a umask and removed; then the errors such calls must give. The same static binary
 * runs on the host (DIR a fresh directory) and on Tempest (DIR in the initramfs): the QEMU
 * test compares the outputs line by line. Times and inode numbers are not printed. Exits
 * 0 unless a call failed that must not. */
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

#define MUST(call)                                                                          \
	do {                                                                                \
		if ((call) < 0) {                                                           \
			printf("FAIL: %s: %s (line %d)\n", #call, strerror(errno), __LINE__); \
			failures++;                                                         \
		}                                                                           \
	} while (0)

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* Size, link count, mode and an FNV hash of the whole file, read 999 bytes at a time. */
static void show(const char *name)
{
	struct stat st;
	if (lstat(name, &st) < 0) {
		printf("%s: %s\n", name, strerror(errno));
		return;
	}
	/* A directory's size and link count are the file system's own: not compared. */
	printf("%s: mode=%04o", name, (unsigned)(st.st_mode & 07777));
	if (!S_ISDIR(st.st_mode))
		printf(" nlink=%u size=%lld", (unsigned)st.st_nlink, (long long)st.st_size);
	if (S_ISREG(st.st_mode)) {
		int fd = open(name, O_RDONLY);
		unsigned char buf[999];
		uint32_t h = 2166136261u;
		ssize_t n;
		long long total = 0;
		while ((n = read(fd, buf, sizeof buf)) > 0) {
			h = fnv(h, buf, n);
			total += n;
		}
		printf(" read=%lld fnv=%08x", total, h);
		close(fd);
	}
	printf("\n");
}

static const char *err(long ret)
{
	if (ret >= 0)
		return "ok";
	switch (errno) {
	case ENOENT: return "ENOENT";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EBADF: return "EBADF";
	case EPERM: return "EPERM";
	default: return strerror(errno);
	}
}

/* The tree under `dir`, names in byte order, as `show` sees each. */
static void list(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("FAIL: opendir %s: %s\n", dir, strerror(errno));
		failures++;
		return;
	}
	char *names[64];
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) && count < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[count++] = strdup(e->d_name);
	closedir(d);
	for (int i = 0; i < count; i++)
		for (int j = i + 1; j < count; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (int i = 0; i < count; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		show(path);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			list(path);
		free(names[i]);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || chdir(argv[1]) < 0) {
		printf("FAIL: usage: fs_write DIR (an empty directory)\n");
		return 2;
	}
	char root[512];
	getcwd(root, sizeof root);
	size_t root_len = strlen(root);
	umask(022);
	printf("fs_write: start\n");

	/* Directories, and the working directory inside one. */
	MUST(mkdir("a", 0777));
	MUST(mkdir("a/b", 0755));
	MUST(chdir("a/b"));
	char cwd[512];
	getcwd(cwd, sizeof cwd);
	printf("getcwd: %s\n", cwd + root_len);
	MUST(chdir("../.."));

	/* A file written across pages, read back through another descriptor. */
	int fd = creat("f1", 0644);
	MUST(fd);
	for (int i = 0; i < 1000; i++)
		write(fd, "hello\n", 6);
	MUST(close(fd));
	show("f1");

	/* O_APPEND writes at the end whatever the position. */
	fd = open("f1", O_WRONLY | O_APPEND);
	MUST(lseek(fd, 0, SEEK_SET));
	MUST(write(fd, "tail", 4));
	printf("after append, position %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	MUST(close(fd));
	show("f1");

	/* pwrite past the end leaves a hole that reads as zeroes. */
	fd = open("f1", O_RDWR);
	MUST(pwrite(fd, "far", 3, 10000));
	char hole[8] = "xxxxxxx";
	ssize_t got = pread(fd, hole, 4, 8000);
	printf("pread in the hole: %zd bytes, %d %d\n", got, hole[0], hole[3]);
	show("f1");
	/* Truncated shorter, then longer: the cut bytes come back as zeroes. */
	MUST(ftruncate(fd, 5000));
	show("f1");
	MUST(ftruncate(fd, 8192));
	char tail[4] = "yyy";
	got = pread(fd, tail, 3, 6000);
	printf("pread past the old end: %zd bytes, %d\n", got, tail[0]);
	MUST(close(fd));
	MUST(truncate("f1", 7000));
	show("f1");

	/* One write of 300 000 bytes, across 74 pages. */
	char *big = malloc(300000);
	for (int i = 0; i < 300000; i++)
		big[i] = (char)(i * 7 + i / 4096);
	fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0600);
	printf("write 300000: %zd\n", write(fd, big, 300000));
	MUST(close(fd));
	show("big");

	/* Renames of a file and of a directory, a hard link and a symbolic one. */
	MUST(rename("f1", "a/b/f2"));
	printf("stat f1 after rename: %s\n", err(access("f1", F_OK)));
	MUST(rename("a", "c"));
	MUST(link("c/b/f2", "hard"));
	show("hard");
	MUST(symlink("hard", "sl"));
	char target[64] = {0};
	got = readlink("sl", target, sizeof target - 1);
	printf("readlink sl: %zd %s\n", got, target);
	show("sl");
	MUST(unlink("c/b/f2"));
	show("hard");
	/* Removed while open: still readable through the descriptor. */
	fd = open("hard", O_RDONLY);
	MUST(unlink("hard"));
	struct stat st;
	MUST(fstat(fd, &st));
	char first[7] = {0};
	got = read(fd, first, 6);
	printf("open after unlink: read %zd '%.5s' nlink=%u size=%lld\n", got, first,
	       (unsigned)st.st_nlink, (long long)st.st_size);
	MUST(close(fd));
	show("sl");

	/* The umask and chmod. */
	umask(077);
	MUST(mkdir("d", 0777));
	fd = open("e", O_CREAT | O_WRONLY, 0666);
	MUST(close(fd));
	show("d");
	show("e");
	MUST(chmod("e", 0640));
	show("e");
	umask(022);

	/* The errors. */
	printf("O_CREAT|O_EXCL of e: %s\n", err(open("e", O_CREAT | O_EXCL | O_WRONLY, 0600)));
	printf("open c O_WRONLY: %s\n", err(open("c", O_WRONLY)));
	printf("unlink c: %s\n", err(unlink("c")));
	printf("rmdir e: %s\n", err(rmdir("e")));
	printf("rmdir c: %s\n", err(rmdir("c")));
	printf("rename c into c/b: %s\n", err(rename("c", "c/b/x")));
	printf("mkdir c: %s\n", err(mkdir("c", 0755)));
	printf("rename e over c: %s\n", err(rename("e", "c")));
	printf("rename c over e: %s\n", err(rename("c", "e")));
	printf("link c: %s\n", err(link("c", "c2")));
	printf("creat in none/: %s\n", err(creat("none/x", 0644)));
	printf("write to a read-only fd: %s\n", err(write(open("e", O_RDONLY), "x", 1)));
	printf("chdir e: %s\n", err(chdir("e")));
	MUST(rmdir("c/b"));
	MUST(rmdir("c"));
	MUST(rmdir("d"));

	printf("tree:\n");
	list(".");
	printf("fs_write: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
