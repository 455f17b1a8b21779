/* Training kernels (see include/fg_train.h for the contracts and shape legend).
 * Compiled for AVX2 + FMA + F16C through the pragma below, like ops.c. The loops are written plainly
 * and left to the compiler's vectoriser: they are O(T·C) or O(T²·D) next to the O(T·C²) matrix
 * products that OpenBLAS runs. */
#include "fg_train.h"
#include "fg_ops.h"

#include <immintrin.h>

#include "simd_helpers.h"
#include <math.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

void fg_rmsnorm_forward_train(float *out, float *rstd, const float *x, const float *weight,
                              int64_t T, int64_t C, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * C;
        float *o = out + t * C;
        float ss = dot_f32(xr, xr, C) / (float)C;
        float inv = 1.0f / sqrtf(ss + eps);
        rstd[t] = inv;
        for (int64_t c = 0; c < C; c++) o[c] = weight[c] * (xr[c] * inv);
    }
}

/* out_c = w_c x_c r with r = (mean(x^2) + eps)^(-1/2):
 * dx_c = r w_c dout_c - (r^3 / C) x_c sum_k w_k dout_k x_k. */
void fg_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *weight,
                         const float *rstd, int64_t T, int64_t C) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * C, *dr = dout + t * C;
        float *dxr = dx + t * C;
        const float r = rstd[t];
        __m256 acc = _mm256_setzero_ps();
        int64_t c = 0;
        for (; c + 8 <= C; c += 8)
            acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(weight + c), _mm256_loadu_ps(dr + c)),
                                  _mm256_loadu_ps(xr + c), acc);
        float s = hsum256(acc);
        for (; c < C; c++) s += weight[c] * dr[c] * xr[c];
        const float k = r * r * r * s / (float)C;
        for (c = 0; c < C; c++) dxr[c] += r * weight[c] * dr[c] - k * xr[c];
    }
}

/* Eight lanes of the SwiGLU backward: silu(g) = g * sigmoid(g); silu'(g) = sigmoid(g) * (1 + g * (1 - sigmoid(g))). */
static inline void swiglu_backward8(float *dgate, float *dup, const float *dout, const float *gate, const float *up) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 g = _mm256_loadu_ps(gate), d = _mm256_loadu_ps(dout);
    const __m256 sig = sigmoid256(g);
    _mm256_storeu_ps(dup, _mm256_mul_ps(d, _mm256_mul_ps(g, sig)));
    const __m256 slope = _mm256_mul_ps(sig, _mm256_fmadd_ps(g, _mm256_sub_ps(one, sig), one));
    _mm256_storeu_ps(dgate, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(up)), slope));
}

/* The tail goes through the same eight-lane code, padded: every element gets the same arithmetic
 * wherever a call's range starts or ends. (A scalar tail with expf gave other bits, so an element's
 * gradient depended on where the thread team cut the range: 1 thread and 2 trained different
 * DPO adapters.) */
void fg_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) swiglu_backward8(dgate + i, dup + i, dout + i, gate + i, up + i);
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, d[8] = {0}, dg[8], du[8];
        for (int64_t k = 0; i + k < n; k++) g[k] = gate[i + k], u[k] = up[i + k], d[k] = dout[i + k];
        swiglu_backward8(dg, du, d, g, u);
        for (int64_t k = 0; i + k < n; k++) dgate[i + k] = dg[k], dup[i + k] = du[k];
    }
}

void fg_target_log_softmax(const float *logits, const int32_t *targets, int64_t R, int64_t V,
                           double *lse, double *logprob) {
    for (int64_t r = 0; r < R; r++) {
        const float *row = logits + r * V;
        const float m = max_f32(row, V);
        const __m256 vm = _mm256_set1_ps(m);
        /* eight float partial sums per 256-wide chunk, each chunk summed into a double */
        double s = 0.0;
        int64_t j = 0;
        for (; j + 256 <= V; j += 256) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t k = 0; k < 256; k += 8) acc = _mm256_add_ps(acc, exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j + k), vm)));
            float t[8];
            _mm256_storeu_ps(t, acc);
            for (int k = 0; k < 8; k++) s += (double)t[k];
        }
        for (; j < V; j++) s += (double)expf(row[j] - m);
        lse[r] = (double)m + log(s);
        logprob[r] = (double)row[targets[r]] - lse[r];
    }
}

void fg_target_log_softmax_backward(float *logits, const double *lse, const int32_t *targets,
                                    const float *weight, int64_t R, int64_t V) {
    for (int64_t r = 0; r < R; r++) {
        float *row = logits + r * V;
        const float w = weight[r], l = (float)lse[r];
        const __m256 vw = _mm256_set1_ps(w), vl = _mm256_set1_ps(l);
        int64_t j = 0;
        for (; j + 8 <= V; j += 8)
            _mm256_storeu_ps(row + j, _mm256_mul_ps(vw, exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j), vl))));
        for (; j < V; j++) row[j] = w * expf(row[j] - l);
        row[targets[r]] -= w;
    }
}

/* splitmix64 finaliser over (seed, counter): a counter-based generator. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void fg_dropout_mask(float *mask, int64_t n, float p, uint64_t seed) {
    const float keep = 1.0f / (1.0f - p);
    const uint64_t base = mix64(seed);
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits = mix64(base + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
        float u = (float)(bits >> 40) * 0x1.0p-24f; /* uniform in [0, 1) */
        mask[i] = u < p ? 0.0f : keep;
    }
}

void fg_mul(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void fg_mul_add(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a[i] * b[i];
}

#pragma clang attribute pop
