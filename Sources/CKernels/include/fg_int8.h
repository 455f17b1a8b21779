/* Products of quantized weights with int8-quantized activations (the "int8" arithmetic).
 *
 * llama.cpp's way of multiplying quantized weights: each activation row is quantized in blocks of
 * 32 to int8 (q = round(x / d), d = max|x| / 127), and the block dot products are integer
 * multiply-adds (AVX2 maddubs), scaled once per block. It is ~2x faster than float FMAs on
 * dequantized weights, and it is not exact: every activation carries a rounding error of up to
 * d / 2, so results differ from the float product by ~0.2-0.5% of its scale.
 * The exact float kernels are in fg_ops.h.
 *
 * Weight types: Q4_0 = 2 and Q4_1 = 3 (ggml layouts), rows of C elements, C a multiple of 32; Q4_K =
 * 12 with C a multiple of 256 (each 32-weight sub-block repacked as a Q4_1-like block with float
 * scale and minimum). Q5_K and Q6_K are not offered: their 5- and 6-bit weights would overflow the
 * kernel's 16-bit block sums. */
#ifndef FG_INT8_H
#define FG_INT8_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Weight rows per repacked panel; fg_matmul_int8's row ranges start on a panel boundary. */
#define FG_INT8_PANEL_ROWS 8

/* Bytes fg_quantize_activations writes for M rows of C (C a multiple of 32). */
int64_t fg_int8_activation_bytes(int64_t M, int64_t C);

/* Quantizes X (M, C), row stride ldx, into `out` (fg_int8_activation_bytes(M, C) bytes, 32-byte
 * aligned): per row and block of 32, d = max|x| / 127, q = round-to-nearest-even(x / d) in
 * [-127, 127], and d * sum(q). Returns 0, or -1 if C is not a multiple of 32. */
int fg_quantize_activations(const float *X, int64_t M, int64_t ldx, int64_t C, void *out);

/* Bytes of a quantized weight (rows, C) repacked for fg_matmul_int8 (panels of 8 rows, the last
 * padded); 0 for an unsupported type or C. */
int64_t fg_int8_packed_bytes(uint32_t type, int64_t rows, int64_t C);

/* Repacks W (rows, C), ggml rows one after another, into `out` (fg_int8_packed_bytes, 32-byte
 * aligned): per panel of 8 rows and block of 32, the weights interleaved four k at a time so that
 * one 32-byte vector holds the same four k of all eight rows, and the scales as float. The values
 * are unchanged. Returns 0, or -1 for an unsupported type or C. */
int fg_int8_pack_weights(uint32_t type, const void *W, int64_t rows, int64_t C, void *out);

/* fg_int8_pack_weights for panels [p0, p1) only (the same bytes), so threads can pack a weight
 * together. Returns 0, or -1 for an unsupported type or C, or a range outside the panels. */
int fg_int8_pack_weight_panels(uint32_t type, const void *W, int64_t rows, int64_t C, void *out, int64_t p0, int64_t p1);

/* Y[m, r] = sum over blocks of d_w d_x (q_w . q_x) + m_w d_x sum(q_x), for m < M and weight rows
 * r in [r0, r1): the weight repacked by fg_int8_pack_weights times the activations quantized by
 * fg_quantize_activations. Y is (M, rows) with row stride ldy; r0 must be a multiple of
 * FG_INT8_PANEL_ROWS. The
 * integer dot products are exact; each element then sums its blocks in order, so the result depends
 * neither on M nor on how the rows are split between threads.
 * Returns 0, or -1 for an unsupported type or C, or an r0 off a panel boundary. */
int fg_matmul_int8(uint32_t type, const void *packed, int64_t C, const void *xq, int64_t M,
                   float *Y, int64_t ldy, int64_t r0, int64_t r1);

#ifdef __cplusplus
}
#endif

#endif
