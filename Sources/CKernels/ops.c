/* Engine kernels (see include/fg_ops.h for the contracts and shape legend).
 * Every function is compiled for AVX2 + FMA + F16C through the pragma below, so the package
 * needs no unsafe compiler flags for them; callers must run on an x86-64-v3 CPU. */
#include "fg_ops.h"

#include <immintrin.h>

#include "simd_helpers.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline float half_to_float(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

void fg_rmsnorm(float *out, const float *x, const float *weight, int64_t T, int64_t C, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * C;
        float *o = out + t * C;
        float ss = dot_f32(xr, xr, C) / (float)C;
        float inv = 1.0f / sqrtf(ss + eps);
        for (int64_t c = 0; c < C; c++) o[c] = weight[c] * (xr[c] * inv);
    }
}

void fg_rope(float *x, int64_t H, int64_t D, const float *inv_freq, int64_t position) {
    int64_t half = D / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)position * inv_freq[i];
        float c = cosf(angle), s = sinf(angle);
        for (int64_t h = 0; h < H; h++) {
            float *row = x + h * D;
            float a = row[i], b = row[i + half];
            row[i] = a * c - b * s;
            row[i + half] = b * c + a * s;
        }
    }
}

void fg_silu_mul(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

void fg_add(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

void fg_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/* Sums of eight vectors, lane-reduced: result[i] = sum of the lanes of v[i]. */
static inline __m256 hsum8x8(const __m256 v[8]) {
    __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    /* s0123 = [v0 v1 v2 v3 (low halves) | v0 v1 v2 v3 (high halves)], likewise s4567 */
    __m256 lo = _mm256_permute2f128_ps(s0123, s4567, 0x20), hi = _mm256_permute2f128_ps(s0123, s4567, 0x31);
    return _mm256_add_ps(lo, hi);
}

/* scores[j] = dot(q, k_j) * scale for j < n, k_j = k + j * stride; eight keys at a time. */
void fg_attention_scores(float *scores, const float *q, const float *k, int64_t stride, int64_t n, int64_t D,
                             float scale) {
    int64_t j = 0;
    if (D % 8 == 0) {
        const __m256 vs = _mm256_set1_ps(scale);
        for (; j + 8 <= n; j += 8) {
            __m256 acc[8];
            for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
            for (int64_t d = 0; d < D; d += 8) {
                __m256 qv = _mm256_loadu_ps(q + d);
                for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + (j + t) * stride + d), acc[t]);
            }
            _mm256_storeu_ps(scores + j, _mm256_mul_ps(hsum8x8(acc), vs));
        }
    }
    for (; j < n; j++) scores[j] = dot_f32(q, k + j * stride, D) * scale;
}

/* out (D) = sum_j p[j] * v_j, v_j = v + j * stride; accumulates 64 columns at a time in registers. */
void fg_attention_values(float *out, const float *p, const float *v, int64_t stride, int64_t n, int64_t D) {
    if (D % 64 != 0) {
        memset(out, 0, (size_t)D * sizeof(float));
        for (int64_t j = 0; j < n; j++) axpy_f32(out, p[j], v + j * stride, D);
        return;
    }
    for (int64_t d0 = 0; d0 < D; d0 += 64) {
        __m256 acc[8];
        for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++) {
            const __m256 pj = _mm256_set1_ps(p[j]);
            const float *vj = v + j * stride + d0;
            for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * t), acc[t]);
        }
        for (int t = 0; t < 8; t++) _mm256_storeu_ps(out + d0 + 8 * t, acc[t]);
    }
}

void fg_attention(float *out, int64_t out_stride, const float *q, int64_t q_stride,
                  const float *k, const float *v, int64_t kv_stride,
                  int64_t n_new, int64_t start, int64_t H, int64_t KVH, int64_t D,
                  int64_t h0, int64_t h1, float *scratch) {
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t group = H / KVH;
    for (int64_t i = 0; i < n_new; i++) {
        const int64_t visible = start + i + 1;
        for (int64_t h = h0; h < h1; h++) {
            const float *qh = q + i * q_stride + h * D;
            const int64_t kvh = h / group;
            fg_attention_scores(scratch, qh, k + kvh * D, kv_stride, visible, D, scale);
            fg_softmax(scratch, visible);
            float *oh = out + i * out_stride + h * D;
            fg_attention_values(oh, scratch, v + kvh * D, kv_stride, visible, D);
        }
    }
}

/* ---- quantized matrix-vector products (float activations, exact dequantized math) ---- */

enum { TYPE_Q4_0 = 2, TYPE_Q4_1 = 3, TYPE_Q8_0 = 8 };

int64_t fg_quantized_row_bytes(uint32_t type, int64_t C) {
    if (C % 32 != 0) return 0;
    switch (type) {
    case TYPE_Q4_0: return C / 32 * 18;
    case TYPE_Q4_1: return C / 32 * 20;
    case TYPE_Q8_0: return C / 32 * 34;
    default: return 0;
    }
}

/* Unpacks 16 bytes of nibbles into 32 weights as four float vectors: j = 0..15 are the low nibbles,
 * j = 16..31 the high ones (ggml's Q4 layout). */
static inline void unpack_nibbles(const uint8_t *qs, __m256 w[4]) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(q, mask);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    w[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    w[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    w[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    w[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

static inline __m256 block_dot(const __m256 w[4], const float *xb) {
    __m256 s = _mm256_mul_ps(w[0], _mm256_loadu_ps(xb));
    s = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(xb + 8), s);
    s = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(xb + 16), s);
    return _mm256_fmadd_ps(w[3], _mm256_loadu_ps(xb + 24), s);
}

/* sum over a block of (q*d + m) * x = d * sum(q*x) + m * sum(x); Q4_0 is m = -8d. */
static float dot_q4(const uint8_t *row, int has_min, const float *x, const float *xsum, int64_t nb) {
    const int64_t bytes = has_min ? 20 : 18;
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes;
        float d = half_to_float(blk);
        float m = has_min ? half_to_float(blk + 2) : -8.0f * d;
        __m256 w[4];
        unpack_nibbles(blk + (has_min ? 4 : 2), w);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), block_dot(w, x + b * 32), acc);
        offset += m * xsum[b];
    }
    return hsum256(acc) + offset;
}

static float dot_q8_0(const uint8_t *row, const float *x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 34;
        float d = half_to_float(blk);
        const uint8_t *qs = blk + 2;
        __m256 w[4];
        for (int k = 0; k < 4; k++) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(qs + 8 * k));
            w[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), block_dot(w, x + b * 32), acc);
    }
    return hsum256(acc);
}

int fg_matvec_quantized(uint32_t type, const void *W, int64_t C, const float *x, float *y,
                        int64_t r0, int64_t r1) {
    const int64_t row_bytes = fg_quantized_row_bytes(type, C);
    if (row_bytes == 0) return -1;
    const int64_t nb = C / 32;
    const uint8_t *base = (const uint8_t *)W;
    if (type == TYPE_Q8_0) {
        for (int64_t r = r0; r < r1; r++) y[r] = dot_q8_0(base + r * row_bytes, x, nb);
        return 0;
    }
    float xsum_stack[1024];
    float *xsum = xsum_stack;
    if (nb > 1024) return -1;
    for (int64_t b = 0; b < nb; b++) {
        float s = 0.0f;
        for (int k = 0; k < 32; k++) s += x[b * 32 + k];
        xsum[b] = s;
    }
    const int has_min = type == TYPE_Q4_1;
    for (int64_t r = r0; r < r1; r++) y[r] = dot_q4(base + r * row_bytes, has_min, x, xsum, nb);
    return 0;
}

/* Dequantizes one block of 32 weights (type Q4_0, Q4_1 or Q8_0) into four float vectors:
 * x = q*d + m (Q4_0: m = -8d; Q8_0: m = 0). */
static inline void dequantize_block(uint32_t type, const uint8_t *blk, __m256 w[4]) {
    const __m256 vd = _mm256_set1_ps(half_to_float(blk));
    if (type == TYPE_Q8_0) {
        for (int k = 0; k < 4; k++)
            w[k] = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * k)))));
        return;
    }
    __m256 vm;
    if (type == TYPE_Q4_1) {
        vm = _mm256_set1_ps(half_to_float(blk + 2));
        unpack_nibbles(blk + 4, w);
    } else {
        vm = _mm256_set1_ps(-8.0f * half_to_float(blk));
        unpack_nibbles(blk + 2, w);
    }
    for (int k = 0; k < 4; k++) w[k] = _mm256_fmadd_ps(w[k], vd, vm);
}

/* Dense microkernel: two float weight rows (w, w + C) against four X rows; every X load feeds two FMAs. */
static inline void dense2x4(const float *w, int64_t C, const float *x, int64_t ldx, float *y, int64_t ldy) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t k = 0; k < C; k += 8) {
        __m256 wa = _mm256_loadu_ps(w + k), wb = _mm256_loadu_ps(w + C + k);
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + ldx + k);
        a0 = _mm256_fmadd_ps(wa, x0, a0); b0 = _mm256_fmadd_ps(wb, x0, b0);
        a1 = _mm256_fmadd_ps(wa, x1, a1); b1 = _mm256_fmadd_ps(wb, x1, b1);
        __m256 x2 = _mm256_loadu_ps(x + 2 * ldx + k), x3 = _mm256_loadu_ps(x + 3 * ldx + k);
        a2 = _mm256_fmadd_ps(wa, x2, a2); b2 = _mm256_fmadd_ps(wb, x2, b2);
        a3 = _mm256_fmadd_ps(wa, x3, a3); b3 = _mm256_fmadd_ps(wb, x3, b3);
    }
    y[0] = hsum256(a0); y[ldy] = hsum256(a1); y[2 * ldy] = hsum256(a2); y[3 * ldy] = hsum256(a3);
    y[1] = hsum256(b0); y[ldy + 1] = hsum256(b1); y[2 * ldy + 1] = hsum256(b2); y[3 * ldy + 1] = hsum256(b3);
}

/* Three float weight rows against four X rows: 12 accumulators, 7 loads per 12 FMAs. */
static inline void dense3x4(const float *w, int64_t C, const float *x, int64_t ldx, float *y, int64_t ldy) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    __m256 c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    for (int64_t k = 0; k < C; k += 8) {
        __m256 wa = _mm256_load_ps(w + k), wb = _mm256_load_ps(w + C + k), wc = _mm256_load_ps(w + 2 * C + k);
        __m256 xv = _mm256_loadu_ps(x + k);
        a0 = _mm256_fmadd_ps(wa, xv, a0); b0 = _mm256_fmadd_ps(wb, xv, b0); c0 = _mm256_fmadd_ps(wc, xv, c0);
        xv = _mm256_loadu_ps(x + ldx + k);
        a1 = _mm256_fmadd_ps(wa, xv, a1); b1 = _mm256_fmadd_ps(wb, xv, b1); c1 = _mm256_fmadd_ps(wc, xv, c1);
        xv = _mm256_loadu_ps(x + 2 * ldx + k);
        a2 = _mm256_fmadd_ps(wa, xv, a2); b2 = _mm256_fmadd_ps(wb, xv, b2); c2 = _mm256_fmadd_ps(wc, xv, c2);
        xv = _mm256_loadu_ps(x + 3 * ldx + k);
        a3 = _mm256_fmadd_ps(wa, xv, a3); b3 = _mm256_fmadd_ps(wb, xv, b3); c3 = _mm256_fmadd_ps(wc, xv, c3);
    }
    y[0] = hsum256(a0); y[ldy] = hsum256(a1); y[2 * ldy] = hsum256(a2); y[3 * ldy] = hsum256(a3);
    y[1] = hsum256(b0); y[ldy + 1] = hsum256(b1); y[2 * ldy + 1] = hsum256(b2); y[3 * ldy + 1] = hsum256(b3);
    y[2] = hsum256(c0); y[ldy + 2] = hsum256(c1); y[2 * ldy + 2] = hsum256(c2); y[3 * ldy + 2] = hsum256(c3);
}

/* One float weight row against one X row, accumulated in the same order as the tiles above, so a
 * result does not depend on where the tile boundaries (and so the thread split) fall. */
static inline float dense1x1(const float *w, int64_t C, const float *x) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t k = 0; k < C; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), a);
    return hsum256(a);
}

enum { TILE_ROWS = 6 };

int fg_matmul_quantized(uint32_t type, const void *W, int64_t C, const float *X, int64_t M, int64_t ldx,
                        float *Y, int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t row_bytes = fg_quantized_row_bytes(type, C);
    if (row_bytes == 0) return -1;
    const int64_t nb = C / 32, block_bytes = row_bytes / nb;
    const uint8_t *base = (const uint8_t *)W;
    /* A few weight rows dequantized into an L1-sized tile, then used by every X row. */
    float *tile = (float *)aligned_alloc(64, (size_t)(TILE_ROWS * C) * sizeof(float));
    if (!tile) return -1;
    for (int64_t rb = r0; rb < r1; rb += TILE_ROWS) {
        const int64_t n = rb + TILE_ROWS < r1 ? TILE_ROWS : r1 - rb;
        for (int64_t r = 0; r < n; r++) {
            const uint8_t *row = base + (rb + r) * row_bytes;
            for (int64_t b = 0; b < nb; b++) {
                __m256 w[4];
                dequantize_block(type, row + b * block_bytes, w);
                float *t = tile + r * C + b * 32;
                for (int k = 0; k < 4; k++) _mm256_store_ps(t + 8 * k, w[k]);
            }
        }
        int64_t m0 = 0;
        for (; m0 + 4 <= M; m0 += 4) {
            int64_t r = 0;
            for (; r + 3 <= n; r += 3) dense3x4(tile + r * C, C, X + m0 * ldx, ldx, Y + m0 * ldy + rb + r, ldy);
            for (; r + 2 <= n; r += 2) dense2x4(tile + r * C, C, X + m0 * ldx, ldx, Y + m0 * ldy + rb + r, ldy);
            for (; r < n; r++)
                for (int64_t j = 0; j < 4; j++) Y[(m0 + j) * ldy + rb + r] = dense1x1(tile + r * C, C, X + (m0 + j) * ldx);
        }
        for (; m0 < M; m0++)
            for (int64_t r = 0; r < n; r++) Y[m0 * ldy + rb + r] = dense1x1(tile + r * C, C, X + m0 * ldx);
    }
    free(tile);
    return 0;
}

#pragma clang attribute pop
