/* Winograd F(2x2, 3x3) transforms (Lavin & Gray 2016): B^T d B for 4x4 input tiles, G g G^T
 * for 3x3 filters, A^T m A for 4x4 products. Plain C that the compiler vectorises; the GEMMs
 * between them are OpenBLAS's. */
#include "ckernels.h"

void ck_wino_weights(const float *w, size_t C, size_t k0, size_t nk, size_t rows, float *U) {
    size_t plane = rows * C;
    for (size_t k = 0; k < nk; k++) {
        for (size_t c = 0; c < C; c++) {
            const float *g = w + ((k0 + k) * C + c) * 9;
            float t[4][3]; /* G g: rows of G are (1,0,0), (.5,.5,.5), (.5,-.5,.5), (0,0,1) */
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            float *u = U + k * C + c;
            for (int i = 0; i < 4; i++) { /* (G g) G^T */
                u[(i * 4 + 0) * plane] = t[i][0];
                u[(i * 4 + 1) * plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[(i * 4 + 2) * plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[(i * 4 + 3) * plane] = t[i][2];
            }
        }
    }
}

void ck_wino_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t nc, size_t q0, size_t nq, float *V) {
    size_t ty = (H + 1) / 2, tx = (W + 1) / 2, per = ty * tx, plane = C * nq;
    for (size_t c = c0; c < c0 + nc; c++) {
        for (size_t j = 0; j < nq; j++) {
            size_t q = q0 + j, n = q / per, t = q % per;
            long r0 = (long)(t / tx) * 2 - 1, s0 = (long)(t % tx) * 2 - 1;
            const float *img = x + (n * C + c) * H * W;
            float d[4][4];
            for (int a = 0; a < 4; a++) {
                long r = r0 + a;
                for (int b = 0; b < 4; b++) {
                    long s = s0 + b;
                    d[a][b] = r >= 0 && r < (long)H && s >= 0 && s < (long)W ? img[r * (long)W + s] : 0.0f;
                }
            }
            float e[4][4]; /* B^T d: rows (1,0,-1,0), (0,1,1,0), (0,-1,1,0), (0,1,0,-1) */
            for (int b = 0; b < 4; b++) {
                e[0][b] = d[0][b] - d[2][b];
                e[1][b] = d[1][b] + d[2][b];
                e[2][b] = d[2][b] - d[1][b];
                e[3][b] = d[1][b] - d[3][b];
            }
            float *v = V + c * nq + j;
            for (int a = 0; a < 4; a++) { /* (B^T d) B */
                v[(a * 4 + 0) * plane] = e[a][0] - e[a][2];
                v[(a * 4 + 1) * plane] = e[a][1] + e[a][2];
                v[(a * 4 + 2) * plane] = e[a][2] - e[a][1];
                v[(a * 4 + 3) * plane] = e[a][1] - e[a][3];
            }
        }
    }
}

void ck_wino_output(const float *M, size_t K, size_t H, size_t W, size_t k0, size_t nk, size_t k1, size_t nk1,
                    size_t q0, size_t nq, const float *bias, float *y) {
    size_t ty = (H + 1) / 2, tx = (W + 1) / 2, per = ty * tx, plane = nk * nq;
    for (size_t k = k1; k < k1 + nk1; k++) {
        float b = bias ? bias[k] : 0.0f;
        for (size_t j = 0; j < nq; j++) {
            const float *m = M + (k - k0) * nq + j;
            float v[16];
            for (int e = 0; e < 16; e++) v[e] = m[e * plane];
            float r[2][4]; /* A^T m: rows (1,1,1,0), (0,1,-1,-1) */
            for (int c = 0; c < 4; c++) {
                r[0][c] = v[c] + v[4 + c] + v[8 + c];
                r[1][c] = v[4 + c] - v[8 + c] - v[12 + c];
            }
            size_t q = q0 + j, n = q / per, t = q % per;
            size_t r0 = (t / tx) * 2, s0 = (t % tx) * 2;
            float *out = y + (n * K + k) * H * W;
            for (int a = 0; a < 2; a++) {
                if (r0 + a >= H) break;
                float o0 = r[a][0] + r[a][1] + r[a][2] + b, o1 = r[a][1] - r[a][2] - r[a][3] + b;
                out[(r0 + a) * W + s0] = o0;
                if (s0 + 1 < W) out[(r0 + a) * W + s0 + 1] = o1;
            }
        }
    }
}
