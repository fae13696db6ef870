/*
 * malloc/realloc/calloc/free and glibc string routines (which use SIMD
 * implementations on AArch64) over many lengths and alignments, checked
 * against naive reference implementations.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPAT __attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
#define BUFSZ 8192
#define GUARD 0xAA

static uint32_t seed = 12345;
static uint32_t hash = 2166136261u;
static int fails;

static uint32_t rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static void mix(uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        hash = (hash ^ (uint8_t)(v >> (8 * i))) * 16777619u;
    }
}

static int sgn(long v)
{
    return (v > 0) - (v < 0);
}

#define CHECK(cond, what, n, a, d)                                          \
    do {                                                                    \
        if (!(cond)) {                                                      \
            if (++fails <= 20) {                                            \
                printf("FAIL %s len=%d sa=%d da=%d\n", what, n, a, d);      \
            }                                                               \
        }                                                                   \
    } while (0)

NOPAT static size_t ref_strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

NOPAT static int ref_cmp(const unsigned char *a, const unsigned char *b, size_t n, int stop_at_nul)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
        if (stop_at_nul && a[i] == 0) {
            return 0;
        }
    }
    return 0;
}

NOPAT static long ref_chr(const char *s, size_t n, int c, int last)
{
    long pos = -1;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] == (unsigned char)c) {
            pos = (long)i;
            if (!last) {
                break;
            }
        }
    }
    return pos;
}

NOPAT static int region_is(const unsigned char *p, size_t n, int c)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)c) {
            return 0;
        }
    }
    return 1;
}

static unsigned char *srcbuf, *dstbuf;

static void fill_string(unsigned char *p, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(0x20 + rnd() % 95);  /* printable, never 0 or 1 */
    }
    p[n] = 0;
}

static void test_one(int n, int a, int d)
{
    char *s = (char *)srcbuf + 64 + a;
    char *t = (char *)dstbuf + 64 + d;
    size_t r;
    const char *p;

    memset(srcbuf, GUARD, (size_t)n + 160);
    memset(dstbuf, GUARD, (size_t)n + 160);
    fill_string((unsigned char *)s, n);

    /* strlen */
    r = strlen(s);
    CHECK(r == (size_t)n && r == ref_strlen(s), "strlen", n, a, d);
    mix(r);

    /* memcpy with guard bytes */
    memcpy(t, s, (size_t)n);
    CHECK(ref_cmp((unsigned char *)t, (unsigned char *)s, (size_t)n, 0) == 0, "memcpy", n, a, d);
    CHECK((unsigned char)t[-1] == GUARD && (unsigned char)t[n] == GUARD, "memcpy-guard", n, a, d);

    /* strcpy / strcmp / strncmp */
    strcpy(t, s);
    CHECK(strcmp(t, s) == 0 && (unsigned char)t[n + 1] == GUARD, "strcpy", n, a, d);
    if (n > 0) {
        int k = (int)(rnd() % (unsigned)n);
        t[k] = (char)(t[k] + ((rnd() & 1) ? 1 : -1));
        int e = ref_cmp((unsigned char *)s, (unsigned char *)t, (size_t)n + 1, 1);
        CHECK(sgn(strcmp(s, t)) == e, "strcmp", n, a, d);
        CHECK(sgn(memcmp(s, t, (size_t)n)) == e, "memcmp", n, a, d);
        CHECK(sgn(strncmp(s, t, (size_t)k)) == 0, "strncmp-eq", n, a, d);
        CHECK(sgn(strncmp(s, t, (size_t)k + 1)) == e, "strncmp", n, a, d);
        mix((uint64_t)(e + 1) * 1000 + (uint64_t)k);
        /* shorter string compares lower */
        t[k] = 0;
        CHECK(sgn(strcmp(t, s)) == ref_cmp((unsigned char *)t, (unsigned char *)s, (size_t)n + 1, 1),
              "strcmp-prefix", n, a, d);
    }

    /* strchr / strrchr / memchr / rawmemchr-like */
    if (n > 0) {
        int c = (unsigned char)s[(n * 2) / 3];
        long e1 = ref_chr(s, (size_t)n, c, 0), e2 = ref_chr(s, (size_t)n, c, 1);
        p = strchr(s, c);
        CHECK(p && p - s == e1, "strchr", n, a, d);
        p = strrchr(s, c);
        CHECK(p && p - s == e2, "strrchr", n, a, d);
        p = memchr(s, c, (size_t)n);
        CHECK(p && p - s == e1, "memchr", n, a, d);
        mix((uint64_t)e1 * 7919 + (uint64_t)e2);
    }
    p = strchr(s, 1);
    CHECK(p == NULL, "strchr-miss", n, a, d);
    p = strchr(s, 0);
    CHECK(p == s + n, "strchr-nul", n, a, d);
    p = memchr(s, 1, (size_t)n);
    CHECK(p == NULL, "memchr-miss", n, a, d);

    /* memset with guard bytes */
    memset(dstbuf, GUARD, (size_t)n + 160);
    memset(t, 0x5c, (size_t)n);
    CHECK(region_is((unsigned char *)t, (size_t)n, 0x5c), "memset", n, a, d);
    CHECK((unsigned char)t[-1] == GUARD && (unsigned char)t[n] == GUARD, "memset-guard", n, a, d);
    memset(t, 0, (size_t)n);
    CHECK(region_is((unsigned char *)t, (size_t)n, 0), "memset0", n, a, d);

    /* overlapping memmove both directions */
    memcpy(t, s, (size_t)n);
    memmove(t + 3, t, (size_t)n);
    CHECK(ref_cmp((unsigned char *)t + 3, (unsigned char *)s, (size_t)n, 0) == 0, "memmove-fwd", n, a, d);
    memmove(t, t + 3, (size_t)n);
    CHECK(ref_cmp((unsigned char *)t, (unsigned char *)s, (size_t)n, 0) == 0, "memmove-bwd", n, a, d);

    /* strcat / strncpy */
    t[0] = 'X';
    t[1] = 0;
    strcat(t, s);
    CHECK(t[0] == 'X' && strcmp(t + 1, s) == 0, "strcat", n, a, d);
    strncpy(t, s, (size_t)n + 4);
    CHECK(strcmp(t, s) == 0 && region_is((unsigned char *)t + n, 4, 0), "strncpy", n, a, d);
}

static void test_strings(void)
{
    static const int lens[] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 23, 24, 25,
        31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129, 255, 256, 257, 511, 1000,
    };
    int count = 0;

    srcbuf = malloc(BUFSZ);
    dstbuf = malloc(BUFSZ);
    for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        int n = lens[i];
        int step = n <= 33 ? 1 : n <= 129 ? 3 : 13;
        for (int a = 0; a < 16; a += step) {
            test_one(n, a, (a * 7 + n) % 16);
            count++;
        }
    }
    free(srcbuf);
    free(dstbuf);
    printf("string cases: %d, failures: %d, hash: %08x\n", count, fails, hash);
}

static void test_malloc(void)
{
    enum { N = 160 };
    unsigned char *blk[N];
    size_t sz[N];
    uint32_t sum = 0;
    int bad = 0;

    for (int i = 0; i < N; i++) {
        uint32_t r = rnd();
        sz[i] = (i % 40 == 39) ? 200000 + r % 100000 : (i % 10 == 9) ? 5000 + r % 60000 : 1 + r % 300;
        blk[i] = malloc(sz[i]);
        if (!blk[i]) {
            printf("malloc failed\n");
            exit(1);
        }
        if (((uintptr_t)blk[i] & 15) != 0) {
            bad++;
        }
        for (size_t j = 0; j < sz[i]; j += 61) {
            blk[i][j] = (unsigned char)(i + j);
        }
    }
    for (int i = 0; i < N; i += 3) {
        free(blk[i]);
        blk[i] = NULL;
    }
    for (int i = 1; i < N; i += 3) {
        size_t nsz = (i & 2) ? sz[i] * 3 + 100 : sz[i] / 2 + 1;
        size_t keep = nsz < sz[i] ? nsz : sz[i];
        blk[i] = realloc(blk[i], nsz);
        for (size_t j = 0; j < keep; j += 61) {
            if (blk[i][j] != (unsigned char)(i + j)) {
                bad++;
            }
        }
        sz[i] = keep;
    }
    for (int i = 0; i < N; i++) {
        if (blk[i]) {
            for (size_t j = 0; j < sz[i]; j += 61) {
                if (blk[i][j] != (unsigned char)(i + j)) {
                    bad++;
                }
                sum += blk[i][j];
            }
            free(blk[i]);
        }
    }
    unsigned char *z = calloc(1000, 37);
    if (!z || !region_is(z, 37000, 0)) {
        bad++;
    }
    free(z);
    z = malloc(3 << 20); /* mmap-backed chunk */
    memset(z, 0x11, 3 << 20);
    sum += z[(3 << 20) - 1] + z[12345];
    free(z);

    char *dup = strdup("duplicated string");
    char *fmt = malloc(64);
    snprintf(fmt, 64, "%s/%zu/%d", dup, strlen(dup), bad);
    printf("malloc: bad=%d sum=%u fmt=%s\n", bad, sum, fmt);
    free(dup);
    free(fmt);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_misc(void)
{
    const char *words[] = {"pear", "apple", "fig", "banana", "apple pie", "Zebra", "cherry", ""};
    enum { NW = sizeof(words) / sizeof(words[0]) };
    char *copy[NW];
    char buf[256], *save, *tok;

    for (int i = 0; i < NW; i++) {
        copy[i] = strdup(words[i]);
    }
    qsort(copy, NW, sizeof(copy[0]), cmp_str);
    for (int i = 0; i < NW; i++) {
        printf("[%s]", copy[i]);
        free(copy[i]);
    }
    printf("\n");

    strcpy(buf, "alpha,beta,,gamma;delta");
    for (tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
        printf("tok=%s len=%zu\n", tok, strlen(tok));
    }
    printf("strstr=%s strspn=%zu strcspn=%zu\n", strstr("haystack with needle inside", "needle"),
           strspn("aaabbbccc", "ab"), strcspn("hello world", " "));
    printf("strncasecmp=%d strtol=%ld strtoul=%lu\n", strncasecmp("HeLLo", "hello", 5) == 0,
           strtol("-0x1f", NULL, 16), strtoul("777", NULL, 8));
}

int main(void)
{
    test_strings();
    test_malloc();
    test_misc();
    return fails ? 1 : 0;
}
