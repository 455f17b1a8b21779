/* Quantized weights times int8-quantized activations (see include/fg_int8.h for the contract).
 *
 * Activations: per row m and block b of 32, float d[m][b] and float s[m][b] = d * sum(q), then the
 * int8 values q row after row.
 *
 * Weights are repacked once (fg_int8_pack_weights) into panels of eight rows. Within a panel and
 * block, one 32-byte vector holds the same four consecutive k of all eight rows (lane j = row j).
 * Broadcasting an activation row's four bytes of those k and multiplying with maddubs (u8 x s8,
 * adjacent pairs summed to s16) gives, per lane, that row's partial dot product. The weights
 * are nibbles 0..15 and |q| <= 127, so a whole block (eight groups of four k) sums in s16 without
 * overflow (at most 8 * 2 * 15 * 127 = 30480) before one madd widens it to s32.
 * Q4_0 / Q4_1: ggml's byte i of a block holds k = i (low nibble) and k = i + 16 (high), so vector v
 * of a panel block is the rows' bytes 4v..4v+3 as stored: its low nibbles are k = 4v..4v+3 and its
 * high nibbles k = 16+4v..16+4v+3. Scales d and minimums m (x = d q + m; Q4_0 has m = -8d) follow as
 * eight floats each: 192 bytes per panel block.
 *
 * Q4_K: each sub-block of 32 is such a block, with scale d·sc and minimum −dmin·m (super-block
 * scale times the sub-block's 6-bit scale and minimum), its nibbles rearranged into the Q4 order.
 *
 * Q8_0 is not offered: its signed bytes need either llama.cpp's sign trick or a split into two
 * nibbles, and both measured only 1.06-1.2x the float kernel here, while costing exactness. */
#include "fg_int8.h"
#include "fg_ops.h"

#include <immintrin.h>
#include <string.h>

#include "simd_helpers.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

enum { TYPE_Q4_0 = 2, TYPE_Q4_1 = 3, TYPE_Q4_K = 12, PANEL_ROWS = FG_INT8_PANEL_ROWS, TILE_M = 6, M_CHUNK = 120 };

static inline int64_t align32(int64_t n) { return (n + 31) / 32 * 32; }

int64_t fg_int8_activation_bytes(int64_t M, int64_t C) { return align32(8 * M * (C / 32)) + M * C; }

/* Views of an activation buffer. */
typedef struct {
    const float *d, *s;
    const int8_t *q;
} Activations;

static inline Activations activations_view(const void *buffer, int64_t M, int64_t C) {
    const uint8_t *base = (const uint8_t *)buffer;
    const int64_t nb = C / 32;
    const float *d = (const float *)base;
    Activations a = {d, d + M * nb, (const int8_t *)(base + align32(8 * M * nb))};
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
            /* Σq, then 4 x 8 int32 packed into 32 int8 in k order (packs interleave 128-bit lanes). */
            const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i32[0], i32[1]), _mm256_add_epi32(i32[2], i32[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(i32[0], i32[1]), _mm256_packs_epi32(i32[2], i32[3]));
            const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(q + m * C + b * 32), ordered);
            d[m * nb + b] = scale;
            s[m * nb + b] = scale * (float)_mm_cvtsi128_si32(s4);
        }
    }
    return 0;
}

static inline int64_t block_panel_bytes(uint32_t type) {
    switch (type) {
    case TYPE_Q4_0: case TYPE_Q4_1: case TYPE_Q4_K: return 192;
    default: return 0;
    }
}

int64_t fg_int8_packed_bytes(uint32_t type, int64_t rows, int64_t C) {
    if (block_panel_bytes(type) == 0 || C <= 0 || fg_quantized_row_bytes(type, C) == 0 || rows < 0) return 0;
    return (rows + PANEL_ROWS - 1) / PANEL_ROWS * (C / 32) * block_panel_bytes(type);
}

/* Row j of a panel block from sub-block b % 8 of a Q4_K row's super-block b / 8: its scale d·sc and
 * minimum −dmin·m (the products gguf-py's dequantization forms, as floats), and its 32 nibbles
 * rearranged into ggml's Q4 block order (byte i holds k = i low and k = i + 16 high); Q4_K keeps
 * sub-block 2c in the low nibbles of 32 bytes and 2c + 1 in their high nibbles. */
static void pack_q4_k_block(const uint8_t *row, int64_t b, int64_t j, uint8_t *bp) {
    const uint8_t *sb = row + (b / 8) * 144;
    const int t = (int)(b % 8);
    float sc, m;
    q4k_scale_min(t, sb + 4, &sc, &m);
    float *ds = (float *)(bp + 128), *mins = ds + 8;
    ds[j] = load_half(sb) * sc;
    mins[j] = -(load_half(sb + 2) * m);
    const uint8_t *group = sb + 16 + 32 * (t / 2);
    uint8_t qs[16];
    for (int i = 0; i < 16; i++) {
        const uint8_t lo = t % 2 ? group[i] >> 4 : group[i] & 0xF, hi = t % 2 ? group[i + 16] >> 4 : group[i + 16] & 0xF;
        qs[i] = (uint8_t)(lo | (hi << 4));
    }
    for (int v = 0; v < 4; v++) memcpy(bp + 32 * v + 4 * j, qs + 4 * v, 4);
}

int fg_int8_pack_weights(uint32_t type, const void *W, int64_t rows, int64_t C, void *out) {
    return fg_int8_pack_weight_panels(type, W, rows, C, out, 0, (rows + PANEL_ROWS - 1) / PANEL_ROWS);
}

int fg_int8_pack_weight_panels(uint32_t type, const void *W, int64_t rows, int64_t C, void *out, int64_t p0, int64_t p1) {
    const int64_t bpb = block_panel_bytes(type), row_bytes = fg_quantized_row_bytes(type, C);
    if (bpb == 0 || row_bytes == 0) return -1;
    const int64_t nb = C / 32, block_bytes = row_bytes / nb, panels = (rows + PANEL_ROWS - 1) / PANEL_ROWS;
    if (p0 < 0 || p1 > panels || p0 > p1) return -1;
    const uint8_t *src = (const uint8_t *)W;
    uint8_t *dst = (uint8_t *)out;
    memset(dst + p0 * nb * bpb, 0, (size_t)((p1 - p0) * nb * bpb));
    for (int64_t p = p0; p < p1; p++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *bp = dst + (p * nb + b) * bpb;
            for (int64_t j = 0; j < PANEL_ROWS && p * PANEL_ROWS + j < rows; j++) {
                if (type == TYPE_Q4_K) {
                    pack_q4_k_block(src + (p * PANEL_ROWS + j) * row_bytes, b, j, bp);
                    continue;
                }
                const uint8_t *blk = src + (p * PANEL_ROWS + j) * row_bytes + b * block_bytes;
                const float d = load_half(blk);
                float *scales = (float *)(bp + 128), *mins = scales + 8;
                scales[j] = d;
                mins[j] = type == TYPE_Q4_1 ? load_half(blk + 2) : -8.0f * d;
                const uint8_t *qs = blk + (type == TYPE_Q4_1 ? 4 : 2);
                for (int v = 0; v < 4; v++) memcpy(bp + 32 * v + 4 * j, qs + 4 * v, 4);
            }
        }
    }
    return 0;
}

static inline __m256i broadcast_group(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return _mm256_set1_epi32(v);
}

/* out[r] (eight outputs) = the panel's eight rows times activation row m0 + r, for r < R. */
static inline __attribute__((always_inline)) void tile_q4(int R, const uint8_t *panel, Activations a, int64_t C,
                                                          int64_t nb, int64_t m0, __m256 out[TILE_M]) {
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F);
    __m256 acc[TILE_M];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *bp = panel + b * 192;
        const int8_t *qb = a.q + m0 * C + b * 32;
        __m256i sum[TILE_M];
        for (int r = 0; r < R; r++) sum[r] = _mm256_setzero_si256();
        for (int v = 0; v < 4; v++) {
            const __m256i raw = _mm256_load_si256((const __m256i *)(bp + 32 * v));
            const __m256i lo = _mm256_and_si256(raw, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
            for (int r = 0; r < R; r++) {
                sum[r] = _mm256_add_epi16(sum[r], _mm256_maddubs_epi16(lo, broadcast_group(qb + r * C + 4 * v)));
                sum[r] = _mm256_add_epi16(sum[r], _mm256_maddubs_epi16(hi, broadcast_group(qb + r * C + 16 + 4 * v)));
            }
        }
        const __m256 vd = _mm256_load_ps((const float *)(bp + 128)), vm = _mm256_load_ps((const float *)(bp + 160));
        for (int r = 0; r < R; r++) {
            const int64_t i = (m0 + r) * nb + b;
            const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(sum[r], ones));
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dot, _mm256_set1_ps(a.d[i])), vd, acc[r]);
            acc[r] = _mm256_fmadd_ps(vm, _mm256_set1_ps(a.s[i]), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = acc[r];
}

static void tile_rows(int64_t R, const uint8_t *panel, Activations a, int64_t C, int64_t nb,
                      int64_t m0, __m256 out[TILE_M]) {
    switch (R) {
    case 6: tile_q4(6, panel, a, C, nb, m0, out); break;
    case 5: tile_q4(5, panel, a, C, nb, m0, out); break;
    case 4: tile_q4(4, panel, a, C, nb, m0, out); break;
    case 3: tile_q4(3, panel, a, C, nb, m0, out); break;
    case 2: tile_q4(2, panel, a, C, nb, m0, out); break;
    default: tile_q4(1, panel, a, C, nb, m0, out); break;
    }
}

int fg_matmul_int8(uint32_t type, const void *packed, int64_t C, const void *xq, int64_t M,
                   float *Y, int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t bpb = block_panel_bytes(type);
    if (bpb == 0 || C <= 0 || C % 32 != 0 || r0 % PANEL_ROWS != 0) return -1;
    const int64_t nb = C / 32, tile = TILE_M;
    const Activations a = activations_view(xq, M, C);
    /* Activation rows in chunks that stay in L2 while every panel of the range passes over them. */
    for (int64_t mc = 0; mc < M; mc += M_CHUNK) {
        const int64_t m_end = M - mc < M_CHUNK ? M : mc + M_CHUNK;
        for (int64_t n0 = r0; n0 < r1; n0 += PANEL_ROWS) {
            const int64_t rows = r1 - n0 < PANEL_ROWS ? r1 - n0 : PANEL_ROWS;
            const uint8_t *panel = (const uint8_t *)packed + (n0 / PANEL_ROWS) * nb * bpb;
            for (int64_t m0 = mc; m0 < m_end; m0 += tile) {
                const int64_t R = m_end - m0 < tile ? m_end - m0 : tile;
                __m256 out[TILE_M];
                tile_rows(R, panel, a, C, nb, m0, out);
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
    }
    return 0;
}

#pragma clang attribute pop
