/// How products with quantized weights treat their activations.
public enum Arithmetic: String, Sendable, Codable, CaseIterable {
    /// Float32 activations times the dequantized weights: the arithmetic of transformers loading
    /// the same file, which the golden tests hold to their tolerances. The default.
    case exact
    /// llama.cpp's arithmetic for batched products: activation rows are quantized to int8 in blocks
    /// of 32 and multiplied with integer multiply-adds (`CKernels/fg_int8.h`). About twice as fast
    /// as `exact` for Q4 weights; logits move by ~0.1-0.2 (relative ~1%), so greedy continuations
    /// can part from `exact` ones after a few tokens. Products of one row (single-stream decoding),
    /// LoRA terms and float checkpoints stay exact.
    case int8
}
