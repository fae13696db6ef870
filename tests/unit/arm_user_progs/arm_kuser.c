/* The kuser helpers of the ARM vector page (0xffff0000): version, cmpxchg, cmpxchg64,
 * memory barrier and get_tls, called from ARM and from Thumb code, as glibc's old
 * atomics do. Prints facts only (the page's contents besides the version word are
 * the emulator's business). */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

typedef int (cmpxchg_t)(int oldval, int newval, volatile int *ptr);
typedef int (cmpxchg64_t)(const int64_t *oldval, const int64_t *newval, volatile int64_t *ptr);
typedef void (barrier_t)(void);
typedef void *(gettls_t)(void);
#define kuser_cmpxchg (*(cmpxchg_t *)0xffff0fc0)
#define kuser_cmpxchg64 (*(cmpxchg64_t *)0xffff0f60)
#define kuser_barrier (*(barrier_t *)0xffff0fa0)
#define kuser_get_tls (*(gettls_t *)0xffff0fe0)

__attribute__((target("thumb"), noinline)) static int thumb_cmpxchg(int o, int n, volatile int *p) {
    return kuser_cmpxchg(o, n, p);
}

__attribute__((target("arm"), noinline)) static int arm_cmpxchg_carry(int o, int n, volatile int *p) {
    int r, c;
    __asm__ volatile("mov r0, %2\n mov r1, %3\n mov r2, %4\n"
                     "ldr ip, =0xffff0fc0\n blx ip\n mov %0, r0\n movcs %1, #1\n movcc %1, #0\n"
                     : "=r"(r), "=r"(c) : "r"(o), "r"(n), "r"(p) : "r0", "r1", "r2", "r3", "ip", "lr", "cc", "memory");
    return r * 10 + c;
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    printf("  signal %d code %d addr %#lx\n", sig, si->si_code, (unsigned long)si->si_addr & 0xfff);
    siglongjmp(fault_jmp, 1);
}

/* Bad pointers: SIGBUS for a misaligned one, SIGSEGV (MAPERR/ACCERR) otherwise. */
static void faults(void) {
    static int64_t buf[2] __attribute__((aligned(8)));
    int64_t o = 0, n = 5;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, 0);
    sigaction(SIGSEGV, &sa, 0);
    printf("cmpxchg64 misaligned:\n");
    if (!sigsetjmp(fault_jmp, 1)) kuser_cmpxchg64(&o, &n, (int64_t *)((char *)buf + 4));
    printf("cmpxchg misaligned:\n");
    if (!sigsetjmp(fault_jmp, 1)) kuser_cmpxchg(0, 1, (int *)((char *)buf + 2));
    printf("cmpxchg unmapped:\n");
    if (!sigsetjmp(fault_jmp, 1)) kuser_cmpxchg(0, 1, (int *)16);
    printf("cmpxchg read-only:\n");
    if (!sigsetjmp(fault_jmp, 1)) kuser_cmpxchg(0, 1, (int *)((uintptr_t)faults & ~(uintptr_t)3));
    printf("cmpxchg64 bad oldval pointer:\n");
    if (!sigsetjmp(fault_jmp, 1)) kuser_cmpxchg64((int64_t *)16, &n, buf);
}

int main(void) {
    printf("version %u\n", *(volatile unsigned *)0xffff0ffc);
    volatile int v = 5;
    int r = kuser_cmpxchg(5, 7, &v);
    printf("cmpxchg ok: r=%d v=%d\n", r, v);
    r = kuser_cmpxchg(5, 9, &v);
    printf("cmpxchg fail: r=%d v=%d\n", r != 0, v);
    r = thumb_cmpxchg(7, 11, &v);
    printf("thumb cmpxchg: r=%d v=%d\n", r, v);
    printf("carry on success: %d\n", arm_cmpxchg_carry(11, 12, &v));
    printf("carry on failure: %d\n", arm_cmpxchg_carry(11, 13, &v) % 10);
    volatile int64_t w = 0x100000001LL;
    int64_t o = 0x100000001LL, n = 0x200000002LL;
    r = kuser_cmpxchg64(&o, &n, &w);
    printf("cmpxchg64 ok: r=%d w=%llx\n", r, (unsigned long long)w);
    r = kuser_cmpxchg64(&o, &n, &w);
    printf("cmpxchg64 fail: r=%d w=%llx\n", r != 0, (unsigned long long)w);
    kuser_barrier();
    void *t = kuser_get_tls(), *t2;
    __asm__("mrc p15, 0, %0, c13, c0, 3" : "=r"(t2));
    printf("get_tls matches TPIDRURO: %d\n", t == t2 && t != 0);
    faults();
    return 0;
}
