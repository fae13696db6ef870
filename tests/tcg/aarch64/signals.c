/*
 * Signals: handlers with SA_SIGINFO, raise/kill/tgkill, sigreturn restoring
 * the full register context, blocking/pending, nested delivery, an alternate
 * stack, editing the ucontext, SIGILL/SIGTRAP/SIGSEGV from faulting
 * instructions, siglongjmp out of a NULL dereference and a timer signal.
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

/* udf_func executes a permanently undefined instruction. */
long udf_func(void);
__asm__(".text\n"
        ".global udf_func\n"
        ".type udf_func, %function\n"
        "udf_func:\n"
        "    mov x0, #7\n"
        "    udf #0xdead\n"
        "    ret\n"
        ".size udf_func, .-udf_func\n");

static volatile uintptr_t ill_pc;
static volatile int ill_code;

/* Skip the faulting instruction and change x0 by editing the context. */
static void ill_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;

    (void)sig;
    ill_code = si->si_code;
    ill_pc = (uintptr_t)uc->uc_mcontext.pc;
    uc->uc_mcontext.pc += 4;
    uc->uc_mcontext.regs[0] += 0x1230;
}

/*
 * Load caller-saved integer and SIMD registers and NZCV with known values,
 * send ourselves SIGUSR1 with a raw tgkill, and check that the handler
 * (which clobbers those registers) did not change them after sigreturn.
 */
static int check_context_restore(void)
{
    uint64_t out[12];
    register long x0 __asm__("x0") = getpid();
    register long x1 __asm__("x1") = syscall(SYS_gettid);
    register long x2 __asm__("x2") = SIGUSR1;
    register long x8 __asm__("x8") = SYS_tgkill;

    __asm__ volatile(
        "movz x9, #0x1111, lsl #48\n"
        "movk x9, #0x2222\n"
        "mvn x10, x9\n"
        "movz x11, #0xbeef\n"
        "movz x12, #0xcafe, lsl #32\n"
        "add x13, x9, x11\n"
        "eor x14, x10, x12\n"
        "fmov d16, x9\n"
        "mov v16.d[1], x10\n"
        "dup v17.4s, w11\n"
        "fmov d18, #1.5\n"
        "movz x15, #0x9000, lsl #16\n"
        "msr nzcv, x15\n"
        "svc #0\n"
        "mrs x15, nzcv\n"
        "stp x9, x10, [%[out]]\n"
        "stp x11, x12, [%[out], #16]\n"
        "stp x13, x14, [%[out], #32]\n"
        "str x15, [%[out], #48]\n"
        "str q16, [%[out], #56]\n"
        "str q17, [%[out], #72]\n"
        "str d18, [%[out], #88]\n"
        : "+r"(x0)
        : "r"(x1), "r"(x2), "r"(x8), [out] "r"(out)
        : "x9", "x10", "x11", "x12", "x13", "x14", "x15", "v16", "v17", "v18", "memory", "cc");

    uint64_t e9 = 0x1111000000002222ull, e11 = 0xbeef, e12 = 0xcafe00000000ull;
    double d18;
    memcpy(&d18, &out[11], sizeof(d18));
    int ok = x0 == 0 && out[0] == e9 && out[1] == ~e9 && out[2] == e11 && out[3] == e12 &&
             out[4] == e9 + e11 && out[5] == (~e9 ^ e12) && out[6] == 0x90000000u && out[7] == e9 &&
             out[8] == ~e9 && out[9] == 0x0000beef0000beefull && out[10] == 0x0000beef0000beefull &&
             d18 == 1.5;
    if (!ok) {
        for (int i = 0; i < 12; i++) {
            printf("  out[%d]=%016llx\n", i, (unsigned long long)out[i]);
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
           (long)(ill_pc - (uintptr_t)udf_func));

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

    /* 9: SIGTRAP from brk */
    if (sigsetjmp(jmpenv, 1) == 0) {
        __asm__ volatile("brk #0x3e8");
        printf("not reached\n");
    } else {
        printf("brk: sig=%d (SIGTRAP=%d)\n", fault_sig, SIGTRAP);
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
