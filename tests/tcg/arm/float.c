/*
 * Floating point: arithmetic, libm, printf/strtod conversions, float<->int
 * conversions including saturation, rounding modes, exception flags, fused
 * multiply-add, subnormals, NaN/Inf handling, float and long double.
 *
 * AArch32 copy of tests/tcg/aarch64/float.c: the saturating conversions use
 * VCVT (vcvt.s32.f64 / vcvt.u32.f64) instead of FCVTZS/FCVTZU, the 64-bit one
 * the run-time library, and long is 32 bits.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile double vzero = 0.0, vone = 1.0, vthree = 3.0;

static int32_t cvt_w(double d)
{
    int32_t r;
    float t;
    __asm__ volatile("vcvt.s32.f64 %0, %P1\n\tvmov %2, %0" : "=&t"(t), "=w"(d), "=r"(r) : "1"(d));
    return r;
}

static uint32_t cvt_uw(double d)
{
    uint32_t r;
    float t;
    __asm__ volatile("vcvt.u32.f64 %0, %P1\n\tvmov %2, %0" : "=&t"(t), "=w"(d), "=r"(r) : "1"(d));
    return r;
}

static int64_t cvt_x(double d)
{
    volatile double v = d;
    if (isnan(v)) {
        return 0;
    }
    return v >= 9223372036854775807.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN : (int64_t)v;
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static void test_arith(void)
{
    double a = vone / vthree, b = vthree * 1.5, c;
    float f = (float)vone / (float)vthree;

    printf("1/3 = %.17g (%016llx)\n", a, (unsigned long long)bits(a));
    printf("3*1.5 = %f, sub = %.20f\n", b, 0.3 - 0.1 * vthree);
    printf("float 1/3 = %.9g, as double %.17g\n", f, (double)f);
    c = 0;
    for (int i = 1; i <= 200; i++) {
        c += 1.0 / ((double)i * i);
    }
    printf("sum 1/i^2 (200) = %.15f\n", c);
    printf("fma(0.1,10,-1) = %.17g  naive = %.17g\n", fma(0.1, 10.0 * vone, -1.0), 0.1 * (10.0 * vone) - 1.0);
    printf("fmaf = %.9g\n", fmaf(1.0000001f, 3.0f * (float)vone, -3.0f));
}

static void test_libm(void)
{
    double xs[] = {0.5, 1.0, 2.0, 10.0, 123.456};
    for (unsigned i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        double x = xs[i] * vone;
        printf("x=%g sqrt=%.15g exp=%.15g log=%.15g sin=%.15g cos=%.15g atan2=%.15g pow=%.15g\n", x, sqrt(x),
               exp(x), log(x), sin(x), cos(x), atan2(x, 3.0), pow(x, 1.5));
    }
    printf("sqrtf(2)=%.9g cbrt(27)=%g hypot=%g\n", sqrtf(2.0f * (float)vone), cbrt(27.0 * vone),
           hypot(3.0 * vone, 4.0));
    printf("floor=%g ceil=%g trunc=%g round=%g rint=%g\n", floor(-2.5 * vone), ceil(-2.5 * vone),
           trunc(-2.5 * vone), round(-2.5 * vone), rint(-2.5 * vone));
    printf("fmod=%g remainder=%g frexp=", fmod(10.5 * vone, 3.0), remainder(10.5 * vone, 3.0));
    int e;
    double m = frexp(48.0 * vone, &e);
    printf("%g*2^%d ldexp=%g modf=", m, e, ldexp(0.75 * vone, 10));
    double ip, fp = modf(-3.75 * vone, &ip);
    printf("%g,%g\n", ip, fp);
    printf("fmin=%g fmax=%g copysign=%g fabs=%g\n", fmin(1.0 * vone, NAN), fmax(-1.0, 2.0 * vone),
           copysign(3.0 * vone, -0.0), fabs(-7.25 * vone));
}

static void test_printf(void)
{
    double vals[] = {0.0, -0.0, 1.0, -1.5, 3.14159265358979, 1e-5, 123456789.125, 6.02214076e23,
                     1.7976931348623157e308, 2.2250738585072014e-308, 4.9e-324, 0.1};
    for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        double v = vals[i] * vone;
        printf("%%f=%f %%e=%e %%g=%g %%.3f=%.3f %%.10e=%.10e %%a=%a\n", v, v, v, v, v, v);
    }
    printf("width: [%10.2f] [%-10.2f] [%+e] [%010.3f] [% g]\n", 3.14159, 2.5, 12345.678, -1.5, 42.0);
    printf("inf=%f -inf=%e nan=%g -nan=%f\n", 1.0 / vzero, -1.0 / vzero, NAN * vone, -NAN * vone);
    printf("float: %f %e %g\n", 1.1f, 1.1f, 1.1f);
    const char *strs[] = {"3.5", "-1e10", "0x1.8p3", "1e-320", "inf", "nan", "  12.5abc", "1e400"};
    for (unsigned i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        char *end;
        double d = strtod(strs[i], &end);
        printf("strtod(\"%s\") = %g (%016llx) consumed=%d\n", strs[i], d, (unsigned long long)bits(d),
               (int)(end - strs[i]));
    }
    printf("atof=%g strtof=%.9g\n", atof("2.718281828"), strtof("0.1", NULL));
}

static void test_conversions(void)
{
    double ds[] = {0.0, 0.9, -0.9, 1.5, -1.5, 2.5, 1e9, -1e9, 3e9, -3e9, 1e19, -1e19, 1e30};
    for (unsigned i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        double d = ds[i] * vone;
        printf("%g -> w=%d uw=%u x=%lld\n", d, cvt_w(d), cvt_uw(d), (long long)cvt_x(d));
    }
    double specials[] = {INFINITY, -INFINITY, NAN};
    for (unsigned i = 0; i < 3; i++) {
        double d = specials[i] * vone;
        printf("%f -> w=%d uw=%u x=%lld\n", d, cvt_w(d), cvt_uw(d), (long long)cvt_x(d));
    }
    /* C conversions of in-range values */
    volatile double big = 4294967295.0, neg = -123.999;
    volatile float ff = 16777217.0f;
    printf("(unsigned)%.1f=%u (int)%.3f=%d (long)%.1f=%ld float(16777217)=%.1f\n", big, (unsigned)big, neg,
           (int)neg, big, (long)big, (double)ff);
    volatile long long l = 9007199254740993LL;
    volatile unsigned long long ul = 18446744073709551615ULL;
    printf("(double)%lld=%.1f (double)%llu=%.1f (float)%lld=%.1f\n", l, (double)l, ul, (double)ul, l, (double)(float)l);
    printf("lrint(2.5)=%ld lround(2.5)=%ld llrint(-3.5)=%lld\n", lrint(2.5 * vone), lround(2.5 * vone),
           llrint(-3.5 * vone));
}

static void test_fenv(void)
{
    int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    const char *names[] = {"nearest", "upward", "downward", "towardzero"};
    for (int i = 0; i < 4; i++) {
        fesetround(modes[i]);
        double x = vone / vthree;
        printf("%-10s rint(2.5)=%g rint(-2.5)=%g 1/3=%.17g nearbyint(1.5)=%g\n", names[i], rint(2.5 * vone),
               rint(-2.5 * vone), x, nearbyint(1.5 * vone));
    }
    fesetround(FE_TONEAREST);
    feclearexcept(FE_ALL_EXCEPT);
    volatile double r = vone / vzero;
    printf("div-by-zero flag=%d inexact=%d (r=%g)\n", fetestexcept(FE_DIVBYZERO) != 0,
           fetestexcept(FE_INEXACT) != 0, r);
    feclearexcept(FE_ALL_EXCEPT);
    r = vone / vthree;
    printf("inexact=%d invalid=%d\n", fetestexcept(FE_INEXACT) != 0, fetestexcept(FE_INVALID) != 0);
    feclearexcept(FE_ALL_EXCEPT);
    r = sqrt(-vone);
    printf("sqrt(-1)=%f invalid=%d\n", r, fetestexcept(FE_INVALID) != 0);
    feclearexcept(FE_ALL_EXCEPT);
    r = DBL_MAX * (vthree);
    printf("overflow=%d r=%g\n", fetestexcept(FE_OVERFLOW) != 0, r);
    feclearexcept(FE_ALL_EXCEPT);
    r = DBL_MIN / (vthree * 1e10);
    printf("underflow=%d r=%g\n", fetestexcept(FE_UNDERFLOW) != 0, r);
}

static void test_misc(void)
{
    double sub = DBL_MIN / 4 * vone;
    printf("subnormal=%g fpclassify-subnormal=%d isnormal=%d\n", sub, fpclassify(sub) == FP_SUBNORMAL,
           isnormal(sub));
    printf("nan==nan:%d isnan:%d isinf:%d signbit(-0.0)=%d\n", NAN * vone == NAN * vone, isnan(NAN * vone),
           isinf(-INFINITY * vone), signbit(-0.0 * vone) != 0);
    printf("nextafter(1,2)=%.17g eps=%g\n", nextafter(vone, 2.0), DBL_EPSILON);
    long double q = (long double)vone / 3.0L;
    printf("long double 1/3 = %.30Lf sizeof=%zu\n", q, sizeof(long double));
    long double big = 1.0L;
    for (int i = 0; i < 70; i++) {
        big *= 2;
    }
    printf("2^70 = %.1Lf sqrtl(2)=%.30Lf\n", big, sqrtl(2.0L * vone));
    float acc = 0;
    for (int i = 0; i < 1000; i++) {
        acc += 0.001f;
    }
    printf("float accumulate=%.9g\n", acc);
    double data[] = {3.5, -1.0, 2.25, 1e-3, -7.0, 0.0};
    double sum = 0, prod = 1;
    for (unsigned i = 0; i < 6; i++) {
        sum += data[i] * vone;
        prod *= data[i] != 0 ? data[i] : 1;
    }
    printf("sum=%.17g prod=%.17g\n", sum, prod);
}

int main(void)
{
    test_arith();
    test_libm();
    test_printf();
    test_conversions();
    test_fenv();
    test_misc();
    return 0;
}
