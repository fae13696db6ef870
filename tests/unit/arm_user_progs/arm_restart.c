/* System-call restarts on 32-bit ARM: a blocking read interrupted by a timer signal is
 * restarted under SA_RESTART (backing up over the ARM or Thumb svc) and fails with EINTR
 * without it; alarm/setitimer/getitimer with 32-bit timevals. Prints facts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>

static int pfd[2];
static volatile int fired, phase2;

static void on_alarm(int sig) {
    fired++;
    if (phase2 && ++phase2 == 3)  /* the second tick of phase 2 */
        write(pfd[1], "R", 1);
}

int main(void) {
    pipe(pfd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 100000}, {0, 100000}};
    printf("setitimer=%d\n", setitimer(ITIMER_REAL, &it, 0));
    struct itimerval cur;
    printf("getitimer=%d pending=%d\n", getitimer(ITIMER_REAL, &cur),
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0);
    char c = 0;
    ssize_t r = read(pfd[0], &c, 1);
    printf("no SA_RESTART: read=%zd errno=%s fired=%d\n", r, r < 0 ? strerror(errno) : "-", fired > 0);

    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    phase2 = 1;
    r = syscall(SYS_read, pfd[0], &c, 1);  /* restarted after the first tick, data on the second */
    it.it_interval.tv_usec = 0;
    it.it_value.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, &cur);
    printf("SA_RESTART: read=%zd c=%c ticks=%d old_interval=%ld\n", r, c, phase2 >= 3,
           (long)cur.it_interval.tv_usec);
    printf("alarm=%u\n", alarm(5));
    printf("alarm left=%u\n", alarm(0));
    return 0;
}
