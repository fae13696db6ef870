/*
 * Process and system information syscalls whose results are deterministic
 * on a given host: uname, ids, auxv, clocks, sleeping, getrandom, rlimits,
 * /proc/self/exe, umask, isatty and the environment.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef HWCAP_FP
#define HWCAP_FP (1 << 0)
#define HWCAP_ASIMD (1 << 1)
#endif

extern char **environ;

int main(int argc, char **argv)
{
    struct utsname u;
    struct timespec t0, t1, ts = {0, 2000000};
    struct timeval tv;
    unsigned char rnd[16];

    (void)argc;
    uname(&u);
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    printf("pid>1=%d ppid>0=%d pid==gettid=%d\n", getpid() > 1, getppid() > 0, getpid() == gettid());
    printf("uid==euid=%d gid==egid=%d\n", getuid() == geteuid(), getgid() == getegid());

    unsigned long hwcap = getauxval(AT_HWCAP);
    printf("AT_PAGESZ=%lu hwcap fp+asimd=%d\n", getauxval(AT_PAGESZ),
           (hwcap & (HWCAP_FP | HWCAP_ASIMD)) == (HWCAP_FP | HWCAP_ASIMD));
    printf("AT_RANDOM set=%d AT_ENTRY set=%d AT_PHDR set=%d\n", getauxval(AT_RANDOM) != 0,
           getauxval(AT_ENTRY) != 0, getauxval(AT_PHDR) != 0);
    printf("AT_EXECFN basename=%s\n", basename((char *)getauxval(AT_EXECFN)));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&ts, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long elapsed_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    printf("nanosleep 2ms: elapsed>=2ms=%d\n", elapsed_us >= 2000);
    gettimeofday(&tv, NULL);
    time_t now = time(NULL);
    printf("time vs gettimeofday within 2s=%d after-2020=%d\n", labs((long)(now - tv.tv_sec)) <= 2,
           now > 1577836800);
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    printf("clock_getres ok=%d\n", res.tv_sec == 0 && res.tv_nsec > 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    printf("cputime ok=%d\n", t0.tv_sec >= 0);

    printf("getrandom=%zd\n", getrandom(rnd, sizeof(rnd), 0));

    struct rlimit rl;
    printf("getrlimit(NOFILE)=%d cur>0=%d\n", getrlimit(RLIMIT_NOFILE, &rl), rl.rlim_cur > 0);

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    char *arg0 = strdup(argv[0]);
    printf("/proc/self/exe basename=%s matches-argv0=%d\n", basename(exe), strcmp(basename(exe), basename(arg0)) == 0);

    mode_t old = umask(027);
    printf("umask roundtrip=%d\n", umask(old) == 027);
    printf("isatty(0)=%d\n", isatty(0));
    printf("GUEST_TEST_VAR=%s\n", getenv("GUEST_TEST_VAR") ? getenv("GUEST_TEST_VAR") : "(unset)");

    int fd = open("/proc/self/cmdline", O_RDONLY);
    char cmd[256];
    n = read(fd, cmd, sizeof(cmd));
    close(fd);
    int nargs = 0;
    for (ssize_t i = 0; i < n; i++) {
        nargs += cmd[i] == 0;
    }
    printf("/proc/self/cmdline args=%d\n", nargs);
    return 0;
}
