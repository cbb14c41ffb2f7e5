/* The vDSO's time functions against the system calls, on Tempest as on Linux: each
 * function is found the way glibc's dlsym finds it in linux-gate.so.1, then called between
 * two system calls of the same clock, many times: its value must lie between theirs.
 * `__vdso_getcpu` must name the CPU the thread is pinned to, on each CPU. A clock the vDSO
 * does not compute itself must give what the system call gives (its fallback). Prints one
 * line per check, the same on both kernels; exits 0 when all hold. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 2000

struct ts32 {
    int32_t sec, nsec;
};
struct ts64 {
    int64_t sec, nsec;
};
struct tv32 {
    int32_t sec, usec;
};

typedef int (*gettime32_t)(clockid_t, struct ts32 *);
typedef int (*gettime64_t)(clockid_t, struct ts64 *);
typedef int (*gtod_t)(struct tv32 *, void *);
typedef int32_t (*time_t32)(int32_t *);
typedef long (*getcpu_t)(unsigned *, unsigned *, void *);

static int failures;

static void check(const char *what, int ok)
{
    printf("%s %s\n", ok ? "ok:" : "FAIL:", what);
    if (!ok)
        failures++;
}

static int64_t ns64(struct ts64 t) { return t.sec * 1000000000LL + t.nsec; }
static int64_t ns32(struct ts32 t) { return (int64_t)t.sec * 1000000000LL + t.nsec; }

static struct ts64 sys_gettime64(clockid_t id)
{
    struct ts64 t = {0, 0};
    syscall(403, id, &t); /* clock_gettime64 */
    return t;
}

int main(void)
{
    void *vdso = dlopen("linux-gate.so.1", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    check("linux-gate.so.1 is there", vdso != NULL);
    if (!vdso)
        return 1;
    gettime32_t gettime32 = (gettime32_t)dlsym(vdso, "__vdso_clock_gettime");
    gettime64_t gettime64 = (gettime64_t)dlsym(vdso, "__vdso_clock_gettime64");
    gtod_t gtod = (gtod_t)dlsym(vdso, "__vdso_gettimeofday");
    time_t32 vtime = (time_t32)dlsym(vdso, "__vdso_time");
    getcpu_t vgetcpu = (getcpu_t)dlsym(vdso, "__vdso_getcpu");
    check("__vdso_clock_gettime, __vdso_clock_gettime64, __vdso_gettimeofday, __vdso_time, "
          "__vdso_getcpu found",
          gettime32 && gettime64 && gtod && vtime && vgetcpu);
    if (!(gettime32 && gettime64 && gtod && vtime && vgetcpu))
        return 1;

    const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    const char *names[] = {"CLOCK_REALTIME", "CLOCK_MONOTONIC"};
    for (int c = 0; c < 2; c++) {
        int between32 = 1, between64 = 1;
        for (int i = 0; i < ROUNDS; i++) {
            struct ts64 before = sys_gettime64(clocks[c]);
            struct ts32 v32;
            struct ts64 v64;
            int r32 = gettime32(clocks[c], &v32);
            int r64 = gettime64(clocks[c], &v64);
            struct ts64 after = sys_gettime64(clocks[c]);
            between32 &= r32 == 0 && v32.nsec >= 0 && v32.nsec < 1000000000 &&
                         ns64(before) <= ns32(v32) && ns32(v32) <= ns64(after);
            between64 &= r64 == 0 && v64.nsec >= 0 && v64.nsec < 1000000000 &&
                         ns64(before) <= ns64(v64) && ns64(v64) <= ns64(after);
        }
        char what[128];
        snprintf(what, sizeof what, "__vdso_clock_gettime(%s) between two system calls", names[c]);
        check(what, between32);
        snprintf(what, sizeof what, "__vdso_clock_gettime64(%s) between two system calls",
                 names[c]);
        check(what, between64);
    }

    int tod_ok = 1, time_ok = 1;
    for (int i = 0; i < ROUNDS; i++) {
        struct tv32 a, v, b;
        int32_t tz[2] = {-1, -1};
        syscall(SYS_gettimeofday, &a, NULL);
        int r = gtod(&v, tz);
        syscall(SYS_gettimeofday, &b, NULL);
        int64_t ua = a.sec * 1000000LL + a.usec, uv = v.sec * 1000000LL + v.usec,
                ub = b.sec * 1000000LL + b.usec;
        tod_ok &= r == 0 && ua <= uv && uv <= ub && v.usec < 1000000 && tz[0] == 0 && tz[1] == 0;
        int32_t t1 = syscall(SYS_time, NULL), out = -1;
        int32_t tv = vtime(&out);
        int32_t t2 = syscall(SYS_time, NULL);
        time_ok &= t1 <= tv && tv <= t2 && out == tv && vtime(NULL) >= tv;
    }
    check("__vdso_gettimeofday between two system calls, time zone UTC", tod_ok);
    check("__vdso_time between two system calls, stored and returned", time_ok);

    /* A clock the vDSO leaves to the kernel: the same answer as the system call. */
    struct ts32 v;
    errno = 0;
    int r = gettime32(CLOCK_THREAD_CPUTIME_ID, &v);
    long s = syscall(265, CLOCK_THREAD_CPUTIME_ID, &v); /* clock_gettime */
    check("__vdso_clock_gettime(CLOCK_THREAD_CPUTIME_ID) answers as the system call",
          (r == 0) == (s == 0));
    r = gettime32(12345, &v);
    check("__vdso_clock_gettime(12345) is -EINVAL, from the system call", r == -EINVAL);

    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int cpus_ok = 1;
    for (int cpu = 0; cpu < ncpu && cpu < 2; cpu++) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            cpus_ok = 0;
            continue;
        }
        unsigned vc = 99, vn = 99, sc = 77, sn = 77;
        long rv = vgetcpu(&vc, &vn, NULL);
        long rs = syscall(SYS_getcpu, &sc, &sn, NULL);
        cpus_ok &= rv == 0 && rs == 0 && vc == (unsigned)cpu && sc == vc && vn == sn;
    }
    check("__vdso_getcpu names the CPU the thread is pinned to, as getcpu does", cpus_ok);
    return failures ? 1 : 0;
}
