/* System calls of 32-bit ARM Linux through glibc and raw syscall(): the calls whose ABI
 * differs from AArch64 (64-bit arguments in register pairs, mmap2, stat64, statfs64,
 * fcntl64, 32-bit structures) and the ARM private calls. Prints deterministic facts. */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#define CHECK(x) printf("%s = %ld\n", #x, (long)(x))

static void *thread_fn(void *arg) { return (void *)((long)arg * 2); }

int main(void) {
    struct utsname u;
    uname(&u);
    printf("machine=%s sysname=%s\n", u.machine, u.sysname);
    CHECK(getuid() == (uid_t)syscall(__NR_getuid32));
    CHECK(geteuid() == (uid_t)syscall(__NR_geteuid32));

    char path[] = "/tmp/pyqemu_arm_sys_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(ftruncate64(fd, 0x100002000LL));
    struct stat64 st;
    CHECK(fstat64(fd, &st));
    printf("size=%lld mode_reg=%d nlink=%u\n", (long long)st.st_size, S_ISREG(st.st_mode), (unsigned)st.st_nlink);
    CHECK(stat64(path, &st));
    printf("stat size=%lld\n", (long long)st.st_size);
    CHECK(pwrite64(fd, "abcdef", 6, 0x100000010LL));
    char buf[16] = {0};
    CHECK(pread64(fd, buf, 6, 0x100000012LL));
    printf("pread=%s\n", buf);
    loff_t res = 0;
    CHECK(syscall(__NR__llseek, fd, 1, 0x20, &res, SEEK_SET));
    printf("llseek res=%llx\n", (unsigned long long)res);
    CHECK(lseek64(fd, 0, SEEK_END) == 0x100002000LL);
    CHECK(posix_fadvise(fd, 0x100000000LL, 4096, POSIX_FADV_SEQUENTIAL));
    CHECK(sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WRITE));
    CHECK(fallocate(fd, 0, 0x100003000LL, 4096));
    CHECK(fstat64(fd, &st));
    printf("after fallocate size=%lld\n", (long long)st.st_size);

    struct iovec iov[2] = {{"hello ", 6}, {"world\n", 6}};
    CHECK(pwritev(fd, iov, 2, 0));
    char a[6], b[7] = {0};
    struct iovec riov[2] = {{a, 6}, {b, 6}};
    CHECK(preadv(fd, riov, 2, 0));
    printf("preadv=%.6s%s", a, b);
    lseek(fd, 0, SEEK_SET);
    CHECK(readv(fd, riov, 2));

    struct flock64 fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x100000000LL, .l_len = 10};
    CHECK(fcntl(fd, F_SETLK64, &fl));
    fl.l_type = F_RDLCK;
    CHECK(fcntl(fd, F_GETLK64, &fl));
    printf("getlk type=%d\n", fl.l_type);
    CHECK(fcntl(fd, F_GETFD));
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC));
    CHECK(fcntl(fd, F_GETFD));
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);

    /* mmap2: the offset in 4096-byte units */
    char *m = mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    printf("mmap=%.5s\n", m);
    CHECK(pwrite64(fd, "Q", 1, 0x1010));
    long p2 = syscall(__NR_mmap2, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 1);  /* offset 4096 */
    CHECK(p2 > 0 && p2 < 0xffff0000L);
    printf("mmap2 byte=%d\n", ((char *)p2)[0x10]);
    CHECK(((unsigned long)m) < 0xffff0000UL);
    struct statfs64 sf;
    CHECK(fstatfs64(fd, &sf));
    CHECK(sf.f_bsize > 0);
    CHECK(statfs64("/tmp", &sf));
    close(fd);
    unlink(path);

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl));
    struct rlimit64 rl64;
    CHECK(getrlimit64(RLIMIT_NOFILE, &rl64));
    CHECK(rl.rlim_cur == rl64.rlim_cur);
    CHECK(getrlimit(RLIMIT_STACK, &rl));
    printf("stack cur=%lu\n", (unsigned long)rl.rlim_cur);
    CHECK(syscall(__NR_ugetrlimit, RLIMIT_CORE, &rl));
    struct sysinfo si;
    CHECK(sysinfo(&si));
    CHECK(si.mem_unit >= 1 && si.totalram > 0 && si.procs > 0);

    struct timespec ts;
    CHECK(syscall(__NR_clock_gettime, CLOCK_MONOTONIC, &ts));
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
    CHECK(clock_gettime(CLOCK_REALTIME, &ts));
    CHECK(ts.tv_sec > 1600000000);
    struct timeval tv;
    CHECK(syscall(__NR_gettimeofday, &tv, 0));
    CHECK(tv.tv_sec > 1600000000);
    struct timespec req = {0, 1000000};
    CHECK(syscall(__NR_nanosleep, &req, 0));
    CHECK(nanosleep(&req, 0));

    /* ARM private calls */
    void *tls = (void *)syscall(0xf0006);  /* get_tls */
    void *tls2;
    __asm__("mrc p15, 0, %0, c13, c0, 3" : "=r"(tls2));
    CHECK(tls == tls2);
    CHECK(syscall(0xf0005, tls));  /* set_tls */
    CHECK(syscall(0xf0002, (long)main, (long)main + 64, 0));  /* cacheflush */
    CHECK(syscall(0xf0010) == -1 && errno == ENOSYS);

    /* legacy path calls */
    CHECK(syscall(__NR_access, "/", F_OK));
    CHECK(syscall(__NR_access, "/nonexistent", F_OK) == -1 && errno == ENOENT);
    int pfd[2];
    CHECK(syscall(__NR_pipe, pfd));
    CHECK(syscall(__NR_dup2, pfd[1], 50));
    CHECK(write(50, "x", 1));
    struct pollfd pf = {pfd[0], POLLIN, 0};
    CHECK(syscall(__NR_poll, &pf, 1, 100));
    printf("revents=%d\n", pf.revents);

    CHECK(syscall(__NR_getpgrp) == getpgid(0));
    int efd = syscall(__NR_eventfd, 3);
    unsigned long long ev = 0;
    CHECK(read(efd, &ev, 8));
    printf("eventfd=%llu\n", ev);
    CHECK(syscall(__NR_epoll_create, 1) > 0);
    CHECK(syscall(__NR_epoll_create, 0) == -1 && errno == EINVAL);
    CHECK(syscall(__NR_inotify_init) > 0);
    int sfd = open("/proc/self/exe", O_RDONLY);
    long off32 = 4;
    CHECK(syscall(__NR_sendfile, pfd[1], sfd, &off32, 3));
    printf("sendfile off=%ld\n", off32);
    char elf[4] = {0};
    CHECK(read(pfd[0], elf, 1) + read(pfd[0], elf, 3));
    printf("elf ident=%d,%d,%d\n", elf[0], elf[1], elf[2]);

    /* processes and threads */
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child exit=%d\n", WEXITSTATUS(status));
    pthread_t th;
    void *ret;
    CHECK(pthread_create(&th, 0, thread_fn, (void *)21));
    CHECK(pthread_join(th, &ret));
    printf("thread ret=%ld\n", (long)ret);
    return 0;
}
