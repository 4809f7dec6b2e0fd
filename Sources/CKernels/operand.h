/* Operands as stored (fp32, or weights as fp16, bf16 or Q8_0), read 16 lanes at a time with
 * AVX-512 (private to CKernels): ck_sgemm packs them, the Winograd filter transforms read
 * filters from them. */
#ifndef CK_OPERAND_H
#define CK_OPERAND_H

#include "ckernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

/* The first n (at most 16) lanes of a vector. */
static inline __mmask16 lanes(size_t n) { return (__mmask16)((1u << (n < 16 ? n : 16)) - 1); }

/* An operand as stored: fp32, or a weight stored as fp16, bf16 or Q8_0 that packing converts
 * (rows of k contiguous elements, `ld` elements apart). */
typedef struct {
    const char *p;
    size_t ld;
    int type;
} operand;

/* The bytes of n elements from the start of a row (for Q8_0, n a multiple of 32). */
static inline size_t row_bytes(int type, size_t n) {
    return type == CK_Q8_0 ? n / 32 * 34 : type == CK_F32 ? 4 * n : 2 * n;
}

static inline const char *row_of(const operand *x, size_t r) { return x->p + r * row_bytes(x->type, x->ld); }

/* Elements col ..< col + 16 of a stored row (a multiple of 16), lanes outside m 0, as fp32:
 * the values ck_f16_to_f32 and ck_q8_0_to_f32 give (bf16 is the top half of an fp32). */
AVX512 static inline __m512 load16(int type, const char *row, size_t col, __mmask16 m) {
    switch (type) {
    case CK_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * col));
    case CK_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * col)), 16));
    case CK_Q8_0: {
        const char *block = row + col / 32 * 34;
        uint16_t d;
        memcpy(&d, block, 2);
        __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, block + 2 + col % 32)));
        return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d)), q);
    }
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + col);
    }
}

/* t[p][r] = x[r0 + r][col + p] for r < rows, p < cols (both <= 16); the rest of t is 0. */
AVX512 static inline void transpose16(const operand *x, size_t r0, size_t rows, size_t col, size_t cols, __m512 t[16]) {
    __mmask16 m = lanes(cols);
    __m512 r[16], u[16];
    for (size_t i = 0; i < 16; i++) r[i] = i < rows ? load16(x->type, row_of(x, r0 + i), col, m) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        u[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        u[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int j = 0; j < 2; j++) {
            __m512d a = _mm512_castps_pd(u[i + j]), b = _mm512_castps_pd(u[i + j + 2]);
            r[i + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    /* r[4q + c] now holds, in each 128-bit lane L, column 4L + c of rows 4q ..< 4q + 4. */
    for (int q = 0; q < 4; q += 2)
        for (int c = 0; c < 4; c++) {
            u[4 * q + c] = _mm512_shuffle_f32x4(r[4 * q + c], r[4 * q + 4 + c], 0x88);
            u[4 * q + 4 + c] = _mm512_shuffle_f32x4(r[4 * q + c], r[4 * q + 4 + c], 0xdd);
        }
    for (int c = 0; c < 4; c++)
        for (int h = 0; h < 2; h++) {
            t[c + 4 * h] = _mm512_shuffle_f32x4(u[c + 4 * h], u[8 + c + 4 * h], 0x88);
            t[c + 8 + 4 * h] = _mm512_shuffle_f32x4(u[c + 4 * h], u[8 + c + 4 * h], 0xdd);
        }
}

#endif
