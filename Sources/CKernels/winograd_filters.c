/* The Winograd filter transforms (G g G^T of winograd.c and winograd4.c) with AVX-512: each
 * vector holds one tap of 16 filters (input channels), read from the weights as stored, so
 * fp16 and Q8_0 weights need no fp32 copy first. The arithmetic is theirs, operation for
 * operation (no fused multiply-adds), so the values are the same bit for bit. */
#include "operand.h"

/* Tap j of filters c0 ..< c0 + n (n <= 16) of output channel k in lane i of g[j]; lanes
 * past n are 0. */
AVX512 static void taps(const operand *w, size_t k, size_t c0, size_t n, __m512 g[9]) {
    __m512 t[16];
    if (w->type != CK_Q8_0) {
        operand f = {row_of(w, k) + row_bytes(w->type, 9 * c0), 9, w->type}; /* rows of 9 taps */
        transpose16(&f, 0, n, 0, 9, t);
    } else { /* Q8_0 blocks span filters: the taps are converted first */
        float flat[9 * 16];
        const char *row = row_of(w, k);
        for (size_t col = 0; col < 9 * n; col += 16)
            _mm512_storeu_ps(flat + col, load16(CK_Q8_0, row, 9 * c0 + col, lanes(9 * n - col)));
        operand f = {(const char *)flat, 9, CK_F32};
        transpose16(&f, 0, n, 0, 9, t);
    }
    for (int j = 0; j < 9; j++) g[j] = t[j];
}

/* F(2x2): G's rows are (1,0,0), (.5,.5,.5), (.5,-.5,.5), (0,0,1). */
AVX512 static void filters2(const operand *w, size_t C, size_t k0, size_t nk, size_t plane, float *U) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (size_t k = 0; k < nk; k++)
        for (size_t c = 0; c < C; c += 16) {
            size_t n = C - c < 16 ? C - c : 16;
            __mmask16 m = lanes(n);
            __m512 g[9], t[4][3];
            taps(w, k0 + k, c, n, g);
            for (int j = 0; j < 3; j++) { /* G g, by filter column */
                t[0][j] = g[j];
                t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g[j], g[3 + j]), g[6 + j]));
                t[2][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g[j], g[3 + j]), g[6 + j]));
                t[3][j] = g[6 + j];
            }
            float *u = U + k * C + c;
            for (int i = 0; i < 4; i++) { /* (G g) G^T */
                _mm512_mask_storeu_ps(u + (i * 4 + 0) * plane, m, t[i][0]);
                _mm512_mask_storeu_ps(u + (i * 4 + 1) * plane, m,
                                      _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2])));
                _mm512_mask_storeu_ps(u + (i * 4 + 2) * plane, m,
                                      _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(t[i][0], t[i][1]), t[i][2])));
                _mm512_mask_storeu_ps(u + (i * 4 + 3) * plane, m, t[i][2]);
            }
        }
}

AVX512 static inline __m512 neg(__m512 x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}

/* F(4x4): G (6x3) on a column of three, as winograd4.c's g6. */
AVX512 static inline void g6(__m512 g0, __m512 g1, __m512 g2, __m512 t[6]) {
    const __m512 s6 = _mm512_set1_ps(1.0f / 6.0f), s12 = _mm512_set1_ps(1.0f / 12.0f), s24 = _mm512_set1_ps(1.0f / 24.0f);
    __m512 a = _mm512_mul_ps(g0, s24), b = _mm512_mul_ps(g1, s12), c = _mm512_mul_ps(g2, s6);
    t[0] = _mm512_mul_ps(_mm512_set1_ps(0.25f), g0);
    t[1] = _mm512_mul_ps(neg(_mm512_add_ps(_mm512_add_ps(g0, g1), g2)), s6);
    t[2] = _mm512_mul_ps(neg(_mm512_add_ps(_mm512_sub_ps(g0, g1), g2)), s6);
    t[3] = _mm512_add_ps(_mm512_add_ps(a, b), c);
    t[4] = _mm512_add_ps(_mm512_sub_ps(a, b), c);
    t[5] = g2;
}

AVX512 static void filters4(const operand *w, size_t C, size_t k0, size_t nk, size_t plane, float *U) {
    for (size_t k = 0; k < nk; k++)
        for (size_t c = 0; c < C; c += 16) {
            size_t n = C - c < 16 ? C - c : 16;
            __mmask16 m = lanes(n);
            __m512 g[9], t[3][6], u[6];
            taps(w, k0 + k, c, n, g);
            for (int j = 0; j < 3; j++) g6(g[j], g[3 + j], g[6 + j], t[j]); /* G g, by filter column */
            float *dst = U + k * C + c;
            for (int i = 0; i < 6; i++) { /* (G g) G^T */
                g6(t[0][i], t[1][i], t[2][i], u);
                for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(dst + (i * 6 + j) * plane, m, u[j]);
            }
        }
}

int ck_wino_filters(int tile, const void *w, int type, size_t C, size_t k0, size_t nk, size_t rows, float *U) {
    if (!ck_has_avx512() || (tile != 2 && tile != 4) || (type == CK_Q8_0 && 9 * C % 32) || type < CK_F32 || type > CK_Q8_0)
        return -2;
    operand op = {w, 9 * C, type};
    (tile == 2 ? filters2 : filters4)(&op, C, k0, nk, ck_wino_plane(rows * C), U);
    return 0;
}
