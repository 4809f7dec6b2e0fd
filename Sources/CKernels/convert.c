/* Stored weights to fp32: fp16 and Q8_0 blocks (an fp16 scale, then 32 int8 values), with an
 * F16C + AVX2 path chosen at run time; a weight is converted before each use, so this is on
 * the hot path of every F16 and Q8_0 model. Sources may be unaligned. */
#include "ckernels.h"

#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

static int has_f16c(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = ck_has_avx2() && __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
    }
    return cached;
}

/* Exact, as the hardware converts (a NaN keeps its payload and becomes quiet). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    float f;
    if (exp == 0) {
        f = (float)mant * 0x1p-24f; /* zero or subnormal */
        return sign ? -f : f;
    }
    bits = exp == 31 ? sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0) : sign | ((exp + 112) << 23) | (mant << 13);
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t load16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

#define F16C __attribute__((target("avx2,fma,f16c")))

F16C static void f16_f16c(const unsigned char *s, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
    for (; i < n; i++) dst[i] = half_to_float(load16(s + 2 * i));
}

F16C static void q8_0_f16c(const unsigned char *s, size_t blocks, float *dst) {
    for (size_t b = 0; b < blocks; b++, s += 34, dst += 32) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(load16(s)));
        for (int j = 0; j < 32; j += 8) {
            __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(s + 2 + j))));
            _mm256_storeu_ps(dst + j, _mm256_mul_ps(d, q));
        }
    }
}

void ck_f16_to_f32(const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    if (has_f16c()) {
        f16_f16c(s, n, dst);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = half_to_float(load16(s + 2 * i));
}

void ck_q8_0_to_f32(const void *src, size_t blocks, float *dst) {
    const unsigned char *s = src;
    if (has_f16c()) {
        q8_0_f16c(s, blocks, dst);
        return;
    }
    for (size_t b = 0; b < blocks; b++, s += 34, dst += 32) {
        float d = half_to_float(load16(s));
        for (int j = 0; j < 32; j++) dst[j] = d * (float)(int8_t)s[2 + j];
    }
}
