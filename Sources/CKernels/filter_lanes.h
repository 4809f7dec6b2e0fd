/* Shared by the Winograd filter transforms (private to CKernels). */
#ifndef CK_FILTER_LANES_H
#define CK_FILTER_LANES_H

#include <stddef.h>

/* Filter transforms run on four input channels (SSE, in every x86-64) at a time, each lane one filter. */
typedef float ck_v4 __attribute__((vector_size(16)));

/* The nine taps of filters c0 .. c0+n (n <= 4) of one output channel, g[c][9], as vectors
 * over the filters (zero past n). Four filters, the usual case, take whole-vector code: the
 * per-lane loops below stay scalar and made the transform a quarter slower. */
static inline void ck_load_taps(const float *g, size_t n, ck_v4 tap[9]) {
    if (n == 4) {
        for (int j = 0; j < 9; j++) tap[j] = (ck_v4){g[j], g[9 + j], g[18 + j], g[27 + j]};
        return;
    }
    for (int j = 0; j < 9; j++)
        for (size_t i = 0; i < 4; i++) tap[j][i] = i < n ? g[i * 9 + j] : 0.0f;
}

/* The first n lanes of v to dst. */
static inline void ck_store_lanes(float *dst, ck_v4 v, size_t n) {
    if (n == 4) {
        __builtin_memcpy(dst, &v, sizeof v);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = v[i];
}

#endif
