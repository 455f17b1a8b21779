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

void fg_rope_table(float *x, int64_t H, int64_t D, const float *cosines, const float *sines, float sign) {
    const int64_t half = D / 2;
    for (int64_t h = 0; h < H; h++) {
        float *a = x + h * D, *b = a + half;
        for (int64_t i = 0; i < half; i++) {
            const float c = cosines[i], s = sign * sines[i], ai = a[i], bi = b[i];
            a[i] = ai * c - bi * s;
            b[i] = bi * c + ai * s;
        }
    }
}

void fg_rope_angles(float *cosines, float *sines, int64_t D, const float *inv_freq, int64_t position) {
    for (int64_t i = 0; i < D / 2; i++) {
        const float angle = (float)position * inv_freq[i];
        cosines[i] = cosf(angle);
        sines[i] = sinf(angle);
    }
}

void fg_silu_mul(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid256(g)), _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        for (int64_t k = 0; i + k < n; k++) g[k] = gate[i + k], u[k] = up[i + k];
        const __m256 vg = _mm256_loadu_ps(g);
        _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_mul_ps(vg, sigmoid256(vg)), _mm256_loadu_ps(u)));
        for (int64_t k = 0; i + k < n; k++) out[i + k] = o[k];
    }
}

void fg_add(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

void fg_add3(float *out, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

void fg_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    const float sum = exp_shifted_sum(x, n, max_f32(x, n));
    scale_f32(x, 1.0f / sum, n);
}

/* ---- quantized matrix-vector products (float activations, exact dequantized math) ---- */

enum { TYPE_Q4_0 = 2, TYPE_Q4_1 = 3, TYPE_Q5_0 = 6, TYPE_Q8_0 = 8, TYPE_Q4_K = 12, TYPE_Q5_K = 13, TYPE_Q6_K = 14 };

int64_t fg_quantized_row_bytes(uint32_t type, int64_t C) {
    if (C % 32 != 0) return 0;
    switch (type) {
    case TYPE_Q4_0: return C / 32 * 18;
    case TYPE_Q4_1: return C / 32 * 20;
    case TYPE_Q5_0: return C / 32 * 22;
    case TYPE_Q8_0: return C / 32 * 34;
    case TYPE_Q4_K: return C % 256 == 0 ? C / 256 * 144 : 0;
    case TYPE_Q5_K: return C % 256 == 0 ? C / 256 * 176 : 0;
    case TYPE_Q6_K: return C % 256 == 0 ? C / 256 * 210 : 0;
    default: return 0;
    }
}

int fg_quantized_type_has_blocks_of_32(uint32_t type) {
    return type == TYPE_Q4_0 || type == TYPE_Q4_1 || type == TYPE_Q8_0;
}

/* Unpacks 16 bytes of nibbles into 32 weights as four float vectors: j = 0..15 are the low nibbles,
 * j = 16..31 the high ones (ggml's Q4 layout). The 16 bytes go to both 128-bit lanes; one byte
 * shuffle per 8 bytes puts each in the low byte of its own 32-bit lane (zeros above), so the low
 * nibble is a mask and the high nibble a shift: two shuffles instead of six (the shuffle ports are
 * what this loop waits on in single-stream decoding). */
static inline void unpack_nibbles_i32(const uint8_t *qs, __m256i w[4]) {
    const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i spread_lo = _mm256_setr_epi8(0, -1, -1, -1, 1, -1, -1, -1, 2, -1, -1, -1, 3, -1, -1, -1,
                                               4, -1, -1, -1, 5, -1, -1, -1, 6, -1, -1, -1, 7, -1, -1, -1);
    const __m256i spread_hi = _mm256_setr_epi8(8, -1, -1, -1, 9, -1, -1, -1, 10, -1, -1, -1, 11, -1, -1, -1,
                                               12, -1, -1, -1, 13, -1, -1, -1, 14, -1, -1, -1, 15, -1, -1, -1);
    const __m256i mask = _mm256_set1_epi32(0x0F);
    const __m256i b0 = _mm256_shuffle_epi8(q, spread_lo), b1 = _mm256_shuffle_epi8(q, spread_hi);
    w[0] = _mm256_and_si256(b0, mask);
    w[1] = _mm256_and_si256(b1, mask);
    w[2] = _mm256_srli_epi32(b0, 4);
    w[3] = _mm256_srli_epi32(b1, 4);
}

static inline void unpack_nibbles(const uint8_t *qs, __m256 w[4]) {
    __m256i q[4];
    unpack_nibbles_i32(qs, q);
    for (int k = 0; k < 4; k++) w[k] = _mm256_cvtepi32_ps(q[k]);
}

/* A Q5_0 block's 32 weights q = nibble | high bit << 4 (0..31; the −16 is the caller's): weight j's
 * high bit is bit j of qh, and q[k] holds weights 8k .. 8k+7. */
static inline void unpack_q5_0_i32(const uint8_t *blk, __m256i q[4]) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128), sixteen = _mm256_set1_epi32(16);
    uint32_t qh;
    memcpy(&qh, blk + 2, 4);
    unpack_nibbles_i32(blk + 6, q);
    for (int k = 0; k < 4; k++) {
        const __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(qh >> (8 * k))), bit), bit);
        q[k] = _mm256_or_si256(q[k], _mm256_and_si256(set, sixteen));
    }
}

static inline void unpack_q5_0(const uint8_t *blk, __m256 w[4]) {
    __m256i q[4];
    unpack_q5_0_i32(blk, q);
    for (int k = 0; k < 4; k++) w[k] = _mm256_cvtepi32_ps(q[k]);
}

static inline __m256 block_dot(const __m256 w[4], const float *xb) {
    __m256 s = _mm256_mul_ps(w[0], _mm256_loadu_ps(xb));
    s = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(xb + 8), s);
    s = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(xb + 16), s);
    return _mm256_fmadd_ps(w[3], _mm256_loadu_ps(xb + 24), s);
}

/* sum over a block of (q*d + m) * x = d * sum(q*x) + m * sum(x); Q4_0 is m = -8d. One 32-bit load
 * and one conversion give (d, m) (Q4_0: d and two bytes of nibbles); the offsets accumulate in
 * a vector against xsum2 = (0, Σx) per block for Q4_1 and (−8Σx, 0) for Q4_0, so neither scale goes
 * through a scalar chain. */
static float dot_q4(const uint8_t *row, int has_min, const float *x, const float *xsum2, int64_t nb) {
    const int64_t bytes = has_min ? 20 : 18;
    __m256 acc = _mm256_setzero_ps();
    __m128 off = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes;
        const __m128 dm = _mm_cvtph_ps(_mm_loadu_si32(blk));
        __m256 w[4];
        unpack_nibbles(blk + (has_min ? 4 : 2), w);
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dm), block_dot(w, x + b * 32), acc);
        off = _mm_fmadd_ps(dm, _mm_castpd_ps(_mm_load_sd((const double *)(xsum2 + 2 * b))), off);
    }
    return hsum256(acc) + (has_min ? _mm_cvtss_f32(_mm_movehdup_ps(off)) : _mm_cvtss_f32(off));
}

/* Q5_0 row · x: w = d·(q − 16), so the dot is d·Σq·x − 16d·Σx per block. */
static float dot_q5_0(const uint8_t *row, const float *x, const float *xsum, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 22;
        const float d = load_half(blk);
        __m256 w[4];
        unpack_q5_0(blk, w);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), block_dot(w, x + b * 32), acc);
        offset += -16.0f * d * xsum[b];
    }
    return hsum256(acc) + offset;
}

static float dot_q8_0(const uint8_t *row, const float *x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 34;
        float d = load_half(blk);
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

/* x reordered for the K-quant single-row products: within each 32, vector k (8 lanes) holds
 * x[4i + k] in lane i, so that a vector of 32 weight bytes read as 8 dwords gives weight 4i + k of
 * lane i by a shift and a mask, with no shuffle (Zen 3's two shuffle pipes bound the byte-widening
 * loops; shifts and masks run beside them). */
static void permute_x32(const float *x, float *xp, int64_t C) {
    for (int64_t g = 0; g < C; g += 32)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 8; i++) xp[g + 8 * k + i] = x[g + 4 * i + k];
}

/* Σ q·x over 32 unsigned bytes q (one weight each) and their 32 permuted x, as 8 lane sums: lane i
 * sums weights 4i .. 4i+3 (so lanes 0-3 hold the first 16 weights, lanes 4-7 the last 16). */
static inline __m256 dot32_u8_permuted(__m256i q, const float *xp) {
    const __m256i byte = _mm256_set1_epi32(0xFF);
    __m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(q, byte)), _mm256_loadu_ps(xp));
    s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(q, 8), byte)), _mm256_loadu_ps(xp + 8), s);
    s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(q, 16), byte)), _mm256_loadu_ps(xp + 16), s);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(q, 24)), _mm256_loadu_ps(xp + 24), s);
}

/* Chunk c (0..3) of a Q4_K or Q5_K super-block `sb` as two vectors of 32 unsigned bytes: sub-block
 * 2c (the group's low nibbles) and 2c+1 (its high ones); Q5_K (`five`) adds bit j of qh[l] as 16 to
 * weight l of sub-block j. sc[i] and m[i] are the two sub-blocks' 6-bit scale and minimum (the
 * weight is d·sc·q − dmin·m). Q4_K: 144 bytes (f16 d, f16 dmin, 12 scale bytes, 128 bytes of
 * nibbles); Q5_K: 176 (the same with 32 bytes of qh before the nibbles). */
static inline __attribute__((always_inline)) void kquant_chunk(const uint8_t *sb, int five, int c, __m256i *lo,
                                                               __m256i *hi, float sc[2], float m[2]) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    const __m256i q = _mm256_loadu_si256((const __m256i *)(sb + (five ? 48 : 16) + 32 * c));
    *lo = _mm256_and_si256(q, mask);
    *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
    if (five) {
        const __m256i one = _mm256_set1_epi8(1), qh = _mm256_loadu_si256((const __m256i *)(sb + 16));
        *lo = _mm256_or_si256(*lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c)), one), 4));
        *hi = _mm256_or_si256(*hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1)), one), 4));
    }
    q4k_scale_min(2 * c, sb + 4, &sc[0], &m[0]);
    q4k_scale_min(2 * c + 1, sb + 4, &sc[1], &m[1]);
}

/* Q4_K / Q5_K row · x: w = d·sc_j·q − dmin·m_j over 8 sub-blocks of 32 per super-block of 256, so
 * the dot is Σ_j d·sc_j·Σ(q·x) − dmin·m_j·Σx (x permuted by permute_x32; xsum: x summed over each 32). */
static inline __attribute__((always_inline)) float dot_q45_k(const uint8_t *row, int five, const float *x,
                                                             const float *xsum, int64_t nsb) {
    const int64_t bytes = five ? 176 : 144;
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *blk = row + s * bytes;
        const float d = load_half(blk), dmin = load_half(blk + 2);
        const float *xs = x + s * 256;
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            float sc[2], m[2];
            kquant_chunk(blk, five, c, &lo, &hi, sc, m);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[0]), dot32_u8_permuted(lo, xs + 64 * c), acc);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[1]), dot32_u8_permuted(hi, xs + 64 * c + 32), acc);
            offset += dmin * (m[0] * xsum[s * 8 + 2 * c] + m[1] * xsum[s * 8 + 2 * c + 1]);
        }
    }
    return hsum256(acc) - offset;
}

/* Half (0 or 1) of a Q6_K super-block (128 bytes low nibbles ql, 64 bytes high pairs qh, 16 int8
 * scales, f16 d) as four vectors of 32 unsigned bytes q = 4 bits of ql | 2 bits of qh << 4: q[k]
 * holds weights 32k .. 32k+31 of the half, laid out as ggml's dequantize_row_q6_K reads them. */
static inline void q6k_half(const uint8_t *sb, int half, __m256i q[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)(sb + 64 * half));
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(sb + 64 * half + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)(sb + 128 + 32 * half));
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4));
}

/* Q6_K row · x: per super-block (210 bytes: 128 bytes low nibbles ql, 64 bytes high pairs qh, 16
 * int8 scales, f16 d), w = d·sc_k·(q − 32) over 16 sub-blocks of 16, q = 4 bits of ql | 2 bits of
 * qh << 4, laid out in two halves of 128 as ggml's dequantize_row_q6_K reads them; x permuted by
 * permute_x32. */
static float dot_q6_k(const uint8_t *row, const float *x, const float *xsum16, int64_t nsb) {
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *blk = row + s * 210;
        const int8_t *sc = (const int8_t *)(blk + 192);
        const float d = load_half(blk + 208);
        for (int half = 0; half < 2; half++) {
            __m256i q[4];
            q6k_half(blk, half, q);
            const float *xs = x + s * 256 + 128 * half;
            const int8_t *scs = sc + 8 * half;
            for (int k = 0; k < 4; k++) {
                /* q[k] holds weights 32k .. 32k+31 of this half: sub-blocks 2k (bytes 0-15: lanes 0-3 of
                 * the permuted sum), 2k+1 (16-31: lanes 4-7) */
                const float d0 = d * (float)scs[2 * k], d1 = d * (float)scs[2 * k + 1];
                const __m256 scale = _mm256_setr_ps(d0, d0, d0, d0, d1, d1, d1, d1);
                acc = _mm256_fmadd_ps(scale, dot32_u8_permuted(q[k], xs + 32 * k), acc);
                const int64_t g = (s * 256 + 128 * half + 32 * k) / 16;
                offset += 32.0f * (d0 * xsum16[g] + d1 * xsum16[g + 1]);
            }
        }
    }
    return hsum256(acc) - offset;
}

/* out[g] = the sum of x[g·width .. g·width + width), in order, for g < groups: the Σx that the
 * quantized products' minimums and offsets multiply. */
static void group_sums(const float *x, int64_t groups, int64_t width, float *out) {
    for (int64_t g = 0; g < groups; g++) {
        float t = 0.0f;
        for (int64_t k = 0; k < width; k++) t += x[g * width + k];
        out[g] = t;
    }
}

int fg_matvec_quantized(uint32_t type, const void *W, int64_t C, const float *x, float *y,
                        int64_t r0, int64_t r1) {
    const int64_t row_bytes = fg_quantized_row_bytes(type, C);
    if (row_bytes == 0) return -1;
    const int64_t nb = C / 32;
    const uint8_t *base = (const uint8_t *)W;
    if (type == TYPE_Q4_K || type == TYPE_Q5_K || type == TYPE_Q6_K) {
        /* sums of x over the sub-blocks: 32 wide for Q4_K's and Q5_K's minimums, 16 wide for Q6_K's −32 */
        const int64_t width = type == TYPE_Q6_K ? 16 : 32, groups = C / width;
        float *xsum = (float *)malloc((size_t)(groups + C) * sizeof(float)), *xp = xsum + groups;
        if (!xsum) return -1;
        group_sums(x, groups, width, xsum);
        permute_x32(x, xp, C);
        for (int64_t r = r0; r < r1; r++)
            y[r] = type == TYPE_Q4_K   ? dot_q45_k(base + r * row_bytes, 0, xp, xsum, C / 256)
                   : type == TYPE_Q5_K ? dot_q45_k(base + r * row_bytes, 1, xp, xsum, C / 256)
                                       : dot_q6_k(base + r * row_bytes, xp, xsum, C / 256);
        free(xsum);
        return 0;
    }
    if (type == TYPE_Q8_0) {
        for (int64_t r = r0; r < r1; r++) y[r] = dot_q8_0(base + r * row_bytes, x, nb);
        return 0;
    }
    if (nb > 1024) return -1;
    float xsum[1024];
    group_sums(x, nb, 32, xsum);
    if (type == TYPE_Q5_0) {
        for (int64_t r = r0; r < r1; r++) y[r] = dot_q5_0(base + r * row_bytes, x, xsum, nb);
        return 0;
    }
    float xsum2[2048];
    const int has_min = type == TYPE_Q4_1;
    for (int64_t b = 0; b < nb; b++) {
        xsum2[2 * b] = has_min ? 0.0f : -8.0f * xsum[b];
        xsum2[2 * b + 1] = has_min ? xsum[b] : 0.0f;
    }
    for (int64_t r = r0; r < r1; r++) y[r] = dot_q4(base + r * row_bytes, has_min, x, xsum2, nb);
    return 0;
}

/* Dequantizes one block of 32 weights (type Q4_0, Q4_1 or Q8_0) into four float vectors:
 * x = q*d + m (Q4_0: m = -8d; Q8_0: m = 0). */
static inline void dequantize_block(uint32_t type, const uint8_t *blk, __m256 w[4]) {
    const __m256 vd = _mm256_set1_ps(load_half(blk));
    if (type == TYPE_Q8_0) {
        for (int k = 0; k < 4; k++)
            w[k] = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * k)))));
        return;
    }
    __m256 vm;
    if (type == TYPE_Q4_1) {
        vm = _mm256_set1_ps(load_half(blk + 2));
        unpack_nibbles(blk + 4, w);
    } else {
        vm = _mm256_set1_ps(-8.0f * load_half(blk));
        unpack_nibbles(blk + 2, w);
    }
    for (int k = 0; k < 4; k++) w[k] = _mm256_fmadd_ps(w[k], vd, vm);
}

void fg_f32_to_f16_array(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

void fg_f16_to_f32_array(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

enum { TILE_ROWS = 6 };

int64_t fg_packed_rows(int64_t M) { return (M + 7) / 8 * 8; }

void fg_pack_kmajor(const float *X, int64_t M, int64_t ldx, int64_t C, float *xp) {
    const int64_t Mp = fg_packed_rows(M);
    int64_t m0 = 0;
    /* eight rows at a time: 8x8 blocks transposed in registers */
    for (; m0 + 8 <= M; m0 += 8) {
        int64_t k = 0;
        for (; k + 8 <= C; k += 8) {
            __m256 r[8], t[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(X + (m0 + i) * ldx + k);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
                r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
                r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
                r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            /* r[0..3] hold columns (0,1,2,3) of rows 0-3 in the low halves and (4,5,6,7) in the high
             * halves; r[4..7] the same for rows 4-7 */
            for (int c = 0; c < 4; c++) {
                _mm256_storeu_ps(xp + (k + c) * Mp + m0, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
                _mm256_storeu_ps(xp + (k + c + 4) * Mp + m0, _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
            }
        }
        for (; k < C; k++)
            for (int64_t i = 0; i < 8; i++) xp[k * Mp + m0 + i] = X[(m0 + i) * ldx + k];
    }
    for (int64_t k = 0; k < C; k++) {
        for (int64_t m = m0; m < M; m++) xp[k * Mp + m] = X[m * ldx + k];
        for (int64_t m = M; m < Mp; m++) xp[k * Mp + m] = 0.0f;
    }
}

/* Eight unsigned bytes as floats. */
static inline __m256 u8x8_to_ps(__m128i q8) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q8)); }

/* y[0..31] = d·q − m for 32 unsigned bytes q: the reference's two roundings (no FMA). */
static inline void store_scaled_u8x32(__m256i q, float d, float m, float *y) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_to_ps(parts[k])), vm));
}

/* One row of a Q5_0 or K-quant weight dequantized with vector code, to the same bits as fg_dequantize
 * (the same operations in the same order: d·sc·q − dmin·m, d·sc·(q − 32), (q − 16)·d), for the
 * small-batch product's tile: the reference loops are several times slower than the product itself
 * over two rows. C is a multiple of the type's block. */
static void dequantize_row_wide(uint32_t type, const uint8_t *row, float *y, int64_t C) {
    if (type == TYPE_Q5_0) {
        for (int64_t b = 0; b < C / 32; b++) {
            const uint8_t *blk = row + b * 22;
            const __m256 vd = _mm256_set1_ps(load_half(blk));
            __m256i q[4];
            unpack_q5_0_i32(blk, q);
            for (int k = 0; k < 4; k++)
                _mm256_storeu_ps(y + 32 * b + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], _mm256_set1_epi32(16))), vd));
        }
        return;
    }
    if (type == TYPE_Q4_K || type == TYPE_Q5_K) {
        const int five = type == TYPE_Q5_K;
        const int64_t bytes = five ? 176 : 144;
        for (int64_t s = 0; s < C / 256; s++) {
            const uint8_t *blk = row + s * bytes;
            const float d = load_half(blk), dmin = load_half(blk + 2);
            for (int c = 0; c < 4; c++) {
                __m256i lo, hi;
                float sc[2], m[2];
                kquant_chunk(blk, five, c, &lo, &hi, sc, m);
                store_scaled_u8x32(lo, d * sc[0], dmin * m[0], y + s * 256 + 64 * c);
                store_scaled_u8x32(hi, d * sc[1], dmin * m[1], y + s * 256 + 64 * c + 32);
            }
        }
        return;
    }
    /* Q6_K */
    const __m256i thirty_two = _mm256_set1_epi32(32);
    for (int64_t s = 0; s < C / 256; s++) {
        const uint8_t *blk = row + s * 210;
        const int8_t *sc = (const int8_t *)(blk + 192);
        const float d = load_half(blk + 208);
        for (int half = 0; half < 2; half++) {
            __m256i q[4];
            q6k_half(blk, half, q);
            for (int k = 0; k < 4; k++) {
                /* q[k] byte l is weight 32k + l of this half, scaled by sc[2k + l/16] */
                const __m128i lo = _mm256_castsi256_si128(q[k]), hi = _mm256_extracti128_si256(q[k], 1);
                const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
                float *out = y + s * 256 + 128 * half + 32 * k;
                for (int p = 0; p < 4; p++) {
                    const __m256 vd = _mm256_set1_ps(d * (float)sc[8 * half + 2 * k + p / 2]);
                    const __m256 w = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[p]), thirty_two));
                    _mm256_storeu_ps(out + 8 * p, _mm256_mul_ps(vd, w));
                }
            }
        }
    }
}

/* Weight rows are dequantized six at a time into an L1-sized tile; X comes packed k-major (padded to
 * a multiple of eight rows), so the microkernel broadcasts one weight and multiplies it into 16 X rows
 * with two FMAs (no horizontal sums). */
int fg_matmul_quantized_packed(uint32_t type, const void *W, int64_t C, const float *xp, int64_t M,
                               float *Y, int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t row_bytes = fg_quantized_row_bytes(type, C);
    if (row_bytes == 0) return -1;
    const int blocks_of_32 = fg_quantized_type_has_blocks_of_32(type);
    const int64_t nb = C / 32, block_bytes = row_bytes / nb, Mp = fg_packed_rows(M);
    const uint8_t *base = (const uint8_t *)W;
    float *tile = (float *)aligned_alloc(64, (size_t)(TILE_ROWS * C) * sizeof(float));
    if (!tile) return -1;
    float out[TILE_ROWS][16];
    for (int64_t rb = r0; rb < r1; rb += TILE_ROWS) {
        const int64_t n = rb + TILE_ROWS < r1 ? TILE_ROWS : r1 - rb;
        for (int64_t r = 0; r < n; r++) {
            const uint8_t *row = base + (rb + r) * row_bytes;
            if (!blocks_of_32) { /* Q5_0 and K-quants: gguf-py's values */
                dequantize_row_wide(type, row, tile + r * C, C);
                continue;
            }
            for (int64_t b = 0; b < nb; b++) {
                __m256 w[4];
                dequantize_block(type, row + b * block_bytes, w);
                float *t = tile + r * C + b * 32;
                for (int k = 0; k < 4; k++) _mm256_store_ps(t + 8 * k, w[k]);
            }
        }
        for (int64_t m0 = 0; m0 < M; m0 += 16) {
            /* out[r][m] = Σ_k tile[r][k] · xp[k][m0 + m] */
            if (Mp - m0 >= 16) outer_tile_rows(2, n, C, tile, C, xp + m0, Mp, &out[0][0], 16, 0);
            else outer_tile_rows(1, n, C, tile, C, xp + m0, Mp, &out[0][0], 16, 0);
            const int64_t mm = M - m0 < 16 ? M - m0 : 16;
            for (int64_t j = 0; j < mm; j++)
                for (int64_t r = 0; r < n; r++) Y[(m0 + j) * ldy + rb + r] = out[r][j];
        }
    }
    free(tile);
    return 0;
}

#pragma clang attribute pop
