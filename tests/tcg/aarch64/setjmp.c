/*
 * setjmp/longjmp: jumps across several frames, volatile locals, nested jump
 * buffers, return-value rules, sigsetjmp/siglongjmp restoring the signal
 * mask, and _setjmp/_longjmp.  glibc mangles the saved SP/LR with a pointer
 * guard derived from AT_RANDOM, so this also depends on a sane auxv.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static jmp_buf env_outer, env_inner;
static int depth_reached;

static void recurse(int depth, int target)
{
    char pad[100];

    memset(pad, depth, sizeof(pad));
    depth_reached = depth;
    if (depth == target) {
        longjmp(env_outer, depth * 10 + pad[5]);
    }
    if (depth < target) {
        recurse(depth + 1, target);
    }
    printf("not reached %d\n", pad[0]);
}

static void jump_zero(void)
{
    longjmp(env_outer, 0); /* must make setjmp return 1 */
}

static int nested(void)
{
    volatile int stage = 0;

    if (setjmp(env_inner) == 0) {
        stage = 1;
        if (setjmp(env_outer) == 0) {
            stage = 2;
            longjmp(env_inner, 5);
        }
        printf("not reached\n");
    }
    return stage;
}

int main(void)
{
    volatile int counter = 0;
    volatile double fp = 1.5;
    int r;

    r = setjmp(env_outer);
    printf("setjmp returned %d (counter=%d fp=%g)\n", r, counter, fp);
    counter++;
    fp *= 2;
    if (counter < 4) {
        longjmp(env_outer, counter * 100);
    }

    r = setjmp(env_outer);
    if (r == 0) {
        recurse(0, 37);
    }
    printf("deep longjmp: r=%d depth=%d\n", r, depth_reached);

    r = setjmp(env_outer);
    if (r == 0) {
        jump_zero();
    }
    printf("longjmp(0) gives %d\n", r);

    printf("nested stage=%d\n", nested());

    /* sigsetjmp(…, 1) restores the mask; sigsetjmp(…, 0) does not */
    sigjmp_buf senv;
    sigset_t set, cur;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    if (sigsetjmp(senv, 1) == 0) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        siglongjmp(senv, 1);
    }
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("savemask=1: usr1 blocked=%d\n", sigismember(&cur, SIGUSR1));
    if (sigsetjmp(senv, 0) == 0) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        siglongjmp(senv, 1);
    }
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("savemask=0: usr1 blocked=%d\n", sigismember(&cur, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    jmp_buf e2;
    volatile int loops = 0;
    if (_setjmp(e2) < 3) {
        loops++;
        _longjmp(e2, loops);
    }
    printf("_setjmp loops=%d\n", loops);
    return 0;
}
