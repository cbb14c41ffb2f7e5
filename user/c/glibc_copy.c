/* The bench's real-program workload, glibc side (docs/benchmarks.md): THREADS threads
 * (argv[1], default 2) each copy page-crossing buffers of 4 KiB and 64 KiB to /dev/null
 * with write and writev, and read it (end of file), ROUNDS times; the kernel counts the
 * temp mappings each class of call makes (the exit record's temp_by_class). Prints the
 * bytes copied and the time taken. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 100
#define SMALL 4096
#define LARGE 65536
/* Start the buffers mid-page, so every copy crosses a page boundary. */
#define OFFSET 100

static long long copied[64];

static void *copier(void *arg) {
    long me = (long)arg;
    int fd = open("/dev/null", O_RDWR);
    char *buf = malloc(LARGE + OFFSET);
    if (fd < 0 || !buf) {
        perror("copier");
        exit(1);
    }
    memset(buf, 'a' + (int)me, LARGE + OFFSET);
    char *from = buf + OFFSET;
    long long total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        total += write(fd, from, SMALL);
        total += write(fd, from, LARGE);
        struct iovec two[2] = {{from, SMALL}, {from + SMALL, SMALL}};
        total += writev(fd, two, 2);
        if (read(fd, from, SMALL) != 0) {
            fprintf(stderr, "copier %ld: /dev/null gave bytes\n", me);
            exit(1);
        }
    }
    copied[me] = total;
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    long threads = argc > 1 ? strtol(argv[1], NULL, 10) : 2;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "usage: glibc_copy [THREADS 1..64]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_t t[64];
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, copier, (void *)i);
    long long total = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += copied[i];
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long ns = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    printf("copy: glibc threads=%ld bytes=%lld\n", threads, total);
    printf("copy-time: glibc ns=%lld MiB/s=%.1f\n", ns, total / 1048576.0 / (ns / 1e9));
    return total == threads * (long long)ROUNDS * (SMALL + LARGE + 2 * SMALL) ? 0 : 1;
}
