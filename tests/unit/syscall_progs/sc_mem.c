/*
 * Memory-management calls: brk, mmap (anonymous, file-backed private and
 * shared, fixed), mprotect, munmap, mremap, madvise, mincore, msync and
 * /proc/self/maps. Prints only facts that do not depend on where mappings land.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) printf("%-60s %s\n", #c, (c) ? "ok" : "FAIL")
#define PG 4096

extern char end;

int main(void)
{
    /* brk */
    char *b0 = sbrk(0);
    CHECK(b0 >= &end);
    CHECK(sbrk(3 * PG) == b0);
    CHECK((char *)sbrk(0) == b0 + 3 * PG);
    memset(b0, 0x5a, 3 * PG);
    CHECK(sbrk(-2 * PG) == b0 + 3 * PG);
    CHECK((char *)sbrk(0) == b0 + PG);
    CHECK(brk(b0 + 2 * PG) == 0);
    CHECK(b0[PG + 10] == 0 || b0[PG + 10] == 0x5a);

    /* anonymous */
    char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED);
    CHECK(((uintptr_t)a & (PG - 1)) == 0);
    CHECK(a[0] == 0 && a[4 * PG - 1] == 0);
    strcpy(a, "anonymous");
    CHECK(mprotect(a + PG, PG, PROT_READ) == 0);
    CHECK(mprotect(a + 1, PG, PROT_READ) == -1 && errno == EINVAL);
    CHECK(mprotect(a, PG, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
    unsigned char vec[4] = {0};
    CHECK(mincore(a, 4 * PG, vec) == 0);
    CHECK(madvise(a, PG, MADV_DONTNEED) == 0);
    CHECK(a[0] == 0);
    CHECK(madvise(a, PG, MADV_WILLNEED) == 0);
    CHECK(munmap(a + PG, PG) == 0);
    CHECK(mincore(a, 4 * PG, vec) == -1 && errno == ENOMEM);
    CHECK(munmap(a, 4 * PG) == 0);
    CHECK(munmap(a, 4 * PG) == 0);
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 99, 0) == MAP_FAILED && errno == EBADF);
    CHECK(mmap((void *)0x12345, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED
          && errno == EINVAL);

    /* fixed */
    char *f = mmap((void *)0x20000000, 2 * PG, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(f == (char *)0x20000000);
    f[0] = 1;
    char *f2 = mmap(f, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(f2 == f && f[0] == 0);

    /* mremap */
    strcpy(f, "moving data");
    char *m = mremap(f, 2 * PG, 64 * PG, MREMAP_MAYMOVE);
    CHECK(m != MAP_FAILED && strcmp(m, "moving data") == 0);
    CHECK(m[63 * PG] == 0);
    char *m2 = mremap(m, 64 * PG, PG, 0);
    CHECK(m2 == m);
    CHECK(mremap(m, PG, 2 * PG, MREMAP_FIXED) == MAP_FAILED && errno == EINVAL);
    CHECK(munmap(m, PG) == 0);

    /* files */
    char name[] = "mapfile";
    int fd = open(name, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < 3000; i++)
        write(fd, "0123456789", 10);
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED && memcmp(p, "0123456789", 10) == 0);
    CHECK(p[PG] == '6');
    p[0] = 'X';
    char c;
    pread(fd, &c, 1, 0);
    CHECK(c == '0');
    char *p2 = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG * 7);
    CHECK(p2 != MAP_FAILED && p2[0] == '2' && p2[1327] == '9' && p2[1328] == 0);  /* tail of the last page: 0 */
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL);
    char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED);
    memcpy(s + 5, "SHARED", 6);
    char back[12] = {0};
    pread(fd, back, 11, 0);
    CHECK(strcmp(back, "01234SHARED") == 0);
    pwrite(fd, "file->map", 9, PG);
    CHECK(memcmp(s + PG, "file->map", 9) == 0);
    CHECK(msync(s, 2 * PG, MS_SYNC) == 0);
    CHECK(munmap(s, 2 * PG) == 0);
    CHECK(munmap(p, 3 * PG) == 0);
    int ro = open(name, O_RDONLY);
    CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
    char *r = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
    CHECK(r != MAP_FAILED && r[5] == 'S');
    CHECK(mprotect(r, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
    close(ro);
    close(fd);

    /* shared anonymous memory is shared with a child */
    int *shared = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *private = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        *shared = 1234;
        *private = 5678;
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(*shared == 1234 && *private == 0);

    /* /proc/self/maps lists the program and the stack */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int seen_stack = 0, seen_exe = 0, seen_file = 0, lines = 0;
    char *keep = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, open(name, O_RDONLY), 0);
    (void)keep;
    fclose(maps);
    maps = fopen("/proc/self/maps", "r");
    while (maps && fgets(line, sizeof line, maps)) {
        lines++;
        seen_stack |= strstr(line, "[stack]") != NULL;
        seen_exe |= strstr(line, "sc_mem") != NULL && strstr(line, "r-xp") != NULL;
        seen_file |= strstr(line, "/mapfile") != NULL;
    }
    CHECK(maps != NULL && lines > 3);
    CHECK(seen_stack && seen_exe && seen_file);
    unlink(name);
    printf("done\n");
    return 0;
}
