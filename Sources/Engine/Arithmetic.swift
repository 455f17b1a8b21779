/// How products with quantized weights treat their activations.
public enum Arithmetic: String, Sendable, Codable, CaseIterable {
    /// Float32 activations times the dequantized weights: the arithmetic of transformers loading
    /// the same file, which the golden tests hold to their tolerances. The default.
    case exact
    /// llama.cpp's arithmetic: activation rows are quantized to int8 in blocks of 32 and multiplied
    /// with Q4_0 / Q4_1 weights by integer multiply-adds (`CKernels/fg_int8.h`). About twice as fast
    /// as `exact`, for one row (single-stream decoding) as for many. Generation with it also keeps
    /// keys and values in float16 (``KVPrecision/float16``), which halves what decoding attention
    /// reads. Logits move: on SmolLM2's fixtures by at most ~1 (logits ~20-38), with the same top-1
    /// token at 227 of 234 positions, so greedy continuations can part from `exact` ones. Q8_0 and
    /// float weights (SmolLM2's output head) and LoRA terms stay exact. Each row is quantized on its
    /// own, so results do not depend on the batch beyond what `exact` already allows.
    case int8
}
