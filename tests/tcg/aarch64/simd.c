/*
 * Advanced SIMD and floating point through NEON intrinsics and auto-vectorised
 * loops: integer, saturating (FPSR.QC), widening/narrowing, permutes, table
 * lookups, structure loads/stores, FP arithmetic, estimates, conversions and
 * rounding in every FPCR rounding mode, with FPSR exception flags. Each test
 * prints a hash of all result lanes plus a few values, so any lane that
 * differs from the reference shows up.
 */
#include <arm_neon.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t h;
static uint32_t seed = 0x12345678;

static uint32_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed;
}

static void mixb(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
}

#define MIX(v) mixb(&(v), sizeof(v))

static uint64_t get_fpsr(void)
{
    uint64_t r;
    __asm__ volatile("mrs %0, fpsr" : "=r"(r));
    return r;
}

static void set_fpsr(uint64_t v)
{
    __asm__ volatile("msr fpsr, %0" : : "r"(v));
}

static void report(const char *name)
{
    printf("%-12s %016llx fpsr=%08llx\n", name, (unsigned long long)h, (unsigned long long)get_fpsr());
    h = 0xcbf29ce484222325ULL;
    set_fpsr(0);
}

/* Special FP values mixed into the random inputs. */
static const uint32_t fspecial[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345, 0x00000001,
    0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf000000, 0x3fc00000, 0x4f000000,
    0xcf000000, 0x5f000000, 0x4b800001, 0x3effffff,
};
static const uint64_t dspecial[] = {
    0, 0x8000000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL, 0x7ff8000000000000ULL,
    0x7ff0000000000001ULL, 0x0000000000000001ULL, 0x000fffffffffffffULL, 0x0010000000000000ULL,
    0x7fefffffffffffffULL, 0x3ff0000000000000ULL, 0xbfe0000000000000ULL, 0x43e0000000000000ULL,
    0xc3e0000000000000ULL, 0x41e0000000000000ULL, 0x4330000000000001ULL, 0x3fdfffffffffffffULL,
};

static float rf(void)
{
    uint32_t r = rnd();
    float f;
    if (r % 4 == 0) {
        uint32_t b = fspecial[(r >> 8) % (sizeof(fspecial) / 4)];
        memcpy(&f, &b, 4);
        return f;
    }
    return (float)(int32_t)rnd() / (float)(1 << (r % 24)) * ((r & 0x100) ? 1e-3f : 1.0f);
}

static double rd(void)
{
    uint32_t r = rnd();
    double d;
    if (r % 4 == 0) {
        uint64_t b = dspecial[(r >> 8) % (sizeof(dspecial) / 8)];
        memcpy(&d, &b, 8);
        return d;
    }
    return (double)(int64_t)((uint64_t)rnd() << 32 | rnd()) / (double)(1ULL << (r % 60));
}

static uint8x16_t ru8(void)
{
    uint8_t b[16];
    for (int i = 0; i < 16; i++) {
        uint32_t r = rnd();
        b[i] = (r & 0x300) == 0 ? (uint8_t)((r & 1) ? 0x80 : 0x7f) : (uint8_t)(r >> 16);
    }
    return vld1q_u8(b);
}

static float32x4_t rf4(void)
{
    float f[4] = {rf(), rf(), rf(), rf()};
    return vld1q_f32(f);
}

static float64x2_t rd2(void)
{
    double d[2] = {rd(), rd()};
    return vld1q_f64(d);
}

static void test_int(void)
{
    for (int i = 0; i < 60; i++) {
        uint8x16_t a = ru8(), b = ru8(), c = ru8();
        int16x8_t sa = vreinterpretq_s16_u8(a), sb = vreinterpretq_s16_u8(b);
        int32x4_t ia = vreinterpretq_s32_u8(a), ib = vreinterpretq_s32_u8(b);
        int64x2_t la = vreinterpretq_s64_u8(a), lb = vreinterpretq_s64_u8(b);
        uint8x16_t r8[] = {vaddq_u8(a, b), vsubq_u8(a, b), vmulq_u8(a, b), vmlaq_u8(c, a, b),
                           vceqq_u8(a, b), vcgtq_u8(a, b), vcgeq_u8(a, b), vtstq_u8(a, b),
                           vmaxq_u8(a, b), vminq_u8(a, b), vabdq_u8(a, b), vabaq_u8(c, a, b),
                           vhaddq_u8(a, b), vrhaddq_u8(a, b), vhsubq_u8(a, b), vpaddq_u8(a, b),
                           vpmaxq_u8(a, b), vpminq_u8(a, b), vcntq_u8(a), vclzq_u8(a),
                           vrbitq_u8(a), vmvnq_u8(a), vbslq_u8(c, a, b), vbicq_u8(a, b),
                           vornq_u8(a, b), veorq_u8(a, b), vreinterpretq_u8_p8(vmulq_p8(vreinterpretq_p8_u8(a), vreinterpretq_p8_u8(b))), vceqzq_u8(a),
                           vreinterpretq_u8_s8(vabsq_s8(vreinterpretq_s8_u8(a))),
                           vreinterpretq_u8_s8(vnegq_s8(vreinterpretq_s8_u8(a))),
                           vreinterpretq_u8_s8(vclsq_s8(vreinterpretq_s8_u8(a))),
                           vcltzq_s8(vreinterpretq_s8_u8(a)), vclezq_s8(vreinterpretq_s8_u8(a)),
                           vcgtq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b))};
        MIX(r8);
        int16x8_t r16[] = {vaddq_s16(sa, sb), vmulq_s16(sa, sb), vmlsq_s16(sa, sa, sb), vmaxq_s16(sa, sb),
                           vpaddq_s16(sa, sb), vpminq_s16(sa, sb), vabdq_s16(sa, sb),
                           vmulq_laneq_s16(sa, sb, 5), vmlaq_laneq_s16(sa, sa, sb, 7), vshlq_s16(sa, sb),
                           vrshlq_s16(sa, sb), vreinterpretq_s16_u16(vcgeq_s16(sa, sb)),
                           vreinterpretq_s16_u16(vclzq_u16(vreinterpretq_u16_s16(sa))),
                           vreinterpretq_s16_u8(vrev64q_u8(a)), vreinterpretq_s16_u8(vrev32q_u8(a)),
                           vreinterpretq_s16_u8(vrev16q_u8(a)), vrev64q_s16(sa)};
        MIX(r16);
        int32x4_t r32[] = {vaddq_s32(ia, ib), vmulq_s32(ia, ib), vhaddq_s32(ia, ib), vminq_s32(ia, ib),
                           vpaddq_s32(ia, ib), vshlq_s32(ia, ib), vabsq_s32(ia), vnegq_s32(ia),
                           vreinterpretq_s32_u32(vshlq_u32(vreinterpretq_u32_s32(ia), ib)),
                           vmulq_laneq_s32(ia, ib, 3), vmlsq_laneq_s32(ia, ib, ia, 2),
                           vreinterpretq_s32_u32(vcgtzq_s32(ia))};
        MIX(r32);
        int64x2_t r64[] = {vaddq_s64(la, lb), vsubq_s64(la, lb), vpaddq_s64(la, lb), vshlq_s64(la, lb),
                           vreinterpretq_s64_u64(vcgtq_s64(la, lb)), vreinterpretq_s64_u64(vceqq_s64(la, la)),
                           vabsq_s64(la), vnegq_s64(lb), vreinterpretq_s64_u64(vcltzq_s64(la))};
        MIX(r64);
        uint64_t across[] = {vaddvq_u8(a), vmaxvq_u8(a), vminvq_u8(b), vaddlvq_u8(a), vaddlvq_s16(sa),
                             vmaxvq_s32(ia), vminvq_u16(vreinterpretq_u16_u8(b)), vaddvq_s32(ib),
                             vaddvq_u64(vreinterpretq_u64_u8(a)), vaddlvq_u32(vreinterpretq_u32_u8(b)),
                             vmaxv_u8(vget_low_u8(a)), vaddv_s16(vget_high_s16(sb))};
        MIX(across);
    }
    report("int");
}

static void test_sat(void)
{
    for (int i = 0; i < 60; i++) {
        uint8x16_t a = ru8(), b = ru8();
        int8x16_t s8a = vreinterpretq_s8_u8(a), s8b = vreinterpretq_s8_u8(b);
        int16x8_t sa = vreinterpretq_s16_u8(a), sb = vreinterpretq_s16_u8(b);
        int32x4_t ia = vreinterpretq_s32_u8(a), ib = vreinterpretq_s32_u8(b);
        uint8x16_t r8[] = {vqaddq_u8(a, b), vqsubq_u8(a, b),
                           vreinterpretq_u8_s8(vqaddq_s8(s8a, s8b)), vreinterpretq_u8_s8(vqsubq_s8(s8a, s8b)),
                           vreinterpretq_u8_s8(vqabsq_s8(s8a)), vreinterpretq_u8_s8(vqnegq_s8(s8a)),
                           vqshlq_u8(a, s8b), vreinterpretq_u8_s8(vqrshlq_s8(s8a, s8b)),
                           vqshlq_n_u8(a, 3), vreinterpretq_u8_s8(vqshlq_n_s8(s8a, 5)), vqshluq_n_s8(s8a, 2),
                           vreinterpretq_u8_s8(vuqaddq_s8(s8a, b)),
                           vsqaddq_u8(a, s8b)};
        MIX(r8);
        int16x8_t r16[] = {vqdmulhq_s16(sa, sb), vqrdmulhq_s16(sa, sb), vqdmulhq_laneq_s16(sa, sb, 1),
                           vqrdmulhq_laneq_s16(sa, sb, 6), vqaddq_s16(sa, sb)};
        MIX(r16);
        int32x4_t r32[] = {vqdmull_s16(vget_low_s16(sa), vget_low_s16(sb)), vqdmull_high_s16(sa, sb),
                           vqdmlal_s16(ia, vget_low_s16(sa), vget_high_s16(sb)),
                           vqdmlsl_high_s16(ib, sa, sb), vqdmull_laneq_s16(vget_low_s16(sa), sb, 3),
                           vqdmulhq_s32(ia, ib), vqrdmulhq_s32(ia, ib)};
        MIX(r32);
        int8x16_t n8 = vcombine_s8(vqmovn_s16(sa), vqmovn_s16(sb));
        uint8x16_t un8 = vcombine_u8(vqmovun_s16(sa), vqmovn_u16(vreinterpretq_u16_s16(sb)));
        int16x8_t n16 = vcombine_s16(vqshrn_n_s32(ia, 9), vqrshrn_n_s32(ib, 13));
        uint16x8_t un16 = vcombine_u16(vqshrun_n_s32(ia, 3), vqrshrun_n_s32(ib, 12));
        MIX(n8); MIX(un8); MIX(n16); MIX(un16);
        int64_t sc[] = {vqaddd_s64(vgetq_lane_s64(vreinterpretq_s64_u8(a), 0), INT64_MAX),
                        vqsubh_s16(vgetq_lane_s16(sa, 1), 30000), vqdmulhs_s32(vgetq_lane_s32(ia, 2), INT32_MIN),
                        vqmovnd_s64(vgetq_lane_s64(vreinterpretq_s64_u8(b), 1)), vqabsb_s8(-128),
                        vqshlb_n_s8(vgetq_lane_s8(s8a, 3), 4), vqrshrns_n_s32(vgetq_lane_s32(ib, 0), 7)};
        MIX(sc);
        if (i % 20 == 19)
            report("sat");
    }
}

static void test_shift_narrow_widen(void)
{
    for (int i = 0; i < 60; i++) {
        uint8x16_t a = ru8(), b = ru8();
        int16x8_t sa = vreinterpretq_s16_u8(a);
        uint32x4_t ua = vreinterpretq_u32_u8(a);
        int64x2_t la = vreinterpretq_s64_u8(a);
        uint8x16_t r8[] = {vshlq_n_u8(a, 3), vshrq_n_u8(a, 7), vrshrq_n_u8(a, 2), vsraq_n_u8(b, a, 1),
                           vrsraq_n_u8(b, a, 8), vsliq_n_u8(b, a, 5), vsriq_n_u8(b, a, 3),
                           vcombine_u8(vshrn_n_u16(vreinterpretq_u16_u8(a), 4),
                                       vrshrn_n_u16(vreinterpretq_u16_u8(b), 8)),
                           vcombine_u8(vmovn_u16(vreinterpretq_u16_u8(a)), vmovn_u16(vreinterpretq_u16_u8(b))),
                           vshrn_high_n_u16(vget_low_u8(a), vreinterpretq_u16_u8(b), 4),
                           vaddhn_high_u16(vget_low_u8(b), vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)),
                           vcombine_u8(vraddhn_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)),
                                       vsubhn_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)))};
        MIX(r8);
        int16x8_t r16[] = {vshrq_n_s16(sa, 15), vshrq_n_s16(sa, 3), vrshrq_n_s16(sa, 16), vsraq_n_s16(sa, sa, 9),
                           vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(a))), vmovl_high_s8(vreinterpretq_s8_u8(b)),
                           vreinterpretq_s16_u16(vshll_n_u8(vget_high_u8(a), 8)),
                           vshll_n_s8(vget_low_s8(vreinterpretq_s8_u8(b)), 3),
                           vreinterpretq_s16_u16(vaddl_u8(vget_low_u8(a), vget_low_u8(b))),
                           vsubl_high_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)),
                           vaddw_s8(sa, vget_low_s8(vreinterpretq_s8_u8(b))),
                           vreinterpretq_s16_u16(vsubw_high_u8(vreinterpretq_u16_u8(b), a)),
                           vreinterpretq_s16_u16(vabdl_u8(vget_low_u8(a), vget_low_u8(b))),
                           vabal_high_s8(sa, vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)),
                           vreinterpretq_s16_u16(vmull_u8(vget_low_u8(a), vget_low_u8(b))),
                           vmlal_high_s8(sa, vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)),
                           vmlsl_s8(sa, vget_high_s8(vreinterpretq_s8_u8(a)), vget_low_s8(vreinterpretq_s8_u8(b))),
                           vpaddlq_s8(vreinterpretq_s8_u8(a)), vpadalq_s8(sa, vreinterpretq_s8_u8(b))};
        MIX(r16);
        uint32x4_t r32[] = {vshrq_n_u32(ua, 32), vshlq_n_u32(ua, 31), vsriq_n_u32(ua, ua, 32),
                            vmull_laneq_u16(vget_low_u16(vreinterpretq_u16_u8(b)), vreinterpretq_u16_u8(a), 7),
                            vmlal_high_laneq_u16(ua, vreinterpretq_u16_u8(b), vreinterpretq_u16_u8(a), 2),
                            vpaddlq_u16(vreinterpretq_u16_u8(b)), vpadalq_u16(ua, vreinterpretq_u16_u8(a))};
        MIX(r32);
        int64x2_t r64[] = {vshrq_n_s64(la, 64), vrshrq_n_s64(la, 1), vshlq_n_s64(la, 63), vsliq_n_s64(la, la, 7),
                           vmull_s32(vget_low_s32(vreinterpretq_s32_u8(a)), vget_high_s32(vreinterpretq_s32_u8(b))),
                           vmovl_high_s32(vreinterpretq_s32_u8(b))};
        MIX(r64);
        uint64_t sc[] = {vshrd_n_u64(vgetq_lane_u64(vreinterpretq_u64_u8(a), 0), 13),
                         vshld_n_u64(vgetq_lane_u64(vreinterpretq_u64_u8(b), 1), 61),
                         vrshrd_n_s64(vgetq_lane_s64(la, 1), 33), vsrad_n_u64(1, 0xffffffffffffffffULL, 64)};
        MIX(sc);
    }
    report("shift");
}

static void test_permute(void)
{
    uint8_t tab[64];
    for (int i = 0; i < 64; i++)
        tab[i] = (uint8_t)rnd();
    for (int i = 0; i < 60; i++) {
        uint8x16_t a = ru8(), b = ru8(), idx = vandq_u8(ru8(), vdupq_n_u8(i & 1 ? 0x3f : 0x4f));
        uint8x16x2_t t2 = {{vld1q_u8(tab), vld1q_u8(tab + 16)}};
        uint8x16x3_t t3 = {{vld1q_u8(tab), vld1q_u8(tab + 16), vld1q_u8(tab + 32)}};
        uint8x16x4_t t4 = vld1q_u8_x4(tab);
        uint8x16_t r[] = {vzip1q_u8(a, b), vzip2q_u8(a, b), vuzp1q_u8(a, b), vuzp2q_u8(a, b),
                          vtrn1q_u8(a, b), vtrn2q_u8(a, b), vextq_u8(a, b, 3), vextq_u8(a, b, 15),
                          vreinterpretq_u8_u16(vzip1q_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b))),
                          vreinterpretq_u8_u32(vuzp2q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b))),
                          vreinterpretq_u8_u64(vtrn1q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b))),
                          vqtbl1q_u8(a, idx), vqtbl2q_u8(t2, idx), vqtbl3q_u8(t3, idx), vqtbl4q_u8(t4, idx),
                          vqtbx1q_u8(b, a, idx), vqtbx4q_u8(b, t4, idx),
                          vcombine_u8(vtbl1_u8(vget_low_u8(a), vget_low_u8(idx)), vext_u8(vget_low_u8(a),
                                                                                         vget_high_u8(b), 5)),
                          vdupq_laneq_u8(a, 13), vdupq_n_u8((uint8_t)i), vsetq_lane_u8(0xaa, a, 9),
                          vcopyq_laneq_u8(a, 2, b, 11),
                          vreinterpretq_u8_u32(vdupq_laneq_u32(vreinterpretq_u32_u8(b), 3)),
                          vreinterpretq_u8_u64(vdupq_n_u64(0x0123456789abcdefULL * i)),
                          vreinterpretq_u8_u32(vmovq_n_u32(0xff00ff00u)), vreinterpretq_u8_u16(vmvnq_u16(vdupq_n_u16(0x1200)))};
        MIX(r);
        uint64_t e[] = {vgetq_lane_u8(a, 15), vgetq_lane_u16(vreinterpretq_u16_u8(a), 3),
                        (uint64_t)vgetq_lane_s8(vreinterpretq_s8_u8(b), 1),
                        (uint64_t)(int64_t)vgetq_lane_s16(vreinterpretq_s16_u8(b), 6),
                        vgetq_lane_u64(vreinterpretq_u64_u8(a), 1)};
        MIX(e);
    }
    report("permute");
}

static void test_ldst(void)
{
    uint8_t buf[256], out[256];
    for (int i = 0; i < 256; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    memset(out, 0, sizeof(out));
    for (int off = 0; off < 9; off++) {
        uint8x16x2_t v2 = vld2q_u8(buf + off);
        uint16x8x3_t v3 = vld3q_u16((uint16_t *)(buf + 2 * off));
        uint32x4x4_t v4 = vld4q_u32((uint32_t *)(buf + 4 * off));
        uint8x8x4_t d4 = vld4_u8(buf + off);
        uint64x2x2_t q2 = vld1q_u64_x2((uint64_t *)(buf + 8 * off));
        uint8x16_t dup = vld1q_dup_u8(buf + off);
        uint16x8_t lane = vld1q_lane_u16((uint16_t *)(buf + off * 2), vdupq_n_u16(7), 5);
        uint32x4x2_t r2 = vld2q_dup_u32((uint32_t *)(buf + off * 4));
        uint16x4x4_t r4 = vld4_dup_u16((uint16_t *)(buf + off * 2));
        uint8x16x3_t l3 = vld3q_lane_u8(buf + off, (uint8x16x3_t){{vdupq_n_u8(1), vdupq_n_u8(2), vdupq_n_u8(3)}}, 14);
        MIX(v2); MIX(v3); MIX(v4); MIX(d4); MIX(q2); MIX(dup); MIX(lane); MIX(r2); MIX(r4); MIX(l3);
        vst2q_u8(out + off, v2);
        vst3q_u16((uint16_t *)(out + 40 + 2 * off), v3);
        vst4q_u32((uint32_t *)(out + 100 + 4 * off), v4);
        vst4_u8(out + 170 + off, d4);
        vst1q_lane_u16((uint16_t *)(out + 210 + off * 2), lane, 5);
        vst3q_lane_u8(out + 220 + off, l3, 14);
        vst1q_u64_x2((uint64_t *)(out + 226), q2);
        MIX(out);
    }
    report("ldst");
}

static void test_fp_vec(void)
{
    static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    for (int m = 0; m < 4; m++) {
        fesetround(modes[m]);
        for (int i = 0; i < 25; i++) {
            float32x4_t a = rf4(), b = rf4(), c = rf4();
            float64x2_t x = rd2(), y = rd2(), z = rd2();
            float32x4_t rf_[] = {vaddq_f32(a, b), vsubq_f32(a, b), vmulq_f32(a, b), vdivq_f32(a, b),
                                 vfmaq_f32(c, a, b), vfmsq_f32(c, a, b), vmaxq_f32(a, b), vminq_f32(a, b),
                                 vmaxnmq_f32(a, b), vminnmq_f32(a, b), vabdq_f32(a, b), vsqrtq_f32(a),
                                 vabsq_f32(a), vnegq_f32(a), vpaddq_f32(a, b), vpmaxq_f32(a, b),
                                 vpminnmq_f32(a, b), vmulxq_f32(a, b), vrecpeq_f32(a), vrecpsq_f32(a, b),
                                 vrsqrteq_f32(a), vrsqrtsq_f32(a, b), vmulq_laneq_f32(a, b, 2),
                                 vfmaq_laneq_f32(c, a, b, 1), vfmsq_laneq_f32(c, a, b, 3), vrndq_f32(a),
                                 vrndnq_f32(a), vrndaq_f32(a), vrndmq_f32(a), vrndpq_f32(a), vrndxq_f32(a),
                                 vrndiq_f32(a), vcvtq_f32_s32(vreinterpretq_s32_f32(b)),
                                 vcvtq_f32_u32(vreinterpretq_u32_f32(b)),
                                 vcvtq_n_f32_s32(vreinterpretq_s32_f32(c), 17),
                                 vcvt_high_f32_f64(vget_low_f32(a), x), vcvtx_high_f32_f64(vget_low_f32(b), y)};
            MIX(rf_);
            float64x2_t rd_[] = {vaddq_f64(x, y), vsubq_f64(x, y), vmulq_f64(x, y), vdivq_f64(x, y),
                                 vfmaq_f64(z, x, y), vfmsq_f64(z, x, y), vmaxq_f64(x, y), vminnmq_f64(x, y),
                                 vsqrtq_f64(x), vpaddq_f64(x, y), vmulq_laneq_f64(x, y, 1),
                                 vfmaq_laneq_f64(z, x, y, 0), vrndq_f64(x), vrndaq_f64(x), vrndxq_f64(x),
                                 vrecpeq_f64(x), vrsqrteq_f64(y), vcvt_f64_f32(vget_low_f32(a)),
                                 vcvt_high_f64_f32(b), vcvtq_f64_s64(vreinterpretq_s64_f64(y)),
                                 vcvtq_n_f64_u64(vreinterpretq_u64_f64(z), 40)};
            MIX(rd_);
            uint32x4_t ri[] = {vceqq_f32(a, b), vcgeq_f32(a, b), vcgtq_f32(a, b), vcleq_f32(a, b),
                               vcagtq_f32(a, b), vcageq_f32(a, b), vceqzq_f32(a), vcltzq_f32(a), vclezq_f32(b),
                               vcgezq_f32(a), vreinterpretq_u32_s32(vcvtq_s32_f32(a)), vcvtq_u32_f32(b),
                               vreinterpretq_u32_s32(vcvtnq_s32_f32(a)), vcvtaq_u32_f32(a),
                               vreinterpretq_u32_s32(vcvtmq_s32_f32(b)), vcvtpq_u32_f32(c),
                               vreinterpretq_u32_s32(vcvtq_n_s32_f32(a, 9)),
                               vreinterpretq_u32_u64(vcgtq_f64(x, y)), vreinterpretq_u32_s64(vcvtq_s64_f64(x)),
                               vreinterpretq_u32_u64(vcvtnq_u64_f64(y))};
            MIX(ri);
            float sf[] = {vaddvq_f32(a), vmaxvq_f32(a), vminvq_f32(b), vmaxnmvq_f32(c), vminnmvq_f32(a),
                          vpadds_f32(vget_low_f32(a)), vpmaxnms_f32(vget_low_f32(b)), vrecpxs_f32(vgetq_lane_f32(c, 0)),
                          vmulxs_laneq_f32(vgetq_lane_f32(a, 1), b, 3), vfmas_laneq_f32(1.0f, vgetq_lane_f32(a, 2), c, 1),
                          vcvtxd_f32_f64(vgetq_lane_f64(x, 0))};
            MIX(sf);
            double sd[] = {vpaddd_f64(x), vmaxnmvq_f64(y), vabdd_f64(vgetq_lane_f64(x, 1), 1.5),
                           vrecped_f64(vgetq_lane_f64(y, 0)), vrsqrtsd_f64(vgetq_lane_f64(x, 0), 2.0),
                           vcvtd_n_f64_s64(vgetq_lane_s64(vreinterpretq_s64_f64(z), 0), 3)};
            MIX(sd);
            int64_t si[] = {vcvtd_n_s64_f64(vgetq_lane_f64(x, 0), 12), vcvtas_s32_f32(vgetq_lane_f32(a, 3)),
                            (int64_t)vcvtpd_u64_f64(vgetq_lane_f64(y, 1)), vcgtzd_f64(vgetq_lane_f64(z, 0)),
                            vceqd_f64(vgetq_lane_f64(x, 0), vgetq_lane_f64(y, 0))};
            MIX(si);
        }
        report("fpvec");
    }
    fesetround(FE_TONEAREST);
}

/* Loops the compiler vectorises (forced to -O3 whatever the build level). */
#pragma GCC push_options
#pragma GCC optimize("O3")
#define N 203
static float fa[N], fb[N], fc[N];
static double da[N], db[N];
static int32_t ia[N], ib[N];
static int16_t sa[N];
static uint8_t ua[N], ub[N];
static int64_t la[N];

static void test_autovec(void)
{
    for (int i = 0; i < N; i++) {
        fa[i] = i * 0.37f - 20;
        fb[i] = (i % 17) - 8.5f;
        da[i] = i * 1.1 - 100;
        ia[i] = (int32_t)(i * 2654435761u);
        ib[i] = i - 100;
        sa[i] = (int16_t)(i * 37);
        ua[i] = (uint8_t)(i * 7);
        ub[i] = (uint8_t)(i * 13);
        la[i] = (int64_t)i * 0x123456789LL;
    }
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < N; i++)
            fc[i] = fa[i] * fb[i] + fc[i] * 0.5f;
        for (int i = 0; i < N; i++)
            db[i] = da[i] * da[i] - db[i] / 3.0;
        for (int i = 0; i < N; i++)
            ia[i] = (ia[i] >> 3) + ib[i] * 7 - (ia[i] < ib[i] ? ib[i] : ia[i]);
        for (int i = 0; i < N; i++)
            sa[i] = (int16_t)(sa[i] * 3 + (sa[i] >> 2));
        for (int i = 0; i < N; i++)
            ua[i] = ua[i] > ub[i] ? ua[i] - ub[i] : ub[i] - ua[i];
        for (int i = 0; i < N; i++)
            la[i] = la[i] * 3 + (la[i] >> 5) + ia[i];
        for (int i = 0; i < N; i++)
            fa[i] = fa[i] < 0 ? -fa[i] : fa[i] + 1.0f;
        for (int i = 0; i < N; i++)
            da[i] = (double)ia[i] + (double)fc[i] + (float)db[i];
        for (int i = 0; i < N; i++)
            fb[i] = (float)(int)(fc[i] * 0.001f);
    }
    double s = 0;
    long t = 0;
    float fm = 0;
    int imax = -1 << 30;
    unsigned usum = 0;
    for (int i = 0; i < N; i++) {
        s += db[i] + da[i];
        t += ia[i] + sa[i] + la[i];
        fm = fc[i] > fm ? fc[i] : fm;
        imax = ia[i] > imax ? ia[i] : imax;
        usum += ua[i];
    }
    printf("autovec %.17g %ld %a %d %u\n", s, t, fm, imax, usum);
}
#pragma GCC pop_options

static void test_scalar_fp(void)
{
    for (int i = 0; i < 300; i++) {
        double x = rd(), y = rd();
        float f = rf(), g = rf();
        printf("%d %a %a %a %a|%a %a %a|%ld %ld %lu %d %u|%.6e %.3f %g\n", i, x + y, x * y, fma(x, y, -x),
               sqrt(fabs(x)), f / g, fmaf(f, g, 1.0f), (float)x, lrint(f), (long)nearbyint(y * 1e-3),
               (unsigned long)fabs(trunc(x)), (int)(f * 0.5f), (unsigned)g, x, f, y);
    }
    report("scalar");
}

int main(void)
{
    h = 0xcbf29ce484222325ULL;
    set_fpsr(0);
    test_int();
    test_sat();
    test_shift_narrow_widen();
    test_permute();
    test_ldst();
    test_fp_vec();
    test_autovec();
    test_scalar_fp();
    return 0;
}
