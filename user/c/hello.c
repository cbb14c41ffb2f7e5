/* hello.c: a freestanding Tempest user program built outside cargo (no libc).
 *
 * Build: gcc -m32 -static -nostdlib -fno-pie -no-pie -ffreestanding -O2 -o hello_c hello.c
 * It writes one line with write(2) and ends with exit_group(2), both through int $0x80
 * (Linux i386 ABI: number in eax, arguments in ebx, ecx, edx; result in eax). */

#define SYS_write 4
#define SYS_exit_group 252

static long syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory");
    return ret;
}

static const char message[] = "Hello from C via int 0x80\n";

__attribute__((noreturn)) void _start(void)
{
    long len = (long)(sizeof message - 1);
    long written = syscall3(SYS_write, 1, (long)message, len);
    syscall3(SYS_exit_group, written == len ? 0 : 1, 0, 0);
    for (;;)
        __asm__ volatile("hlt");
}
