/* The signal frame as a handler sees it, and edits to it that sigreturn honours. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define FPSIMD_MAGIC 0x46508001
struct rec { uint32_t magic, size; };
struct fpsimd { struct rec head; uint32_t fpsr, fpcr; __uint128_t vregs[32]; };

static volatile int checks_ok = 1, nchecks;
static volatile uint64_t seen_x9, seen_nzcv, seen_mask, seen_fpcr;
static char *alt;

static void check(int cond, const char *what)
{
    nchecks++;
    if (!cond) {
        checks_ok = 0;
        printf("check failed: %s\n", what);
    }
}

static struct fpsimd *find_fpsimd(ucontext_t *uc)
{
    struct rec *r = (struct rec *)uc->uc_mcontext.__reserved;
    while (r->magic) {
        if (r->magic == FPSIMD_MAGIC)
            return (struct fpsimd *)r;
        r = (struct rec *)((char *)r + r->size);
    }
    return NULL;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    char local;
    check((char *)uc - (char *)si == 128, "ucontext follows siginfo");
    check(((uintptr_t)uc->uc_mcontext.regs & 15) == 8, "mcontext regs offset");
    check(si->si_signo == sig && sig == SIGUSR1, "signo");
    check(&local >= alt && &local < alt + 65536, "on the alternate stack");
    check(uc->uc_stack.ss_sp == alt && uc->uc_stack.ss_size == 65536, "uc_stack");
    struct fpsimd *fp = find_fpsimd(uc);
    check(fp != NULL, "fpsimd record");
    if (!fp)
        return;
    check(fp->head.size == sizeof(struct fpsimd), "fpsimd size");
    seen_x9 = uc->uc_mcontext.regs[9];
    seen_nzcv = uc->uc_mcontext.pstate & 0xf0000000u;
    seen_mask = *(uint64_t *)&uc->uc_sigmask;
    seen_fpcr = fp->fpcr;
    /* edits that sigreturn must apply */
    uc->uc_mcontext.regs[10] = 0x1010101010101010ull;
    uc->uc_mcontext.pstate = (uc->uc_mcontext.pstate & ~0xf0000000ull) | 0x60000000u;
    fp->vregs[20] = ((__uint128_t)0x0123456789abcdefull << 64) | 0xfedcba9876543210ull;
    fp->fpcr = 0x01000000; /* FZ */
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    alt = malloc(65536);
    stack_t ss = {.ss_sp = alt, .ss_size = 65536, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, NULL);

    uint64_t out[7];
    register long x0 __asm__("x0") = getpid();
    register long x1 __asm__("x1") = syscall(SYS_gettid);
    register long x2 __asm__("x2") = SIGUSR1;
    register long x8 __asm__("x8") = SYS_tgkill;
    __asm__ volatile(
        "movz x9, #0x4242\n"
        "movz x10, #7\n"
        "movz x11, #0x8000, lsl #16\n"
        "msr nzcv, x11\n"
        "fmov d20, xzr\n"
        "svc #0\n"
        "mrs x11, nzcv\n"
        "mrs x12, fpcr\n"
        "stp x9, x10, [%[out]]\n"
        "stp x11, x12, [%[out], #16]\n"
        "str q20, [%[out], #32]\n"
        "str x0, [%[out], #48]\n"
        "msr fpcr, xzr\n"
        : "+r"(x0)
        : "r"(x1), "r"(x2), "r"(x8), [out] "r"(out)
        : "x9", "x10", "x11", "x12", "v20", "memory", "cc");
    printf("handler saw: x9=%#llx nzcv=%#llx mask-has-usr2=%d mask-has-usr1=%d fpcr=%#llx\n",
           (unsigned long long)seen_x9, (unsigned long long)seen_nzcv, (int)((seen_mask >> (SIGUSR2 - 1)) & 1),
           (int)((seen_mask >> (SIGUSR1 - 1)) & 1), (unsigned long long)seen_fpcr);
    printf("after sigreturn: x0=%ld x9=%#llx x10=%#llx nzcv=%#llx fpcr=%#llx\n", (long)out[6],
           (unsigned long long)out[0], (unsigned long long)out[1], (unsigned long long)out[2],
           (unsigned long long)out[3]);
    /* (qemu-aarch64 -cpu max restores V registers from its SVE record instead) */
    printf("v20=%016llx%016llx\n", (unsigned long long)out[5], (unsigned long long)out[4]);
    printf("checks: %d ok=%d\n", nchecks, checks_ok);
    sigprocmask(SIG_SETMASK, NULL, &m);
    printf("mask restored: usr2=%d usr1=%d\n", sigismember(&m, SIGUSR2), sigismember(&m, SIGUSR1));
    return 0;
}
