/* Floating point and vectorisable loops through glibc (printf, libm, memcpy, memchr,
   strlen, strtod): pyqemu must print what qemu-arm prints. */
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>
#include <fenv.h>
static unsigned char buf[4096], dst[4096];
int main(int argc, char **argv) {
    double acc = 0; float f = 1.5f;
    for (int i = 1; i < 200; i++) { acc += sqrt((double)i) / (i + 0.5); f = f * 1.01f + (float)i / 7.0f; }
    printf("%.17g %.9g\n", acc, (double)f);
    printf("%g %g %g %g\n", sin(1.0), exp(2.5), log(10.0), pow(2.0, 0.3));
    for (int i = 0; i < 4096; i++) buf[i] = (unsigned char)(i * 7 + 3);
    memcpy(dst + 3, buf + 1, 3000);
    unsigned s = 0; for (int i = 0; i < 4096; i++) s = s * 31 + dst[i];
    printf("%u %p %zu\n", s, memchr(buf, 200, 4096) ? (void*)1 : 0, strlen((char*)buf + 5));
    int v[1000]; for (int i = 0; i < 1000; i++) v[i] = i * i - 500 * i;
    long long t = 0; for (int i = 0; i < 1000; i++) t += v[i] > 0 ? v[i] : -v[i];
    printf("%lld %d\n", t, atoi("12345"));
    char tmp[64]; snprintf(tmp, sizeof tmp, "%.3f", strtod("3.14159", 0)); puts(tmp);
    float fa[256], fb[256]; short sa[256];
    for (int i = 0; i < 256; i++) { fa[i] = i * 0.37f - 20.0f; fb[i] = 1.0f / (i + 1); sa[i] = (short)(i * 301); }
    float fs = 0; for (int i = 0; i < 256; i++) fs += fa[i] * fb[i];
    int ss = 0; for (int i = 0; i < 256; i++) ss += sa[i] >> 3;
    printf("%.6g %d %ld %.4f\n", (double)fs, ss, lrint(2.5), nearbyint(-3.5));
    volatile double three = 3.0; fesetround(FE_UPWARD); double third = 1.0 / three; fesetround(FE_TONEAREST);
    printf("%.17g %.9g\n", third, (double)(float)third);
    volatile double z = 0.0; feclearexcept(FE_ALL_EXCEPT); volatile double q = 1.0 / z; (void)q;
    printf("%d %d\n", fetestexcept(FE_DIVBYZERO) != 0, fetestexcept(FE_INEXACT) != 0);
    return 0;
}
