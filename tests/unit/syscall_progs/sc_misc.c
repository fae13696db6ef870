/*
 * Identity, time, limits, scheduling, prctl, terminals and /proc/self files.
 * Values that vary between runs are reduced to deterministic facts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c) printf("%-64s %s\n", #c, (c) ? "ok" : "FAIL")

static long ns(const struct timespec *t) { return t->tv_sec * 1000000000L + t->tv_nsec; }

static size_t slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;
    ssize_t r;
    if (fd < 0)
        return 0;
    while (n < size && (r = read(fd, buf + n, size - n)) > 0)
        n += r;
    close(fd);
    return n;
}

int main(int argc, char **argv)
{
    struct utsname u;
    CHECK(uname(&u) == 0);
    printf("sysname=%s machine=%s release_set=%d\n", u.sysname, u.machine, u.release[0] != 0);

    struct sysinfo si;
    CHECK(sysinfo(&si) == 0 && si.mem_unit > 0 && si.totalram > 0 && si.uptime > 0);

    unsigned char r1[32] = {0}, r2[32] = {0};
    CHECK(getrandom(r1, sizeof r1, 0) == 32 && getrandom(r2, sizeof r2, GRND_NONBLOCK) == 32);
    CHECK(memcmp(r1, r2, 32) != 0);

    struct timespec t0, t1, res, req = {0, 3000000};
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t0) == 0);
    CHECK(nanosleep(&req, NULL) == 0);
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t1) == 0 && ns(&t1) - ns(&t0) >= 6000000);
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(&res) > 0 && ns(&res) <= 1000000);
    CHECK(clock_gettime(12345, &t0) == -1 && errno == EINVAL);
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 1000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    CHECK(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL) == 0);
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1600000000 && tv.tv_usec < 1000000);
    CHECK(time(NULL) >= tv.tv_sec);
    struct tms tm;
    CHECK(times(&tm) != (clock_t)-1);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0);
    CHECK(getrusage(12345, &ru) == -1 && errno == EINVAL);

    struct rlimit rl, rl2;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 0);
    rl2 = rl;
    rl2.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl2) == 0);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl2) == 0 && rl2.rlim_cur == 64);
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl2) == 0 && rl2.rlim_cur == rl.rlim_cur);
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0);
    CHECK(getrlimit(1000, &rl) == -1 && errno == EINVAL);

    CHECK(getpid() == gettid() && getpid() > 1 && getppid() > 0);
    CHECK(getuid() == geteuid() && getgid() == getegid());
    uid_t ru_, eu, su;
    CHECK(getresuid(&ru_, &eu, &su) == 0 && ru_ == getuid() && eu == geteuid());
    gid_t rg, eg, sg;
    CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == getgid());
    int ng = getgroups(0, NULL);
    gid_t groups[256];
    CHECK(ng >= 0 && getgroups(256, groups) == ng);
    CHECK(getpgid(0) == getpgrp() && getsid(0) > 0);
    CHECK(getpgid(999999) == -1 && errno == ESRCH);
    CHECK(setpgid(0, 0) == 0 ? getpgrp() == getpid() : errno == EPERM);

    char name[17] = {0};
    CHECK(prctl(PR_SET_NAME, "pyqemu-test-name-long") == 0);
    CHECK(prctl(PR_GET_NAME, name) == 0);
    printf("name=%s\n", name);
    CHECK(prctl(PR_GET_DUMPABLE) >= 0);
    int sig = -1;
    CHECK(prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == 0);

    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0);
    CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
    CHECK(sched_getscheduler(0) == SCHED_OTHER);
    struct sched_param sp;
    CHECK(sched_getparam(0, &sp) == 0 && sp.sched_priority == 0);
    CHECK(sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_FIFO) == 1);
    CHECK(sched_yield() == 0);
    unsigned cpu = 12345, node = 12345;
    CHECK(getcpu(&cpu, &node) == 0 && cpu < 4096 && node < 4096);
    CHECK(personality(0xffffffff) >= 0);
    CHECK(getpriority(PRIO_PROCESS, 0) >= -20);

    /* /proc/self */
    char buf[8192];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    CHECK(n > 0 && buf[0] == '/');
    buf[n > 0 ? n : 0] = 0;
    printf("exe basename=%s\n", strrchr(buf, '/') + 1);
    CHECK(readlink("/proc/self/exe", buf, 3) == 3);
    n = slurp("/proc/self/cmdline", buf, sizeof buf);
    CHECK(n > 0 && buf[n - 1] == 0);
    printf("cmdline args:");
    for (char *p = buf; p < buf + n; p += strlen(p) + 1)
        printf(" [%s]", p == buf ? strrchr(p, '/') ? strrchr(p, '/') + 1 : p : p);
    printf("\n");
    unsigned long aux[128];
    n = slurp("/proc/self/auxv", (char *)aux, sizeof aux);
    int seen_pagesz = 0;
    for (int i = 0; i + 1 < n / 8; i += 2)
        if (aux[i] == AT_PAGESZ)
            seen_pagesz = aux[i + 1] == 4096;
    CHECK(n > 16 && n % 16 == 0 && seen_pagesz && aux[n / 8 - 2] == AT_NULL);
    n = slurp("/proc/self/stat", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && atoi(buf) == getpid() && strstr(buf, " (sc_misc") != NULL);
    CHECK(getauxval(AT_PAGESZ) == 4096);
    printf("argc=%d argv1=%s\n", argc, argc > 1 ? argv[1] : "-");

    /* terminals: stdin/stdout are not terminals in the tests */
    struct winsize ws;
    struct termios tio;
    CHECK(isatty(0) == 0 && isatty(1) == 0);
    CHECK(ioctl(1, TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
    CHECK(tcgetattr(0, &tio) == -1 && errno == ENOTTY);
    int fd = open("/dev/null", O_RDWR);
    CHECK(fd >= 0 && isatty(fd) == 0);
    close(fd);
    return 0;
}
