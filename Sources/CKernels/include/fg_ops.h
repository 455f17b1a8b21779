/* Engine kernels: elementwise ops, attention and quantized matrix-vector products.
 * Shapes use the legend T = rows (tokens), C = channels, H = heads, D = head size.
 * All matrices are row-major. Kernels are compiled for AVX2 + FMA (see ops.c). */
#ifndef FG_OPS_H
#define FG_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[t, :] = x[t, :] / rms(x[t, :]) * weight, for t < T. x and out are (T, C); out may alias x. */
void fg_rmsnorm(float *out, const float *x, const float *weight, int64_t T, int64_t C, float eps);

/* Rotary embedding in the Hugging Face "rotate half" layout on one (H, D) row block:
 * pairs (i, i + D/2) rotate by angle position * inv_freq[i]. x is (H, D), rotated in place. */
void fg_rope(float *x, int64_t H, int64_t D, const float *inv_freq, int64_t position);

/* cosines and sines (D/2 each) of the angles position * inv_freq[i], as fg_rope computes them. */
void fg_rope_angles(float *cosines, float *sines, int64_t D, const float *inv_freq, int64_t position);

/* fg_rope with the angles' cosines and sines from fg_rope_angles: sign +1 rotates forward (bit-identical
 * to fg_rope), sign -1 rotates back (the backward of the rotation). */
void fg_rope_table(float *x, int64_t H, int64_t D, const float *cosines, const float *sines, float sign);

/* out[i] = silu(gate[i]) * up[i], for i < n. out may alias gate. */
void fg_silu_mul(float *out, const float *gate, const float *up, int64_t n);

/* y[i] += x[i] */
void fg_add(float *y, const float *x, int64_t n);

/* out[i] = a[i] + b[i] for i < n (out may alias a or b). */
void fg_add3(float *out, const float *a, const float *b, int64_t n);

/* Causal attention of n_new query rows against a key/value cache of `start + n_new` rows.
 * q: (n_new, H, D) with row stride q_stride floats; k, v: start + n_new positions of KVH heads of D
 * floats, position j of kv head g at j * kv_stride + g * kv_head_stride (rows of (KVH, D): kv_stride
 * KVH·D, kv_head_stride D; head-major (KVH, capacity, D): kv_stride D, kv_head_stride capacity·D);
 * out: (n_new, H, D) with row stride out_stride. Query row i sits at position start + i and sees
 * cache rows 0 ... start + i. Grouped-query: head h reads kv head h / (H / KVH).
 * scratch holds at least fg_attention_scratch(n_new, start) floats. Heads [h0, h1) only, so callers
 * can split work. Query rows go in blocks of up to 64 (attention.c); a single new row (decoding)
 * takes the heads of [h0, h1) that share a kv head together, as the rows of one block. */
int64_t fg_attention_scratch(int64_t n_new, int64_t start);

void fg_attention(float *out, int64_t out_stride, const float *q, int64_t q_stride,
                  const float *k, const float *v, int64_t kv_stride, int64_t kv_head_stride,
                  int64_t n_new, int64_t start, int64_t H, int64_t KVH, int64_t D,
                  int64_t h0, int64_t h1, float *scratch);

/* scores[j] = dot(q, k_j) * scale for j < n, where k_j = k + j * stride (D floats each). */
void fg_attention_scores(float *scores, const float *q, const float *k, int64_t stride, int64_t n, int64_t D,
                         float scale);

/* out (D) = sum over j < n of p[j] * v_j, where v_j = v + j * stride. */
void fg_attention_values(float *out, const float *p, const float *v, int64_t stride, int64_t n, int64_t D);

/* y[r] = dot(W[r, :], x) for r in [r0, r1), where W is a quantized (rows, C) matrix of ggml type
 * `type` (supported: Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q8_0 = 8, and with C a multiple of 256 Q4_K = 12,
 * Q5_K = 13 and Q6_K = 14) stored row after row, and x is float (C).
 * The product is computed exactly as the dequantized float matrix times x, up to summation order.
 * Returns 0, or -1 for an unsupported type. */
int fg_matvec_quantized(uint32_t type, const void *W, int64_t C, const float *x, float *y,
                        int64_t r0, int64_t r1);

/* Rows of X once packed for fg_matmul_quantized_packed: M rounded up to a multiple of 8. */
int64_t fg_packed_rows(int64_t M);

/* xp (C, fg_packed_rows(M)) = Xᵀ for X (M, C) with row stride ldx, the padding rows zero. */
void fg_pack_kmajor(const float *X, int64_t M, int64_t ldx, int64_t C, float *xp);

/* Y[m, r] = dot(W[r, :], X[m, :]) for m < M and r in [r0, r1): the multi-row form of
 * fg_matvec_quantized for small batches (batched decoding). X (M, C) comes packed by fg_pack_kmajor,
 * so threads splitting the weight rows share one packing; Y is (M, rows) with row stride ldy. Weight
 * rows are dequantized a few at a time into a tile that stays in cache while every X row passes over
 * it (the 32-weight block types with vector code, the others with fg_dequantize). Types: those of
 * fg_matvec_quantized. Each Y element sums its C products in order, in one accumulator: the result depends neither on
 * M nor on the row split. Returns 0, or -1 for an unsupported type. */
int fg_matmul_quantized_packed(uint32_t type, const void *W, int64_t C, const float *xp, int64_t M,
                               float *Y, int64_t ldy, int64_t r0, int64_t r1);

/* Bytes of one quantized row of C elements for the supported matvec types; 0 if unsupported. */
int64_t fg_quantized_row_bytes(uint32_t type, int64_t C);

/* 1 for the 32-weight block types that the int8 kernels and the small-batch product's vector
 * dequantization read (Q4_0, Q4_1, Q8_0); 0 for Q5_0 and the K-quants (super-blocks of 256). */
int fg_quantized_type_has_blocks_of_32(uint32_t type);

/* dst[i] = src[i] rounded to IEEE half (nearest-even, F16C), for i < n. */
void fg_f32_to_f16_array(uint16_t *dst, const float *src, int64_t n);

/* dst[i] = src[i] widened from IEEE half (exact), for i < n. */
void fg_f16_to_f32_array(float *dst, const uint16_t *src, int64_t n);

/* In place: x = softmax(x) over n entries (max-subtracted). */
void fg_softmax(float *x, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
