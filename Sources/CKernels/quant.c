/* quant.c: half-precision conversions and ggml block dequantization.
 *
 * Reference C, one function per block type, no intrinsics: the compiler
 * vectorises the inner loops. Layouts follow ggml (reference:
 * ggml/src/ggml-quants.c dequantize_row_*, gguf-py gguf/quants.py); QK_K = 256.
 *
 * Floating-point contraction is turned off so that `d * q + m` rounds twice,
 * exactly as ggml's scalar path and gguf-py's numpy code do; results are then
 * bit-identical to gguf.quants.dequantize. */
#include "fg_quant.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define FG_QUANT_TARGET_PUSHED 1
#endif

#define QK 32    /* elements per block of the legacy types */
#define QK_K 256 /* elements per K-quant super-block */

enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30
};

/* ---- scalar conversions ------------------------------------------------ */

static inline float bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

float fg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {
        /* zero or subnormal: mantissa * 2^-24, exact in float */
        float f = (float)mantissa * 5.9604644775390625e-8f;
        return bits_to_f32(f32_to_bits(f) | sign);
    }
    if (exponent == 31) {
        return bits_to_f32(sign | 0x7f800000u | (mantissa << 13));
    }
    return bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t fg_f32_to_f16(float f) {
    uint32_t x = f32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) { /* NaN: keep it quiet and keep the top payload bits */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) { /* >= 65520 (or inf) rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (a >= 0x38800000u) { /* normal half: rebias exponent by -112, round to nearest even */
        uint32_t odd = (a >> 13) & 1u;
        a += 0xc8000fffu + odd;
        return (uint16_t)(sign | (a >> 13));
    }
    /* subnormal half or zero: adding 0.5 aligns the binary point so the FPU
       performs the round to nearest even (reference: F. Giesen, half_from_float) */
    float t = bits_to_f32(a) + 0.5f;
    return (uint16_t)(sign | (f32_to_bits(t) - 0x3f000000u));
}

float fg_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

static inline float load_f16(const uint8_t *p) { return fg_f16_to_f32(load_u16(p)); }

/* ---- legacy 32-element blocks ------------------------------------------ */

/* Q4_0, 18 bytes: f16 d | 16 bytes nibbles. x[j] = (lo - 8) d, x[j+16] = (hi - 8) d. */
static void dequant_q4_0(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 18, y += QK) {
        const float d = load_f16(src);
        const uint8_t *qs = src + 2;
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (float)((int)(qs[j] & 0x0f) - 8) * d;
            y[j + QK / 2] = (float)((int)(qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q4_1, 20 bytes: f16 d | f16 m | 16 bytes nibbles. x = q d + m. */
static void dequant_q4_1(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 20, y += QK) {
        const float d = load_f16(src);
        const float m = load_f16(src + 2);
        const uint8_t *qs = src + 4;
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (float)(qs[j] & 0x0f) * d + m;
            y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
        }
    }
}

/* Q5_0, 22 bytes: f16 d | u32 high bits | 16 bytes nibbles. x = (q - 16) d. */
static void dequant_q5_0(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 22, y += QK) {
        const float d = load_f16(src);
        const uint32_t qh = load_u32(src + 2);
        const uint8_t *qs = src + 6;
        for (int j = 0; j < QK / 2; j++) {
            const int h0 = (int)((qh >> j) & 1u) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1u) << 4;
            y[j] = (float)(((qs[j] & 0x0f) | h0) - 16) * d;
            y[j + QK / 2] = (float)(((qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

/* Q5_1, 24 bytes: f16 d | f16 m | u32 high bits | 16 bytes nibbles. x = q d + m. */
static void dequant_q5_1(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 24, y += QK) {
        const float d = load_f16(src);
        const float m = load_f16(src + 2);
        const uint32_t qh = load_u32(src + 4);
        const uint8_t *qs = src + 8;
        for (int j = 0; j < QK / 2; j++) {
            const int h0 = (int)((qh >> j) & 1u) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1u) << 4;
            y[j] = (float)((qs[j] & 0x0f) | h0) * d + m;
            y[j + QK / 2] = (float)((qs[j] >> 4) | h1) * d + m;
        }
    }
}

/* Q8_0, 34 bytes: f16 d | 32 int8. x = q d. */
static void dequant_q8_0(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 34, y += QK) {
        const float d = load_f16(src);
        const int8_t *qs = (const int8_t *)(src + 2);
        for (int j = 0; j < QK; j++) {
            y[j] = (float)qs[j] * d;
        }
    }
}

/* ---- K-quants: 256-element super-blocks -------------------------------- */

/* Scale and min of sub-block j (0..7), packed at 6 bits in 12 bytes
   (reference: ggml-quants.c get_scale_min_k4). */
static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K, 144 bytes: f16 d | f16 dmin | 12 scale bytes | 128 bytes nibbles.
   Sub-block s of 32: x = (d sc_s) q - (dmin m_s). */
static void dequant_q4_k(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 144) {
        const float d = load_f16(src);
        const float dmin = load_f16(src + 2);
        const uint8_t *scales = src + 4;
        const uint8_t *q = src + 16;
        for (int s = 0; s < 8; s += 2, q += 32) {
            int sc, m;
            scale_min_k4(s, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(s + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) y[l + 32] = d2 * (float)(q[l] >> 4) - m2;
            y += 64;
        }
    }
}

/* Q5_K, 176 bytes: f16 d | f16 dmin | 12 scale bytes | 32 bytes high bits | 128 bytes nibbles. */
static void dequant_q5_k(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 176) {
        const float d = load_f16(src);
        const float dmin = load_f16(src + 2);
        const uint8_t *scales = src + 4;
        const uint8_t *qh = src + 16;
        const uint8_t *ql = src + 48;
        uint8_t u1 = 1, u2 = 2;
        for (int s = 0; s < 8; s += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            int sc, m;
            scale_min_k4(s, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(s + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                y[l] = d1 * (float)((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[l + 32] = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
            }
            y += 64;
        }
    }
}

/* Q6_K, 210 bytes: 128 bytes low nibbles | 64 bytes 2-bit highs | 16 int8 scales | f16 d.
   x = (d scale_g) (q - 32), one scale per 16 elements. */
static void dequant_q6_k(const uint8_t *src, float *y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++, src += 210) {
        const uint8_t *ql = src;
        const uint8_t *qh = src + 128;
        const int8_t *sc = (const int8_t *)(src + 192);
        const float d = load_f16(src + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l++) {
                const int g = l / 16;
                const int q1 = (int)((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int)((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * (float)sc[g + 0] * (float)q1;
                y[l + 32] = d * (float)sc[g + 2] * (float)q2;
                y[l + 64] = d * (float)sc[g + 4] * (float)q3;
                y[l + 96] = d * (float)sc[g + 6] * (float)q4;
            }
        }
    }
}

/* ---- dispatch ------------------------------------------------------------ */

int fg_quant_block_info(uint32_t type, int64_t *block_size, int64_t *bytes_per_block) {
    int64_t bs, bpb;
    switch (type) {
    case T_F32: bs = 1; bpb = 4; break;
    case T_F16: bs = 1; bpb = 2; break;
    case T_BF16: bs = 1; bpb = 2; break;
    case T_Q4_0: bs = QK; bpb = 18; break;
    case T_Q4_1: bs = QK; bpb = 20; break;
    case T_Q5_0: bs = QK; bpb = 22; break;
    case T_Q5_1: bs = QK; bpb = 24; break;
    case T_Q8_0: bs = QK; bpb = 34; break;
    case T_Q4_K: bs = QK_K; bpb = 144; break;
    case T_Q5_K: bs = QK_K; bpb = 176; break;
    case T_Q6_K: bs = QK_K; bpb = 210; break;
    default: return -1;
    }
    if (block_size) *block_size = bs;
    if (bytes_per_block) *bytes_per_block = bpb;
    return 0;
}

int fg_dequantize(uint32_t type, const void *src, float *dst, int64_t n) {
    int64_t bs, bpb;
    if (fg_quant_block_info(type, &bs, &bpb) != 0) return -1;
    if (n < 0 || n % bs != 0) return -2;
    if (n == 0) return 0;
    const uint8_t *s = (const uint8_t *)src;
    const int64_t nblocks = n / bs;
    switch (type) {
    case T_F32: memcpy(dst, s, (size_t)n * sizeof(float)); break;
    case T_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = fg_f16_to_f32(load_u16(s + 2 * i));
        break;
    case T_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = fg_bf16_to_f32(load_u16(s + 2 * i));
        break;
    case T_Q4_0: dequant_q4_0(s, dst, nblocks); break;
    case T_Q4_1: dequant_q4_1(s, dst, nblocks); break;
    case T_Q5_0: dequant_q5_0(s, dst, nblocks); break;
    case T_Q5_1: dequant_q5_1(s, dst, nblocks); break;
    case T_Q8_0: dequant_q8_0(s, dst, nblocks); break;
    case T_Q4_K: dequant_q4_k(s, dst, nblocks); break;
    case T_Q5_K: dequant_q5_k(s, dst, nblocks); break;
    case T_Q6_K: dequant_q6_k(s, dst, nblocks); break;
    default: return -1;
    }
    return 0;
}

#ifdef FG_QUANT_TARGET_PUSHED
#pragma clang attribute pop
#endif
