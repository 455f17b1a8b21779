/* Quantized weights times int8-quantized activations (see include/fg_int8.h for the contract).
 *
 * Layout of the activations: per row m and block b of 32, a float scale d[m][b], a float
 * s[m][b] = d * sum(q), and the 32 int8 values q, row after row.
 *
 * The weights are unpacked eight rows at a time into a panel that stays in L1: for block b and
 * group g of four consecutive k, one 32-byte vector whose lane j (4 bytes) holds row j's four
 * weights. Broadcasting an activation row's four bytes of that group and multiplying with maddubs
 * (u8 x s8, adjacent pairs summed to s16) gives, per lane, row j's partial dot product; madd with
 * ones then sums the pairs into s32. Q4 weights are 0..15 and |q| <= 127, so a whole block's eight
 * groups can be summed in s16 (at most 8 * 2 * 15 * 127 = 30480) before one madd. Q8_0 weights are
 * signed: maddubs takes |w| and q with w's sign (llama.cpp's trick), and each group is widened to
 * s32 at once. */
#include "fg_int8.h"
#include "fg_ops.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

enum { TYPE_Q4_0 = 2, TYPE_Q4_1 = 3, TYPE_Q8_0 = 8, PANEL_ROWS = 8, TILE_M = 6, M_CHUNK = 120 };

static inline int64_t align32(int64_t n) { return (n + 31) / 32 * 32; }

int64_t fg_int8_activation_bytes(int64_t M, int64_t C) { return align32(8 * M * (C / 32)) + M * C; }

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* Views of an activation buffer. */
typedef struct {
    const float *d, *s;
    const int8_t *q;
} Activations;

static inline Activations activations_view(const void *buffer, int64_t M, int64_t C) {
    const uint8_t *base = (const uint8_t *)buffer;
    const int64_t nb = C / 32;
    Activations a = {(const float *)base, (const float *)base + M * nb, (const int8_t *)(base + align32(8 * M * nb))};
    return a;
}

int fg_quantize_activations(const float *X, int64_t M, int64_t ldx, int64_t C, void *out) {
    if (C <= 0 || C % 32 != 0) return -1;
    const int64_t nb = C / 32;
    uint8_t *base = (uint8_t *)out;
    float *d = (float *)base, *s = d + M * nb;
    int8_t *q = (int8_t *)(base + align32(8 * M * nb));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t m = 0; m < M; m++) {
        for (int64_t b = 0; b < nb; b++) {
            const float *x = X + m * ldx + b * 32;
            __m256 v[4];
            __m256 amax = _mm256_setzero_ps();
            for (int k = 0; k < 4; k++) {
                v[k] = _mm256_loadu_ps(x + 8 * k);
                amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
            const float mx = _mm_cvtss_f32(m4);
            const float scale = mx / 127.0f, inverse = mx > 0.0f ? 127.0f / mx : 0.0f;
            const __m256 vi = _mm256_set1_ps(inverse);
            __m256i i32[4];
            for (int k = 0; k < 4; k++) i32[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vi));  /* nearest-even */
            /* Σq, then pack 4 x 8 int32 into 32 int8 in k order (packs interleave 128-bit lanes). */
            __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i32[0], i32[1]), _mm256_add_epi32(i32[2], i32[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            const __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]), p16b = _mm256_packs_epi32(i32[2], i32[3]);
            const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
            const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(q + m * C + b * 32), ordered);
            d[m * nb + b] = scale;
            s[m * nb + b] = scale * (float)_mm_cvtsi128_si32(s4);
        }
    }
    return 0;
}

/* Transposes eight rows of eight 32-bit groups: out[g] lane j = in[j] lane g. */
static inline void transpose_8x8_epi32(__m256i r[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* u[0..3] hold groups (0,1,2,3) of rows 0-3 in the low halves and groups (4,5,6,7) in the high
     * halves; u[4..7] the same for rows 4-7. */
    for (int g = 0; g < 4; g++) {
        r[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
        r[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
    }
}

/* Unpacks rows [n0, n0 + rows) (rows <= 8, missing rows zero) into the panel: nb x 8 group vectors,
 * and per block eight weight scales and eight minimums (x = d q + m). */
static void build_panel(uint32_t type, const uint8_t *W, int64_t row_bytes, int64_t nb, int64_t n0, int64_t rows,
                        __m256i *panel, float *dw, float *mw) {
    const int64_t block_bytes = row_bytes / nb;
    const __m128i low = _mm_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; b++) {
        __m256i r[8];
        for (int j = 0; j < PANEL_ROWS; j++) {
            if (j >= rows) {
                r[j] = _mm256_setzero_si256();
                dw[b * 8 + j] = 0.0f;
                mw[b * 8 + j] = 0.0f;
                continue;
            }
            const uint8_t *blk = W + (n0 + j) * row_bytes + b * block_bytes;
            const float d = half_at(blk);
            dw[b * 8 + j] = d;
            if (type == TYPE_Q8_0) {
                mw[b * 8 + j] = 0.0f;
                r[j] = _mm256_loadu_si256((const __m256i *)(blk + 2));
                continue;
            }
            const uint8_t *qs = blk + (type == TYPE_Q4_1 ? 4 : 2);
            mw[b * 8 + j] = type == TYPE_Q4_1 ? half_at(blk + 2) : -8.0f * d;
            const __m128i packed = _mm_loadu_si128((const __m128i *)qs);
            const __m128i lo = _mm_and_si128(packed, low), hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
            r[j] = _mm256_set_m128i(hi, lo);  /* k 0..15 (low nibbles), then k 16..31 */
        }
        transpose_8x8_epi32(r);
        for (int g = 0; g < 8; g++) _mm256_store_si256(panel + b * 8 + g, r[g]);
    }
}

static inline __m256i broadcast_group(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return _mm256_set1_epi32(v);
}

/* out[r][0..8) = the panel's eight rows times activation rows m0 + r, r < R (1 <= R <= TILE_M). */
static inline __attribute__((always_inline)) void tile_q4(int R, const __m256i *panel, const float *dw,
                                                          const float *mw, Activations a, int64_t C, int64_t nb,
                                                          int64_t m0, __m256 out[TILE_M]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[TILE_M];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i sum[TILE_M];
        for (int r = 0; r < R; r++) sum[r] = _mm256_setzero_si256();
        const int8_t *qb = a.q + m0 * C + b * 32;
        for (int g = 0; g < 8; g++) {
            const __m256i w = _mm256_load_si256(panel + b * 8 + g);
            for (int r = 0; r < R; r++)
                sum[r] = _mm256_add_epi16(sum[r], _mm256_maddubs_epi16(w, broadcast_group(qb + r * C + 4 * g)));
        }
        const __m256 vd = _mm256_load_ps(dw + b * 8), vm = _mm256_load_ps(mw + b * 8);
        for (int r = 0; r < R; r++) {
            const int64_t i = (m0 + r) * nb + b;
            const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(sum[r], ones));
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dot, _mm256_set1_ps(a.d[i])), vd, acc[r]);
            acc[r] = _mm256_fmadd_ps(vm, _mm256_set1_ps(a.s[i]), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = acc[r];
}

static inline __attribute__((always_inline)) void tile_q8(int R, const __m256i *panel, const float *dw,
                                                          Activations a, int64_t C, int64_t nb, int64_t m0,
                                                          __m256 out[TILE_M]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[TILE_M];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i sum[TILE_M];
        for (int r = 0; r < R; r++) sum[r] = _mm256_setzero_si256();
        const int8_t *qb = a.q + m0 * C + b * 32;
        for (int g = 0; g < 8; g++) {
            const __m256i w = _mm256_load_si256(panel + b * 8 + g), magnitude = _mm256_abs_epi8(w);
            for (int r = 0; r < R; r++) {
                const __m256i x = _mm256_sign_epi8(broadcast_group(qb + r * C + 4 * g), w);
                sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, x), ones));
            }
        }
        const __m256 vd = _mm256_load_ps(dw + b * 8);
        for (int r = 0; r < R; r++) {
            const __m256 dot = _mm256_cvtepi32_ps(sum[r]);
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dot, _mm256_set1_ps(a.d[(m0 + r) * nb + b])), vd, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = acc[r];
}

static void tile_rows(uint32_t type, int64_t R, const __m256i *panel, const float *dw, const float *mw,
                      Activations a, int64_t C, int64_t nb, int64_t m0, __m256 out[TILE_M]) {
#define FG_TILE_CASE(n)                                             \
    case n:                                                         \
        if (type == TYPE_Q8_0) tile_q8(n, panel, dw, a, C, nb, m0, out); \
        else tile_q4(n, panel, dw, mw, a, C, nb, m0, out);          \
        break;
    switch (R) {
        FG_TILE_CASE(6)
        FG_TILE_CASE(5)
        FG_TILE_CASE(4)
        FG_TILE_CASE(3)
        FG_TILE_CASE(2)
        default: FG_TILE_CASE(1)
    }
#undef FG_TILE_CASE
}

int fg_matmul_int8(uint32_t type, const void *W, int64_t C, const void *xq, int64_t M,
                   float *Y, int64_t ldy, int64_t r0, int64_t r1) {
    if (type != TYPE_Q4_0 && type != TYPE_Q4_1 && type != TYPE_Q8_0) return -1;
    const int64_t row_bytes = fg_quantized_row_bytes(type, C);
    if (row_bytes == 0) return -1;
    const int64_t nb = C / 32;
    /* panel: nb * 8 vectors of 32 bytes; then nb * 8 scales and nb * 8 minimums */
    uint8_t *scratch = (uint8_t *)aligned_alloc(32, (size_t)(nb * 8 * 32 + 2 * nb * 8 * 4));
    if (!scratch) return -2;
    __m256i *panel = (__m256i *)scratch;
    float *dw = (float *)(scratch + nb * 8 * 32), *mw = dw + nb * 8;
    const Activations a = activations_view(xq, M, C);
    /* Activation rows in chunks that stay in L2 while every panel of the range passes over them. */
    for (int64_t mc = 0; mc < M; mc += M_CHUNK)
    for (int64_t n0 = r0; n0 < r1; n0 += PANEL_ROWS) {
        const int64_t rows = r1 - n0 < PANEL_ROWS ? r1 - n0 : PANEL_ROWS;
        const int64_t m_end = M - mc < M_CHUNK ? M : mc + M_CHUNK;
        build_panel(type, (const uint8_t *)W, row_bytes, nb, n0, rows, panel, dw, mw);
        for (int64_t m0 = mc; m0 < m_end; m0 += TILE_M) {
            const int64_t R = m_end - m0 < TILE_M ? m_end - m0 : TILE_M;
            __m256 out[TILE_M];
            tile_rows(type, R, panel, dw, mw, a, C, nb, m0, out);
            for (int64_t r = 0; r < R; r++) {
                float *y = Y + (m0 + r) * ldy + n0;
                if (rows == PANEL_ROWS) {
                    _mm256_storeu_ps(y, out[r]);
                } else {
                    float t[8];
                    _mm256_storeu_ps(t, out[r]);
                    for (int64_t j = 0; j < rows; j++) y[j] = t[j];
                }
            }
        }
    }
    free(scratch);
    return 0;
}

#pragma clang attribute pop
