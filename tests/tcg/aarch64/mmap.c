/*
 * Memory management: brk/sbrk, anonymous and file-backed mmap (private and
 * shared), mprotect, munmap, mremap, MAP_FIXED, msync and madvise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char name[64];

    printf("pagesize=%ld\n", page);

    /* brk */
    char *b0 = sbrk(0);
    char *b1 = sbrk(100000);
    memset(b1, 0x5a, 100000);
    char *b2 = sbrk(0);
    printf("sbrk grew=%ld contiguous=%d\n", (long)(b2 - b1), b1 == b0);
    sbrk(-100000);
    printf("sbrk shrink back=%d\n", sbrk(0) == b0);

    /* anonymous mapping is zero-filled and writable */
    size_t len = 16 * (size_t)page;
    unsigned char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("anon mmap ok=%d aligned=%d zero=%d\n", a != MAP_FAILED, ((uintptr_t)a % (uintptr_t)page) == 0,
           a[0] == 0 && a[len - 1] == 0);
    for (size_t i = 0; i < len; i += 512) {
        a[i] = (unsigned char)(i / 512);
    }

    /* MAP_FIXED over the middle of it */
    unsigned char *f = mmap(a + 4 * page, (size_t)page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("map_fixed same=%d zeroed=%d neighbour-kept=%d\n", f == a + 4 * page, f[0] == 0,
           a[3 * page] == (unsigned char)(3 * page / 512));

    /* mprotect and munmap of a hole */
    printf("mprotect=%d\n", mprotect(a + 8 * page, (size_t)page, PROT_READ));
    printf("munmap hole=%d\n", munmap(a + 10 * page, (size_t)page));
    printf("mincore-like check via msync on unmapped: ");
    errno = 0;
    int rc = msync(a + 10 * page, (size_t)page, MS_ASYNC);
    printf("%d ENOMEM=%d\n", rc, errno == ENOMEM);

    /* mremap grow (may move) keeps contents */
    unsigned char *r = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(r, 0x77, (size_t)page);
    unsigned char *r2 = mremap(r, (size_t)page, 64 * (size_t)page, MREMAP_MAYMOVE);
    printf("mremap ok=%d kept=%d newzero=%d\n", r2 != MAP_FAILED, r2[page - 1] == 0x77, r2[page] == 0);
    munmap(r2, 64 * (size_t)page);

    /* file-backed: private vs shared */
    snprintf(name, sizeof(name), "pyqemu_mmap_%d.tmp", (int)getpid());
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char content[8192];
    for (int i = 0; i < (int)sizeof(content); i++) {
        content[i] = (char)('a' + i % 26);
    }
    if (write(fd, content, sizeof(content)) != (ssize_t)sizeof(content)) {
        return 2;
    }
    char *priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *shr = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *off = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
    printf("file maps: priv=%.5s shr=%.5s off=%.5s\n", priv, shr + 26, off);
    priv[0] = 'P';
    shr[1] = 'S';
    msync(shr, 8192, MS_SYNC);
    char buf[4] = {0};
    if (pread(fd, buf, 3, 0) != 3) {
        return 2;
    }
    printf("after writes: file=%.3s priv=%.3s shr=%.3s\n", buf, priv, shr);
    /* the part of the last page beyond EOF reads as zero */
    if (ftruncate(fd, 5000) != 0) {
        return 2;
    }
    char *tail = mmap(NULL, 4096 * 2, PROT_READ, MAP_PRIVATE, fd, 0);
    int tail_zero = 1;
    for (int i = 5000; i < 8192; i++) {
        tail_zero &= tail[i] == 0;
    }
    printf("tail zero=%d last=%c\n", tail_zero, tail[4999]);
    munmap(tail, 4096 * 2);
    munmap(priv, 8192);
    munmap(shr, 8192);
    munmap(off, 4096);
    close(fd);
    unlink(name);

    /* shared anonymous memory survives into a forked child */
    int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *sh = 1;
    if (fork() == 0) {
        *sh = 99;
        _exit(0);
    }
    int status;
    wait(&status);
    printf("shared anon after child=%d\n", *sh);

    /* (MADV_DONTNEED's zero-fill is not checked: qemu-aarch64 ignores madvise) */
    printf("madvise=%d\n", madvise(a, len, MADV_DONTNEED));
    printf("munmap=%d\n", munmap(a, len));
    errno = 0;
    void *bad = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0);
    printf("bad fd mmap failed=%d EBADF=%d\n", bad == MAP_FAILED, errno == EBADF);
    return 0;
}
