/* exec_test ROOT: execve from a forked child and what the new program inherits, and
 * the errors a failed execve returns to a caller that goes on as before. ROOT is where
 * the test tree is: `/` on Tempest (packed as the initramfs), a directory on the host.
 *   - fork + execve of this program in `child` mode with arguments and an environment:
 *     it prints them, and checks that a close-on-exec descriptor is gone, an inherited one
 *     still works, an ignored signal stays ignored and a handled one is back at its default;
 *     the parent sees its exit status;
 *   - a `#!` script whose interpreter is this program;
 *   - ENOENT, EACCES (a directory, a file without an execute bit), ENOEXEC (a malformed
 *     ELF), ENOTDIR, each leaving the caller as it was.
 * Prints one line per fact, the same on Linux; exits 0 unless a check failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	failures += !ok;
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* The exec'd program: what it was given and what it kept. */
static int child(int argc, char **argv)
{
	printf("child: argc=%d", argc);
	for (int i = 1; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n");
	for (char **e = environ; *e; e++)
		printf("child: env %s\n", *e);
	errno = 0;
	printf("child: fd 10 (close-on-exec): %s\n", fcntl(10, F_GETFD) == -1 && errno == EBADF ? "closed" : "open");
	printf("child: fd 11 (inherited): %s\n", write(11, "", 0) == 0 ? "open" : "closed");
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	printf("child: SIGUSR2 %s\n", sa.sa_handler == SIG_IGN ? "still ignored" : "not ignored");
	sigaction(SIGUSR1, NULL, &sa);
	printf("child: SIGUSR1 %s\n", sa.sa_handler == SIG_DFL ? "back to default" : "still handled");
	return 5;
}

/* Run by the script: its arguments as the kernel built them. */
static int script(int argc, char **argv)
{
	printf("script: argc=%d mode=%s script=%s", argc, argv[1], base(argv[2]));
	for (int i = 3; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n");
	return 6;
}

static int run(const char *path, char **argv, char **envp)
{
	pid_t pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		printf("FAIL: execve %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *err(void)
{
	switch (errno) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	case ENOTDIR: return "ENOTDIR";
	default: return strerror(errno);
	}
}

/* `corpus DIR`: execve of every file of DIR, each a malformed ELF: each must come back
 * with an error, and the caller goes on to the next. */
static int corpus(const char *dir)
{
	char names[64][64];
	int count = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) && count < 64)
		if (e->d_name[0] != '.')
			snprintf(names[count++], sizeof names[0], "%s", e->d_name);
	if (d)
		closedir(d);
	qsort(names, count, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	int refused = 0;
	for (int i = 0; i < count; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		char *args[] = {names[i], NULL};
		execve(path, args, args + 1);
		printf("corpus %s: %s\n", names[i], err());
		refused += errno == ENOEXEC;
	}
	printf("corpus: %d of %d refused with ENOEXEC, and the caller lives\n", refused, count);
	return refused == count && count > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "corpus"))
		return corpus(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "script-mode"))
		return script(argc, argv);
	const char *root = argc > 1 ? argv[1] : "";
	if (!strcmp(root, "/"))
		root = "";
	printf("exec_test: start\n");
	char self[512], path[512];
	snprintf(self, sizeof self, "%s/bin/exec_test", root);

	int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dup2(cloexec, 10);
	fcntl(10, F_SETFD, FD_CLOEXEC);
	int inherited = open("/dev/null", O_WRONLY);
	dup2(inherited, 11);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	char *cargv[] = {"exec_test", "child", "a b", "", "c", NULL};
	char *cenv[] = {"X=1", "Y=two words", NULL};
	printf("child exited with %d\n", run(self, cargv, cenv));

	snprintf(path, sizeof path, "%s/bin/script.sh", root);
	char *sargv[] = {"script.sh", "first", "second", NULL};
	printf("script exited with %d\n", run(path, sargv, cenv));

	/* Failures: the caller goes on. */
	char *none[] = {"x", NULL};
	snprintf(path, sizeof path, "%s/bin/none", root);
	check(execve(path, none, none) == -1, "execve of a missing file returns");
	printf("missing: %s\n", err());
	snprintf(path, sizeof path, "%s/bin", root);
	execve(path, none, none);
	printf("a directory: %s\n", err());
	snprintf(path, sizeof path, "%s/data/plain", root);
	execve(path, none, none);
	printf("no execute bit: %s\n", err());
	snprintf(path, sizeof path, "%s/bin/broken", root);
	execve(path, none, none);
	printf("a malformed ELF: %s\n", err());
	snprintf(path, sizeof path, "%s/data/plain/x", root);
	execve(path, none, none);
	printf("under a file: %s\n", err());
	check(write(11, "", 0) == 0, "the caller still has its descriptors");
	printf("exec_test: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
