/* Single-precision GEMM with AVX-512 for CPUs that have it (Debian's OpenBLAS 0.3.21 runs its
 * 256-bit Haswell kernels on Zen 4 and later, and its SSE3 Prescott ones on Intel CPUs newer
 * than it).
 *
 * C is row-major, so a micro-tile is MR rows of NR = 32 columns: two vectors per row, one
 * broadcast element of A per row and k step. A is packed MR rows at a time (kept whole for a
 * wide C; for a narrow one read in place, or converted MR rows at a time in its own layout)
 * and B NR columns at a time, both k-major, transposing in registers where the layout asks;
 * weights stored as fp16, bf16 or Q8_0 are converted on the way, so no fp32 copy of them is
 * written. k runs in equal blocks of at most KC; within a block each element of C is one
 * running FMA sum, so its value does not depend on where m or n are cut. */
#include "buffers.h"
#include "ckernels.h"
#include "operand.h"

#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

enum { MR = 14, NR = 32, KC = 1280, MB = 16 * MR, NB = 512 };

/* k runs in equal blocks of at most KC, in whole Q8_0 blocks of 32: each block is another
 * pass over C, whose tiles have left the cache by then, and a shallow last block (64 of 320)
 * would be mostly those loads and stores. Blocks of up to 1280 rather than 384 take 5% less
 * time over the UNet's fp32 products and 2.5% less with fp16 or Q8_0 weights (each shape
 * weighted by its time in a 256 px call, cold operands, one thread, alternately; 5-7% with
 * the other core busy too): 128x5120x1280 14-18% less, none more than 2% more. */
static size_t depth(size_t k) {
    size_t blocks = (k + KC - 1) / KC, kb = (k + blocks - 1) / blocks;
    return (kb + 31) / 32 * 32;
}

/* Rows of A and columns of B packed per block: MB and NB at depths up to SIZED, fewer beyond,
 * so that the packed blocks (336 KB of A, 768 KB of B) still share the 2 MB L2. */
enum { SIZED = 384 };
static size_t block_rows(size_t kb) { return kb <= SIZED ? MB : MB / MR * SIZED / kb * MR; }
static size_t block_cols(size_t kb) { return kb <= SIZED ? NB : NB * SIZED / kb / NR * NR; }

static int detect_avx512(void) {
    unsigned a, b, c, d;
    if (!ck_has_avx2() || !__get_cpuid(1, &a, &b, &c, &d) || !((c >> 29) & 1)) return 0; /* F16C */
    /* AVX-512 F, BW and VL: byte and halfword loads of stored weights */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (b & 0xc0010000u) != 0xc0010000u) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6; /* the OS saves the opmask and all 512-bit registers */
}

int ck_has_avx512(void) {
    static int cached = -1;
    if (cached < 0) cached = detect_avx512();
    return cached;
}

/* Rows i0 ..< i0 + MR of op(A), k columns p0 ..< p0 + kc, as dst[p * MR + i]; rows past m are 0. */
AVX512 static void pack_a(const operand *a, int trans, size_t m, size_t i0, size_t p0, size_t kc, float *dst) {
    size_t rows = m - i0 < MR ? m - i0 : MR;
    __mmask16 keep = lanes(rows);
    if (trans) {
        for (size_t p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(dst + p * MR, 0x3fff, _mm512_maskz_loadu_ps(keep, (const float *)a->p + (p0 + p) * a->ld + i0));
        return;
    }
    __m512 t[16];
    for (size_t p = 0; p < kc; p += 16) {
        size_t cols = kc - p < 16 ? kc - p : 16;
        transpose16(a, i0, rows, p0 + p, cols, t);
        for (size_t q = 0; q < cols; q++) _mm512_mask_storeu_ps(dst + (p + q) * MR, 0x3fff, t[q]);
    }
}

/* Columns j0 ..< j0 + NR of op(B), k rows p0 ..< p0 + kc, as dst[p * NR + j]; columns past n
 * are 0. Packing even an untransposed B pays: rows of a panel read in place sit a power of
 * two apart and crowd a few cache sets. */
AVX512 static void pack_b(const operand *b, int trans, size_t n, size_t j0, size_t p0, size_t kc, float *dst) {
    size_t cols = n - j0 < NR ? n - j0 : NR;
    if (!trans) {
        __mmask16 m0 = lanes(cols), m1 = lanes(cols > 16 ? cols - 16 : 0);
        for (size_t p = 0; p < kc; p++) {
            const float *src = (const float *)b->p + (p0 + p) * b->ld + j0;
            _mm512_store_ps(dst + p * NR, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
        return;
    }
    __m512 t[16];
    for (size_t h = 0; h < 2; h++) {
        size_t rows = cols > 16 * h ? cols - 16 * h : 0;
        rows = rows < 16 ? rows : 16;
        for (size_t p = 0; p < kc; p += 16) {
            size_t n16 = kc - p < 16 ? kc - p : 16;
            transpose16(b, j0 + 16 * h, rows, p0 + p, n16, t);
            for (size_t q = 0; q < n16; q++) _mm512_store_ps(dst + (p + q) * NR + 16 * h, t[q]);
        }
    }
}

/* A block of op(X) (rows i0.., columns p0..; X stored transposed when `trans`) as the runs of
 * bytes it occupies, prefetched into L2 while the block before it computes: packing then
 * finds it there instead of waiting on memory (weights are streamed once per call). Each tile
 * takes its share of lines and spreads them over its k steps: a burst of prefetches would
 * hold the L1 miss buffers that the tile's own loads need. */
typedef struct {
    const char *base;
    size_t ld, rows, lines; /* `rows` runs of `lines` cache lines, `ld` bytes apart */
    size_t r, l;            /* the next line */
    size_t share;           /* lines per tile */
} ahead;

enum {
    SHARE = 64,            /* at most this many lines of each block per packed tile are spread */
    RESIDENT = 1 << 15,    /* lines (2 MB) of an operand small enough to be in cache already */
    IN_PLACE = 4,          /* tiles of C across, at most, for which A is read in place */
    WHOLE = 1 << 20,       /* floats (4 MB), at most, of a k block of A kept packed whole */
    FETCH_ROW = 2560,      /* floats, at most, in a row of fp32 A read in place and fetched ahead */
    ROW_TILE_LINES = MR * (KC / 16 + 2) /* lines, at most, of a row tile of A read in place */
};
_Static_assert(WHOLE + NB * SIZED <= CK_BUFFER_FLOATS, "a product's packed blocks fit one buffer");

static ahead ahead_of(const operand *x, int trans, size_t i0, size_t rows, size_t p0, size_t cols, size_t tiles) {
    ahead h = {trans ? row_of(x, p0) + 4 * i0 : row_of(x, i0) + row_bytes(x->type, p0), row_bytes(x->type, x->ld),
               trans ? cols : rows, 0, 0, 0, 0};
    h.lines = (trans ? 4 * rows : row_bytes(x->type, cols)) / 64 + 2; /* the run may straddle one more line */
    h.share = (h.rows * h.lines + tiles - 1) / tiles;
    return h;
}

/* Whether prefetching pays for an operand: one of r stored rows of c elements larger than
 * the cache; the activations met here (attention's heads, scores) are mostly there already. */
static int streamed(const operand *x, size_t r, size_t c) {
    return r * (row_bytes(x->type, c) / 64 + 1) > RESIDENT;
}

/* The next `count` lines' addresses into `to`, or prefetched now where `to` is NULL; returns
 * how many there were. */
static size_t ahead_take(ahead *h, size_t count, const char **to) {
    size_t q = 0;
    for (; q < count && h->r < h->rows; q++) {
        const char *line = h->base + h->r * h->ld + h->l * 64;
        if (to) to[q] = line;
        else _mm_prefetch(line, _MM_HINT_T1);
        if (++h->l == h->lines) h->l = 0, h->r++;
    }
    return q;
}

/* c = alpha * acc + beta * c for a tile's first `rows` rows, the columns in (m0, m1), or with
 * `swap` the same into c^T (tile row i is column i of c); beta == 0 never reads c. */
AVX512 static inline __attribute__((always_inline)) void finish(__m512 acc[MR][2], float alpha, float beta, __mmask16 m0, __mmask16 m1,
                                                                float *c, size_t ldc, size_t rows, int swap) {
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (swap) {
        float scaled[MR * NR] __attribute__((aligned(64)));
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            _mm512_store_ps(scaled + i * NR, _mm512_mul_ps(va, acc[i][0]));
            _mm512_store_ps(scaled + i * NR + 16, _mm512_mul_ps(va, acc[i][1]));
        }
        size_t cols = (size_t)__builtin_popcount(m0) + (size_t)__builtin_popcount(m1);
        __mmask16 keep = lanes(rows);
        __m512 t[16];
        for (size_t h = 0; h < 2 && cols > 16 * h; h++) {
            size_t n16 = cols - 16 * h < 16 ? cols - 16 * h : 16;
            operand half = {(const char *)(scaled + 16 * h), NR, CK_F32};
            transpose16(&half, 0, MR, 0, n16, t);
            for (size_t q = 0; q < n16; q++) {
                float *cq = c + (16 * h + q) * ldc;
                __m512 r = t[q];
                if (beta != 0) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(keep, cq), r);
                _mm512_mask_storeu_ps(cq, keep, r);
            }
        }
        return;
    }
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= rows) break;
        float *ci = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

/* The MR x NR tile: acc = sum_p ap[p, :] x bp[p, :], prefetching the `nf` lines `fetch`
 * evenly on the way; then stored by `finish`. */
AVX512 static void tile(size_t kc, const float *ap, const float *bp, __mmask16 m0, __mmask16 m1, float *c, size_t ldc,
                        size_t rows, float alpha, float beta, int swap, const char *const *fetch, size_t nf) {
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    size_t gap = nf ? (kc + nf - 1) / nf : kc, q = 0;
    for (size_t p0 = 0; p0 < kc; p0 += gap) {
        for (size_t p = p0; p < p0 + gap && p < kc; p++) {
            __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                __m512 x = _mm512_set1_ps(ap[i]);
                acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
            }
            ap += MR;
            bp += NR;
        }
        if (q < nf) _mm_prefetch(fetch[q++], _MM_HINT_T1);
    }
    while (q < nf) _mm_prefetch(fetch[q++], _MM_HINT_T1);
    finish(acc, alpha, beta, m0, m1, c, ldc, rows, swap);
}

/* The tile with A not transposed and read in place (fp32, or rows converted as they lie), for
 * a C at most IN_PLACE tiles wide: each element of A meets that many tiles, so packing it
 * would be a pass over the weights for little reuse (the later tiles find its rows in cache).
 * The same sums, and the same spread prefetches as `tile`. */
AVX512 static void tile_in_place(size_t kc, const float *a, size_t lda, const float *bp, __mmask16 m0, __mmask16 m1, float *c,
                                 size_t ldc, size_t rows, float alpha, float beta, int swap, const char *const *fetch, size_t nf) {
    __m512 acc[MR][2];
    const float *row[MR];
    for (size_t i = 0; i < MR; i++) row[i] = a + (i < rows ? i : rows - 1) * lda; /* rows past m repeat the last */
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    size_t gap = nf ? (kc + nf - 1) / nf : kc, q = 0;
    for (size_t p0 = 0; p0 < kc; p0 += gap) {
        for (size_t p = p0; p < p0 + gap && p < kc; p++, bp += NR) {
            __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                __m512 x = _mm512_set1_ps(row[i][p]);
                acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
            }
        }
        if (q < nf) _mm_prefetch(fetch[q++], _MM_HINT_T1);
    }
    while (q < nf) _mm_prefetch(fetch[q++], _MM_HINT_T1);
    finish(acc, alpha, beta, m0, m1, c, ldc, rows, swap);
}

/* Whether `gemm` reads an unpacked A in place: not transposed, C at most IN_PLACE tiles wide. */
static int reads_in_place(int trans_a, size_t n) { return !trans_a && n <= IN_PLACE * NR; }

/* Rows i0 ..< i0 + rows of a stored A, k columns p0 ..< p0 + kc, as fp32 in their own layout,
 * dst[i * ld + p]: for a narrow C this pass, with no transposing, costs a fraction of packing.
 * Whole vectors of fp16 are loaded unmasked, and a Q8_0 block's scale is converted once for
 * its 32 weights. One thread (AMD Zen 5), cold weights: 1280x32x11520 with fp16 127 -> 174
 * GFLOP/s, Q8_0 152 -> 203 (fp32 in place 212); 1280x64x2560 fp16 174 -> 212, Q8_0 196 ->
 * 224 (fp32 206). The values are load16's. */
AVX512 static void convert_rows(const operand *a, size_t i0, size_t rows, size_t p0, size_t kc, float *dst, size_t ld) {
    for (size_t i = 0; i < rows; i++) {
        const char *row = row_of(a, i0 + i);
        float *out = dst + i * ld;
        size_t p = 0;
        if (a->type == CK_Q8_0) /* p0 and kc are whole blocks */
            for (const char *block = row + p0 / 32 * 34; p < kc; p += 32, block += 34) {
                uint16_t d;
                memcpy(&d, block, 2);
                __m512 scale = _mm512_set1_ps(_cvtsh_ss(d));
                __m256i q = _mm256_loadu_si256((const __m256i *)(block + 2));
                _mm512_storeu_ps(out + p, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)))));
                _mm512_storeu_ps(out + p + 16,
                                 _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)))));
            }
        else if (a->type == CK_F16)
            for (; p + 16 <= kc; p += 16) _mm512_storeu_ps(out + p, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 2 * (p0 + p)))));
        for (; p < kc; p += 16) _mm512_storeu_ps(out + p, load16(a->type, row, p0 + p, lanes(kc - p)));
    }
}

/* Where the panel of rows i0.. for k block p0 lies in a whole packed A of m rows. */
static size_t packed_at(size_t m, size_t i0, size_t p0, size_t kc) { return p0 * ((m + MR - 1) / MR * MR) + i0 * kc; }

/* C = alpha op(A) op(B) + beta C, or with `swap` C^T = ... (c is then n x m). With `packed`,
 * op(A) comes packed whole (ck_pack_a) and `a` is not read. */
AVX512 static int gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const operand *a,
                       const float *packed, const operand *b, float beta, float *c, size_t ldc, int swap) {
    int in_place = !packed && reads_in_place(trans_a, n), convert = in_place && a->type != CK_F32;
    int pack = !packed && !in_place; /* A needs a buffer */
    size_t kb = depth(k), whole_floats = (m + MR - 1) / MR * MR * kb;
    size_t ldr = kb + 16; /* converted rows; the padding spreads them over the cache's sets */
    size_t a_rows = block_rows(kb), b_cols = block_cols(kb);
    /* A's packed k block is kept whole for the next columns where it is small enough, not
     * packed again (512x2560x640 135 -> 142, 512x1280x1280 140 -> 146 GFLOP/s). */
    int whole = pack && n > b_cols && whole_floats <= WHOLE;
    /* A's block (or converted rows) first, then B's: at most WHOLE and NB * SIZED floats. */
    float *buffer = ck_buffer_take();
    if (!buffer) return -1;
    float *ap = pack || convert ? buffer : NULL, *bp = buffer + WHOLE;
    /* B's block is packed once per k block, A's too where kept whole, else once more for each
     * further b_cols columns. The blocks go p0 -> jb -> ib; the next of each is fetched ahead. */
    const ahead none = {0};
    /* Stored weights (converted) come from memory whatever their size: 1280x64x1280 with
     * Q8_0 weights (1.7 MB, under RESIDENT) 193 -> 218 GFLOP/s fetched, 640x128x1280 with
     * fp16 192 -> 226 (one thread, cold). */
    int fetch_in = in_place && (convert || (k <= FETCH_ROW && streamed(a, m, k)));
    int fetch_a = pack && (trans_a ? streamed(a, k, m) : streamed(a, m, k)), fetch_b = trans_b ? streamed(b, n, k) : streamed(b, k, n);
    size_t tiles_m = (m + MR - 1) / MR;
    for (size_t p0 = 0; p0 < k; p0 += kb) {
        size_t kc = k - p0 < kb ? k - p0 : kb;
        float bt = p0 == 0 ? beta : 1;
        for (size_t jb = 0; jb < n; jb += b_cols) {
            size_t nb = n - jb < b_cols ? n - jb : b_cols, tiles_n = (nb + NR - 1) / NR;
            for (size_t j = 0; j < nb; j += NR) pack_b(b, trans_b, n, jb + j, p0, kc, bp + j * kc);
            size_t jn = jb + b_cols < n ? jb + b_cols : 0, pn = jn ? p0 : p0 + kb, kn = k - pn < kb ? k - pn : kb;
            ahead next_b = fetch_b && pn < k ? ahead_of(b, trans_b, pn, kn, jn, n - jn < b_cols ? n - jn : b_cols, tiles_m * tiles_n) : none;
            for (size_t ib = 0; ib < m; ib += a_rows) {
                size_t mb = m - ib < a_rows ? m - ib : a_rows;
                if (in_place) {
                    for (size_t i = 0; i < mb; i += MR) {
                        /* The next row tile's run of A (or the first at the next k block) is
                         * fetched while this one computes, spread over all its k steps: the
                         * hardware does not find 14 runs of kc floats in time. Cold weights,
                         * one thread: 128x5120x1280 117 -> 127 GFLOP/s, 128x2560x640 101 ->
                         * 125, 77x768x768 89 -> 104; where fp32 rows are long (k 3072 to
                         * 5760) no change, at k = 11520 a loss (116 -> 89): the hardware
                         * streams each row on into the next k block. Converted rows are read
                         * in a burst, which that streaming does not serve; fetched while the
                         * tile before computes, 1280x32x11520 with fp16 weights ran at 161
                         * GFLOP/s, fetched 64 lines per tile at 130, not at all at 106 (with
                         * masked loads in convert_rows then). */
                        size_t in = ib + i + MR < m ? ib + i + MR : 0, pa = in ? p0 : p0 + kb, ka = k - pa < kb ? k - pa : kb;
                        ahead next = fetch_in && pa < k ? ahead_of(a, 0, in, m - in < MR ? m - in : MR, pa, ka, tiles_n) : none;
                        size_t rows = mb - i < MR ? mb - i : MR;
                        if (convert) convert_rows(a, ib + i, rows, p0, kc, ap, ldr);
                        const float *ai = convert ? ap : (const float *)a->p + (ib + i) * a->ld + p0;
                        for (size_t j = 0; j < nb; j += NR) {
                            size_t cols = nb - j < NR ? nb - j : NR;
                            float *cij = swap ? c + (jb + j) * ldc + ib + i : c + (ib + i) * ldc + jb + j;
                            const char *fetch[ROW_TILE_LINES];
                            size_t nf = ahead_take(&next, next.share, fetch);
                            tile_in_place(kc, ai, convert ? ldr : a->ld, bp + j * kc, lanes(cols), lanes(cols > 16 ? cols - 16 : 0), cij,
                                          ldc, rows, alpha, bt, swap, fetch, nf);
                        }
                    }
                    continue;
                }
                float *own = whole ? ap + ib * kc : ap; /* this block's place when packed here */
                const float *ab = packed ? packed + packed_at(m, ib, p0, kc) : own;
                if (pack && (!whole || jb == 0))
                    for (size_t i = 0; i < mb; i += MR) pack_a(a, trans_a, m, ib + i, p0, kc, own + i * kc);
                size_t in = ib + a_rows < m ? ib + a_rows : 0, pa = in || jn ? p0 : p0 + kb, ka = k - pa < kb ? k - pa : kb;
                size_t tiles = (mb + MR - 1) / MR * tiles_n;
                int packs_next = !whole || (in ? jb == 0 : !jn); /* the block at (in, pa) */
                size_t rows_next = m - in < a_rows ? m - in : a_rows;
                ahead next_a = fetch_a && packs_next && pa < k ? ahead_of(a, trans_a, in, rows_next, pa, ka, tiles) : none;
                for (size_t i = 0; i < mb; i += MR) {
                    size_t rows = mb - i < MR ? mb - i : MR;
                    for (size_t j = 0; j < nb; j += NR) {
                        size_t cols = nb - j < NR ? nb - j : NR;
                        __mmask16 m0 = lanes(cols), m1 = lanes(cols > 16 ? cols - 16 : 0);
                        float *cij = swap ? c + (jb + j) * ldc + ib + i : c + (ib + i) * ldc + jb + j;
                        const char *fetch[2 * SHARE];
                        size_t nf = ahead_take(&next_a, next_a.share < SHARE ? next_a.share : SHARE, fetch);
                        nf += ahead_take(&next_b, next_b.share < SHARE ? next_b.share : SHARE, fetch + nf);
                        tile(kc, ab + i * kc, bp + j * kc, m0, m1, cij, ldc, rows, alpha, bt, swap, fetch, nf);
                        if (next_a.share > SHARE) ahead_take(&next_a, next_a.share - SHARE, NULL);
                        if (next_b.share > SHARE) ahead_take(&next_b, next_b.share - SHARE, NULL);
                    }
                }
            }
        }
    }
    ck_buffer_give(buffer);
    return 0;
}

/* The share of a tile grid's work that falls inside an m x n product. */
static double fill(size_t m, size_t n) {
    return (double)m / (double)((m + MR - 1) / MR * MR) * (double)n / (double)((n + NR - 1) / NR * NR);
}

int ck_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
             const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    return ck_sgemm_typed(trans_a, trans_b, m, n, k, alpha, a, lda, CK_F32, b, ldb, CK_F32, beta, c, ldc);
}

int ck_sgemm_typed(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const void *a, size_t lda,
                   int a_type, const void *b, size_t ldb, int b_type, float beta, float *c, size_t ldc) {
    /* Stored weights are read a row of k at a time, Q8_0 in whole blocks. */
    int a_ok = a_type == CK_F32 || (!trans_a && a_type >= CK_F16 && a_type <= CK_Q8_0);
    int b_ok = b_type == CK_F32 || (trans_b && b_type >= CK_F16 && b_type <= CK_Q8_0);
    if (!a_ok || !b_ok || ((a_type == CK_Q8_0 || b_type == CK_Q8_0) && k % 32) || (a_type == CK_Q8_0 && lda % 32) ||
        (b_type == CK_Q8_0 && ldb % 32))
        return -2;
    operand oa = {a, lda, a_type}, ob = {b, ldb, b_type};
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
    /* A narrow C (attention's 40-wide heads) fills 32-column tiles poorly, and a short one (a
     * linear layer over 128 tokens) would pack its few rows of A again for every NB columns
     * while B, the weights, is the operand worth reading only once: then compute C^T =
     * op(B)^T op(A)^T, the weights becoming an A read in place or packed once. 128x5120x1280
     * with fp32 weights 85 -> 101 GFLOP/s, 64x640x1280 83 -> 128 (one thread, best of
     * interleaved runs); fp16 and Q8_0 weights 4-24% faster. Their rows are converted as
     * they lie then, so they are swapped alike even where 32-column tiles fill worse than
     * 14-row ones (cold, one thread, swapped against packed: 77x768x768 fp16 125 -> 143
     * GFLOP/s, Q8_0 158 -> 166; 16x1280x1280 fp16 62 -> 82, Q8_0 70 -> 79). Each element
     * takes the same products in the same order, so the value is the same either way. */
    int narrow = m <= IN_PLACE * NR && n > IN_PLACE * NR;
    /* Nor is an A read in place swapped for better-filled tiles: it would become a B packed by
     * transposing, a second pass over weights that are streamed once (a 1x1 conv's 1280x2560
     * weights over a 4x4 plane, n = 16: 30 -> 39 GFLOP/s, one thread, cold). */
    if (narrow || (!reads_in_place(trans_a, n) && fill(n, m) > 1.1 * fill(m, n))) return gemm(!trans_b, !trans_a, n, m, k, alpha, &ob, NULL, &oa, beta, c, ldc, 1);
    return gemm(trans_a, trans_b, m, n, k, alpha, &oa, NULL, &ob, beta, c, ldc, 0);
}

size_t ck_packed_a_floats(size_t m, size_t k) { return (m + MR - 1) / MR * MR * k; }

void ck_pack_a(int trans_a, size_t m, size_t k, const float *a, size_t lda, float *dst) {
    operand oa = {(const char *)a, lda, CK_F32};
    size_t kb = depth(k);
    for (size_t p0 = 0; p0 < k; p0 += kb) {
        size_t kc = k - p0 < kb ? k - p0 : kb;
        for (size_t i = 0; i < m; i += MR) pack_a(&oa, trans_a, m, i, p0, kc, dst + packed_at(m, i, p0, kc));
    }
}

int ck_sgemm_packed(const float *packed, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *b, size_t ldb,
                    float beta, float *c, size_t ldc, int swap) {
    operand ob = {(const char *)b, ldb, CK_F32};
    if (k == 0) return ck_sgemm(0, 0, swap ? n : m, swap ? m : n, 0, alpha, NULL, 0, NULL, 0, beta, c, ldc);
    return gemm(0, trans_b, m, n, k, alpha, NULL, packed, &ob, beta, c, ldc, swap);
}
