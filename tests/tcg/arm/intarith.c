/*
 * Integer arithmetic torture: division/modulo (including the SDIV/UDIV
 * division-by-zero and overflow results), shifts, rotates, extensions,
 * 64-bit arithmetic on a 32-bit machine (carry chains, long multiplies,
 * run-time library division), bit manipulation builtins, overflow builtins,
 * the ACLE saturating, DSP and SIMD32 intrinsics, conditional selects and
 * a CRC, over pseudo-random operands.
 *
 * AArch32 copy of tests/tcg/aarch64/intarith.c (no __int128 here).
 */
#include <arm_acle.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t hash = 1469598103934665603ull;

static uint64_t next(void)
{
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

static void mix(uint64_t v)
{
    hash = (hash ^ v) * 1099511628211ull;
}

/* raw SDIV/UDIV (ARMv7VE, so enabled here): /0 gives 0, INT_MIN/-1 gives INT_MIN */
static uint32_t udiv32(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__(".arch_extension idiv\n\tudiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static int32_t sdiv32(int32_t a, int32_t b)
{
    int32_t r;
    __asm__(".arch_extension idiv\n\tsdiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static uint32_t rbit32(uint32_t x)
{
    uint32_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static uint64_t rotr64(uint64_t x, unsigned n)
{
    n &= 63;
    return n ? (x >> n) | (x << (64 - n)) : x;
}

static uint32_t crc32_sw(const uint8_t *p, int n)
{
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

static void edge_cases(void)
{
    printf("sdiv32(INT32_MIN,-1)=%d udiv32(7,0)=%u sdiv32(-7,2)=%d\n", sdiv32(INT32_MIN, -1), udiv32(7, 0),
           sdiv32(-7, 2));
    volatile int a = -7, b = 2;
    printf("-7/2=%d -7%%2=%d 7/-2=%d 7%%-2=%d\n", a / b, a % b, -a / -b, -a % -b);
    volatile unsigned ua = 0xffffffffu;
    volatile int sh = 31;
    printf("u>>31=%u i>>31=%d (int)u=%d 1u<<31=%u\n", ua >> sh, (int)ua >> sh, (int)ua, 1u << sh);
    volatile int8_t c8 = (int8_t)0x80;
    volatile uint16_t u16 = 0xfffe;
    volatile int16_t i16 = (int16_t)0x8001;
    printf("sext8=%d zext16=%d sext16=%d (uint8)300=%d (int8)200=%d\n", c8, u16, i16, (uint8_t)(a + 307),
           (int8_t)(a + 207));
    printf("clz(1)=%d clz(0x80000000)=%d ctz(8)=%d clzll(1)=%d ctzll(1<<40)=%d popcount(0xff00ff)=%d\n",
           __builtin_clz(1u * (unsigned)b / 2), __builtin_clz(0x80000000u + (unsigned)b - 2),
           __builtin_ctz(8u * (unsigned)b / 2), __builtin_clzll(1ull * (unsigned)b / 2),
           __builtin_ctzll((1ull << 40) * (unsigned)b / 2), __builtin_popcount(0xff00ffu * (unsigned)b / 2));
    printf("clrsb(-1)=%d parity(7)=%d bswap32=%08x bswap64=%016llx bswap16=%04x\n", __builtin_clrsb(-b / 2),
           __builtin_parity(7u * (unsigned)b / 2), __builtin_bswap32(0x11223344u * (unsigned)b / 2),
           (unsigned long long)__builtin_bswap64(0x0102030405060708ull * (unsigned)b / 2),
           __builtin_bswap16((uint16_t)(0xabcd * b / 2)));
    printf("rbit(1)=%08x\n", rbit32(1u * (unsigned)b / 2));

    volatile uint64_t m = UINT64_MAX, d = 1000000007u;
    printf("u64max/1e9+7=%llu rem=%llu u64max*3=%llx\n", (unsigned long long)(m / d),
           (unsigned long long)(m % d), (unsigned long long)(m * 3));
    volatile int64_t sm = INT64_MIN + 1, sd = -7;
    printf("(INT64_MIN+1)/-7=%lld rem=%lld\n", (long long)(sm / sd), (long long)(sm % sd));
    printf("ssat(1000,8)=%d usat(-5,8)=%u qadd(INT_MAX,1)=%d qsub(INT_MIN,1)=%d\n",
           __ssat(1000 * b / 2, 8), __usat(-5 * b / 2, 8), __qadd(INT_MAX, b / 2), __qsub(INT_MIN, b / 2));
    int ov;
    int res;
    ov = __builtin_add_overflow(INT_MAX, b - 1, &res);
    printf("add_overflow=%d res=%d ", ov, res);
    ov = __builtin_mul_overflow(65536, 65536 * (b - 1), &res);
    printf("mul_overflow=%d res=%d ", ov, res);
    unsigned long long ull;
    ov = __builtin_sub_overflow(0ull, (unsigned long long)(b - 1), &ull);
    printf("usub_overflow=%d res=%llu\n", ov, ull);
}

static void random_ops(void)
{
    int n = 3000;
    for (int i = 0; i < n; i++) {
        uint64_t x = next(), y = next();
        unsigned s = (unsigned)(y & 63);
        uint32_t x32 = (uint32_t)x, y32 = (uint32_t)(y >> 17);
        int64_t sx = (int64_t)x, sy = (int64_t)y;

        if (y == 0) {
            y = 1;
        }
        if (y32 == 0) {
            y32 = 3;
        }
        mix(x + y);
        mix(x - y);
        mix(x * y);
        mix(x / (y >> 40 | 1));
        mix(x % (y | 1));
        mix((uint64_t)(sx / (sy >> 33 | 1)));
        mix((uint64_t)(sx % (sy >> 20 | 1)));
        mix(x32 / y32);
        mix(x32 % y32);
        mix((uint64_t)((int32_t)x32 / (int32_t)(y32 | 1)));
        mix(x << s);
        mix(x >> s);
        mix((uint64_t)(sx >> s));
        mix(x32 << (s & 31));
        mix((uint64_t)((int32_t)x32 >> (s & 31)));
        mix(rotr64(x, s));
        mix(x & ~y);
        mix(x | (y << 3));
        mix(x ^ (y >> 5));
        mix((uint64_t)x32 * y32);
        mix((uint64_t)((int64_t)(int32_t)x32 * (int32_t)y32));
        mix((uint64_t)x32 * y32 + x);
        mix((uint64_t)((int64_t)(int32_t)x32 * (int32_t)y32 >> 32));
        mix(udiv32(x32, (uint32_t)(y >> 50)));
        mix((uint64_t)sdiv32((int32_t)x32, (int32_t)(y >> 62) - 1));
        mix(rbit32(x32));
        mix((uint64_t)__ssat((int32_t)x32, 12));
        mix((uint64_t)__ssat((int32_t)(x32 >> (s & 31)), 1));
        mix(__usat((int32_t)x32, 31));
        mix(__usat((int32_t)(y32 << (s & 31)), 7));
        mix((uint64_t)__qadd((int32_t)x32, (int32_t)y32));
        mix((uint64_t)__qsub((int32_t)x32, (int32_t)(y >> 32)));
        mix((uint64_t)__qdbl((int32_t)y32));
        mix((uint64_t)__smlabb((int32_t)x32, (int32_t)y32, (int32_t)(x >> 32)));
        mix((uint64_t)__smlawb((int32_t)x32, (int32_t)y32, (int32_t)(y >> 32)));
        mix(__sadd16(x32, y32));
        mix(__uqsub8(x32, y32));
        mix(__shadd16(x32, y32));
        mix(__sel(__usub8(x32, y32), x32 ^ y32));
        mix(__usad8(x32, y32));
        mix((uint64_t)__smuad((int32_t)x32, (int32_t)y32));
        mix((uint64_t)__smlald((int32_t)x32, (int32_t)y32, (int64_t)y));
        mix(__uxtb16(x32));
        mix((uint64_t)(x32 >> 16 | x32 << 16));
        mix(x > y ? x - y : y - x);
        mix(sx < sy ? (uint64_t)sx : (uint64_t)sy);
        mix((uint64_t)__builtin_clzll(x | 1));
        mix((uint64_t)__builtin_ctzll(y | 0x8000000000000000ull));
        mix((uint64_t)__builtin_popcountll(x ^ y));
        mix((uint64_t)(int64_t)(int8_t)x);
        mix((uint64_t)(int64_t)(int16_t)y);
        mix((uint64_t)(int64_t)(int32_t)x);
        mix((uint64_t)(uint16_t)(x >> 3));
        mix(x * 0x123456789ull + (y >> 7));
        mix((x & 0xffff) * (y & 0xffff) - (x >> 48));
    }
    printf("random ops hash=%016llx\n", (unsigned long long)hash);
}

int main(void)
{
    uint8_t data[256];
    edge_cases();
    random_ops();
    for (int i = 0; i < 256; i++) {
        data[i] = (uint8_t)(next() >> 56);
    }
    printf("crc32(\"123456789\")=%08x crc32(random)=%08x\n", crc32_sw((const uint8_t *)"123456789", 9),
           crc32_sw(data, 256));
    return 0;
}
