/* Small AVX2 helpers shared by the kernels (private to the CKernels target). The training and
 * inference kernels use the same helpers so their summation orders agree bit for bit. */
#ifndef FG_SIMD_HELPERS_H
#define FG_SIMD_HELPERS_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FG_AVX2 __attribute__((target("avx2,fma,f16c")))

/* The IEEE half at p (unaligned, little-endian), widened with F16C: a ggml block's scale. The half
 * goes through a general register and vmovd, which writes the whole vector register. Written with
 * intrinsics (`_cvtsh_ss`, or a zeroed vector and an insert), clang emits a vpinsrw that merges into
 * whatever vector register is free, and in the dot products that was the accumulator: every
 * block's scale then waited for the previous block's sum, a chain of ~9 cycles per block that set
 * the speed of the Q8_0 product. */
static inline FG_AVX2 float load_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    __m128i v;
    __asm__("vmovd %1, %0" : "=x"(v) : "r"((uint32_t)h));
    return _mm_cvtss_f32(_mm_cvtph_ps(v));
}

/* Q4_K's 6-bit scale and minimum of sub-block j (0..7) from its 12 packed bytes (ggml's
 * get_scale_min_k4). */
static inline FG_AVX2 void q4k_scale_min(int j, const uint8_t *q, float *sc, float *m) {
    if (j < 4) {
        *sc = (float)(q[j] & 63);
        *m = (float)(q[j + 4] & 63);
    } else {
        *sc = (float)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (float)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Sum of the eight lanes. */
static inline FG_AVX2 float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

/* dot(a, b) over n floats. */
static inline FG_AVX2 float dot_f32(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y += alpha * x over n floats. */
static inline FG_AVX2 void axpy_f32(float *y, float alpha, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}

/* exp(x) for eight lanes: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-6 polynomial (Cephes
 * expf coefficients), 2^n through the exponent bits. Relative error ~2e-7 (about 1-2 ulp) for
 * x in [-87, 88]; inputs below are flushed to 0. reference: Cephes `expf.c` (S. Moshier). */
static inline FG_AVX2 __m256 exp256(__m256 x) {
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

/* Largest of n >= 1 floats. */
static inline FG_AVX2 float max_f32(const float *x, int64_t n) {
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

/* R (≤ 6) rows of C, 8·W (W = 1 or 2) columns: C[r, :] (+)= Σ_k A[r, k] · B[k, :], each element
 * summed in order k = 0, 1, ... in its own accumulator. One weight of A is broadcast and multiplied
 * into 8·W columns of B per FMA; always inlined with constant R and W, so the accumulators stay in
 * registers. The microkernel of the attention products and of the quantized small-batch product. */
static inline FG_AVX2 __attribute__((always_inline)) void outer_tile(int R, int W, int64_t K, const float *A,
                                                                     int64_t lda, const float *B, int64_t ldb,
                                                                     float *C, int64_t ldc, int accumulate) {
    __m256 c[6][2];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) c[r][w] = accumulate ? _mm256_loadu_ps(C + r * ldc + 8 * w) : _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m256 b[2];
        for (int w = 0; w < W; w++) b[w] = _mm256_loadu_ps(B + k * ldb + 8 * w);
        for (int r = 0; r < R; r++) {
            const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            for (int w = 0; w < W; w++) c[r][w] = _mm256_fmadd_ps(a, b[w], c[r][w]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) _mm256_storeu_ps(C + r * ldc + 8 * w, c[r][w]);
}

/* outer_tile for a run-time row count 1 ≤ rows ≤ 6. */
static inline FG_AVX2 __attribute__((always_inline)) void outer_tile_rows(int W, int64_t rows, int64_t K,
                                                                          const float *A, int64_t lda,
                                                                          const float *B, int64_t ldb,
                                                                          float *C, int64_t ldc, int accumulate) {
    switch (rows) {
    case 6: outer_tile(6, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 5: outer_tile(5, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 4: outer_tile(4, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 3: outer_tile(3, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 2: outer_tile(2, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    default: outer_tile(1, W, K, A, lda, B, ldb, C, ldc, accumulate); break;
    }
}

/* x[j] = exp(x[j] - m) in place over n floats; returns their sum (eight lane sums, then the lanes).
 * The tail goes through exp256 too, padded with -inf, so every entry gets the same arithmetic. */
static inline FG_AVX2 float exp_shifted_sum(float *x, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        _mm256_storeu_ps(x + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (j < n) {
        float t[8];
        for (int k = 0; k < 8; k++) t[k] = j + k < n ? x[j + k] : -INFINITY;
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(t), vm));
        _mm256_storeu_ps(t, e);
        acc = _mm256_add_ps(acc, e);
        for (int k = 0; j + k < n; k++) x[j + k] = t[k];
    }
    return hsum256(acc);
}

/* x[i] *= a over n floats. */
static inline FG_AVX2 void scale_f32(float *x, float a, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(va, _mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] *= a;
}

/* sigmoid(g) = 1 / (1 + exp(-g)) for eight lanes. */
static inline FG_AVX2 __m256 sigmoid256(__m256 g) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

#endif
