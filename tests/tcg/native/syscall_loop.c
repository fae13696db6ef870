/* A hot loop whose body calls a function that makes a system call every N
   iterations, so the native code leaves for the Python tier (SVC) and comes
   back: getpid(), an 8-byte round trip through a pipe (the loop's state goes
   through the kernel and back), and a byte written to a second pipe that is
   read and hashed at the end. The hashes must not depend on the tier. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N_PERIOD 997 /* iterations between system calls */

static int echo[2], tape[2];
static pid_t pid;
static unsigned long calls[3];

static uint64_t mix(uint64_t h, uint64_t i)
{
    h ^= i * 0x9e3779b97f4a7c15UL;
    h = (h << 17 | h >> 47) * 9 + 0x632be59bd9b4e019UL;
    return h;
}

static __attribute__((noinline)) uint64_t sys_step(uint64_t h, unsigned long i)
{
    uint64_t x = 0;
    switch ((i / N_PERIOD) % 3) {
    case 0:
        if (syscall(SYS_getpid) == pid)
            h += 0x55;
        break;
    case 1:
        if (write(echo[1], &h, sizeof h) == sizeof h && read(echo[0], &x, sizeof x) == sizeof x)
            h = h * 3 ^ (x >> 7);
        break;
    default: {
        unsigned char b = (unsigned char)(h >> 24);
        h += (uint64_t)write(tape[1], &b, 1) << 40;
        break;
    }
    }
    calls[(i / N_PERIOD) % 3]++;
    return h;
}

/* Called on every iteration; a system call every N_PERIOD-th time. */
static __attribute__((noinline)) uint64_t step(uint64_t h, unsigned long i)
{
    h = mix(h, i);
    if (i % N_PERIOD == 0)
        h = sys_step(h, i);
    return h;
}

static __attribute__((noinline)) uint64_t run(unsigned long n)
{
    uint64_t h = 1;
    for (unsigned long i = 0; i < n; i++)
        h = step(h, i);
    return h;
}

int main(void)
{
    pid = getpid();
    if (pipe(echo) || pipe(tape))
        return 2;
    uint64_t h = run(600000);
    close(tape[1]);
    unsigned char buf[4096];
    uint64_t t = 0;
    long total = 0, got;
    while ((got = read(tape[0], buf, sizeof buf)) > 0)
        for (long k = 0; k < got; k++, total++)
            t = (t ^ buf[k]) * 0x100000001b3UL;
    printf("hash %016llx\n", (unsigned long long)h);
    printf("system calls: getpid %lu, pipe round trips %lu, tape bytes %lu (read back %ld, hash %016llx)\n",
           calls[0], calls[1], calls[2], total, (unsigned long long)t);
    return 0;
}
