/* Integer and branch loop: arithmetic, compares, a data-dependent branch. */
#include <stdio.h>

int main(void)
{
    unsigned long long a = 1, b = 0, c = 7;
    for (unsigned long long i = 0; i < 3000000; i++) {
        a = a * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((a >> 33) & 1)
            b += a ^ i;
        else
            c ^= b + (i << 3);
    }
    printf("%llu %llu\n", b, c);
    return 0;
}
