/* Tempest's benchmark start line (`bench_barrier`, 0x10001) when a waiter leaves: thread
 * A waits for a second caller that does not come, a signal interrupts it (EINTR), and it
 * must take its arrival back. Then thread B arrives alone and must wait (with A's arrival
 * still counted, it would be released at once, and the next caller would wait forever),
 * until the main thread arrives too: both are released, with indices 0 and 1.
 * Tempest-only (Linux has no such call). Built by the runner as glibc/barrier_leave. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BARRIER 0x10001

static volatile int a_done, a_result, a_errno;
static volatile int b_done, b_result;

static void on_signal(int sig) { (void)sig; }

static void *leaver(void *arg) {
    (void)arg;
    a_result = syscall(BENCH_BARRIER, 2);
    a_errno = errno;
    a_done = 1;
    return NULL;
}

static void *arriver(void *arg) {
    (void)arg;
    b_result = syscall(BENCH_BARRIER, 2);
    b_done = 1;
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, leaver, NULL);
    sleep_ms(50);
    while (!a_done) {
        pthread_kill(a, SIGUSR1);
        sleep_ms(5);
    }
    pthread_join(a, NULL);
    printf("barrier_leave: A left with %d (%s)\n", a_result,
           a_result == -1 && a_errno == EINTR ? "EINTR" : strerror(a_errno));
    pthread_create(&b, NULL, arriver, NULL);
    sleep_ms(200);
    int early = b_done;
    printf("barrier_leave: B alone %s\n", early ? "was released at once (FAIL)" : "waits");
    long mine = syscall(BENCH_BARRIER, 2);
    pthread_join(b, NULL);
    printf("barrier_leave: released with indices %ld and %d\n", mine, b_result);
    int ok = a_result == -1 && a_errno == EINTR && !early && mine + b_result == 1 &&
             (mine == 0 || mine == 1);
    printf("barrier_leave: %s\n", ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
