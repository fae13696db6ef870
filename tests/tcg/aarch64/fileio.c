/*
 * File I/O: open/write/read/lseek/pread/pwrite/fstat/ftruncate/rename/unlink
 * on a uniquely named temporary file in the current directory, plus stdio.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL line %d: %s (errno=%d)\n", __LINE__, #cond, errno);  \
            failures++;                                                       \
        }                                                                     \
    } while (0)

int main(void)
{
    char name[64], name2[64], buf[256];
    const char *msg1 = "first line\n";
    const char *msg2 = "second line, a bit longer\n";
    struct stat st;
    ssize_t n;
    off_t off;
    int fd;

    umask(022);
    snprintf(name, sizeof(name), "pyqemu_fileio_%d.tmp", (int)getpid());
    snprintf(name2, sizeof(name2), "pyqemu_fileio_%d.renamed", (int)getpid());

    fd = open(name, O_CREAT | O_EXCL | O_RDWR | O_TRUNC, 0640);
    CHECK(fd >= 0);
    printf("open ok: %d\n", fd >= 0);
    n = write(fd, msg1, strlen(msg1));
    printf("write1=%zd\n", n);
    n = write(fd, msg2, strlen(msg2));
    printf("write2=%zd\n", n);

    off = lseek(fd, 0, SEEK_CUR);
    printf("SEEK_CUR=%lld\n", (long long)off);
    off = lseek(fd, 6, SEEK_SET);
    printf("SEEK_SET=%lld\n", (long long)off);
    memset(buf, 0, sizeof(buf));
    n = read(fd, buf, 4);
    printf("read=%zd [%s]\n", n, buf);
    off = lseek(fd, -5, SEEK_END);
    printf("SEEK_END-5=%lld\n", (long long)off);
    memset(buf, 0, sizeof(buf));
    n = read(fd, buf, sizeof(buf));
    printf("read-tail=%zd [%.*s]\n", n, (int)(n > 0 ? n - 1 : 0), buf);
    n = read(fd, buf, sizeof(buf));
    printf("read-eof=%zd\n", n);

    /* pwrite/pread do not move the offset */
    n = pwrite(fd, "FIRST", 5, 0);
    printf("pwrite=%zd offset-after=%lld\n", n, (long long)lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof(buf));
    n = pread(fd, buf, 11, 0);
    printf("pread=%zd [%.10s]\n", n, buf);

    /* scatter/gather */
    struct iovec iov[3] = {
        {.iov_base = "vec-", .iov_len = 4},
        {.iov_base = "tor-", .iov_len = 4},
        {.iov_base = "io\n", .iov_len = 3},
    };
    lseek(fd, 0, SEEK_END);
    n = writev(fd, iov, 3);
    printf("writev=%zd\n", n);

    /* a hole: seek past the end and write */
    off = lseek(fd, 4096, SEEK_SET);
    n = write(fd, "X", 1);
    CHECK(fstat(fd, &st) == 0);
    printf("size-with-hole=%lld regular=%d mode=%o\n", (long long)st.st_size, S_ISREG(st.st_mode),
           (unsigned)(st.st_mode & 0777));
    memset(buf, 1, sizeof(buf));
    n = pread(fd, buf, 16, 100);
    printf("hole-read=%zd zeros=%d\n", n, buf[0] == 0 && buf[15] == 0);

    CHECK(ftruncate(fd, 20) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("after-truncate=%lld\n", (long long)st.st_size);

    int fd2 = dup(fd);
    CHECK(fd2 > fd);
    lseek(fd2, 0, SEEK_SET);
    printf("dup-shares-offset=%lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    close(fd2);
    CHECK(close(fd) == 0);

    /* stdio on the same file */
    FILE *f = fopen(name, "a+");
    CHECK(f != NULL);
    fprintf(f, "appended %d %s %.2f\n", 123, "text", 4.5);
    fflush(f);
    rewind(f);
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = 0;
        printf("line: [%s]\n", buf);
    }
    printf("ftell=%ld feof=%d\n", ftell(f), feof(f) != 0);
    fclose(f);

    CHECK(rename(name, name2) == 0);
    printf("access-old=%d access-new=%d\n", access(name, F_OK), access(name2, R_OK | W_OK));
    CHECK(stat(name2, &st) == 0);
    printf("stat-size=%lld nlink=%lu\n", (long long)st.st_size, (unsigned long)st.st_nlink);
    CHECK(unlink(name2) == 0);

    errno = 0;
    fd = open(name2, O_RDONLY);
    printf("open-after-unlink=%d errno=%s\n", fd, strerror(errno));
    errno = 0;
    int rc = unlink(name2);
    printf("unlink-again=%d errno-is-ENOENT=%d\n", rc, errno == ENOENT);

    /* /dev/null and reading a well-known file */
    fd = open("/dev/null", O_WRONLY);
    printf("devnull-write=%zd\n", write(fd, "abc", 3));
    close(fd);

    /* pipe round trip */
    int p[2];
    CHECK(pipe(p) == 0);
    n = write(p[1], "through a pipe", 14);
    memset(buf, 0, sizeof(buf));
    n = read(p[0], buf, sizeof(buf));
    printf("pipe=%zd [%s]\n", n, buf);
    close(p[0]);
    close(p[1]);

    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
