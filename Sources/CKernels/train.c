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
        float s = 0.0f;
        for (int64_t c = 0; c < C; c++) s += weight[c] * dr[c] * xr[c];
        const float k = r * r * r * s / (float)C;
        for (int64_t c = 0; c < C; c++) dxr[c] += r * weight[c] * dr[c] - k * xr[c];
    }
}

/* Forward: a' = a cos - b sin, b' = b cos + a sin; the transpose rotates by -angle. */
void fg_rope_backward(float *dx, int64_t H, int64_t D, const float *inv_freq, int64_t position) {
    int64_t half = D / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)position * inv_freq[i];
        float c = cosf(angle), s = sinf(angle);
        for (int64_t h = 0; h < H; h++) {
            float *row = dx + h * D;
            float da = row[i], db = row[i + half];
            row[i] = da * c + db * s;
            row[i + half] = db * c - da * s;
        }
    }
}

/* silu(g) = g * sigmoid(g); silu'(g) = sigmoid(g) * (1 + g * (1 - sigmoid(g))). */
void fg_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        dup[i] = dout[i] * silu;
        dgate[i] = dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

/* For query row i: P = softmax(scale · q_i·k_j, j <= i), out_i = sum_j P_j v_j.
 * dP_j = dout_i·v_j; dS_j = P_j (dP_j - sum_k P_k dP_k);
 * dq_i = scale sum_j dS_j k_j; dk_j += scale dS_j q_i; dv_j += P_j dout_i.
 * reference: the softmax Jacobian as in llm.c attention_backward (Karpathy), written anew. */
enum { ATTENTION_BACKWARD_BLOCK = 64 };

int64_t fg_attention_backward_scratch(int64_t n) {
    return 2 * ATTENTION_BACKWARD_BLOCK * n + 2 * ATTENTION_BACKWARD_BLOCK;
}

/* out (D) += sum over t < m of w[t] * row_t, row_t = rows + t * stride; 64 columns in registers. */
static void add_weighted_rows(float *out, const float *w, const float *rows, int64_t stride, int64_t m, int64_t D) {
    if (D % 64 != 0) {
        for (int64_t t = 0; t < m; t++) axpy_f32(out, w[t], rows + t * stride, D);
        return;
    }
    for (int64_t d0 = 0; d0 < D; d0 += 64) {
        __m256 acc[8];
        for (int u = 0; u < 8; u++) acc[u] = _mm256_loadu_ps(out + d0 + 8 * u);
        for (int64_t t = 0; t < m; t++) {
            const __m256 wt = _mm256_set1_ps(w[t]);
            const float *r = rows + t * stride + d0;
            for (int u = 0; u < 8; u++) acc[u] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(r + 8 * u), acc[u]);
        }
        for (int u = 0; u < 8; u++) _mm256_storeu_ps(out + d0 + 8 * u, acc[u]);
    }
}

/* Query rows are taken in blocks of ATTENTION_BACKWARD_BLOCK: for a block, the probabilities P and
 * the score gradients dS = P ∘ (dP − rowsum(P ∘ dP)) are kept (block × n), dq is formed row by row,
 * then each key row j gathers its column of the block and accumulates dk_j += Σ dS_ij q_i and
 * dv_j += Σ P_ij do_i in registers: one read-modify-write of dk_j / dv_j per block instead of one per
 * query row. reference: the standard softmax-attention backward (e.g. FlashAttention-2, Dao 2023). */
void fg_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v,
                           int64_t n, int64_t H, int64_t KVH, int64_t D,
                           int64_t g0, int64_t g1, float *scratch) {
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t group = H / KVH, qs = H * D, kvs = KVH * D, B = ATTENTION_BACKWARD_BLOCK;
    float *P = scratch, *S = scratch + B * n, *ws = scratch + 2 * B * n, *wp = ws + B;
    for (int64_t g = g0; g < g1; g++) {
        const float *kg = k + g * D, *vg = v + g * D;
        for (int64_t h = g * group; h < (g + 1) * group; h++) {
            for (int64_t i0 = 0; i0 < n; i0 += B) {
                const int64_t i1 = i0 + B < n ? i0 + B : n;
                for (int64_t i = i0; i < i1; i++) {
                    const float *qi = q + i * qs + h * D, *doi = dout + i * qs + h * D;
                    float *p = P + (i - i0) * n, *ds = S + (i - i0) * n;
                    const int64_t visible = i + 1;
                    fg_attention_scores(p, qi, kg, kvs, visible, D, scale);
                    float m = -INFINITY;
                    for (int64_t j = 0; j < visible; j++) m = p[j] > m ? p[j] : m;
                    float sum = 0.0f;
                    for (int64_t j = 0; j < visible; j++) {
                        p[j] = expf(p[j] - m);
                        sum += p[j];
                    }
                    const float inv = 1.0f / sum;
                    fg_attention_scores(ds, doi, vg, kvs, visible, D, 1.0f);  /* dP */
                    float pdp = 0.0f;
                    for (int64_t j = 0; j < visible; j++) {
                        p[j] *= inv;
                        pdp += p[j] * ds[j];
                    }
                    for (int64_t j = 0; j < visible; j++) ds[j] = p[j] * (ds[j] - pdp) * scale;
                    fg_attention_values(dq + i * qs + h * D, ds, kg, kvs, visible, D);
                }
                /* key rows j < i1 see query rows max(i0, j) ... i1-1 of this block */
                for (int64_t j = 0; j < i1; j++) {
                    const int64_t lo = j > i0 ? j : i0, m = i1 - lo;
                    for (int64_t t = 0; t < m; t++) {
                        ws[t] = S[(lo - i0 + t) * n + j];
                        wp[t] = P[(lo - i0 + t) * n + j];
                    }
                    add_weighted_rows(dk + j * kvs + g * D, ws, q + lo * qs + h * D, qs, m, D);
                    add_weighted_rows(dv + j * kvs + g * D, wp, dout + lo * qs + h * D, qs, m, D);
                }
            }
        }
    }
}

/* exp(x) for eight lanes: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-6 polynomial (Cephes
 * expf coefficients), 2^n through the exponent bits. Relative error ~2e-7 (about 1-2 ulp) for
 * x in [-87, 88]; inputs below are flushed to 0. reference: Cephes `expf.c` (S. Moshier). */
static inline __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
    const __m256 below = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(below, y);
}

static inline float max_f32(const float *x, int64_t n) {
    float m = x[0];
    int64_t j = 0;
    if (n >= 8) {
        __m256 vm = _mm256_loadu_ps(x);
        for (j = 8; j + 8 <= n; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + j));
        float t[8];
        _mm256_storeu_ps(t, vm);
        for (int k = 0; k < 8; k++) m = t[k] > m ? t[k] : m;
    }
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
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
