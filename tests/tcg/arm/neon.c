/*
 * AArch32 Advanced SIMD (NEON, built with -mfpu=neon) and VFP: integer,
 * saturating (FPSCR.QC), widening/narrowing, shifts, permutes, table
 * lookups, structure loads/stores, FP arithmetic (flush-to-zero, as NEON
 * does), estimates, conversions, and VFP scalar arithmetic in every rounding
 * mode with the FPSCR exception flags.  Each test prints a hash of all result
 * lanes and FPSCR, so any lane that differs from the reference shows up.
 */
#include <arm_neon.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t h = 0xcbf29ce484222325ULL;
static uint32_t seed = 0x12345678;

static uint32_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed;
}

static void mixb(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ c[i]) * 0x100000001b3ULL;
    }
}

#define MIX(v) mixb(&(v), sizeof(v))

static uint32_t get_fpscr(void)
{
    uint32_t r;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(r));
    return r;
}

static void set_fpscr(uint32_t v)
{
    __asm__ volatile("vmsr fpscr, %0" : : "r"(v));
}

static void report(const char *name)
{
    printf("%-12s %016llx fpscr=%08x\n", name, (unsigned long long)h, get_fpscr());
    h = 0xcbf29ce484222325ULL;
    set_fpscr(0);
}

static const uint32_t fspecial[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345, 0x00000001,
    0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf000000, 0x3fc00000, 0x4f000000,
    0xcf000000, 0x5f000000, 0x4b800001, 0x3effffff,
};

static uint32x4_t rq32(void)
{
    uint32_t v[4] = {rnd(), rnd(), rnd(), rnd()};
    return vld1q_u32(v);
}

static float32x4_t rqf(void)
{
    uint32_t v[4];
    for (int i = 0; i < 4; i++) {
        uint32_t r = rnd();
        v[i] = (r & 7) == 0 ? fspecial[(r >> 8) % (sizeof(fspecial) / 4)] : (r & 0x80000000) | ((r >> 3) & 0x3fffffff) | 0x30000000;
    }
    return vreinterpretq_f32_u32(vld1q_u32(v));
}

static void test_int(void)
{
    for (int i = 0; i < 200; i++) {
        uint32x4_t a = rq32(), b = rq32();
        uint8x16_t a8 = vreinterpretq_u8_u32(a), b8 = vreinterpretq_u8_u32(b);
        int16x8_t s16a = vreinterpretq_s16_u32(a), s16b = vreinterpretq_s16_u32(b);
        uint32x4_t r1 = vaddq_u32(a, b);
        uint32x4_t r2 = vmlaq_u32(a, b, r1);
        uint8x16_t r3 = vabdq_u8(a8, b8);
        int16x8_t r4 = vhsubq_s16(s16a, s16b);
        uint8x16_t r5 = vbslq_u8(vcgtq_u8(a8, b8), a8, b8);
        uint32x4_t r6 = vshlq_u32(a, vreinterpretq_s32_u32(vandq_u32(b, vdupq_n_u32(0x8000001f))));
        uint8x16_t r7 = vcntq_u8(a8);
        uint32x4_t r8 = vclzq_u32(vshrq_n_u32(b, 7));
        int32x4_t r9 = vrshrq_n_s32(vreinterpretq_s32_u32(a), 5);
        uint64x2_t r10 = vpadalq_u32(vreinterpretq_u64_u32(b), a);
        uint16x8_t r11 = vmull_u8(vget_low_u8(a8), vget_high_u8(b8));
        int32x4_t r12 = vmovl_s16(vget_high_s16(s16a));
        uint8x8_t r13 = vmovn_u16(vreinterpretq_u16_u32(b));
        uint32x2_t r14 = vpadd_u32(vget_low_u32(a), vget_high_u32(b));
        uint32x4_t r15 = vsliq_n_u32(a, b, 9);
        MIX(r1), MIX(r2), MIX(r3), MIX(r4), MIX(r5), MIX(r6), MIX(r7), MIX(r8);
        MIX(r9), MIX(r10), MIX(r11), MIX(r12), MIX(r13), MIX(r14), MIX(r15);
    }
    report("int");
}

static void test_saturating(void)
{
    for (int i = 0; i < 200; i++) {
        uint32x4_t a = rq32(), b = rq32();
        int8x16_t s8a = vreinterpretq_s8_u32(a), s8b = vreinterpretq_s8_u32(b);
        int16x8_t s16a = vreinterpretq_s16_u32(a), s16b = vreinterpretq_s16_u32(b);
        int32x4_t s32a = vreinterpretq_s32_u32(a), s32b = vreinterpretq_s32_u32(b);
        int8x16_t r1 = vqaddq_s8(s8a, s8b);
        uint16x8_t r2 = vqsubq_u16(vreinterpretq_u16_u32(a), vreinterpretq_u16_u32(b));
        int16x8_t r3 = vqdmulhq_s16(s16a, s16b);
        int32x4_t r4 = vqrdmulhq_s32(s32a, s32b);
        int32x4_t r5 = vqshlq_s32(s32a, vandq_s32(s32b, vdupq_n_s32(0x8000000f)));
        int8x8_t r6 = vqmovn_s16(s16a);
        uint8x8_t r7 = vqmovun_s16(s16b);
        int16x4_t r8 = vqrshrn_n_s32(s32a, 11);
        int32x4_t r9 = vqabsq_s32(s32b);
        int64x2_t r10 = vqdmull_s32(vget_low_s32(s32a), vget_high_s32(s32b));
        MIX(r1), MIX(r2), MIX(r3), MIX(r4), MIX(r5), MIX(r6), MIX(r7), MIX(r8), MIX(r9), MIX(r10);
    }
    report("saturating");
}

static void test_permute(void)
{
    uint8_t buf[64], out[64];
    for (int i = 0; i < 100; i++) {
        uint32x4_t a = rq32(), b = rq32();
        uint8x16_t a8 = vreinterpretq_u8_u32(a), b8 = vreinterpretq_u8_u32(b);
        uint8x16x2_t z = vzipq_u8(a8, b8);
        uint16x8x2_t u = vuzpq_u16(vreinterpretq_u16_u32(a), vreinterpretq_u16_u32(b));
        uint32x4x2_t t = vtrnq_u32(a, b);
        uint8x16_t e = vextq_u8(a8, b8, 5);
        uint8x16_t r = vrev64q_u8(a8);
        uint8x8x2_t tbl = {{vget_low_u8(a8), vget_high_u8(a8)}};
        uint8x8_t l = vtbl2_u8(tbl, vand_u8(vget_low_u8(b8), vdup_n_u8(0x1f)));
        uint8x8_t x = vtbx1_u8(vget_high_u8(b8), vget_low_u8(a8), vand_u8(vget_high_u8(a8), vdup_n_u8(0xf)));
        uint32x4_t d = vdupq_lane_u32(vget_high_u32(a), 1);
        MIX(z), MIX(u), MIX(t), MIX(e), MIX(r), MIX(l), MIX(x), MIX(d);
        for (int k = 0; k < 64; k++) {
            buf[k] = (uint8_t)rnd();
        }
        uint8x16x3_t s3 = vld3q_u8(buf);
        uint16x4x4_t s4 = vld4_u16((const uint16_t *)buf);
        uint32x2x2_t s2 = vld2_u32((const uint32_t *)(buf + 8));
        memset(out, 0, sizeof(out));
        vst3q_u8(out, s3);
        MIX(out);
        vst4_u16((uint16_t *)out, s4);
        vst2_u32((uint32_t *)(out + 32), s2);
        uint16x4_t lane = vld1_lane_u16((const uint16_t *)(buf + 2), vget_low_u16(u.val[0]), 3);
        vst1q_lane_u32((uint32_t *)(out + 48), a, 2);
        MIX(out), MIX(s3), MIX(s4), MIX(s2), MIX(lane);
    }
    report("permute");
}

static void test_float(void)
{
    for (int i = 0; i < 200; i++) {
        float32x4_t a = rqf(), b = rqf(), c = rqf();
        float32x4_t r1 = vaddq_f32(a, b);
        float32x4_t r2 = vmulq_f32(a, b);
        float32x4_t r3 = vmlaq_f32(c, a, b);
        float32x4_t r4 = vfmaq_f32(c, a, b);
        float32x4_t r5 = vmaxq_f32(a, b);
        float32x4_t r6 = vabdq_f32(a, b);
        float32x4_t r7 = vrecpeq_f32(a);
        float32x4_t r8 = vrsqrtsq_f32(a, b);
        float32x4_t r9 = vrecpsq_f32(a, b);
        uint32x4_t r10 = vcgeq_f32(a, b);
        int32x4_t r11 = vcvtq_s32_f32(a);
        uint32x4_t r12 = vcvtq_u32_f32(b);
        float32x4_t r13 = vcvtq_f32_s32(vreinterpretq_s32_f32(c));
        int32x4_t r14 = vcvtq_n_s32_f32(b, 8);
        uint32x4_t r15 = vrsqrteq_u32(vreinterpretq_u32_f32(a));
        float32x2_t r16 = vpmin_f32(vget_low_f32(a), vget_high_f32(b));
        MIX(r1), MIX(r2), MIX(r3), MIX(r4), MIX(r5), MIX(r6), MIX(r7), MIX(r8);
        MIX(r9), MIX(r10), MIX(r11), MIX(r12), MIX(r13), MIX(r14), MIX(r15), MIX(r16);
    }
    report("float");
}

static void test_vfp_rounding(void)
{
    static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    for (int m = 0; m < 4; m++) {
        fesetround(modes[m]);
        for (int i = 0; i < 100; i++) {
            uint32_t x = rnd(), y = rnd();
            volatile float fa, fb;
            memcpy((void *)&fa, &x, 4);
            memcpy((void *)&fb, &y, 4);
            volatile double da = (double)(int32_t)x / 7.0, db = (double)y * 1e-5;
            float f1 = fa + fb, f2 = fa * fb, f3 = fa / fb, f4 = sqrtf(fabsf(fa)), f5 = fmaf(fa, fb, 1.0f);
            double d1 = da / db, d2 = sqrt(fabs(da)), d3 = fma(da, db, -da), d4 = rint(da);
            int32_t c1 = (int32_t)lrintf(fa * 1e-20f), c2 = (int32_t)da;
            float f6 = (float)da;
            MIX(f1), MIX(f2), MIX(f3), MIX(f4), MIX(f5), MIX(d1), MIX(d2), MIX(d3), MIX(d4);
            MIX(c1), MIX(c2), MIX(f6);
        }
        uint32_t flags = get_fpscr();
        MIX(flags);
        fesetround(FE_TONEAREST);
        report(m == 0 ? "vfp-nearest" : m == 1 ? "vfp-up" : m == 2 ? "vfp-down" : "vfp-zero");
    }
}

static void test_autovec(void)
{
    static int32_t a[1024], b[1024], c[1024];
    static float fa[512], fb[512];
    for (int i = 0; i < 1024; i++) {
        a[i] = (int32_t)rnd();
        b[i] = (int32_t)rnd() >> 7;
    }
    for (int i = 0; i < 1024; i++) {
        c[i] = a[i] * 3 + (b[i] >> 2) - (a[i] & b[i]);
    }
    for (int i = 0; i < 512; i++) {
        fa[i] = (float)a[i] * 1e-6f;
        fb[i] = fa[i] * fa[i] + 0.5f;
    }
    int64_t sum = 0;
    for (int i = 0; i < 1024; i++) {
        sum += c[i];
    }
    MIX(c), MIX(fb), MIX(sum);
    report("autovec");
}

int main(void)
{
    set_fpscr(0);
    test_int();
    test_saturating();
    test_permute();
    test_float();
    test_vfp_rounding();
    test_autovec();
    return 0;
}
