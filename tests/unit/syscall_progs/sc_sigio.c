/*
 * Blocking I/O meets signals: pselect/ppoll/epoll_pwait with a temporary
 * signal mask, and reads on a pipe interrupted by SIGALRM with and without
 * SA_RESTART.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) printf("%-64s %s\n", #c, (c) ? "ok" : "FAIL")

static volatile int hits;
static void handler(int sig) { (void)sig; hits++; }

static void set_handler(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

static void alarm_in_ms(int ms)
{
    struct itimerval it = {{0, 0}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    sigset_t block, empty, cur;
    sigemptyset(&empty);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    set_handler(SIGUSR1, 0);
    sigprocmask(SIG_BLOCK, &block, NULL);

    struct timespec ts = {2, 0};
    raise(SIGUSR1);
    CHECK(hits == 0);
    CHECK(pselect(0, NULL, NULL, NULL, &ts, &empty) == -1 && errno == EINTR && hits == 1);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR1));

    raise(SIGUSR1);
    CHECK(ppoll(NULL, 0, &ts, &empty) == -1 && errno == EINTR && hits == 2);

    int ep = epoll_create1(0);
    struct epoll_event ev;
    raise(SIGUSR1);
    CHECK(epoll_pwait(ep, &ev, 1, 2000, &empty) == -1 && errno == EINTR && hits == 3);
    CHECK(epoll_pwait(ep, &ev, 1, 0, &empty) == 0);
    close(ep);

    /* without a pending signal the mask is only temporary */
    struct timespec zero = {0, 0};
    CHECK(pselect(0, NULL, NULL, NULL, &zero, &empty) == 0);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR1) && hits == 3);

    int p[2];
    char buf[16];
    pipe(p);
    set_handler(SIGALRM, 0);
    alarm_in_ms(50);
    CHECK(read(p[0], buf, sizeof buf) == -1 && errno == EINTR && hits == 4);

    set_handler(SIGALRM, SA_RESTART);
    pid_t child = fork();
    if (child == 0) {
        usleep(300000);
        write(p[1], "late", 4);
        _exit(0);
    }
    alarm_in_ms(50);
    memset(buf, 0, sizeof buf);
    CHECK(read(p[0], buf, sizeof buf) == 4 && strcmp(buf, "late") == 0 && hits == 5);
    waitpid(child, NULL, 0);
    printf("hits=%d\n", hits);
    return 0;
}
