/*
 * Integer arithmetic torture: division/modulo (including the AArch64
 * division-by-zero and overflow results), shifts, rotates, extensions,
 * 128-bit multiply/divide, bit manipulation builtins, overflow builtins,
 * conditional selects and a CRC, over pseudo-random operands.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

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

/* raw sdiv/udiv: defined results for /0 and INT_MIN/-1 on AArch64 */
static int64_t sdiv64(int64_t a, int64_t b)
{
    int64_t r;
    __asm__("sdiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static uint32_t udiv32(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("udiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static int32_t sdiv32(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("sdiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static uint64_t rbit64(uint64_t x)
{
    uint64_t r;
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

static void print_u128(const char *label, u128 v)
{
    char buf[48];
    int i = sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    printf("%s%s\n", label, &buf[i]);
}

static void edge_cases(void)
{
    printf("sdiv64(INT64_MIN,-1)=%lld sdiv64(5,0)=%lld\n", (long long)sdiv64(INT64_MIN, -1),
           (long long)sdiv64(5, 0));
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
    printf("rbit(1)=%016llx\n", (unsigned long long)rbit64(1ull * (unsigned)b / 2));

    u128 x = (u128)UINT64_MAX * UINT64_MAX;
    print_u128("u64max^2 = ", x);
    print_u128("2^127 / 3 = ", ((u128)1 << 127) / 3);
    print_u128("(2^100+12345) % 1000000007 = ", (((u128)1 << 100) + 12345) % 1000000007u);
    i128 neg = -(i128)1e30 / 7;
    printf("-1e30/7 = %s%llu%018llu\n", neg < 0 ? "-" : "", (unsigned long long)((-neg) / (u128)1e18),
           (unsigned long long)((-neg) % (u128)1e18));

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
        mix((uint64_t)((u128)x * y >> 64));
        mix((uint64_t)((i128)sx * sy >> 64));
        mix((uint64_t)((u128)x * y));
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
        if (i % 64 == 0) {
            u128 big = ((u128)x << 64) | y;
            u128 div = ((u128)(y >> 3) << 32) | (x >> 50) | 1;
            mix((uint64_t)(big / div));
            mix((uint64_t)(big % div));
            mix((uint64_t)((i128)big / (i128)(sx | 1)));
        }
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
