/* Causal attention, forward (include/fg_ops.h) and backward (include/fg_train.h).
 *
 * Query rows are taken in blocks of ATTENTION_BLOCK. For a block, the scores against every key it
 * can see are one small matrix product (S = Q Kᵀ, the "nt" kernel: dot products along the head
 * dimension), the causal mask and softmax run row by row, and the outputs are a second product
 * (O = P V, the "nn" kernel: rows of V scaled and summed in registers). The backward reuses the two
 * kernels for dP = dO Vᵀ, dQ = dS K, dK += dSᵀ Q and dV += Pᵀ dO. Keys and values stay in cache
 * while a block passes over them, which is what the row-at-a-time form (one query against all keys,
 * kept for single-token decoding) cannot do.
 * reference: the standard softmax-attention forward and backward (e.g. FlashAttention-2, Dao 2023),
 * here without the online softmax: a block's full score rows fit in the scratch. */
#include "fg_ops.h"
#include "fg_train.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "simd_helpers.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

enum { ATTENTION_BLOCK = 64 };

/* ---- small matrix kernels ------------------------------------------------------------------- */

/* The four sums of four accumulators: [Σ a0, Σ a1, Σ a2, Σ a3]. */
static inline __m128 hsum4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* C[i, j] = alpha · dot(A_i, B_j) for i < M, j < N, where A_i = A + i·lda and B_j = B + j·ldb hold
 * K floats each; K is a multiple of 8. Three A rows against four B rows at a time: twelve
 * accumulators, seven loads per twelve FMAs. */
static void gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, float alpha) {
    const __m128 va = _mm_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 3 <= M; i += 3) {
        const float *a0 = A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda;
        float *c0 = C + i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b = B + j * ldb;
            __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
            __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00;
            for (int64_t k = 0; k < K; k += 8) {
                const __m256 x0 = _mm256_loadu_ps(a0 + k), x1 = _mm256_loadu_ps(a1 + k), x2 = _mm256_loadu_ps(a2 + k);
                __m256 y = _mm256_loadu_ps(b + k);
                s00 = _mm256_fmadd_ps(x0, y, s00); s10 = _mm256_fmadd_ps(x1, y, s10); s20 = _mm256_fmadd_ps(x2, y, s20);
                y = _mm256_loadu_ps(b + ldb + k);
                s01 = _mm256_fmadd_ps(x0, y, s01); s11 = _mm256_fmadd_ps(x1, y, s11); s21 = _mm256_fmadd_ps(x2, y, s21);
                y = _mm256_loadu_ps(b + 2 * ldb + k);
                s02 = _mm256_fmadd_ps(x0, y, s02); s12 = _mm256_fmadd_ps(x1, y, s12); s22 = _mm256_fmadd_ps(x2, y, s22);
                y = _mm256_loadu_ps(b + 3 * ldb + k);
                s03 = _mm256_fmadd_ps(x0, y, s03); s13 = _mm256_fmadd_ps(x1, y, s13); s23 = _mm256_fmadd_ps(x2, y, s23);
            }
            _mm_storeu_ps(c0 + j, _mm_mul_ps(va, hsum4x8(s00, s01, s02, s03)));
            _mm_storeu_ps(c1 + j, _mm_mul_ps(va, hsum4x8(s10, s11, s12, s13)));
            _mm_storeu_ps(c2 + j, _mm_mul_ps(va, hsum4x8(s20, s21, s22, s23)));
        }
        for (; j < N; j++) {
            const float *b = B + j * ldb;
            c0[j] = alpha * dot_f32(a0, b, K);
            c1[j] = alpha * dot_f32(a1, b, K);
            c2[j] = alpha * dot_f32(a2, b, K);
        }
    }
    for (; i < M; i++) {
        const float *a0 = A + i * lda;
        float *c0 = C + i * ldc;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b = B + j * ldb;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (int64_t k = 0; k < K; k += 8) {
                const __m256 x0 = _mm256_loadu_ps(a0 + k);
                s0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + k), s0);
                s1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + ldb + k), s1);
                s2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + 2 * ldb + k), s2);
                s3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + 3 * ldb + k), s3);
            }
            _mm_storeu_ps(c0 + j, _mm_mul_ps(va, hsum4x8(s0, s1, s2, s3)));
        }
        for (; j < N; j++) c0[j] = alpha * dot_f32(a0, B + j * ldb, K);
    }
}

/* All rows of one column panel of width 8·W, six rows at a time. */
static inline __attribute__((always_inline)) void nn_panel(int W, int64_t M, int64_t K, const float *A, int64_t lda,
                                                           const float *B, int64_t ldb, float *C, int64_t ldc,
                                                           int accumulate) {
    int64_t i = 0;
    for (; i + 6 <= M; i += 6) outer_tile(6, W, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
    if (i < M) outer_tile_rows(W, M - i, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
}

/* C (M, N) = A (M, K) · B (K, N), or C += A·B when `accumulate`; row strides lda, ldb, ldc; N is a
 * multiple of 8. Each element sums its K products in order k = 0, 1, ..., whatever the blocking. */
static void gemm_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, int accumulate) {
    int64_t j = 0;
    for (; j + 16 <= N; j += 16) nn_panel(2, M, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
    for (; j + 8 <= N; j += 8) nn_panel(1, M, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
}

/* dst (cols, rows) = srcᵀ for src (rows, cols) with row stride lds. */
static void transpose(float *dst, const float *src, int64_t rows, int64_t cols, int64_t lds) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * lds + c];
}

/* Row r of the score block S (rows, ld) belongs to the query at position `first + r` and sees keys
 * 0 ... first + r: those become softmax probabilities, the rest of the row up to `ld` becomes 0. */
static void causal_softmax_rows(float *S, int64_t rows, int64_t ld, int64_t first) {
    for (int64_t r = 0; r < rows; r++) {
        float *s = S + r * ld;
        const int64_t visible = first + r + 1;
        fg_softmax(s, visible);
        if (visible < ld) memset(s + visible, 0, (size_t)(ld - visible) * sizeof(float));
    }
}

/* ---- forward -------------------------------------------------------------------------------- */

/* scores[j] = dot(q, k_j) * scale for j < n, k_j = k + j * stride; four keys at a time. */
void fg_attention_scores(float *scores, const float *q, const float *k, int64_t stride, int64_t n, int64_t D,
                         float scale) {
    if (D % 8 == 0) {
        gemm_nt(1, n, D, q, D, k, stride, scores, n, scale);
        return;
    }
    for (int64_t j = 0; j < n; j++) scores[j] = dot_f32(q, k + j * stride, D) * scale;
}

/* out (D) = sum_j p[j] * v_j, v_j = v + j * stride. */
void fg_attention_values(float *out, const float *p, const float *v, int64_t stride, int64_t n, int64_t D) {
    if (D % 8 == 0) {
        gemm_nn(1, D, n, p, n, v, stride, out, D, 0);
        return;
    }
    memset(out, 0, (size_t)D * sizeof(float));
    for (int64_t j = 0; j < n; j++) axpy_f32(out, p[j], v + j * stride, D);
}

int64_t fg_attention_scratch(int64_t n_new, int64_t start) {
    /* a single new row stacks up to ATTENTION_BLOCK heads of one kv group as score rows */
    const int64_t rows = n_new == 1 || n_new > ATTENTION_BLOCK ? ATTENTION_BLOCK : n_new;
    return rows * (start + n_new);
}

void fg_attention(float *out, int64_t out_stride, const float *q, int64_t q_stride,
                  const float *k, const float *v, int64_t kv_stride, int64_t kv_head_stride,
                  int64_t n_new, int64_t start, int64_t H, int64_t KVH, int64_t D,
                  int64_t h0, int64_t h1, float *scratch) {
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t group = H / KVH;
    if (D % 8 != 0) {
        /* one query row at a time */
        for (int64_t i = 0; i < n_new; i++) {
            const int64_t visible = start + i + 1;
            for (int64_t h = h0; h < h1; h++) {
                const int64_t g = h / group;
                fg_attention_scores(scratch, q + i * q_stride + h * D, k + g * kv_head_stride, kv_stride, visible, D, scale);
                fg_softmax(scratch, visible);
                fg_attention_values(out + i * out_stride + h * D, scratch, v + g * kv_head_stride, kv_stride, visible, D);
            }
        }
        return;
    }
    if (n_new == 1) {
        /* Decoding: the query heads that share a kv head are the rows of one block, so the 3x4 and
         * 6x16 kernels run full and K and V pass once per group. Every row sees all start + 1 keys;
         * each head's sums are those of the head alone (the kernels sum per element in order). */
        const int64_t keys = start + 1;
        for (int64_t h = h0; h < h1;) {
            const int64_t g = h / group, group_end = (g + 1) * group;
            const int64_t end = group_end < h1 ? group_end : h1;
            const int64_t rows = end - h < ATTENTION_BLOCK ? end - h : ATTENTION_BLOCK;
            gemm_nt(rows, keys, D, q + h * D, D, k + g * kv_head_stride, kv_stride, scratch, keys, scale);
            for (int64_t r = 0; r < rows; r++) fg_softmax(scratch + r * keys, keys);
            gemm_nn(rows, D, keys, scratch, keys, v + g * kv_head_stride, kv_stride, out + h * D, D, 0);
            h += rows;
        }
        return;
    }
    for (int64_t h = h0; h < h1; h++) {
        const int64_t g = h / group;
        for (int64_t i0 = 0; i0 < n_new; i0 += ATTENTION_BLOCK) {
            const int64_t rows = n_new - i0 < ATTENTION_BLOCK ? n_new - i0 : ATTENTION_BLOCK;
            const int64_t keys = start + i0 + rows; /* the block's last row sees them all */
            gemm_nt(rows, keys, D, q + i0 * q_stride + h * D, q_stride, k + g * kv_head_stride, kv_stride, scratch, keys, scale);
            causal_softmax_rows(scratch, rows, keys, start + i0);
            gemm_nn(rows, D, keys, scratch, keys, v + g * kv_head_stride, kv_stride, out + i0 * out_stride + h * D, out_stride, 0);
        }
    }
}

/* ---- backward ------------------------------------------------------------------------------- */

/* For a block of query rows with probabilities P and dP = dO Vᵀ:
 * dS = P ∘ (dP − rowsum(P ∘ dP)) · scale; dQ = dS K; dK += dSᵀ Q; dV += Pᵀ dO.
 * reference: the softmax Jacobian as in llm.c attention_backward (Karpathy), written anew. */
int64_t fg_attention_backward_scratch(int64_t n, int64_t start) {
    return 4 * ATTENTION_BLOCK * (start + n);
}

void fg_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v,
                           int64_t n, int64_t start, int64_t H, int64_t KVH, int64_t D,
                           int64_t g0, int64_t g1, float *scratch) {
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t group = H / KVH, qs = H * D, kvs = KVH * D, B = ATTENTION_BLOCK, nk = start + n;
    float *P = scratch, *S = P + B * nk, *Pt = S + B * nk, *St = Pt + B * nk;
    for (int64_t g = g0; g < g1; g++) {
        const float *kg = k + g * D, *vg = v + g * D;
        float *dkg = dk + g * D, *dvg = dv + g * D;
        for (int64_t h = g * group; h < (g + 1) * group; h++) {
            for (int64_t i0 = 0; i0 < n; i0 += B) {
                const int64_t rows = n - i0 < B ? n - i0 : B, keys = start + i0 + rows;
                const float *qb = q + i0 * qs + h * D, *dob = dout + i0 * qs + h * D;
                if (D % 8 == 0) {
                    gemm_nt(rows, keys, D, qb, qs, kg, kvs, P, keys, scale);
                } else {
                    for (int64_t r = 0; r < rows; r++)
                        for (int64_t j = 0; j < keys; j++) P[r * keys + j] = dot_f32(qb + r * qs, kg + j * kvs, D) * scale;
                }
                causal_softmax_rows(P, rows, keys, start + i0);
                /* dP (rows, keys) = dO Vᵀ, then dS in place */
                if (D % 8 == 0) {
                    gemm_nt(rows, keys, D, dob, qs, vg, kvs, S, keys, 1.0f);
                } else {
                    for (int64_t r = 0; r < rows; r++)
                        for (int64_t j = 0; j < keys; j++) S[r * keys + j] = dot_f32(dob + r * qs, vg + j * kvs, D);
                }
                for (int64_t r = 0; r < rows; r++) {
                    const float *p = P + r * keys;
                    float *s = S + r * keys;
                    const float pdp = dot_f32(p, s, keys);
                    for (int64_t j = 0; j < keys; j++) s[j] = p[j] * (s[j] - pdp) * scale;
                }
                transpose(Pt, P, rows, keys, keys);
                transpose(St, S, rows, keys, keys);
                float *dqb = dq + i0 * qs + h * D;
                if (D % 8 == 0) {
                    gemm_nn(rows, D, keys, S, keys, kg, kvs, dqb, qs, 0);
                    gemm_nn(keys, D, rows, St, rows, qb, qs, dkg, kvs, 1);
                    gemm_nn(keys, D, rows, Pt, rows, dob, qs, dvg, kvs, 1);
                } else {
                    for (int64_t r = 0; r < rows; r++) {
                        memset(dqb + r * qs, 0, (size_t)D * sizeof(float));
                        for (int64_t j = 0; j < keys; j++) axpy_f32(dqb + r * qs, S[r * keys + j], kg + j * kvs, D);
                    }
                    for (int64_t j = 0; j < keys; j++)
                        for (int64_t r = 0; r < rows; r++) {
                            axpy_f32(dkg + j * kvs, St[j * rows + r], qb + r * qs, D);
                            axpy_f32(dvg + j * kvs, Pt[j * rows + r], dob + r * qs, D);
                        }
                }
            }
        }
    }
}

#pragma clang attribute pop
