/*
 * File-system and descriptor calls: each line printed is deterministic
 * (no inode numbers, times or pids). Runs in an empty working directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHOW(expr) do { long _r = (long)(expr); \
    printf("%-44s = %ld%s%s\n", #expr, _r, _r < 0 ? " " : "", _r < 0 ? strerrorname_np(errno) : ""); \
} while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list_dir(const char *path)
{
    DIR *d = opendir(path);
    char *names[64];
    int n = 0;
    struct dirent *e;
    if (!d) { printf("opendir %s: %s\n", path, strerror(errno)); return; }
    while ((e = readdir(d)) && n < 64) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s:%s", e->d_name,
                 e->d_type == DT_DIR ? "dir" : e->d_type == DT_REG ? "reg" : e->d_type == DT_LNK ? "lnk" : "?");
        names[n++] = strdup(buf);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("ls %s:", path);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static void show_stat(const char *what, const struct stat *st)
{
    printf("%s: mode=%o nlink=%lu size=%lld blocks>0=%d blksize=%ld uid_ok=%d\n", what,
           (unsigned)st->st_mode, (unsigned long)st->st_nlink, (long long)st->st_size,
           st->st_blocks > 0, (long)st->st_blksize, st->st_uid == getuid());
}

int main(void)
{
    char buf[256];
    struct stat st;
    int fd, fd2, p[2];

    umask(022);
    SHOW(umask(027));
    SHOW(umask(022));

    fd = open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0666);
    SHOW(fd);
    SHOW(open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0666));
    SHOW(write(fd, "hello, world\n", 13));
    struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
    SHOW(writev(fd, iov, 3));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(lseek(fd, 7, SEEK_SET));
    memset(buf, 0, sizeof buf);
    SHOW(read(fd, buf, 5));
    printf("read: '%s'\n", buf);
    SHOW(pwrite(fd, "WORLD", 5, 7));
    memset(buf, 0, sizeof buf);
    SHOW(pread(fd, buf, 100, 0));
    printf("pread: '%s'\n", buf);
    char r1[6] = {0}, r2[8] = {0};
    struct iovec riov[2] = {{r1, 5}, {r2, 7}};
    SHOW(preadv(fd, riov, 2, 0));
    printf("preadv: '%s' '%s'\n", r1, r2);
    SHOW(lseek(fd, 0, SEEK_END));
    SHOW(lseek(fd, -100, SEEK_SET));
    SHOW(fstat(fd, &st));
    show_stat("fstat", &st);
    SHOW(ftruncate(fd, 5));
    SHOW(fstat(fd, &st));
    show_stat("after ftruncate", &st);
    SHOW(fchmod(fd, 0640));
    SHOW(fsync(fd));
    SHOW(fdatasync(fd));
    SHOW(flock(fd, LOCK_EX));
    SHOW(flock(fd, LOCK_UN));

    /* fcntl */
    SHOW(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    SHOW(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
    SHOW(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd, F_SETFD, FD_CLOEXEC));
    SHOW(fcntl(fd, F_GETFD));
    fd2 = fcntl(fd, F_DUPFD, 20);
    SHOW(fd2);
    SHOW(fcntl(fd2, F_GETFD));
    SHOW(close(fd2));
    SHOW(close(fd2));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SHOW(fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_RDLCK;
    SHOW(fcntl(fd, F_GETLK, &fl));
    printf("getlk type unlocked=%d\n", fl.l_type == F_UNLCK);
    SHOW(dup2(fd, 30));
    SHOW(dup3(fd, 31, O_CLOEXEC));
    SHOW(fcntl(31, F_GETFD));
    SHOW(dup3(fd, fd, 0));
    SHOW(close(30));
    SHOW(close(31));
    SHOW(close(fd));
    SHOW(read(fd, buf, 1));
    SHOW(write(-1, buf, 1));

    /* names */
    SHOW(stat("a.txt", &st));
    show_stat("stat", &st);
    SHOW(access("a.txt", R_OK | W_OK));
    SHOW(access("nonexistent", F_OK));
    SHOW(faccessat(AT_FDCWD, "a.txt", X_OK, 0));
    SHOW(mkdir("dir", 0755));
    SHOW(mkdir("dir", 0755));
    SHOW(mkdir("dir/sub", 0700));
    SHOW(stat("dir", &st));
    show_stat("dir", &st);
    SHOW(rmdir("dir"));
    SHOW(symlink("a.txt", "link"));
    SHOW(symlink("a.txt", "link"));
    memset(buf, 0, sizeof buf);
    SHOW(readlink("link", buf, sizeof buf));
    printf("readlink: '%s'\n", buf);
    SHOW(readlink("a.txt", buf, sizeof buf));
    SHOW(lstat("link", &st));
    printf("lstat link is symlink=%d size=%lld\n", S_ISLNK(st.st_mode), (long long)st.st_size);
    SHOW(stat("link", &st));
    printf("stat link is reg=%d\n", S_ISREG(st.st_mode));
    SHOW(link("a.txt", "hard"));
    SHOW(stat("a.txt", &st));
    printf("nlink after link=%lu\n", (unsigned long)st.st_nlink);
    SHOW(rename("hard", "dir/hard2"));
    SHOW(renameat2(AT_FDCWD, "a.txt", AT_FDCWD, "link", RENAME_NOREPLACE));
    SHOW(chmod("a.txt", 0600));
    SHOW(truncate("a.txt", 100));
    SHOW(stat("a.txt", &st));
    show_stat("after truncate", &st);
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    SHOW(utimensat(AT_FDCWD, "a.txt", ts, 0));
    SHOW(stat("a.txt", &st));
    printf("atime=%lld.%09ld mtime=%lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 42; ts[1].tv_nsec = 0;
    SHOW(utimensat(AT_FDCWD, "a.txt", ts, 0));
    SHOW(stat("a.txt", &st));
    printf("atime=%lld mtime=%lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
    struct statx sx;
    SHOW(statx(AT_FDCWD, "a.txt", 0, STATX_BASIC_STATS, &sx));
    printf("statx: mask_basic=%d size=%llu mode=%o mtime=%lld\n", (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS,
           (unsigned long long)sx.stx_size, sx.stx_mode, (long long)sx.stx_mtime.tv_sec);
    SHOW(statx(AT_FDCWD, "nonexistent", 0, STATX_BASIC_STATS, &sx));
    SHOW(open("link", O_RDONLY | O_NOFOLLOW));
    SHOW(open("a.txt", O_RDONLY | O_DIRECTORY));
    SHOW(open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    SHOW(close(3));
    SHOW(open("a.txt/x", O_RDONLY));
    SHOW(open("", O_RDONLY));

    struct statfs sfs;
    SHOW(statfs(".", &sfs));
    printf("statfs bsize>0=%d namelen=%ld\n", sfs.f_bsize > 0, (long)sfs.f_namelen);

    /* directories, cwd */
    mkdir("dir", 0755);
    int f3 = open("dir/file", O_CREAT | O_WRONLY, 0644);
    close(f3);
    list_dir(".");
    list_dir("dir");
    SHOW(chdir("dir"));
    char *cwd = getcwd(buf, sizeof buf);
    printf("cwd basename=%s\n", cwd ? strrchr(cwd, '/') + 1 : "(null)");
    SHOW(getcwd(buf, 2) == NULL);
    SHOW(chdir(".."));
    int dfd = open("dir", O_RDONLY | O_DIRECTORY);
    SHOW(fchdir(dfd));
    SHOW(access("file", F_OK));
    SHOW(fchdir(-1));
    SHOW(chdir(".."));
    SHOW(openat(dfd, "file", O_RDONLY) >= 0);
    SHOW(fstatat(dfd, "file", &st, 0));
    SHOW(unlinkat(dfd, "file", 0));
    SHOW(unlinkat(dfd, "sub", AT_REMOVEDIR));
    SHOW(unlinkat(dfd, "hard2", 0));
    SHOW(unlinkat(AT_FDCWD, "dir", 0));
    SHOW(unlinkat(AT_FDCWD, "dir", AT_REMOVEDIR));
    SHOW(unlink("link"));
    SHOW(unlink("link"));

    /* pipes and friends */
    SHOW(pipe2(p, O_CLOEXEC));
    SHOW(fcntl(p[0], F_GETFD));
    SHOW(write(p[1], "pipe data", 9));
    int avail = -1;
    SHOW(ioctl(p[0], FIONREAD, &avail));
    printf("FIONREAD=%d\n", avail);
    memset(buf, 0, sizeof buf);
    SHOW(read(p[0], buf, sizeof buf));
    printf("pipe read '%s'\n", buf);
    SHOW(fcntl(p[0], F_SETFL, O_NONBLOCK));
    SHOW(read(p[0], buf, sizeof buf));
    SHOW(close(p[1]));
    SHOW(read(p[0], buf, sizeof buf));
    SHOW(close(p[0]));

    /* sendfile / copy_file_range */
    int src = open("a.txt", O_RDWR);
    SHOW(write(src, "0123456789", 10));
    int dst = open("b.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t off = 2;
    SHOW(sendfile(dst, src, &off, 5));
    printf("sendfile off=%lld\n", (long long)off);
    loff_t in_off = 0;
    SHOW(copy_file_range(src, &in_off, dst, NULL, 3, 0));
    memset(buf, 0, sizeof buf);
    SHOW(pread(dst, buf, sizeof buf, 0));
    printf("dst: '%s'\n", buf);
    SHOW(isatty(src));
    SHOW(errno == ENOTTY);
    close(src);
    close(dst);
    SHOW(unlink("a.txt"));
    SHOW(unlink("b.txt"));
    list_dir(".");
    return 0;
}
