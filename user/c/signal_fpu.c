/* A thread's SSE registers survive signal handlers that use them. The main thread loads
 * xmm0-xmm7 with a known pattern and checks them, in assembly, round after round, while
 * another thread sends it SIGUSR1 every millisecond; the handler fills every xmm register
 * with other values. The kernel must save the interrupted registers in the signal frame
 * and restore them at sigreturn (and start the handler afresh). Ends with 0 when no round
 * saw a wrong register and enough signals landed during the check, 1 otherwise: the
 * negative control `signal-no-fpu` (frames without FPU state) must end with 1.
 * Built by the runner as glibc/signal_fpu (gcc -m32 -static -pthread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WANTED 200

static volatile int handled;
static volatile int stop;

__attribute__((target("sse2"))) static void trash_xmm(int sig) {
    (void)sig;
    static const uint32_t junk[4] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    __asm__ volatile(
        "movdqu (%0), %%xmm0\n movdqu (%0), %%xmm1\n movdqu (%0), %%xmm2\n"
        "movdqu (%0), %%xmm3\n movdqu (%0), %%xmm4\n movdqu (%0), %%xmm5\n"
        "movdqu (%0), %%xmm6\n movdqu (%0), %%xmm7\n"
        :
        : "r"(junk)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
    handled++;
}

static pthread_t main_thread;

static void *sender(void *arg) {
    (void)arg;
    struct timespec ms = {0, 1000 * 1000};
    while (!stop) {
        pthread_kill(main_thread, SIGUSR1);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/* Loads the pattern (word i of xmm k is k * 4 + i + 1), then checks all eight registers
 * `rounds` times; returns the rounds that found one wrong. Registers only: nothing here
 * calls a function that might use xmm itself. */
__attribute__((target("sse2"))) static int check_rounds(int rounds) {
    static uint32_t pattern[32];
    static uint32_t seen[32];
    for (int i = 0; i < 32; i++)
        pattern[i] = i + 1;
    int bad = 0;
    __asm__ volatile(
        "movdqu 0(%[pat]), %%xmm0\n movdqu 16(%[pat]), %%xmm1\n movdqu 32(%[pat]), %%xmm2\n"
        "movdqu 48(%[pat]), %%xmm3\n movdqu 64(%[pat]), %%xmm4\n movdqu 80(%[pat]), %%xmm5\n"
        "movdqu 96(%[pat]), %%xmm6\n movdqu 112(%[pat]), %%xmm7\n"
        "1:\n"
        "movdqu %%xmm0, 0(%[seen])\n movdqu %%xmm1, 16(%[seen])\n movdqu %%xmm2, 32(%[seen])\n"
        "movdqu %%xmm3, 48(%[seen])\n movdqu %%xmm4, 64(%[seen])\n movdqu %%xmm5, 80(%[seen])\n"
        "movdqu %%xmm6, 96(%[seen])\n movdqu %%xmm7, 112(%[seen])\n"
        "xor %%edx, %%edx\n"
        "2:\n"
        "lea 1(%%edx), %%eax\n"
        "cmp %%eax, (%[seen],%%edx,4)\n"
        "jne 3f\n"
        "inc %%edx\n"
        "cmp $32, %%edx\n"
        "jne 2b\n"
        "jmp 4f\n"
        "3:\n"
        "incl %[bad]\n"
        /* Reload, so one corruption counts once. */
        "movdqu 0(%[pat]), %%xmm0\n movdqu 16(%[pat]), %%xmm1\n movdqu 32(%[pat]), %%xmm2\n"
        "movdqu 48(%[pat]), %%xmm3\n movdqu 64(%[pat]), %%xmm4\n movdqu 80(%[pat]), %%xmm5\n"
        "movdqu 96(%[pat]), %%xmm6\n movdqu 112(%[pat]), %%xmm7\n"
        "4:\n"
        "dec %[n]\n"
        "jnz 1b\n"
        : [bad] "+m"(bad), [n] "+c"(rounds)
        : [pat] "r"(pattern), [seen] "r"(seen)
        : "eax", "edx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "memory", "cc");
    return bad;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trash_xmm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    int bad = 0;
    while (handled < WANTED)
        bad += check_rounds(20000);
    stop = 1;
    pthread_join(t, NULL);
    printf("signal_fpu: %s: rounds with a wrong xmm register: %d\n",
           bad == 0 ? "ok" : "FAIL", bad);
    return bad == 0 ? 0 : 1;
}
