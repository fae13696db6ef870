/* Processes and signals: SIGCHLD handler, fork+exec of ourselves, SA_RESTART,
 * SIGPIPE, default actions, interrupted nanosleep, sigtimedwait. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t chld_count, alrm_count, pipe_count;
static volatile int chld_code, chld_status, chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void on_alrm(int sig) { (void)sig; alrm_count++; }
static void on_pipe(int sig) { (void)sig; pipe_count++; }

static void report(const char *what, int status)
{
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: signal %d\n", what, WTERMSIG(status));
    else
        printf("%s: status %#x\n", what, status);
}

static void alarm_in(long usec)
{
    struct itimerval it = {.it_interval = {0, 0}, .it_value = {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    sigset_t set, old;
    int status, p[2];
    pid_t pid;

    if (argc > 1 && strcmp(argv[1], "child-mode") == 0) {
        const char *base = strrchr(argv[0], '/');
        sigset_t cur;
        struct sigaction cur_sa;
        sigprocmask(SIG_SETMASK, NULL, &cur);
        sigaction(SIGUSR2, NULL, &cur_sa);
        printf("exec'd child: argc=%d argv0=%s env=%s usr1-blocked=%d usr2-ignored=%d\n", argc,
               base ? base + 1 : argv[0], getenv("PROCS_VAR"), sigismember(&cur, SIGUSR1),
               cur_sa.sa_handler == SIG_IGN);
        return 9;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "exec") == 0)
        goto exec_tests;
    if (argc > 2 && strcmp(argv[1], "run") == 0) { /* run argv[2] (e.g. a #! script) */
        pid = fork();
        if (pid == 0) {
            char *av[] = {argv[2], "extra", NULL};
            execv(argv[2], av);
            printf("execv: %s\n", strerror(errno));
            _exit(127);
        }
        waitpid(pid, &status, 0);
        report("run", status);
        return 0;
    }

    /* 1: SIGCHLD with siginfo, waited for with sigsuspend */
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid = fork();
    if (pid == 0)
        _exit(3);
    sigsuspend(&old);
    printf("sigchld: count=%d code=%d (CLD_EXITED=%d) status=%d pid-ok=%d\n", chld_count, chld_code,
           CLD_EXITED, chld_status, chld_pid == pid);
    sigprocmask(SIG_SETMASK, &old, NULL);
    waitpid(pid, &status, 0);
    report("chld", status);
    signal(SIGCHLD, SIG_DFL);

    goto after_exec;
exec_tests:
    /* 2: fork + execve of ourselves (an AArch64 program: qemu-aarch64 cannot do
     * this without binfmt_misc, pyqemu runs it under pyqemu again) */
    pid = fork();
    if (pid == 0) {
        /* the mask and ignored signals survive execve; handlers do not */
        sigset_t b;
        sigemptyset(&b);
        sigaddset(&b, SIGUSR1);
        sigprocmask(SIG_BLOCK, &b, NULL);
        signal(SIGUSR2, SIG_IGN);
        char *av[] = {"renamed-child", "child-mode", "x", NULL};
        char *ev[] = {"PROCS_VAR=hello", NULL};
        execve("/proc/self/exe", av, ev);
        printf("execve failed: %s\n", strerror(errno));
        _exit(127);
    }
    waitpid(pid, &status, 0);
    report("exec-self", status);
    pid = fork();
    if (pid == 0) {
        char *av[] = {argv[0], "child-mode", NULL};
        execv(argv[0], av);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    report("exec-argv0", status);
    /* host programs run natively, and inherit ignored signals */
    pid = fork();
    if (pid == 0) {
        signal(SIGUSR2, SIG_IGN);
        char *av[] = {"sh", "-c", "kill -USR2 $$; echo host shell says $0 $1", "zero", "one", NULL};
        execv("/bin/sh", av);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    report("exec-host", status);
    return 0;
after_exec:

    /* 3: a blocking read interrupted by a signal: EINTR without SA_RESTART */
    pipe(p);
    signal(SIGALRM, on_alrm); /* glibc signal() sets SA_RESTART: use sigaction */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    char c;
    alarm_in(50000);
    errno = 0;
    ssize_t n = read(p[0], &c, 1);
    printf("read no-restart: n=%zd EINTR=%d alarms=%d\n", n, errno == EINTR, alrm_count);
    /* with SA_RESTART the read goes on until the child writes */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
        write(p[1], "z", 1);
        _exit(0);
    }
    alarm_in(50000);
    n = read(p[0], &c, 1);
    printf("read restart: n=%zd c=%c alarms=%d\n", n, n == 1 ? c : '?', alrm_count);
    waitpid(pid, &status, 0);
    close(p[0]);
    close(p[1]);

    /* 4: SIGPIPE */
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, on_pipe);
    errno = 0;
    n = write(p[1], "x", 1);
    printf("sigpipe handler: n=%zd EPIPE=%d count=%d\n", n, errno == EPIPE, pipe_count);
    signal(SIGPIPE, SIG_IGN);
    n = write(p[1], "x", 1);
    printf("sigpipe ignored: n=%zd EPIPE=%d count=%d\n", n, errno == EPIPE, pipe_count);
    signal(SIGPIPE, SIG_DFL);
    pid = fork();
    if (pid == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    report("sigpipe default", status);
    close(p[1]);

    /* 5: default actions kill children with the right status */
    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    report("sigterm", status);
    pid = fork();
    if (pid == 0) {
        signal(SIGUSR1, SIG_DFL);
        raise(SIGUSR1);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    report("sigusr1", status);
    pid = fork();
    if (pid == 0) {
        signal(SIGWINCH, SIG_DFL); /* default: ignore */
        raise(SIGWINCH);
        _exit(4);
    }
    waitpid(pid, &status, 0);
    report("sigwinch", status);

    /* 6: nanosleep interrupted by a handler: EINTR and the remaining time */
    alarm_in(50000);
    struct timespec req = {2, 0}, rem = {0, 0};
    int r = nanosleep(&req, &rem);
    printf("nanosleep: r=%d EINTR=%d rem-ok=%d\n", r, errno == EINTR,
           rem.tv_sec == 1 || (rem.tv_sec == 2 && rem.tv_nsec == 0) ? 1 : (int)rem.tv_sec);

    /* 7: sigtimedwait */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    siginfo_t si;
    struct timespec zero = {0, 0}, short_wait = {0, 20000000};
    r = sigtimedwait(&set, &si, &zero);
    printf("sigtimedwait: r=%d code=%d (SI_TKILL=%d)\n", r, si.si_code, SI_TKILL);
    r = sigtimedwait(&set, &si, &short_wait);
    printf("sigtimedwait timeout: r=%d EAGAIN=%d\n", r, errno == EAGAIN);
    union sigval sv = {.sival_int = 77};
    sigqueue(getpid(), SIGUSR2, sv);
    r = sigwaitinfo(&set, &si);
    printf("sigqueue: r=%d code=%d (SI_QUEUE=%d) value=%d\n", r, si.si_code, SI_QUEUE, si.si_value.sival_int);

    /* 8: real-time signals queue, standard ones do not */
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGRTMIN + 1);
    raise(SIGRTMIN + 1);
    raise(SIGUSR2);
    raise(SIGUSR2);
    int got_rt = 0, got_usr2 = 0;
    while ((r = sigtimedwait(&set, &si, &zero)) > 0) {
        if (r == SIGUSR2)
            got_usr2++;
        else
            got_rt++;
    }
    printf("queued: rt=%d usr2=%d\n", got_rt, got_usr2);
    return 0;
}
