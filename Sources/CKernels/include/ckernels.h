/* Vectorised element-wise kernels for libldm's Swift core. Each has a portable path and an
 * AVX2+FMA path chosen at run time (Debian builds for baseline x86-64). Names start with ck_,
 * which the library's version script keeps private. */
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

/* 1 when the AVX2+FMA paths run on this CPU. */
int ck_has_avx2(void);

/* Softmax of each of `rows` rows of `cols` floats, `ld` apart, in place (max subtracted). */
void ck_softmax_rows(float *s, size_t rows, size_t cols, size_t ld);

/* dst[i] = f(src[i] * scale + shift), f = SiLU when `silu`, else identity. */
void ck_affine(const float *src, float *dst, size_t n, float scale, float shift, int silu);

/* x[i] = silu(x[i]). */
void ck_silu(float *x, size_t n);

/* out[i] = a[i] * gelu(gate[i]), exact-erf GELU. */
void ck_geglu(const float *a, const float *gate, float *out, size_t n);

#endif
