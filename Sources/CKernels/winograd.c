/* Winograd F(2x2, 3x3) transforms (Lavin & Gray 2016): B^T d B for 4x4 input tiles, G g G^T
 * for 3x3 filters, A^T m A for 4x4 products. The input and output transforms work a row of
 * tiles at a time: a padded input row split into even and odd columns turns the per-tile
 * arithmetic into contiguous array expressions the compiler vectorises. */
#include "ckernels.h"
#include "filter_lanes.h"

#include <string.h>

/* No fused multiply-adds where the CPU has them (the AVX-512 clones below): each transform
 * gives the same values on every CPU. */
#pragma STDC FP_CONTRACT OFF

void ck_wino_weights(const float *w, size_t C, size_t k0, size_t nk, size_t rows, float *U) {
    size_t plane = ck_wino_plane(rows * C);
    for (size_t k = 0; k < nk; k++) {
        for (size_t c = 0; c < C; c += 4) {
            size_t n = C - c < 4 ? C - c : 4;
            ck_v4 g[9], t[4][3]; /* G g: rows of G are (1,0,0), (.5,.5,.5), (.5,-.5,.5), (0,0,1) */
            ck_load_taps(w + ((k0 + k) * C + c) * 9, n, g);
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            float *u = U + k * C + c;
            for (int i = 0; i < 4; i++) { /* (G g) G^T */
                ck_store_lanes(u + (i * 4 + 0) * plane, t[i][0], n);
                ck_store_lanes(u + (i * 4 + 1) * plane, 0.5f * (t[i][0] + t[i][1] + t[i][2]), n);
                ck_store_lanes(u + (i * 4 + 2) * plane, 0.5f * (t[i][0] - t[i][1] + t[i][2]), n);
                ck_store_lanes(u + (i * 4 + 3) * plane, t[i][2], n);
            }
        }
    }
}

/* d B for every tile of input row r (zero outside the image): out[b][t] for b = 0..3 and the
 * tx tiles of the row. With the row padded by one zero on the left, tile t reads padded
 * columns 2t .. 2t+3: even[t], odd[t], even[t+1], odd[t+1]. */
static void row_transform(const float *img, size_t H, size_t W, long r, size_t n, size_t C, size_t c,
                          const struct ck_input_map *map, size_t tx, float *row, float *even, float *odd, float *out) {
    if (r < 0 || r >= (long)H) {
        memset(out, 0, 4 * tx * sizeof(float));
        return;
    }
    ck_map_row(img, H, W, (size_t)r, n, C, c, map, row);
    const float *src = row;
    even[0] = 0.0f; /* column -1 */
    for (size_t i = 0; i <= tx; i++) {
        size_t ce = 2 * i - 1, co = 2 * i; /* image columns behind even[i] (i > 0) and odd[i] */
        if (i > 0) even[i] = ce < W ? src[ce] : 0.0f;
        odd[i] = co < W ? src[co] : 0.0f;
    }
    float *o0 = out, *o1 = out + tx, *o2 = out + 2 * tx, *o3 = out + 3 * tx;
    for (size_t t = 0; t < tx; t++) {
        o0[t] = even[t] - even[t + 1];
        o1[t] = odd[t] + even[t + 1];
        o2[t] = even[t + 1] - odd[t];
        o3[t] = odd[t] - odd[t + 1];
    }
}

/* Cloned for AVX-512 as ck_wino4_input is (winograd4.c). */
__attribute__((target_clones("arch=x86-64-v4", "default")))
void ck_wino_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t nc, size_t q0, size_t nq, float *V,
                   float *buf, const struct ck_input_map *map) {
    size_t ty = (H + 1) / 2, tx = (W + 1) / 2, per = ty * tx, plane = ck_wino_plane(C * nq);
    size_t stored = map && map->up ? H * W / 4 : H * W; /* floats per stored plane */
    float *line = buf, *even = buf + W, *odd = even + tx + 1, *rows = odd + tx + 1;
    for (size_t c = c0; c < c0 + nc; c++) {
        /* Tile row t reads input rows 2t-1 .. 2t+2, so the next one's first two rows are this
         * one's last two: the four row transforms live in a ring whose start moves on by two,
         * and those two are kept rather than redone. */
        size_t q = q0, start = 0, done_item = (size_t)-1, done_row = 0; /* none done yet */
        while (q < q0 + nq) {
            size_t n = q / per, t = q % per, row = t / tx, first = t % tx;
            size_t count = tx - first < q0 + nq - q ? tx - first : q0 + nq - q; /* tiles of this row in the block */
            const float *img = x + (n * C + c) * stored;
            int kept = n == done_item && row == done_row + 1 ? 2 : 0;
            if (kept) start = (start + 2) % 4;
            for (int a = kept; a < 4; a++)
                row_transform(img, H, W, (long)row * 2 - 1 + a, n, C, c, map, tx, line, even, odd, rows + (start + a) % 4 * 4 * tx);
            done_item = n, done_row = row;
            const float *d[4];
            for (int a = 0; a < 4; a++) d[a] = rows + (start + a) % 4 * 4 * tx + first;
            float *v = V + c * nq + (q - q0);
            for (int b = 0; b < 4; b++) { /* B^T (d B): rows (1,0,-1,0), (0,1,1,0), (0,-1,1,0), (0,1,0,-1) */
                const float *d0 = d[0] + b * tx, *d1 = d[1] + b * tx, *d2 = d[2] + b * tx, *d3 = d[3] + b * tx;
                float *v0 = v + (0 * 4 + b) * plane, *v1 = v + (1 * 4 + b) * plane;
                float *v2 = v + (2 * 4 + b) * plane, *v3 = v + (3 * 4 + b) * plane;
                for (size_t j = 0; j < count; j++) {
                    v0[j] = d0[j] - d2[j];
                    v1[j] = d1[j] + d2[j];
                    v2[j] = d2[j] - d1[j];
                    v3[j] = d1[j] - d3[j];
                }
            }
            q += count;
        }
    }
}

void ck_wino_output(const float *M, size_t K, size_t H, size_t W, size_t k0, size_t nk, size_t k1, size_t nk1,
                    size_t q0, size_t nq, const float *bias, float *y, float *buf, int add) {
    size_t ty = (H + 1) / 2, tx = (W + 1) / 2, per = ty * tx, plane = ck_wino_plane(nk * nq);
    float *r0 = buf, *r1 = buf + tx, *r2 = buf + 2 * tx, *r3 = buf + 3 * tx;
    for (size_t k = k1; k < k1 + nk1; k++) {
        float b = bias ? bias[k] : 0.0f;
        size_t q = q0;
        while (q < q0 + nq) {
            size_t n = q / per, t = q % per, row = t / tx, first = t % tx;
            size_t count = tx - first < q0 + nq - q ? tx - first : q0 + nq - q;
            const float *m = M + (k - k0) * nq + (q - q0);
            float *out = y + (n * K + k) * H * W;
            for (int a = 0; a < 2; a++) {
                size_t r = row * 2 + a;
                if (r >= H) break;
                /* A^T m: rows (1,1,1,0), (0,1,-1,-1), then the same along the row */
                for (int c = 0; c < 4; c++) {
                    const float *m0 = m + (0 * 4 + c) * plane, *m1 = m + (1 * 4 + c) * plane;
                    const float *m2 = m + (2 * 4 + c) * plane, *m3 = m + (3 * 4 + c) * plane;
                    float *rc = buf + c * tx;
                    if (a == 0) for (size_t j = 0; j < count; j++) rc[j] = m0[j] + m1[j] + m2[j];
                    else for (size_t j = 0; j < count; j++) rc[j] = m1[j] - m2[j] - m3[j];
                }
                float *dst = out + r * W + first * 2;
                size_t full = 2 * first + 2 * count <= W ? count : count - 1; /* the last tile may lack its right column */
                if (add) {
                    for (size_t j = 0; j < full; j++) {
                        dst[2 * j] += r0[j] + r1[j] + r2[j] + b;
                        dst[2 * j + 1] += r1[j] - r2[j] - r3[j] + b;
                    }
                    if (full < count) dst[2 * full] += r0[full] + r1[full] + r2[full] + b;
                } else {
                    for (size_t j = 0; j < full; j++) {
                        dst[2 * j] = r0[j] + r1[j] + r2[j] + b;
                        dst[2 * j + 1] = r1[j] - r2[j] - r3[j] + b;
                    }
                    if (full < count) dst[2 * full] = r0[full] + r1[full] + r2[full] + b;
                }
            }
            q += count;
        }
    }
}
