/* msync on 32-bit ARM: qemu-arm reserves the guest's whole 32-bit space below the vector
 * page on the host, so msync of an unmapped range there succeeds (the host call sees no
 * hole); past 0xffff1000 it fails with ENOMEM. Plus the kernel's argument checks.
 * Prints the result and errno of each call. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static void t(const char *what, unsigned long addr, unsigned long len, int flags) {
    errno = 0;
    int r = msync((void *)addr, len, flags);
    printf("%-20s r=%d errno=%d\n", what, r, r ? errno : 0);
}

int main(void) {
    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || s == MAP_FAILED)
        return 1;
    munmap(p + 4096, 4096);
    unsigned long a = (unsigned long)p;
    s[0] = 1;
    t("mapped", a, 4096, MS_SYNC);
    t("shared", (unsigned long)s, 4096, MS_SYNC | MS_INVALIDATE);
    t("hole inside", a, 3 * 4096, MS_SYNC);
    t("unmapped page", a + 4096, 4096, MS_SYNC);
    t("low unmapped", 0x1000, 4096, MS_ASYNC);
    t("high unmapped", 0xe0000000, 0x10000, MS_SYNC);
    t("unmapped, flags 0", 0xe0000000, 4096, 0);
    t("vector page", 0xffff0000, 4096, MS_SYNC);
    t("past vector page", 0xfffe0000, 0x20000, MS_SYNC);
    t("across 4 GiB", 0xfffff000, 0x2000, MS_SYNC);
    t("huge length", 0x10000000, 0xf0000000, MS_ASYNC);
    t("length 0", 0xe0000000, 0, MS_SYNC);
    t("misaligned", a + 1, 4096, MS_SYNC);
    t("sync and async", a, 4096, MS_SYNC | MS_ASYNC);
    t("unknown flag", a, 4096, 0x100);
    t("bad flags unmapped", 0xe0000000, 4096, MS_SYNC | MS_ASYNC);
    return 0;
}
