/* Memory workload: three passes over a 16 MiB buffer, byte by byte: a copy
   whose bytes are scrambled by a running checksum (a serial dependency, so the
   compiler cannot vectorise it into a memcpy), then an FNV-1a-style hash of the copy
   taken 16 bits at a time (with an extra xor-shift mix).
   About 646 M guest instructions (issue 7's table) with Debian's gcc -O2. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#define SIZE (16u << 20)

int main(void)
{
    unsigned char *src = malloc(SIZE), *dst = malloc(SIZE);
    if (!src || !dst)
        return 1;
    uint32_t seed = 1;
    for (size_t i = 0; i < SIZE; i += 4) {
        seed = seed * 1664525u + 1013904223u;
        src[i] = seed >> 24;
        src[i + 1] = seed >> 16;
        src[i + 2] = seed >> 8;
        src[i + 3] = seed;
    }
    uint64_t h = 1469598103934665603ULL;
    for (int pass = 0; pass < 3; pass++) {
        const unsigned char *restrict from = src;
        unsigned char *restrict to = dst;
        uint32_t run = pass;
        for (size_t i = 0; i < SIZE; i++) {
            unsigned char b = from[i];
            to[i] = b ^ (unsigned char)run;
            run = run * 31 + b;
        }
        const uint16_t *half = (const uint16_t *)dst;
        for (size_t i = 0; i < SIZE / 2; i++) {
            h = (h ^ half[i]) * 1099511628211ULL;
            h ^= h >> 29;
            h += h << 3;
            h ^= h >> 17;
        }
        unsigned char *t = src;
        src = dst;
        dst = t;
    }
    printf("hash=%016llx\n", (unsigned long long)h);
    free(src);
    free(dst);
    return 0;
}
