/* Winograd F(4x4, 3x3) transforms (Lavin & Gray 2016, interpolation points 0, +-1, +-2, oo):
 * 36 products per 4x4 output tile instead of 144. As in winograd.c the input and output
 * transforms work a row of tiles at a time: a padded row split into its four column phases
 * makes every tile's 6-wide window contiguous array expressions. */
#include "ckernels.h"
#include "filter_lanes.h"

#include <string.h>

/* No fused multiply-adds where the CPU has them (the AVX-512 clones below): each transform
 * gives the same values on every CPU. */
#pragma STDC FP_CONTRACT OFF

/* G (6x3) on a column of three: the filter transform. */
static inline void g6(ck_v4 g0, ck_v4 g1, ck_v4 g2, ck_v4 t[6]) {
    const float s6 = 1.0f / 6.0f, s12 = 1.0f / 12.0f, s24 = 1.0f / 24.0f;
    t[0] = 0.25f * g0;
    t[1] = -(g0 + g1 + g2) * s6;
    t[2] = -(g0 - g1 + g2) * s6;
    t[3] = g0 * s24 + g1 * s12 + g2 * s6;
    t[4] = g0 * s24 - g1 * s12 + g2 * s6;
    t[5] = g2;
}

void ck_wino4_weights(const float *w, size_t C, size_t k0, size_t nk, size_t rows, float *U) {
    size_t plane = ck_wino_plane(rows * C);
    for (size_t k = 0; k < nk; k++) {
        for (size_t c = 0; c < C; c += 4) {
            size_t n = C - c < 4 ? C - c : 4;
            ck_v4 g[9], t[3][6], u[6];
            ck_load_taps(w + ((k0 + k) * C + c) * 9, n, g);
            for (int j = 0; j < 3; j++) g6(g[j], g[3 + j], g[6 + j], t[j]); /* G g, by filter column */
            float *dst = U + k * C + c;
            for (int i = 0; i < 6; i++) { /* (G g) G^T */
                g6(t[0][i], t[1][i], t[2][i], u);
                for (int j = 0; j < 6; j++) ck_store_lanes(dst + (i * 6 + j) * plane, u[j], n);
            }
        }
    }
}

/* B^T (6x6) rows: (4,0,-5,0,1,0), (0,-4,-4,1,1,0), (0,4,-4,-1,1,0), (0,-2,-1,2,1,0),
 * (0,2,-1,-2,1,0), (0,4,0,-5,0,1), applied element-wise to six arrays of n values. No array
 * overlaps another: with twelve of them the compiler vectorizes only when told (one thread,
 * 128 channels of 256x256 in 64-tile blocks: 13.0 -> 9.6 ms). */
static void b6(const float *restrict d0, const float *restrict d1, const float *restrict d2, const float *restrict d3,
               const float *restrict d4, const float *restrict d5, float *restrict o0, float *restrict o1, float *restrict o2,
               float *restrict o3, float *restrict o4, float *restrict o5, size_t n) {
    for (size_t t = 0; t < n; t++) {
        o0[t] = 4.0f * d0[t] - 5.0f * d2[t] + d4[t];
        o1[t] = -4.0f * (d1[t] + d2[t]) + d3[t] + d4[t];
        o2[t] = 4.0f * (d1[t] - d2[t]) - d3[t] + d4[t];
        o3[t] = 2.0f * (d3[t] - d1[t]) - d2[t] + d4[t];
        o4[t] = 2.0f * (d1[t] - d3[t]) - d2[t] + d4[t];
        o5[t] = 4.0f * d1[t] - 5.0f * d3[t] + d5[t];
    }
}

/* d B for every tile of input row r: out[b][t], b = 0..5. With the row padded (one zero on
 * the left, zeros past its end), tile t reads padded columns 4t .. 4t+5: phases 0..3 at t and
 * phases 0..1 at t+1. */
static void row_transform(const float *img, size_t H, size_t W, long r, size_t n, size_t C, size_t c,
                          const struct ck_input_map *map, size_t tx, float *phase, float *out) {
    if (r < 0 || r >= (long)H) {
        memset(out, 0, 6 * tx * sizeof(float));
        return;
    }
    float *padded = phase + 4 * (tx + 1); /* 4 (tx + 1) floats */
    padded[0] = 0.0f;
    ck_map_row(img, H, W, (size_t)r, n, C, c, map, padded + 1);
    memset(padded + 1 + W, 0, (4 * (tx + 1) - 1 - W) * sizeof(float));
    float *p0 = phase, *p1 = phase + (tx + 1), *p2 = phase + 2 * (tx + 1), *p3 = phase + 3 * (tx + 1);
    for (size_t i = 0; i <= tx; i++) {
        p0[i] = padded[4 * i];
        p1[i] = padded[4 * i + 1];
        p2[i] = padded[4 * i + 2];
        p3[i] = padded[4 * i + 3];
    }
    b6(p0, p1, p2, p3, p0 + 1, p1 + 1, out, out + tx, out + 2 * tx, out + 3 * tx, out + 4 * tx, out + 5 * tx, tx);
}

/* Built for baseline x86-64, the transform's loops run four lanes wide; on CPUs with AVX-512
 * a clone picked at load time runs them sixteen wide, with the same arithmetic and values. One
 * thread, AMD Zen 5: 128 channels of 256x256 15.7 -> 12.3 ms, 320 of 64x64 2.7 -> 1.8 ms (a 256
 * px VAE decode 0.96x the time). The output transform stays as built: its interleaving stores
 * ran slower sixteen wide at 64x64 (1.1 -> 1.6 ms). */
__attribute__((target_clones("arch=x86-64-v4", "default")))
void ck_wino4_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t nc, size_t q0, size_t nq, float *V,
                    float *buf, const struct ck_input_map *map) {
    size_t ty = (H + 3) / 4, tx = (W + 3) / 4, per = ty * tx, plane = ck_wino_plane(C * nq);
    size_t stored = map && map->up ? H * W / 4 : H * W; /* floats per stored plane */
    float *phase = buf, *rows = buf + 8 * (tx + 1);
    for (size_t c = c0; c < c0 + nc; c++) {
        /* Tile rows 4 apart read input rows 4t-1 .. 4t+4: the next tile row's first two input
         * rows are this one's last two. The six row transforms live in a ring of six slots
         * whose start moves on by four, so those two are kept rather than redone. */
        size_t q = q0, start = 0, done_item = (size_t)-1, done_row = 0; /* none done yet */
        while (q < q0 + nq) {
            size_t n = q / per, t = q % per, row = t / tx, first = t % tx;
            size_t count = tx - first < q0 + nq - q ? tx - first : q0 + nq - q;
            const float *img = x + (n * C + c) * stored;
            int kept = n == done_item && row == done_row + 1 ? 2 : 0;
            if (kept) start = (start + 4) % 6;
            for (int a = kept; a < 6; a++)
                row_transform(img, H, W, (long)row * 4 - 1 + a, n, C, c, map, tx, phase, rows + (start + a) % 6 * 6 * tx);
            done_item = n, done_row = row;
            const float *d[6];
            for (int a = 0; a < 6; a++) d[a] = rows + (start + a) % 6 * 6 * tx + first;
            float *v = V + c * nq + (q - q0);
            for (int b = 0; b < 6; b++) { /* B^T (d B), along the six rows */
                size_t o = b * tx;
                b6(d[0] + o, d[1] + o, d[2] + o, d[3] + o, d[4] + o, d[5] + o,
                   v + (0 * 6 + b) * plane, v + (1 * 6 + b) * plane, v + (2 * 6 + b) * plane,
                   v + (3 * 6 + b) * plane, v + (4 * 6 + b) * plane, v + (5 * 6 + b) * plane, count);
            }
            q += count;
        }
    }
}

void ck_wino4_output(const float *M, size_t K, size_t H, size_t W, size_t k0, size_t nk, size_t k1, size_t nk1,
                     size_t q0, size_t nq, const float *bias, float *y, float *buf, int add) {
    size_t ty = (H + 3) / 4, tx = (W + 3) / 4, per = ty * tx, plane = ck_wino_plane(nk * nq);
    for (size_t k = k1; k < k1 + nk1; k++) {
        float bk = bias ? bias[k] : 0.0f;
        size_t q = q0;
        while (q < q0 + nq) {
            size_t n = q / per, t = q % per, row = t / tx, first = t % tx;
            size_t count = tx - first < q0 + nq - q ? tx - first : q0 + nq - q;
            const float *m = M + (k - k0) * nq + (q - q0);
            float *out = y + (n * K + k) * H * W;
            /* A^T (4x6) rows (1,1,1,1,1,0), (0,1,-1,2,-2,0), (0,1,1,4,4,0), (0,1,-1,8,-8,1), first over
             * the six tile rows (for each of the six columns c), then along each output row. */
            float *t0 = buf, *t1 = buf + 6 * tx, *t2 = buf + 12 * tx, *t3 = buf + 18 * tx; /* [row a][c][j] */
            for (int c = 0; c < 6; c++) {
                const float *m0 = m + c * plane, *m1 = m0 + 6 * plane, *m2 = m1 + 6 * plane, *m3 = m2 + 6 * plane;
                const float *m4 = m3 + 6 * plane, *m5 = m4 + 6 * plane;
                float *a0 = t0 + c * tx, *a1 = t1 + c * tx, *a2 = t2 + c * tx, *a3 = t3 + c * tx;
                for (size_t j = 0; j < count; j++) {
                    float s1 = m1[j] + m2[j], d1 = m1[j] - m2[j], s2 = m3[j] + m4[j], d2 = m3[j] - m4[j];
                    a0[j] = m0[j] + s1 + s2;
                    a1[j] = d1 + 2.0f * d2;
                    a2[j] = s1 + 4.0f * s2;
                    a3[j] = d1 + 8.0f * d2 + m5[j];
                }
            }
            for (int a = 0; a < 4 && row * 4 + a < H; a++) {
                const float *r0 = buf + a * 6 * tx, *r1 = r0 + tx, *r2 = r1 + tx, *r3 = r2 + tx, *r4 = r3 + tx, *r5 = r4 + tx;
                float *dst = out + (row * 4 + a) * W + first * 4;
                size_t full = 4 * (first + count) <= W ? count : count - 1; /* the last tile may stick out */
                for (size_t j = 0; j < full; j++) {
                    float s1 = r1[j] + r2[j], d1 = r1[j] - r2[j], s2 = r3[j] + r4[j], d2 = r3[j] - r4[j];
                    float o0 = r0[j] + s1 + s2 + bk, o1 = d1 + 2.0f * d2 + bk;
                    float o2 = s1 + 4.0f * s2 + bk, o3 = d1 + 8.0f * d2 + r5[j] + bk;
                    if (add) {
                        dst[4 * j] += o0; dst[4 * j + 1] += o1; dst[4 * j + 2] += o2; dst[4 * j + 3] += o3;
                    } else {
                        dst[4 * j] = o0; dst[4 * j + 1] = o1; dst[4 * j + 2] = o2; dst[4 * j + 3] = o3;
                    }
                }
                for (size_t j = full; j < count; j++) {
                    float s1 = r1[j] + r2[j], d1 = r1[j] - r2[j], s2 = r3[j] + r4[j], d2 = r3[j] - r4[j];
                    float o[4] = {r0[j] + s1 + s2, d1 + 2.0f * d2, s1 + 4.0f * s2, d1 + 8.0f * d2 + r5[j]};
                    for (size_t b = 0; 4 * (first + j) + b < W; b++) dst[4 * j + b] = (add ? dst[4 * j + b] : 0.0f) + (o[b] + bk);
                }
            }
            q += count;
        }
    }
}
