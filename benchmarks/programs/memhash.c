/* Memory and hash loop: fill a buffer, FNV-1a hash it byte by byte, sum words. */
#include <stdio.h>
#include <stdint.h>

static uint8_t buf[1 << 16];

int main(void)
{
    uint64_t h = 1469598103934665603ULL, sum = 0;
    for (int round = 0; round < 12; round++) {
        for (unsigned i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)(i * 31 + round);
        for (unsigned i = 0; i < sizeof buf; i++) {
            h ^= buf[i];
            h *= 1099511628211ULL;
        }
        const uint64_t *w = (const uint64_t *)buf;
        for (unsigned i = 0; i < sizeof buf / 8; i++)
            sum += w[i];
    }
    printf("%016llx %llu\n", (unsigned long long)h, (unsigned long long)sum);
    return 0;
}
