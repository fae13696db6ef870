/*
 * Signals: handlers with SA_SIGINFO, raise/kill/tgkill, sigreturn restoring
 * the full register context, blocking/pending, nested delivery, an alternate
 * stack, editing the ucontext, SIGILL/SIGTRAP/SIGSEGV from faulting
 * instructions, siglongjmp out of a NULL dereference and a timer signal.
 *
 * AArch32 copy of tests/tcg/aarch64/signals.c: UDF/BKPT and the register
 * context check are written for A32 and T32 (whichever this file is built for).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t usr1_count, usr2_count, alrm_count;
static volatile int last_code, last_pid_ok;
static char events[128];
static volatile int nevents;
static sigjmp_buf jmpenv;
static volatile uintptr_t fault_addr;
static volatile int fault_code, fault_sig;
static char *altstack;
static volatile int on_altstack;

static void log_event(char c)
{
    if (nevents < (int)sizeof(events) - 1) {
        events[nevents++] = c;
    }
}

static void usr1_handler(int sig, siginfo_t *si, void *uc)
{
    volatile double x = 1.0;
    char local;

    (void)uc;
    usr1_count++;
    last_code = si->si_code;
    last_pid_ok = si->si_signo == sig && si->si_pid == getpid();
    on_altstack = &local >= altstack && &local < altstack + SIGSTKSZ * 4;
    log_event('1');
    /* use lots of FP/SIMD and integer registers */
    for (int i = 0; i < 20; i++) {
        x = x * 1.25 + (double)i / 3.0;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%f", x);
    if (usr1_count == 2) {
        raise(SIGUSR2); /* nested delivery */
    }
    log_event('e');
}

static void usr2_handler(int sig)
{
    (void)sig;
    usr2_count++;
    log_event('2');
}

static void alrm_handler(int sig)
{
    (void)sig;
    alrm_count++;
}

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_addr = (uintptr_t)si->si_addr;
    fault_code = si->si_code;
    siglongjmp(jmpenv, 1);
}

/* udf_func executes a permanently undefined instruction (A32 or T32, as built). */
long udf_func(void);
#ifdef __thumb__
#define UDF_SIZE 2
__asm__(".text\n"
        ".syntax unified\n"
        ".thumb\n"
        ".global udf_func\n"
        ".type udf_func, %function\n"
        ".thumb_func\n"
        "udf_func:\n"
        "    movs r0, #7\n"
        "    udf #0xde\n"
        "    bx lr\n"
        ".size udf_func, .-udf_func\n");
#else
#define UDF_SIZE 4
__asm__(".text\n"
        ".syntax unified\n"
        ".arm\n"
        ".global udf_func\n"
        ".type udf_func, %function\n"
        "udf_func:\n"
        "    mov r0, #7\n"
        "    udf #0xdead\n"
        "    bx lr\n"
        ".size udf_func, .-udf_func\n");
#endif

static volatile uintptr_t ill_pc;
static volatile int ill_code;

/* Skip the faulting instruction and change r0 by editing the context. */
static void ill_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;

    (void)sig;
    ill_code = si->si_code;
    ill_pc = (uintptr_t)uc->uc_mcontext.arm_pc;
    uc->uc_mcontext.arm_pc += UDF_SIZE;
    uc->uc_mcontext.arm_r0 += 0x1230;
}

/*
 * Load caller- and callee-saved integer registers, two VFP registers and
 * NZCV with known values, send ourselves SIGUSR1 with a raw tgkill, and
 * check that the handler (which clobbers those registers) did not change
 * them after sigreturn.
 */
static int check_context_restore(void)
{
    uint32_t out[12];
    register long r0 __asm__("r0") = getpid();
    register long r1 __asm__("r1") = syscall(SYS_gettid);
    register long r2 __asm__("r2") = SIGUSR1;
    register uint32_t *r3 __asm__("r3") = out;

    __asm__ volatile(
        "push {r7}\n"
        "movw r4, #0x2222\n"
        "movt r4, #0x1111\n"
        "mvn r5, r4\n"
        "movw r6, #0xbeef\n"
        "movw r8, #0xcafe\n"
        "lsl r8, r8, #12\n"
        "add r10, r4, r6\n"
        "vmov d7, r4, r5\n"
        "vmov.f64 d8, #1.5\n"
        "mov r12, #0x90000000\n"
        "msr APSR_nzcvq, r12\n"
        "eor r12, r5, r8\n"
        "movw r7, %[nr]\n"
        "svc #0\n"
        "mrs lr, APSR\n"
        "str r4, [r3]\n"
        "str r5, [r3, #4]\n"
        "str r6, [r3, #8]\n"
        "str r8, [r3, #12]\n"
        "str r10, [r3, #16]\n"
        "str r12, [r3, #20]\n"
        "str lr, [r3, #24]\n"
        "vstr d7, [r3, #32]\n"
        "vstr d8, [r3, #40]\n"
        "pop {r7}\n"
        : "+r"(r0)
        : "r"(r1), "r"(r2), "r"(r3), [nr] "i"(SYS_tgkill)
        : "r4", "r5", "r6", "r8", "r10", "r12", "lr", "d7", "d8", "memory", "cc");

    uint32_t e4 = 0x11112222u, e6 = 0xbeef, e8 = 0xcafe000u;
    double d8;
    memcpy(&d8, &out[10], sizeof(d8));
    int ok = r0 == 0 && out[0] == e4 && out[1] == ~e4 && out[2] == e6 && out[3] == e8 &&
             out[4] == e4 + e6 && out[5] == (~e4 ^ e8) && (out[6] & 0xf8000000u) == 0x90000000u &&
             out[8] == e4 && out[9] == ~e4 && d8 == 1.5;
    if (!ok) {
        for (int i = 0; i < 12; i++) {
            printf("  out[%d]=%08x\n", i, out[i]);
        }
    }
    return ok;
}

int main(void)
{
    struct sigaction sa;
    sigset_t set, pending, old;

    setvbuf(stdout, NULL, _IONBF, 0);

    /* alternate signal stack */
    altstack = malloc(SIGSTKSZ * 4);
    stack_t ss = {.ss_sp = altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
    printf("sigaltstack=%d\n", sigaltstack(&ss, NULL));

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = usr1_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, usr2_handler);

    /* 1: raise() -> tgkill, si_code SI_TKILL */
    raise(SIGUSR1);
    printf("raise: count=%d code=%d (SI_TKILL=%d) pid_ok=%d altstack=%d\n", usr1_count, last_code, SI_TKILL,
           last_pid_ok, on_altstack);

    /* 2: kill() -> SI_USER, handler raises SIGUSR2 (nested) */
    kill(getpid(), SIGUSR1);
    printf("kill: count=%d code=%d (SI_USER=%d) usr2=%d\n", usr1_count, last_code, SI_USER, usr2_count);

    /* 3: registers survive a signal */
    printf("context restored: %d\n", check_context_restore());

    /* 4: blocked signals stay pending until unblocked */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR2);
    raise(SIGUSR2); /* standard signals do not queue */
    sigpending(&pending);
    printf("blocked: pending=%d delivered=%d\n", sigismember(&pending, SIGUSR2), usr2_count);
    log_event('|');
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: delivered=%d\n", usr2_count);

    /* 5: SA_RESETHAND */
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &sa);
    printf("resethand: count=%d now-default=%d\n", usr1_count, sa.sa_handler == SIG_DFL);

    /*
     * 6: SIGILL from an undefined instruction; handler edits the context.
     * Note: QEMU reports si_code ILL_ILLOPN here (Linux reports ILL_ILLOPC).
     */
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = ill_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    long r = udf_func();
    printf("sigill: ret=%#lx code=%d (ILL_ILLOPC=%d) pc-offset=%ld\n", r, ill_code, ILL_ILLOPC,
           (long)(ill_pc - ((uintptr_t)udf_func & ~(uintptr_t)1)));

    /* 7: SIGSEGV from a NULL dereference, leave the handler with siglongjmp */
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);
    if (sigsetjmp(jmpenv, 1) == 0) {
        *(volatile int *)0 = 42;
        printf("not reached\n");
    } else {
        printf("segv write NULL: sig=%d addr=%#lx code=%d (SEGV_MAPERR=%d)\n", fault_sig,
               (unsigned long)fault_addr, fault_code, SEGV_MAPERR);
    }
    if (sigsetjmp(jmpenv, 1) == 0) {
        volatile int *volatile bad = (volatile int *)0x18;
        volatile int v = *bad;
        printf("not reached %d\n", v);
    } else {
        printf("segv read 0x18: addr=%#lx code=%d\n", (unsigned long)fault_addr, fault_code);
    }
    /* the mask was restored by siglongjmp: SIGSEGV is not blocked */
    sigprocmask(SIG_SETMASK, NULL, &set);
    printf("segv blocked after siglongjmp: %d\n", sigismember(&set, SIGSEGV));

    /* 8: SIGSEGV on a read-only page: SEGV_ACCERR */
    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(jmpenv, 1) == 0) {
        page[100] = 1;
        printf("not reached\n");
    } else {
        printf("segv ro page: offset=%ld code=%d (SEGV_ACCERR=%d)\n", (long)(fault_addr - (uintptr_t)page),
               fault_code, SEGV_ACCERR);
    }
    munmap(page, 4096);

    /* 9: SIGTRAP from bkpt */
    if (sigsetjmp(jmpenv, 1) == 0) {
        __asm__ volatile("bkpt #0x3e");
        printf("not reached\n");
    } else {
        printf("bkpt: sig=%d (SIGTRAP=%d)\n", fault_sig, SIGTRAP);
    }

    /* 10: an asynchronous timer signal waited for with sigsuspend */
    signal(SIGALRM, alrm_handler);
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_BLOCK, &set, &old);
    struct itimerval it = {.it_interval = {0, 0}, .it_value = {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    sigemptyset(&set);
    int rc = sigsuspend(&set);
    printf("sigsuspend=%d alarms=%d\n", rc, alrm_count);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* 11: ignored signal */
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    printf("ignored ok, usr2=%d\n", usr2_count);

    events[nevents] = 0;
    printf("events: %s\n", events);
    return 0;
}
