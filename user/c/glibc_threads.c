/* glibc_threads.c: an ordinary glibc program, unchanged: built with
 *   gcc -m32 -static -O2 -pthread -o glibc_threads glibc_threads.c
 * it runs on the host's Linux and under Tempest, and qemu/tests/c_runtimes.rs compares
 * what it prints. It uses what glibc's start-up and libpthread need from a kernel:
 * set_thread_area (TLS: __thread), set_tid_address, futex (mutex, condition variable,
 * join through CLONE_CHILD_CLEARTID), clone with CLONE_SETTLS, brk and mmap (malloc, small
 * and large), FPU/SSE state (printf of doubles, in threads on several CPUs), clocks and
 * nanosleep. Its lines all start with "gl: " and depend on nothing but the program. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 4
#define ROUNDS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static long total;
static int turn;
static __thread int mine;
static __thread double scale = 1.5;

static void *worker(void *arg)
{
    mine = (int)(long)arg;
    double acc = 0;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        total += mine;
        pthread_mutex_unlock(&lock);
        acc += scale * mine / (i + 1);
    }
    /* Take turns in thread order through a condition variable. */
    pthread_mutex_lock(&lock);
    while (turn != mine - 1)
        pthread_cond_wait(&turn_changed, &lock);
    printf("gl: thread %d: __thread mine=%d scale=%.2f acc=%.6f\n", mine, mine, scale, acc);
    fflush(stdout);
    turn++;
    pthread_cond_broadcast(&turn_changed);
    pthread_mutex_unlock(&lock);
    return (void *)(long)(mine * 10);
}

int main(void)
{
    pthread_t threads[THREADS];
    printf("gl: start\n");
    for (long i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, worker, (void *)(i + 1)) != 0) {
            printf("gl: pthread_create failed\n");
            return 1;
        }
    }
    long joined = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(threads[i], &r);
        joined += (long)r;
    }
    printf("gl: total=%ld joined=%ld (main's __thread mine=%d)\n", total, joined, mine);

    char *small = malloc(100);
    char *large = malloc(1 << 20); /* above the mmap threshold */
    memset(small, 'a', 100);
    memset(large, 'b', 1 << 20);
    printf("gl: malloc small=%c large=%c..%c\n", small[99], large[0], large[(1 << 20) - 1]);
    free(large);
    free(small);

    struct timespec a, b, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    printf("gl: nanosleep(20 ms) took at least 20 ms: %s\n", ms >= 20 ? "yes" : "no");
    printf("gl: %.10f %e %g\n", 3.14159265358979, 6.02214076e23, 1.0 / 3);
    printf("gl: done\n");
    return 0;
}
