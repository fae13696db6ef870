/* Signal delivery on 32-bit ARM: ARM and Thumb handlers, SA_SIGINFO frames, the VFP
 * state in the frame, sigreturn restoring registers, faults, sigaltstack. Prints facts. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <setjmp.h>
#include <ucontext.h>
#include <sys/syscall.h>

static volatile int hits;
static sigjmp_buf jb;

__attribute__((target("arm"))) static void h_arm(int sig) { hits += sig; }
__attribute__((target("thumb"))) static void h_thumb(int sig) { hits += 100 * sig; }

static void h_info(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    printf("info sig=%d code=%d pid_ok=%d value=%d\n", si->si_signo, si->si_code,
           si->si_pid == getpid(), si->si_value.sival_int);
    printf("uc flags=%lu link=%p mask_has_usr1=%d oldmask=%lx\n", uc->uc_flags, (void *)uc->uc_link,
           sigismember(&uc->uc_sigmask, SIGUSR1), uc->uc_mcontext.oldmask);
    unsigned long *rs = (unsigned long *)uc->uc_regspace;
    printf("regspace magic=%lx size=%lu\n", rs[0], rs[1]);
    printf("trap_no=%lu error_code=%lu\n", uc->uc_mcontext.trap_no, uc->uc_mcontext.error_code);
}

static void h_segv(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    printf("segv sig=%d code=%d addr=%p cpsr_T=%lu\n", sig, si->si_code, si->si_addr,
           (uc->uc_mcontext.arm_cpsr >> 5) & 1);
    siglongjmp(jb, 1);
}

static void h_ill(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    printf("ill sig=%d code=%d addr_is_pc=%d\n", sig, si->si_code,
           (unsigned long)si->si_addr == uc->uc_mcontext.arm_pc);
    uc->uc_mcontext.arm_pc += 4;  /* skip the UDF: sigreturn resumes after it */
}

static char *alt_base;
static void h_alt(int sig) {
    char x;
    printf("alt on_stack=%d\n", &x > alt_base && &x < alt_base + 65536);
}

__attribute__((target("arm"), noinline)) static void do_udf(void) {
    __asm__ volatile("udf #0" ::: "memory");
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_arm;
    sigaction(SIGUSR1, &sa, 0);
    sa.sa_handler = h_thumb;
    sigaction(SIGUSR2, &sa, 0);
    raise(SIGUSR1);
    raise(SIGUSR2);
    printf("hits=%d\n", hits);

    /* a raw handler without SA_RESTORER: the kernel's return trampoline */
    struct { void *h; unsigned long flags; void *restorer; unsigned long long mask; } k = {0};
    k.h = (void *)h_arm;
    k.flags = 0;
    hits = 0;
    printf("raw sigaction=%ld\n", syscall(SYS_rt_sigaction, SIGUSR1, &k, 0, 8));
    raise(SIGUSR1);
    k.h = (void *)h_thumb;
    syscall(SYS_rt_sigaction, SIGUSR1, &k, 0, 8);
    raise(SIGUSR1);
    printf("raw hits=%d\n", hits);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h_info;
    sa.sa_flags = SA_SIGINFO;
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaction(SIGRTMIN, &sa, 0);
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGRTMIN, v);

    /* a fault, in a SA_SIGINFO handler */
    sa.sa_sigaction = h_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, 0);
    if (!sigsetjmp(jb, 1))
        *(volatile int *)0x10 = 1;
    printf("after segv\n");

    sa.sa_sigaction = h_ill;
    sigaction(SIGILL, &sa, 0);
    do_udf();
    printf("after ill\n");

    /* sigaltstack */
    alt_base = malloc(65536);
    stack_t ss = {.ss_sp = alt_base, .ss_size = 65536, .ss_flags = 0};
    stack_t old;
    printf("sigaltstack=%d\n", sigaltstack(&ss, &old));
    printf("old flags=%d\n", old.ss_flags);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_alt;
    sa.sa_flags = SA_ONSTACK;
    hits = 0;
    sigaction(SIGUSR2, &sa, 0);
    raise(SIGUSR2);

    /* blocked then unblocked */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_arm;
    sigaction(SIGUSR1, &sa, 0);
    hits = 0;
    sigprocmask(SIG_BLOCK, &set, 0);
    raise(SIGUSR1);
    printf("blocked hits=%d\n", hits);
    sigprocmask(SIG_UNBLOCK, &set, 0);
    printf("unblocked hits=%d\n", hits);
    return 0;
}
