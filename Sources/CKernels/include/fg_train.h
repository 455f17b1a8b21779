/* Training kernels: the backward halves of the engine's elementwise ops and attention, plus the
 * pieces only training needs (dropout masks, cross-entropy over selected rows).
 * Shape legend: T = rows (tokens), C = channels, H / KVH = query / key-value heads, D = head size,
 * R = rows evaluated by the output head, V = vocabulary. All matrices are row-major.
 * Every "d" buffer is a gradient of a scalar loss; kernels that say "accumulates" add (+=). */
#ifndef FG_TRAIN_H
#define FG_TRAIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fg_rmsnorm that also keeps rstd (T) = 1 / sqrt(mean(x^2) + eps) per row for the backward.
 * out and x are (T, C); the result is bit-identical to fg_rmsnorm. */
void fg_rmsnorm_forward_train(float *out, float *rstd, const float *x, const float *weight,
                              int64_t T, int64_t C, float eps);

/* Accumulates dx (T, C) += d/dx of out = weight * x * rstd, given dout (T, C), the forward input
 * x (T, C), weight (C) and the kept rstd (T). The weight is frozen: it gets no gradient. */
void fg_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *weight,
                         const float *rstd, int64_t T, int64_t C);

/* Backward of out = silu(gate) * up over n elements: dgate and dup (n) are overwritten. */
void fg_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t n);

/* Backward of causal attention (fg_attention) for n query rows at positions start ..< start + n
 * against start + n keys. q, dq, dout: (n, H*D) with row stride H*D; k, v, dk, dv: (start + n,
 * KVH*D) with row stride KVH*D, the keys of the `start` rows before the queries first (a shared
 * prefix; 0 for a sequence on its own). Only key-value heads [g0, g1) and the query heads that read
 * them are processed, so callers can split work by kv head without write conflicts. dq is
 * overwritten for those query heads; dk and dv are accumulated. The probabilities are recomputed
 * from q and k. scratch holds at least fg_attention_backward_scratch(n, start) floats. */
int64_t fg_attention_backward_scratch(int64_t n, int64_t start);

void fg_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v,
                           int64_t n, int64_t start, int64_t H, int64_t KVH, int64_t D,
                           int64_t g0, int64_t g1, float *scratch);

/* Log-softmax at the target: for each of R rows of logits (R, V), lse[r] = log sum_j exp(logits[r, j])
 * and logprob[r] = logits[r, targets[r]] - lse[r], accumulated in double. */
void fg_target_log_softmax(const float *logits, const int32_t *targets, int64_t R, int64_t V,
                           double *lse, double *logprob);

/* In place: logits (R, V) become dlogits[r, j] = weight[r] * (softmax(logits[r])_j - [j == targets[r]]),
 * i.e. the gradient of sum_r -weight[r] * logprob[r]. lse from fg_target_log_softmax. */
void fg_target_log_softmax_backward(float *logits, const double *lse, const int32_t *targets,
                                    const float *weight, int64_t R, int64_t V);

/* Inverted dropout mask (PyTorch nn.Dropout semantics): mask[i] = 0 with probability p, else 1 / (1 - p).
 * Counter-based: element i depends only on (seed, i), so a mask can be regenerated for the backward. */
void fg_dropout_mask(float *mask, int64_t n, float p, uint64_t seed);

/* out[i] = a[i] * b[i]. out may alias a. */
void fg_mul(float *out, const float *a, const float *b, int64_t n);

/* y[i] += a[i] * b[i]. */
void fg_mul_add(float *y, const float *a, const float *b, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
