/* Signals as glibc uses them, for the differential test (qemu/tests/runtimes.rs): every
 * line starting "sg: " must be the same on Linux and on Tempest, and so must the exit
 * status (abort() at the end: SIGABRT, 134).
 *
 * Covered: SA_SIGINFO handlers (rt frame, rt_sigreturn) and plain ones (sigreturn), raise
 * and kill, a SIGSEGV handler that leaves with siglongjmp, the alternate stack,
 * blocked signals and sigpending, SA_RESETHAND, the old sigaction (67), signals
 * interrupting futex waits and nanosleep in another thread (EINTR), sigsuspend, the FPU
 * state across a handler, int3 (SIGTRAP), and the default action of SIGABRT. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static volatile int last_code;
static volatile pid_t last_pid;
static volatile uintptr_t last_addr;
static volatile int on_alt;
static char *alt_base;
static size_t alt_size;
static sigjmp_buf recover;

static void with_info(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    hits++;
    last_code = info->si_code;
    last_pid = info->si_pid;
    (void)sig;
}

static void plain(int sig) {
    hits += sig;
}

static void segv(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)uc;
    char here;
    last_code = info->si_code;
    last_addr = (uintptr_t)info->si_addr;
    on_alt = &here >= alt_base && &here < alt_base + alt_size;
    siglongjmp(recover, 1);
}

static double fpu_handler_value;
static void fpu_mangler(int sig) {
    /* Uses the x87 and SSE registers the interrupted code had live. */
    volatile double x = sig;
    for (int i = 0; i < 10; i++)
        x = x * 1.5 + 0.25;
    fpu_handler_value = x;
}

static void install(int sig, void (*handler)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

static void install_plain(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

/* A thread that waits (futex, then nanosleep) until a signal interrupts it. */
static volatile int waiter_ready, waiter_done;
static int futex_word;
static int futex_result, futex_errno, sleep_result, sleep_errno;

static void *waiter(void *arg) {
    (void)arg;
    waiter_ready = 1;
    futex_result = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    futex_errno = errno;
    waiter_ready = 2;
    struct timespec long_time = {1000, 0};
    sleep_result = nanosleep(&long_time, NULL);
    sleep_errno = errno;
    waiter_done = 1;
    return NULL;
}

/* Sends SIGUSR1 to `t` until it moves past `stage` (a signal sent just before the thread
 * blocks only runs the handler; the next one interrupts the wait). */
static void poke_until(pthread_t t, volatile int *flag, int stage) {
    struct timespec tick = {0, 5 * 1000 * 1000};
    while (*flag == stage) {
        pthread_kill(t, SIGUSR1);
        nanosleep(&tick, NULL);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);

    /* An rt handler (SA_SIGINFO) through raise (tgkill), then kill. */
    install(SIGUSR1, with_info, 0);
    raise(SIGUSR1);
    printf("sg: raise: hits=%d code=%s pid=%s\n", hits,
           last_code == SI_TKILL ? "SI_TKILL" : "other", last_pid == getpid() ? "self" : "other");
    kill(getpid(), SIGUSR1);
    printf("sg: kill: hits=%d code=%s\n", hits, last_code == SI_USER ? "SI_USER" : "other");

    /* A plain handler (sigreturn, not rt_sigreturn). */
    hits = 0;
    install_plain(SIGUSR2, plain, 0);
    raise(SIGUSR2);
    printf("sg: plain handler: hits=%d\n", hits);

    /* The old sigaction (67, struct old_sigaction: a 32-bit mask), with no SA_RESTORER:
     * the frame's own return code (or Linux's vDSO) calls sigreturn. Read back through
     * both calls. */
    struct old_action { uintptr_t handler; uint32_t mask; uint32_t flags; uintptr_t restorer; };
    struct old_action oa = { (uintptr_t)plain, 1u << (SIGUSR1 - 1), 0, 0 }, back;
    hits = 0;
    long ret = syscall(SYS_sigaction, SIGUSR2, &oa, NULL);
    raise(SIGUSR2);
    printf("sg: old sigaction: %ld, hits=%d\n", ret, hits);
    memset(&back, 0xff, sizeof back);
    ret = syscall(SYS_sigaction, SIGUSR2, NULL, &back);
    struct sigaction as_rt;
    sigaction(SIGUSR2, NULL, &as_rt);
    printf("sg: old sigaction read back: %ld handler=%s mask=%#x flags=%#x; rt: usr1=%d usr2=%d\n",
           ret, back.handler == (uintptr_t)plain ? "plain" : "other", back.mask, back.flags,
           sigismember(&as_rt.sa_mask, SIGUSR1), sigismember(&as_rt.sa_mask, SIGUSR2));
    oa.handler = (uintptr_t)SIG_IGN;
    errno = 0;
    ret = syscall(SYS_sigaction, SIGKILL, &oa, NULL);
    printf("sg: old sigaction of SIGKILL: %ld %s\n", ret, strerror(errno));
    errno = 0;
    ret = syscall(SYS_sigaction, SIGUSR2, (void *)16, NULL);
    printf("sg: old sigaction from a bad pointer: %ld %s\n", ret, strerror(errno));

    /* Blocked: pending, then delivered when unblocked. */
    hits = 0;
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR2);
    sigpending(&pend);
    printf("sg: blocked: hits=%d pending=%d\n", hits, sigismember(&pend, SIGUSR2));
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigpending(&pend);
    printf("sg: unblocked: hits=%d pending=%d\n", hits, sigismember(&pend, SIGUSR2));

    /* SIG_IGN drops it; SA_RESETHAND runs the handler once. */
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    hits = 0;
    install_plain(SIGUSR2, plain, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    printf("sg: resethand: hits=%d handler=%s\n", hits,
           now.sa_handler == SIG_DFL ? "SIG_DFL" : "other");

    /* SIGSEGV on the alternate stack, left with siglongjmp, twice (the mask is restored). */
    alt_size = 64 * 1024;
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        perror("sigaltstack");
    install(SIGSEGV, segv, SA_ONSTACK);
    for (int round = 0; round < 2; round++) {
        if (sigsetjmp(recover, 1) == 0) {
            *(volatile int *)16 = 1;
            printf("sg: the write to address 16 did not fault\n");
        } else {
            printf("sg: SIGSEGV %d: addr=%lu code=%s on_alt=%d\n", round,
                   (unsigned long)last_addr, last_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other",
                   on_alt);
        }
    }
    stack_t cur;
    sigaltstack(NULL, &cur);
    printf("sg: sigaltstack after: flags=%d size_ok=%d\n", cur.ss_flags, cur.ss_size == alt_size);

    /* The FPU state of the interrupted code survives a handler that uses it. */
    install_plain(SIGUSR2, fpu_mangler, 0);
    volatile double a = 1.0 / 3.0;
    double before = a * 3.0 + 0.5;
    raise(SIGUSR2);
    double after = a * 3.0 + 0.5;
    printf("sg: fpu: before=%.17g after=%.17g handler=%.6f\n", before, after, fpu_handler_value);

    /* Another thread's futex wait and nanosleep end with EINTR. */
    install(SIGUSR1, with_info, 0);
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    while (!waiter_ready)
        sched_yield();
    poke_until(t, &waiter_ready, 1);
    poke_until(t, &waiter_done, 0);
    pthread_join(t, NULL);
    printf("sg: futex wait: %d %s\n", futex_result, futex_errno == EINTR ? "EINTR" : strerror(futex_errno));
    printf("sg: nanosleep: %d %s\n", sleep_result, sleep_errno == EINTR ? "EINTR" : strerror(sleep_errno));

    /* sigsuspend: waits with SIGUSR1 unblocked, returns EINTR after its handler. */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    hits = 0;
    raise(SIGUSR1);
    sigset_t wait_mask;
    sigemptyset(&wait_mask);
    int r = sigsuspend(&wait_mask);
    sigset_t after_mask;
    sigprocmask(SIG_SETMASK, NULL, &after_mask);
    printf("sg: sigsuspend: %d %s hits=%d still_blocked=%d\n", r, errno == EINTR ? "EINTR" : "other",
           hits, sigismember(&after_mask, SIGUSR1));

    /* A breakpoint in user mode is a SIGTRAP (si_code SI_KERNEL), resumed after it. */
    hits = 0;
    install(SIGTRAP, with_info, 0);
    __asm__ volatile("int3");
    printf("sg: int3: hits=%d code=%s\n", hits, last_code == SI_KERNEL ? "SI_KERNEL" : "other");

    printf("sg: abort\n");
    abort();
}
