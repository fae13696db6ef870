/* The VFP registers and FPSCR across a signal handler on 32-bit ARM: the handler's changes
 * are undone by sigreturn; the frame's VFP record holds the interrupted values. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static void handler(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    unsigned long *rs = (unsigned long *)uc->uc_regspace;
    unsigned long long d8;
    memcpy(&d8, (char *)(rs + 2) + 8 * 8, 8);
    printf("frame d8=%llx fpscr_rmode=%lx\n", d8, (rs[2 + 64] >> 22) & 3);
    __asm__ volatile("vmov.f64 d8, #1.0\n vmrs r0, fpscr\n orr r0, r0, #0x00c00000\n vmsr fpscr, r0"
                     ::: "d8", "r0");
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    unsigned long long before = 0x4045000000000000ULL, after;  /* 42.0 */
    unsigned fpscr;
    __asm__ volatile("vmov d8, %Q1, %R1\n vmrs r0, fpscr\n bic r0, r0, #0x00c00000\n"
                     "orr r0, r0, #0x00400000\n vmsr fpscr, r0\n"
                     "mov r0, %2\n mov r1, #10\n mov r7, #37\n svc #0\n"  /* kill(getpid(), SIGUSR1) */
                     "vmov %Q0, %R0, d8\n"
                     : "=r"(after) : "r"(before), "r"(getpid()) : "d8", "r0", "r1", "r7", "memory");
    __asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
    printf("d8 after=%llx rmode=%u\n", after, (fpscr >> 22) & 3);
    return 0;
}
