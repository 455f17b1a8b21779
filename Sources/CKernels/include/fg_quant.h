/* fg_quant.h: half-precision conversions and ggml block dequantization.
 *
 * Contract: reference C for the ggml block layouts used by GGUF files
 * (reference: ggml/src/ggml-quants.c dequantize_row_*, gguf-py gguf/quants.py).
 * Callers validate sizes; these functions only check the type and that n is a
 * whole number of blocks. All multi-byte fields are little-endian and may be
 * unaligned in memory. */
#ifndef FG_QUANT_H
#define FG_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* IEEE binary16 bits -> float (exact; handles subnormals, inf, NaN). */
float fg_f16_to_f32(uint16_t h);
/* float -> IEEE binary16 bits, round to nearest even; overflow gives inf. */
uint16_t fg_f32_to_f16(float f);
/* bfloat16 bits -> float (exact: the upper 16 bits of a float). */
float fg_bf16_to_f32(uint16_t h);

/* Block geometry of ggml type `type`: elements per block and bytes per block.
   Returns 0 on success, -1 for a type this file cannot dequantize. */
int fg_quant_block_info(uint32_t type, int64_t *block_size, int64_t *bytes_per_block);

/* Dequantize n elements (n a multiple of the type's block size) of ggml type
   `type` from src into dst.
   src is (n / block_size) blocks of bytes_per_block bytes; dst is (n) floats.
   Supported: F32(0) F16(1) Q4_0(2) Q4_1(3) Q5_0(6) Q5_1(7) Q8_0(8)
              Q4_K(12) Q5_K(13) Q6_K(14) BF16(30).
   Returns 0 on success, -1 for an unsupported type, -2 for a bad n. */
int fg_dequantize(uint32_t type, const void *src, float *dst, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* FG_QUANT_H */
