/* kernel_model.c: the kernel-model system calls as Linux documents them, from a
 * freestanding C program built outside cargo (no libc), whose output is the same on the
 * host's Linux and under Tempest: the QEMU test runs it on both and compares the lines.
 *
 * Build: gcc -m32 -static -nostdlib -fno-pie -no-pie -ffreestanding -fno-stack-protector \
 *            -O2 -o kernel_model_c kernel_model.c
 *
 * It calls clock_gettime (265) and clock_gettime64 (403), nanosleep (162),
 * sched_getaffinity (242), sched_setaffinity (241), getcpu (318), futex (240: WAIT, WAKE,
 * WAIT_BITSET, with and without FUTEX_PRIVATE_FLAG) and clone (120) with
 * CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, joining the thread the
 * way glibc's pthread_join does: a shared FUTEX_WAIT on the tid word until the kernel has
 * cleared it. Every line starts with "km: " and says only what is true on any machine
 * ("within affinity mask", never a CPU number, a tid or a time), so a line that differs is
 * a difference in behaviour. Exit status 0 when every check passed, 1 otherwise.
 *
 * The Linux i386 ABI: number in eax, arguments in ebx, ecx, edx, esi, edi, ebp, result in
 * eax (-errno on failure). ebp cannot be named in an asm constraint, so every call goes
 * through km_syscall6, a small assembly function that takes all six from the stack. */

#define SYS_exit 1
#define SYS_write 4
#define SYS_nanosleep 162
#define SYS_clone 120
#define SYS_gettid 224
#define SYS_futex 240
#define SYS_sched_setaffinity 241
#define SYS_sched_getaffinity 242
#define SYS_exit_group 252
#define SYS_clock_gettime 265
#define SYS_getcpu 318
#define SYS_clock_gettime64 403

#define ESRCH 3
#define EAGAIN 11
#define EINVAL 22
#define ETIMEDOUT 110

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_THREAD 0x00010000
#define CLONE_SYSVSEM 0x00040000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_CHILD_SETTID 0x01000000

/* 2020-01-01T00:00:00Z */
#define YEAR_2020 1577836800L
/* Words of an affinity buffer: 1024 CPUs, because Linux refuses a buffer smaller than
 * its mask of possible CPUs. */
#define MASK_WORDS 32

struct timespec32 {
    long tv_sec;
    long tv_nsec;
};

struct timespec64 {
    long long tv_sec;
    long long tv_nsec;
};

long km_syscall6(long nr, long a, long b, long c, long d, long e, long f);
__asm__(".text\n"
        ".globl km_syscall6\n"
        ".type km_syscall6, @function\n"
        "km_syscall6:\n"
        "    push %ebp\n"
        "    push %edi\n"
        "    push %esi\n"
        "    push %ebx\n"
        /* four registers and the return address above the arguments */
        "    mov 20(%esp), %eax\n"
        "    mov 24(%esp), %ebx\n"
        "    mov 28(%esp), %ecx\n"
        "    mov 32(%esp), %edx\n"
        "    mov 36(%esp), %esi\n"
        "    mov 40(%esp), %edi\n"
        "    mov 44(%esp), %ebp\n"
        "    int $0x80\n"
        "    pop %ebx\n"
        "    pop %esi\n"
        "    pop %edi\n"
        "    pop %ebp\n"
        "    ret\n"
        ".size km_syscall6, . - km_syscall6\n");

/* clone(flags, child_sp, parent_tid, tls = 0, child_tid). The child starts on child_sp,
 * which holds the function to call and, above it at a 16-byte aligned address, its
 * argument: it pops the function, calls it and passes its return value to exit (the
 * thread's, not the process's). The parent returns the tid or -errno. */
long km_clone(long flags, void *child_sp, int *parent_tid, int *child_tid);
__asm__(".text\n"
        ".globl km_clone\n"
        ".type km_clone, @function\n"
        "km_clone:\n"
        "    push %ebp\n"
        "    push %edi\n"
        "    push %esi\n"
        "    push %ebx\n"
        "    mov $120, %eax\n"
        "    mov 20(%esp), %ebx\n"
        "    mov 24(%esp), %ecx\n"
        "    mov 28(%esp), %edx\n"
        "    xor %esi, %esi\n"
        "    mov 32(%esp), %edi\n"
        "    int $0x80\n"
        "    test %eax, %eax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n"
        "    pop %eax\n"
        "    call *%eax\n"
        "    mov %eax, %ebx\n"
        "    mov $1, %eax\n"
        "    int $0x80\n"
        "    hlt\n"
        "1:  pop %ebx\n"
        "    pop %esi\n"
        "    pop %edi\n"
        "    pop %ebp\n"
        "    ret\n"
        ".size km_clone, . - km_clone\n");

/* gcc may call these even in a freestanding program (to zero or copy a structure). */
void *memset(void *dst, int c, unsigned long n)
{
    volatile unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n)
{
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

static long sys3(long nr, long a, long b, long c)
{
    return km_syscall6(nr, a, b, c, 0, 0, 0);
}

static long futex(volatile int *uaddr, int op, int val, const void *timeout, int val3)
{
    return km_syscall6(SYS_futex, (long)uaddr, op, val, (long)timeout, 0, val3);
}

/* ---- output: one write per line ---- */

static char line[160];
static unsigned line_len;
static int failures;
static int checks;

static void put(const char *s)
{
    while (*s && line_len < sizeof line - 1)
        line[line_len++] = *s++;
}

static void put_num(long n)
{
    char digits[12];
    int i = 0;
    unsigned long u = n < 0 ? -(unsigned long)n : (unsigned long)n;
    if (n < 0)
        put("-");
    do {
        digits[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (i--) {
        char d[2] = {digits[i], 0};
        put(d);
    }
}

static void end_line(void)
{
    line[line_len++] = '\n';
    sys3(SYS_write, 1, (long)line, line_len);
    line_len = 0;
}

/* "km: WHAT: RESULT" when ok, "km: WHAT: FAILED (returned RET)" when not. */
static void report(const char *what, int ok, const char *result, long ret)
{
    checks++;
    put("km: ");
    put(what);
    put(": ");
    if (ok) {
        put(result);
    } else {
        failures++;
        put("FAILED (returned ");
        put_num(ret);
        put(")");
    }
    end_line();
}

static const char *errno_name(int e)
{
    switch (e) {
    case ESRCH: return "ESRCH";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "?";
    }
}

static void expect_errno(const char *what, long ret, int e)
{
    report(what, ret == -e, errno_name(e), ret);
}

/* ---- time ---- */

static long long monotonic_ns(void)
{
    struct timespec64 ts = {0, 0};
    if (sys3(SYS_clock_gettime64, CLOCK_MONOTONIC, (long)&ts, 0) != 0)
        return -1;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void clocks(void)
{
    struct timespec32 mono = {0, 0}, real = {0, 0};
    long ret = sys3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&mono, 0);
    report("clock_gettime(CLOCK_MONOTONIC)",
           ret == 0 && mono.tv_nsec >= 0 && mono.tv_nsec < 1000000000, "ok", ret);
    ret = sys3(SYS_clock_gettime, CLOCK_REALTIME, (long)&real, 0);
    report("clock_gettime(CLOCK_REALTIME)", ret == 0 && real.tv_sec > YEAR_2020,
           "ok, after 2020-01-01", ret);
    long long mono64 = monotonic_ns();
    report("clock_gettime64(CLOCK_MONOTONIC)", mono64 >= 0, "ok", mono64 < 0 ? -1 : 0);
    expect_errno("clock_gettime(99)", sys3(SYS_clock_gettime, 99, (long)&mono, 0), EINVAL);

    struct timespec32 req = {0, 20000000};
    long long start = monotonic_ns();
    ret = sys3(SYS_nanosleep, (long)&req, 0, 0);
    long long took = monotonic_ns() - start;
    report("nanosleep(20 ms)", ret == 0 && took >= 20000000LL,
           "ok, CLOCK_MONOTONIC advanced at least 20 ms", ret);
    struct timespec32 bad = {0, 1000000000};
    expect_errno("nanosleep(tv_nsec 1000000000)", sys3(SYS_nanosleep, (long)&bad, 0, 0),
                 EINVAL);
}

/* ---- affinity and getcpu ---- */

static int mask_has(const unsigned *mask, unsigned cpu)
{
    return cpu < 32 * MASK_WORDS && (mask[cpu / 32] >> (cpu % 32) & 1);
}

/* The lowest CPU the process may use, for the thread to pin itself to. */
static unsigned pinned_cpu;

static void affinity(void)
{
    unsigned mask[MASK_WORDS] = {0};
    long n = sys3(SYS_sched_getaffinity, 0, sizeof mask, (long)mask);
    unsigned lowest = 0;
    while (lowest < 32 * MASK_WORDS && !mask_has(mask, lowest))
        lowest++;
    report("sched_getaffinity(0)",
           n >= 4 && n % 4 == 0 && n <= (long)sizeof mask && lowest < 32 * MASK_WORDS,
           "ok, whole words, at least one CPU", n);

    unsigned one[MASK_WORDS] = {0};
    one[lowest / 32] = 1u << (lowest % 32);
    long ret = sys3(SYS_sched_setaffinity, 0, (long)(4 * (lowest / 32 + 1)), (long)one);
    report("sched_setaffinity(0, lowest CPU of the mask)", ret == 0, "ok", ret);
    pinned_cpu = lowest;

    unsigned after[MASK_WORDS] = {0};
    n = sys3(SYS_sched_getaffinity, 0, sizeof after, (long)after);
    int exact = n > 0;
    for (unsigned cpu = 0; cpu < 32 * MASK_WORDS; cpu++)
        if (mask_has(after, cpu) != (cpu == lowest))
            exact = 0;
    report("sched_getaffinity after pinning", exact, "exactly that CPU", n);

    unsigned cpu = ~0u, node = ~0u;
    ret = sys3(SYS_getcpu, (long)&cpu, (long)&node, 0);
    report("getcpu", ret == 0 && mask_has(after, cpu) && node == 0,
           "ok, within affinity mask, node 0", ret);

    unsigned empty[1] = {0};
    expect_errno("sched_setaffinity(0, empty mask)",
                 sys3(SYS_sched_setaffinity, 0, sizeof empty, (long)empty), EINVAL);
    expect_errno("sched_getaffinity(unknown pid)",
                 sys3(SYS_sched_getaffinity, 0x3fffffff, sizeof after, (long)after), ESRCH);
}

/* ---- futex ---- */

static volatile int word;

static void futexes(void)
{
    struct timespec32 ms20 = {0, 20000000};
    word = 1;
    expect_errno("futex(FUTEX_WAIT), value mismatch", futex(&word, FUTEX_WAIT, 0, 0, 0),
                 EAGAIN);
    expect_errno("futex(FUTEX_WAIT_PRIVATE), value mismatch",
                 futex(&word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0, 0), EAGAIN);
    long long start = monotonic_ns();
    long ret = futex(&word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 1, &ms20, 0);
    long long took = monotonic_ns() - start;
    report("futex(FUTEX_WAIT_PRIVATE), 20 ms timeout",
           ret == -ETIMEDOUT && took >= 20000000LL, "ETIMEDOUT, after at least 20 ms", ret);
    ret = futex(&word, FUTEX_WAKE, 1, 0, 0);
    report("futex(FUTEX_WAKE), nobody waiting", ret == 0, "0", ret);

    struct timespec32 past = {0, 0};
    expect_errno("futex(FUTEX_WAIT_BITSET), CLOCK_MONOTONIC deadline in the past",
                 futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 1, &past,
                       (int)FUTEX_BITSET_MATCH_ANY),
                 ETIMEDOUT);
    expect_errno("futex(FUTEX_WAIT_BITSET), bitset 0",
                 futex(&word, FUTEX_WAIT_BITSET, 1, 0, 0), EINVAL);
    volatile int *misaligned = (volatile int *)((char *)&word + 1);
    expect_errno("futex(FUTEX_WAIT), misaligned address",
                 futex(misaligned, FUTEX_WAIT, 1, 0, 0), EINVAL);
}

/* ---- a thread, joined through CLONE_CHILD_CLEARTID ---- */

static unsigned char child_stack[16384] __attribute__((aligned(16)));
static volatile int tid_word;
static volatile int go;
static volatile int child_tid, child_saw, child_on_cpu, child_woken, child_result;

static int child_main(void *arg)
{
    (void)arg;
    child_tid = (int)sys3(SYS_gettid, 0, 0, 0);
    child_saw = __atomic_load_n(&tid_word, __ATOMIC_ACQUIRE);
    unsigned cpu = ~0u, node = ~0u;
    unsigned mask[MASK_WORDS] = {0};
    long ok = sys3(SYS_getcpu, (long)&cpu, (long)&node, 0) == 0 &&
              sys3(SYS_sched_getaffinity, 0, sizeof mask, (long)mask) > 0;
    child_on_cpu = ok && mask_has(mask, cpu) && cpu == pinned_cpu;
    struct timespec32 second = {1, 0};
    for (int i = 0; i < 10 && !__atomic_load_n(&go, __ATOMIC_ACQUIRE); i++)
        futex(&go, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &second, 0);
    child_woken = __atomic_load_n(&go, __ATOMIC_ACQUIRE);
    __atomic_store_n(&child_result, 42, __ATOMIC_RELEASE);
    return 0;
}

static void thread_and_join(void)
{
    unsigned long top = (unsigned long)(child_stack + sizeof child_stack);
    /* The argument at a 16-byte aligned address, the function just below it. */
    *(unsigned long *)(top - 16) = 0;
    *(unsigned long *)(top - 20) = (unsigned long)child_main;
    long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                 CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
                 CLONE_CHILD_CLEARTID;
    long tid = km_clone(flags, (void *)(top - 20), (int *)&tid_word, (int *)&tid_word);
    report("clone(CLONE_THREAD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | "
           "CLONE_CHILD_CLEARTID)",
           tid > 0 && __atomic_load_n(&tid_word, __ATOMIC_ACQUIRE) == tid,
           "ok, the tid word holds the new tid", tid);
    if (tid <= 0)
        return;
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    futex(&go, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 0, 0);

    /* pthread_join: a shared wait (the kernel's wake at thread exit is shared). */
    struct timespec32 second = {1, 0};
    int t;
    for (int i = 0; i < 20 && (t = __atomic_load_n(&tid_word, __ATOMIC_ACQUIRE)) != 0; i++)
        futex(&tid_word, FUTEX_WAIT, t, &second, 0);
    t = __atomic_load_n(&tid_word, __ATOMIC_ACQUIRE);
    report("join through CLONE_CHILD_CLEARTID", t == 0, "ok, the tid word was cleared", t);
    if (t != 0)
        return;
    report("child: tid word (CLONE_CHILD_SETTID)", child_saw == tid && child_tid == tid,
           "its own tid", child_saw);
    report("child: getcpu", child_on_cpu, "within affinity mask, the CPU it inherited",
           child_on_cpu);
    report("child: futex(FUTEX_WAIT_PRIVATE) until woken", child_woken == 1, "ok",
           child_woken);
    report("child: result after the join", __atomic_load_n(&child_result, __ATOMIC_ACQUIRE) == 42,
           "42", child_result);
}

__attribute__((noreturn)) void _start(void)
{
    put("km: start");
    end_line();
    clocks();
    affinity();
    futexes();
    thread_and_join();
    put("km: done: ");
    if (failures) {
        put_num(failures);
        put(" of ");
        put_num(checks);
        put(" checks FAILED");
    } else {
        put("all ");
        put_num(checks);
        put(" checks passed");
    }
    end_line();
    sys3(SYS_exit_group, failures ? 1 : 0, 0, 0);
    for (;;)
        __asm__ volatile("hlt");
}
