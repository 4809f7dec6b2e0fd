/* Vectorised element-wise kernels for libldm's Swift core. Each has a portable path and an
 * AVX2+FMA path chosen at run time (Debian builds for baseline x86-64). Names start with ck_,
 * which the library's version script keeps private. */
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <malloc.h> /* malloc_trim, which Swift's Glibc module leaves out */

/* 1 when the AVX2+FMA paths run on this CPU. */
int ck_has_avx2(void);

/* 1 when ck_sgemm's AVX-512 path runs on this CPU (AVX-512 F, BW and VL, F16C). */
int ck_has_avx512(void);

/* Row-major C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, op = transpose when
 * trans_*, single-threaded; only where ck_has_avx512(). Each element's value is independent
 * of m and n, so products may be cut anywhere. Returns -1 (C untouched) when out of memory. */
int ck_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
             const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* Types of stored GEMM operands. */
enum { CK_F32, CK_F16, CK_BF16, CK_Q8_0 };

/* ck_sgemm with A and B as stored (lda and ldb in elements): weights in another type than fp32
 * must have k contiguous (A not transposed, B transposed) and are converted while packed,
 * exactly as ck_f16_to_f32 and ck_q8_0_to_f32 convert (bf16: the top half of an fp32); Q8_0
 * needs k and its ld to be multiples of 32. Returns -2 (C untouched) for an operand it
 * cannot read, -1 when out of memory. */
int ck_sgemm_typed(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const void *a, size_t lda,
                   int a_type, const void *b, size_t ldb, int b_type, float beta, float *c, size_t ldc);

/* Unmaps the packing buffers that products keep for the next ones (5 MB mappings, resident as
 * far as used, one for each product that ran at once); products after it map new ones. */
void ck_release_buffers(void);

/* A whole op(A) [m, k] (fp32) packed as ck_sgemm packs it, for products that reuse it:
 * ck_packed_a_floats(m, k) floats at dst. */
size_t ck_packed_a_floats(size_t m, size_t k);
void ck_pack_a(int trans_a, size_t m, size_t k, const float *a, size_t lda, float *dst);

/* ck_sgemm with A packed by ck_pack_a, into C^T (n x m, rows ldc apart) when `swap`; the
 * values are ck_sgemm's when it computes the same orientation. */
int ck_sgemm_packed(const float *packed, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *b, size_t ldb,
                    float beta, float *c, size_t ldc, int swap);

/* Runs fn(ctx, p) for p = 0 ..< parts (2 to 64, at most the process's CPUs), part 0 on the
 * calling thread and part p always on the same worker thread; returns 0 when done, -1
 * (nothing run) for other part counts, when the workers are taken (a region inside a region,
 * or another caller's) or when they cannot be started. */
typedef void (*ck_part_fn)(void *ctx, size_t part);
int ck_parallel(size_t parts, ck_part_fn fn, void *ctx);

/* ck_parallel over 0 ..< n cut in `parts` contiguous ranges in part order, part p given
 * [lo, hi) (an empty range is not run); the cuts follow the speeds the workers showed in
 * earlier regions. ck_parallel_cuts gives the cuts the next region would get (parts + 1
 * entries, from 0 to n). */
typedef void (*ck_range_fn)(void *ctx, size_t part, size_t lo, size_t hi);
int ck_parallel_ranges(size_t n, size_t parts, ck_range_fn fn, void *ctx);
void ck_parallel_cuts(size_t n, size_t parts, size_t *cut);

/* Softmax of each of `rows` rows of `cols` floats, `ld` apart, in place (max subtracted).
 * Here and in ck_exp_cols a weight below FLT_MIN is 0 (exp(-inf) of a masked score too): no
 * subnormals reach the products that read them. */
void ck_softmax_rows(float *s, size_t rows, size_t cols, size_t ld);

/* Softmax down each of `cols` columns of `rows` floats (rows `ld` apart) but for the final
 * scaling: the columns become exp(s - column max) in place and inv[j] 1 / column j's sum, for
 * the caller to apply to what it computes from them (attention scales P V's output rows). */
void ck_exp_cols(float *s, size_t rows, size_t cols, size_t ld, float *inv);

/* dst[i] = f(src[i] * scale + shift), f = SiLU when `silu`, else identity. */
void ck_affine(const float *src, float *dst, size_t n, float scale, float shift, int silu);

/* x[i] = silu(x[i]). */
void ck_silu(float *x, size_t n);

/* out[i] = a[i] * gelu(gate[i]), exact-erf GELU. */
void ck_geglu(const float *a, const float *gate, float *out, size_t n);

/* Mean and (biased) variance of n floats, summed in double: two passes, for normalisation. */
void ck_moments(const float *x, size_t n, double *mean, double *var);

/* n fp16 values (little-endian, any alignment) -> fp32, exactly. */
void ck_f16_to_f32(const void *src, size_t n, float *dst);

/* Q8_0 blocks (fp16 scale d, then 32 int8 q; 34 bytes, any alignment) -> d * q as fp32. */
void ck_q8_0_to_f32(const void *src, size_t blocks, float *dst);

/* Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1, in three steps
 * around 16 GEMMs. Tiles cover the output in 2x2 blocks; tile q of a batch is item
 * q / tiles_per_item.
 *
 * The input may be read through a map, so the tensor the convolution sees is never stored:
 * with `up`, x is half the size and each of its pixels stands for 2x2 (nearest upsampling);
 * with scale/shift (per item and channel, [N][C]), every value v becomes v * scale + shift,
 * then SiLU when `silu` (a GroupNorm folded in). The padding stays zero. */
struct ck_input_map {
    const float *scale; /* NULL: no affine */
    const float *shift;
    int silu;
    int up;
};

/* Floats from one plane of U, V or M to the next for planes of n floats: n rounded up to 4 KB
 * plus one cache line. Planes a multiple of 4 KB apart would put the transforms' 16 or 36
 * streams in the same cache sets, where they evict each other (the filter transform ran 3-4x
 * slower so). */
static inline size_t ck_wino_plane(size_t n) { return (n + 1023) / 1024 * 1024 + 16; }

/* U[e][k][c] = (G g G^T)[e] for output channels k0 .. k0+nk, e = 0 .. 15; g = w[k][c] (3x3).
 * U points at channel k0's row of plane 0; planes hold `rows` x C values (ck_wino_plane apart). */
void ck_wino_weights(const float *w, size_t C, size_t k0, size_t nk, size_t rows, float *U);

/* V[e][c][j] = (B^T d B)[e] of input tile q0 + j (j < nq) for channels c0 .. c0+nc of x
 * [N][C][H][W]; V's planes hold C x nq values (ck_wino_plane apart). `buf` holds
 * ck_wino_input_scratch(W) floats. */
void ck_wino_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t nc, size_t q0, size_t nq, float *V,
                   float *buf, const struct ck_input_map *map);
static inline size_t ck_wino_input_scratch(size_t W) { return W + 2 * ((W + 1) / 2 + 1) + 16 * ((W + 1) / 2); }

/* y[n][k][...] = A^T M A of tile q0 + j, plus bias[k] when bias is not NULL, for output
 * channels k0 .. k0+nk (M's planes hold nk x nq values, ck_wino_plane apart; only the first
 * nk1 channels from k1 on are written: k1 >= k0, k1 + nk1 <= k0 + nk). With `add`, the
 * result is added to y. `buf` holds 4 * ((W + 1) / 2) floats. */
void ck_wino_output(const float *M, size_t K, size_t H, size_t W, size_t k0, size_t nk, size_t k1, size_t nk1,
                    size_t q0, size_t nq, const float *bias, float *y, float *buf, int add);

/* Winograd F(4x4, 3x3): the same steps with 6x6 input tiles, 4x4 output tiles and 36 planes. */
void ck_wino4_weights(const float *w, size_t C, size_t k0, size_t nk, size_t rows, float *U);
void ck_wino4_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t nc, size_t q0, size_t nq, float *V,
                    float *buf, const struct ck_input_map *map);
static inline size_t ck_wino4_input_scratch(size_t W) { return 8 * ((W + 3) / 4 + 1) + 36 * ((W + 3) / 4); }
void ck_wino4_output(const float *M, size_t K, size_t H, size_t W, size_t k0, size_t nk, size_t k1, size_t nk1,
                     size_t q0, size_t nq, const float *bias, float *y, float *buf, int add);

/* ck_wino_weights (tile 2) or ck_wino4_weights (tile 4) with w as stored (one row of C x 9
 * elements per output channel, of type CK_F32, CK_F16, CK_BF16 or CK_Q8_0, Q8_0 rows a
 * multiple of 32), the same values as converting it to fp32 first: only where
 * ck_has_avx512(), else -2, as for weights it cannot read. nk = 0 writes nothing: it asks. */
int ck_wino_filters(int tile, const void *w, int type, size_t C, size_t k0, size_t nk, size_t rows, float *U);

/* Row r of the mapped input plane `img` of channel c, item n: W values into dst (H, W are the
 * sizes the convolution sees). */
void ck_map_row(const float *img, size_t H, size_t W, size_t r, size_t n, size_t C, size_t c,
                const struct ck_input_map *map, float *dst);

#endif
