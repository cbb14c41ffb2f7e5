/* A hostile program for the kernel's memory calls (issue 16's races): three kinds of
 * threads work on one 16-page buffer while the main thread, ROUNDS times (argv[1], default
 * 300) or more, unmaps it, maps it again with MAP_FIXED, makes it read-only and writable again:
 *   - readers read every page, writers write every page (a SIGSEGV handler counts each
 *     fault and jumps back, so a thread lives through the buffer's absence);
 *   - passers hand the buffer to write() on /dev/null and read() from /dev/zero, which
 *     must return a count or -EFAULT, never kill the caller or crash the kernel.
 * Then the main thread calls exit_group while every thread still runs on its CPU: the
 * process must end whole (no thread left behind, no frame or temp slot lost: the QEMU test
 * reads the kernel's summary). Prints what each kind saw; exits 0 unless a call returned
 * something no kernel may return. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16
#define PAGE 4096
#define LEN (PAGES * PAGE)
#define EACH 2 /* threads of each kind */

static char *buffer;
static atomic_long faults, touches, passes, efaults, rounds_done;
static atomic_int bad_result;
static __thread sigjmp_buf back;

static void on_segv(int sig) {
    (void)sig;
    atomic_fetch_add(&faults, 1);
    siglongjmp(back, 1);
}

static void *toucher(void *arg) {
    int writer = arg != NULL;
    for (;;) {
        sigsetjmp(back, 1);
        for (int p = 0; p < PAGES; p++) {
            volatile char *at = buffer + p * PAGE + (p * 61) % PAGE;
            if (writer)
                *at = (char)p;
            else
                (void)*at;
            atomic_fetch_add(&touches, 1);
        }
    }
    return NULL;
}

static void *passer(void *arg) {
    (void)arg;
    int null = open("/dev/null", O_WRONLY), zero = open("/dev/zero", O_RDONLY);
    if (null < 0 || zero < 0) {
        perror("open");
        exit(1);
    }
    for (;;) {
        /* Start mid-page so the copy crosses pages that may vanish under it. */
        long w = write(null, buffer + 100, LEN - 200);
        long r = read(zero, buffer + 100, LEN - 200);
        atomic_fetch_add(&passes, 1);
        long results[2] = {w, r};
        for (int i = 0; i < 2; i++) {
            if (results[i] < 0 && errno == EFAULT)
                atomic_fetch_add(&efaults, 1);
            else if (results[i] < 0 || results[i] > LEN - 200)
                atomic_store(&bad_result, 1);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 300;
    buffer = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_segv;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_t t;
    for (long i = 0; i < EACH; i++) {
        if (pthread_create(&t, NULL, toucher, NULL) || pthread_create(&t, NULL, toucher, (void *)1) ||
            pthread_create(&t, NULL, passer, NULL)) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    /* At least `rounds` rounds, then on until every kind of thread has run and a pass has met
     * the buffer's absence (so the report does not hang on how the host shared its cores out),
     * up to 100 times as many. */
    for (long round = 0; round < rounds || (round < 100 * rounds && !(atomic_load(&touches) > 0 &&
                                                                         atomic_load(&passes) > 0 &&
                                                                         atomic_load(&efaults) > 0));
         round++) {
        int ok = munmap(buffer, LEN) == 0 &&
                 mmap(buffer, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                      0) == buffer &&
                 mprotect(buffer, LEN, PROT_READ) == 0 && mprotect(buffer, LEN, PROT_READ | PROT_WRITE) == 0;
        if (!ok) {
            perror("memory call");
            return 1;
        }
        atomic_fetch_add(&rounds_done, 1);
    }
    printf("memory_race: %s %ld rounds; touchers %s, passers %s (some -EFAULT: %s); leaving with %d threads running\n",
           atomic_load(&rounds_done) >= rounds ? "at least" : "only", rounds, atomic_load(&touches) > 0 ? "ran" : "never ran",
           atomic_load(&passes) > 0 ? "ran" : "never ran", atomic_load(&efaults) > 0 ? "yes" : "no",
           3 * EACH);
    if (atomic_load(&faults) == 0)
        printf("memory_race: no toucher ever faulted (the buffer never vanished under one)\n");
    if (atomic_load(&bad_result)) {
        printf("FAIL: write or read returned something other than a count or -EFAULT\n");
        fflush(stdout);
        _exit(1);
    }
    fflush(stdout);
    _exit(0); /* exit_group, with every thread still running */
}
