/* Integer/branch workload: a sieve of Eratosthenes to 2,000,000, then a
   29.5-million-step multiplicative hash with a data-dependent branch (one arm
   stores to a histogram, so the compiler keeps the branch rather than a csel).
   About 292 M guest instructions (issue 7's table) with Debian's gcc -O2. */
#include <stdio.h>
#include <stdint.h>

#define N 2000000
static unsigned char composite[N + 1];
static unsigned hist[256];

int main(void)
{
    unsigned long primes = 0;
    for (unsigned long i = 2; i * i <= N; i++)
        if (!composite[i])
            for (unsigned long j = i * i; j <= N; j += i)
                composite[j] = 1;
    for (unsigned long i = 2; i <= N; i++)
        primes += !composite[i];

    uint64_t h = 0x9e3779b97f4a7c15ULL, acc = 0;
    for (unsigned long i = 0; i < 29500000; i++) {
        h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL + i;
        if (h & 0x100)
            acc += h >> 7;
        else
            hist[(h >> 40) & 255]++;
    }
    for (int i = 0; i < 256; i++)
        acc = acc * 31 + hist[i];
    printf("primes=%lu hash=%016llx acc=%016llx\n", primes,
           (unsigned long long)h, (unsigned long long)acc);
    return 0;
}
