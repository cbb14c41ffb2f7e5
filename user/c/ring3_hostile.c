/* Hostile ring-3 code, compared with Linux (qemu/tests/runtimes.rs): every `int N` for N
 * in 0..=255, privileged and odd instructions, and bad memory accesses, each run under
 * handlers for the fault signals. Each case prints the signal it raised and its si_code
 * (and, for a page fault, the address), and the program goes on to the next case through
 * siglongjmp: the kernel must raise what Linux raises, kill nothing else, and keep
 * running. Built by the runner as glibc/ring3_hostile (gcc -m32 -static -pthread). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf back;
static volatile int last_sig, last_code;
static volatile uintptr_t last_addr;

static void on_fault(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    last_sig = sig;
    last_code = info->si_code;
    last_addr = (uintptr_t)info->si_addr;
    siglongjmp(back, 1);
}

static const char *signame(int sig) {
    switch (sig) {
    case 0: return "none";
    case SIGSEGV: return "SIGSEGV";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGFPE: return "SIGFPE";
    case SIGBUS: return "SIGBUS";
    default: return "other";
    }
}

/* Runs `code` (a function) and prints what it raised. */
static void run(const char *name, void (*code)(void), int show_addr) {
    last_sig = 0;
    last_code = 0;
    last_addr = 0;
    if (sigsetjmp(back, 1) == 0)
        code();
    if (show_addr && last_sig)
        printf("h: %s -> %s code=%d addr=%#lx\n", name, signame(last_sig), last_code,
               (unsigned long)last_addr);
    else
        printf("h: %s -> %s code=%d\n", name, signame(last_sig), last_code);
}

#define CASE(fn, text) \
    static void fn(void) { __asm__ volatile(text ::: "eax", "ecx", "edx", "memory", "cc"); }

CASE(do_cli, "cli")
CASE(do_sti, "sti")
CASE(do_hlt, "hlt")
CASE(do_in, "xor %%edx, %%edx\n in %%dx, %%al")
CASE(do_out, "xor %%edx, %%edx\n out %%al, %%dx")
CASE(do_read_cr0, "mov %%cr0, %%eax")
CASE(do_write_cr3, "xor %%eax, %%eax\n mov %%eax, %%cr3")
CASE(do_rdmsr, "xor %%ecx, %%ecx\n rdmsr")
CASE(do_wrmsr, "xor %%ecx, %%ecx\n xor %%eax, %%eax\n xor %%edx, %%edx\n wrmsr")
CASE(do_lgdt, "sub $8, %%esp\n lgdt (%%esp)\n add $8, %%esp")
CASE(do_lidt, "sub $8, %%esp\n lidt (%%esp)\n add $8, %%esp")
CASE(do_ltr, "xor %%eax, %%eax\n ltr %%ax")
CASE(do_clts, "clts")
CASE(do_ud2, "ud2")
CASE(do_kernel_ds, "mov $0x10, %%eax\n mov %%eax, %%ds")
CASE(do_kernel_ss, "mov $0x10, %%eax\n mov %%eax, %%ss")
CASE(do_bad_iret, "push $0\n push $0\n push $0\n iret")
CASE(do_into, "mov $0x7fffffff, %%eax\n add $1, %%eax\n into")
CASE(do_int3, "int3")
CASE(do_div0, "xor %%edx, %%edx\n mov $1, %%eax\n xor %%ecx, %%ecx\n div %%ecx")
CASE(do_read_kernel, "mov 0xc0000000, %%eax")
CASE(do_write_kernel, "movl $1, 0xc0100000")
CASE(do_read_null, "mov 0x10, %%eax")
CASE(do_rdtsc, "rdtsc")

static void write_text(void) {
    *(volatile int *)(uintptr_t)&write_text = 0;
}

/* `int N` for every N, from a stub written at run time: mov $-1, %eax; int $N; ret (eax
 * -1: `int 0x80` is then a system call that does not exist, -ENOSYS). */
static unsigned char *stub;
static void int_n(void) { ((void (*)(void))stub)(); }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    static char alt[65536];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGILL, SIGTRAP, SIGFPE, SIGBUS};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    run("cli", do_cli, 0);
    run("sti", do_sti, 0);
    run("hlt", do_hlt, 0);
    run("in", do_in, 0);
    run("out", do_out, 0);
    run("mov cr0 to eax", do_read_cr0, 0);
    run("mov eax to cr3", do_write_cr3, 0);
    run("rdmsr", do_rdmsr, 0);
    run("wrmsr", do_wrmsr, 0);
    run("lgdt", do_lgdt, 0);
    run("lidt", do_lidt, 0);
    run("ltr", do_ltr, 0);
    run("clts", do_clts, 0);
    /* invd and wbinvd are left out: QEMU's TCG runs them at CPL 3 without the #GP real
     * CPUs raise, so they would compare QEMU with the host's CPU, not Tempest with Linux. */
    run("ud2", do_ud2, 0);
    run("kernel data selector in ds", do_kernel_ds, 0);
    run("kernel data selector in ss", do_kernel_ss, 0);
    run("iret to selector 0", do_bad_iret, 0);
    run("into after overflow", do_into, 0);
    run("int3", do_int3, 0);
    run("divide by zero", do_div0, 0);
    run("read of the kernel half", do_read_kernel, 1);
    run("write to the kernel image", do_write_kernel, 1);
    run("read of the null page", do_read_null, 1);
    run("write to program text", write_text, 0);
    run("rdtsc", do_rdtsc, 0);

    stub = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stub == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int n = 0; n < 256; n++) {
        unsigned char code[] = {0xb8, 0xff, 0xff, 0xff, 0xff, 0xcd, (unsigned char)n, 0xc3};
        memcpy(stub, code, sizeof code);
        char name[16];
        snprintf(name, sizeof name, "int %d", n);
        run(name, int_n, 0);
    }
    printf("h: done\n");
    return 0;
}
