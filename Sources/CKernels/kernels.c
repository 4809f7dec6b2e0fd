/* Element-wise kernels with a portable path and an AVX2+FMA path selected at run time (and
 * AVX-512 for the column exp of attention's softmax).
 * exp follows Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial; about
 * 1 ulp), erf Abramowitz & Stegun 7.1.26 refined (|error| < 1.5e-7).
 * No kernel here returns a subnormal: exp gives 0 below FLT_MIN (so exp(-inf) of a masked score
 * is 0) and softmax flushes what its normalisation takes below it. A product over subnormal
 * inputs runs on microcode, about 50x slower: a causal mask's weights of FLT_MIN / sum made
 * the text encoder's P V products take half its time. */
#include "ckernels.h"

#include <cpuid.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <immintrin.h>

static int detect_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0; /* the OS saves the YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1;
}

int ck_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = detect_avx2();
    return cached;
}

/* ---- portable ------------------------------------------------------------------------ */

static inline float silu1(float v) { return v / (1.0f + expf(-v)); }

static inline float normal_or_zero(float v) { return v >= FLT_MIN ? v : 0.0f; }

static void softmax_row_portable(float *row, size_t n) {
    float m = -INFINITY, sum = 0;
    for (size_t j = 0; j < n; j++) m = row[j] > m ? row[j] : m;
    for (size_t j = 0; j < n; j++) { row[j] = normal_or_zero(expf(row[j] - m)); sum += row[j]; }
    float inv = 1.0f / sum;
    for (size_t j = 0; j < n; j++) row[j] = normal_or_zero(row[j] * inv);
}

static void exp_cols_portable(float *s, size_t rows, size_t cols, size_t ld, float *inv) {
    for (size_t j = 0; j < cols; j++) {
        float m = -INFINITY, sum = 0;
        for (size_t r = 0; r < rows; r++) m = s[r * ld + j] > m ? s[r * ld + j] : m;
        for (size_t r = 0; r < rows; r++) { s[r * ld + j] = normal_or_zero(expf(s[r * ld + j] - m)); sum += s[r * ld + j]; }
        inv[j] = 1.0f / sum;
    }
}

/* ---- AVX2 + FMA ---------------------------------------------------------------------- */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 x) {
    __m256 lo = _mm256_set1_ps(-87.33654f), normal = _mm256_cmp_ps(x, lo, _CMP_GE_OQ); /* exp(lo) = FLT_MIN */
    x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.72283f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(n)), normal);
}

AVX2 static inline __m256 silu8(__m256 v) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

AVX2 static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Lanes past n read as -inf (max) or are left alone (stores): tails go through a buffer. */
AVX2 static void softmax_row_avx2(float *row, size_t n) {
    size_t full = n & ~(size_t)7;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    for (size_t j = 0; j < full; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + j));
    float m = hmax8(vm);
    for (size_t j = full; j < n; j++) m = row[j] > m ? row[j] : m;
    __m256 mm = _mm256_set1_ps(m), vs = _mm256_setzero_ps();
    for (size_t j = 0; j < full; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), mm));
        _mm256_storeu_ps(row + j, e);
        vs = _mm256_add_ps(vs, e);
    }
    float sum = hsum8(vs);
    if (full < n) {
        float tail[8] = {0};
        for (size_t j = full; j < n; j++) tail[j - full] = row[j] - m;
        __m256 e = exp8(_mm256_loadu_ps(tail));
        _mm256_storeu_ps(tail, e);
        for (size_t j = full; j < n; j++) { row[j] = tail[j - full]; sum += tail[j - full]; }
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum), least = _mm256_set1_ps(FLT_MIN);
    for (size_t j = 0; j < full; j += 8) {
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(row + j), inv);
        _mm256_storeu_ps(row + j, _mm256_and_ps(p, _mm256_cmp_ps(p, least, _CMP_GE_OQ)));
    }
    for (size_t j = full; j < n; j++) row[j] = normal_or_zero(row[j] * (1.0f / sum));
}

AVX2 static void affine_avx2(const float *src, float *dst, size_t n, float scale, float shift, int silu) {
    __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(src + i), a, b);
        _mm256_storeu_ps(dst + i, silu ? silu8(v) : v);
    }
    if (i < n) { /* the tail through the same vector code: a value never depends on where it sits */
        float t[8] = {0};
        memcpy(t, src + i, (n - i) * sizeof(float));
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(t), a, b);
        _mm256_storeu_ps(t, silu ? silu8(v) : v);
        memcpy(dst + i, t, (n - i) * sizeof(float));
    }
}

AVX2 static inline __m256 erf8(__m256 x) {
    /* erf(x) = sign(x) (1 - t (a1 + t (a2 + ...)) exp(-x^2)), t = 1 / (1 + p |x|) */
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(ax, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 y = _mm256_set1_ps(1.061405429f);
    y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(-1.453152027f));
    y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(1.421413741f));
    y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(-0.284496736f));
    y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(0.254829592f));
    y = _mm256_mul_ps(y, t);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
    __m256 r = _mm256_fnmadd_ps(y, e, _mm256_set1_ps(1.0f));
    return _mm256_or_ps(r, sign);
}

AVX2 static void geglu_avx2(const float *a, const float *gate, float *out, size_t n) {
    size_t i = 0;
    __m256 half = _mm256_set1_ps(0.5f), rs2 = _mm256_set1_ps(0.70710678118654752f), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 gelu = _mm256_mul_ps(_mm256_mul_ps(half, g), _mm256_add_ps(one, erf8(_mm256_mul_ps(g, rs2))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), gelu));
    }
    if (i < n) {
        float ta[8] = {0}, tg[8] = {0};
        memcpy(ta, a + i, (n - i) * sizeof(float));
        memcpy(tg, gate + i, (n - i) * sizeof(float));
        geglu_avx2(ta, tg, ta, 8);
        memcpy(out + i, ta, (n - i) * sizeof(float));
    }
}

/* Columns 64 at a time, so each pass reads whole cache lines of every row; the last vector
 * of a block masks the columns past its end. */
AVX2 static void exp_cols_avx2(float *s, size_t rows, size_t cols, size_t ld, float *inv) {
    for (size_t j0 = 0; j0 < cols; j0 += 64) {
        size_t w = cols - j0 < 64 ? cols - j0 : 64, nv = (w + 7) / 8;
        __m256i mask[8];
        __m256 vm[8], vs[8];
        for (size_t v = 0; v < nv; v++) {
            __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w - 8 * v)), lane);
            vm[v] = _mm256_set1_ps(-INFINITY);
            vs[v] = _mm256_setzero_ps();
        }
        float *x = s + j0;
        for (size_t r = 0; r < rows; r++)
            for (size_t v = 0; v < nv; v++) vm[v] = _mm256_max_ps(vm[v], _mm256_maskload_ps(x + r * ld + 8 * v, mask[v]));
        for (size_t r = 0; r < rows; r++)
            for (size_t v = 0; v < nv; v++) {
                __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + r * ld + 8 * v, mask[v]), vm[v]));
                _mm256_maskstore_ps(x + r * ld + 8 * v, mask[v], e);
                vs[v] = _mm256_add_ps(vs[v], e);
            }
        for (size_t v = 0; v < nv; v++) _mm256_maskstore_ps(inv + j0 + 8 * v, mask[v], _mm256_div_ps(_mm256_set1_ps(1.0f), vs[v]));
    }
}

/* ---- AVX-512 ------------------------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f")))

/* exp8's operations, 16 lanes at a time: the same values. */
AVX512 static inline __m512 exp16(__m512 x) {
    __m512 lo = _mm512_set1_ps(-87.33654f);
    __mmask16 normal = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.72283f));
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(normal, _mm512_scalef_ps(y, fx)); /* y * 2^fx, rounded once like exp8's multiply */
}

/* exp_cols_avx2 with 16 lanes: attention's score blocks are its largest use. */
AVX512 static void exp_cols_avx512(float *s, size_t rows, size_t cols, size_t ld, float *inv) {
    for (size_t j0 = 0; j0 < cols; j0 += 64) {
        size_t w = cols - j0 < 64 ? cols - j0 : 64, nv = (w + 15) / 16;
        __mmask16 mask[4];
        __m512 vm[4], vs[4];
        for (size_t v = 0; v < nv; v++) {
            size_t left = w - 16 * v;
            mask[v] = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1);
            vm[v] = _mm512_set1_ps(-INFINITY);
            vs[v] = _mm512_setzero_ps();
        }
        float *x = s + j0;
        for (size_t r = 0; r < rows; r++)
            for (size_t v = 0; v < nv; v++) vm[v] = _mm512_max_ps(vm[v], _mm512_maskz_loadu_ps(mask[v], x + r * ld + 16 * v));
        for (size_t r = 0; r < rows; r++)
            for (size_t v = 0; v < nv; v++) {
                __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask[v], x + r * ld + 16 * v), vm[v]));
                _mm512_mask_storeu_ps(x + r * ld + 16 * v, mask[v], e);
                vs[v] = _mm512_add_ps(vs[v], e);
            }
        for (size_t v = 0; v < nv; v++) _mm512_mask_storeu_ps(inv + j0 + 16 * v, mask[v], _mm512_div_ps(_mm512_set1_ps(1.0f), vs[v]));
    }
}

/* ---- dispatch ------------------------------------------------------------------------ */

void ck_softmax_rows(float *s, size_t rows, size_t cols, size_t ld) {
    int fast = ck_has_avx2();
    for (size_t r = 0; r < rows; r++) {
        if (fast) softmax_row_avx2(s + r * ld, cols);
        else softmax_row_portable(s + r * ld, cols);
    }
}

void ck_exp_cols(float *s, size_t rows, size_t cols, size_t ld, float *inv) {
    if (ck_has_avx512()) exp_cols_avx512(s, rows, cols, ld, inv);
    else if (ck_has_avx2()) exp_cols_avx2(s, rows, cols, ld, inv);
    else exp_cols_portable(s, rows, cols, ld, inv);
}

void ck_affine(const float *src, float *dst, size_t n, float scale, float shift, int silu) {
    if (ck_has_avx2()) return affine_avx2(src, dst, n, scale, shift, silu);
    for (size_t i = 0; i < n; i++) { float v = src[i] * scale + shift; dst[i] = silu ? silu1(v) : v; }
}

void ck_silu(float *x, size_t n) { ck_affine(x, x, n, 1.0f, 0.0f, 1); }

void ck_geglu(const float *a, const float *gate, float *out, size_t n) {
    if (ck_has_avx2()) return geglu_avx2(a, gate, out, n);
    for (size_t i = 0; i < n; i++) out[i] = a[i] * 0.5f * gate[i] * (1.0f + erff(gate[i] * 0.70710678118654752f));
}

/* Eight running sums rather than one: a single double accumulator waits on each add's latency,
 * eight are vectorised and keep up with memory. Plain C, so every CPU sums in the same order. */
#define LANES 8

void ck_moments(const float *x, size_t n, double *mean, double *var) {
    double acc[LANES] = {0}, total = 0.0;
    size_t body = n - n % LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    for (size_t i = body; i < n; i++) total += x[i];
    for (int j = 0; j < LANES; j++) total += acc[j];
    double m = total / (double)n;
    for (int j = 0; j < LANES; j++) acc[j] = 0.0;
    total = 0.0;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) { double d = x[i + j] - m; acc[j] += d * d; }
    for (size_t i = body; i < n; i++) { double d = x[i] - m; total += d * d; }
    for (int j = 0; j < LANES; j++) total += acc[j];
    *mean = m;
    *var = total / (double)n;
}

/* ---- mapped input rows (for Winograd transforms) ----------------------------------------- */

void ck_map_row(const float *img, size_t H, size_t W, size_t r, size_t n, size_t C, size_t c,
                const struct ck_input_map *map, float *dst) {
    (void)H;
    if (map && map->up) {
        const float *src = img + (r / 2) * (W / 2);
        for (size_t x = 0; x < W; x++) dst[x] = src[x / 2];
    } else {
        const float *src = img + r * W;
        for (size_t x = 0; x < W; x++) dst[x] = src[x];
    }
    if (map && map->scale) ck_affine(dst, dst, W, map->scale[n * C + c], map->shift[n * C + c], map->silu);
    else if (map && map->silu) ck_silu(dst, W);
}
