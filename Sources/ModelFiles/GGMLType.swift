import CKernels

/// A ggml tensor element type as stored in GGUF tensor infos
/// (reference: gguf-py `GGMLQuantizationType` and `GGML_QUANT_SIZES`).
///
/// Every type listed here is recognised; ``isDequantizable`` says which ones
/// ``GGUFFile/floats(of:)`` can convert to `Float`.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// Elements per block (1 for plain scalar types, 32 for legacy quants, 256 for K-quants).
    public var blockSize: Int { geometry.blockSize }

    /// Bytes one block occupies in the file.
    public var bytesPerBlock: Int { geometry.bytesPerBlock }

    /// The type's name as gguf-py spells it, e.g. `"Q4_K"`, `"BF16"`.
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_xxs: "IQ2_XXS"
        case .iq2_xs: "IQ2_XS"
        case .iq3_xxs: "IQ3_XXS"
        case .iq1_s: "IQ1_S"
        case .iq4_nl: "IQ4_NL"
        case .iq3_s: "IQ3_S"
        case .iq2_s: "IQ2_S"
        case .iq4_xs: "IQ4_XS"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .f64: "F64"
        case .iq1_m: "IQ1_M"
        case .bf16: "BF16"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        case .mxfp4: "MXFP4"
        case .nvfp4: "NVFP4"
        case .q1_0: "Q1_0"
        }
    }

    /// Whether ``GGUFFile/floats(of:)`` can dequantize this type (the C kernels in
    /// `fg_quant.h` implement it).
    public var isDequantizable: Bool { fg_quant_block_info(rawValue, nil, nil) == 0 }

    /// Bytes taken by `elementCount` elements, or nil when `elementCount` is not a whole
    /// number of blocks or the product overflows.
    public func byteCount(elementCount: Int) -> Int? {
        guard elementCount >= 0, elementCount % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elementCount / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    private var geometry: (blockSize: Int, bytesPerBlock: Int) {
        let qkK = 256
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 2 + 16)
        case .q4_1: return (32, 2 + 2 + 16)
        case .q5_0: return (32, 2 + 4 + 16)
        case .q5_1: return (32, 2 + 2 + 4 + 16)
        case .q8_0: return (32, 2 + 32)
        case .q8_1: return (32, 4 + 4 + 32)
        case .q2_K: return (qkK, 2 + 2 + qkK / 16 + qkK / 4)
        case .q3_K: return (qkK, 2 + qkK / 4 + qkK / 8 + 12)
        case .q4_K: return (qkK, 2 + 2 + qkK / 2 + 12)
        case .q5_K: return (qkK, 2 + 2 + qkK / 2 + qkK / 8 + 12)
        case .q6_K: return (qkK, 2 + qkK / 2 + qkK / 4 + qkK / 16)
        case .q8_K: return (qkK, 4 + qkK + qkK / 8)
        case .iq2_xxs: return (qkK, 2 + qkK / 4)
        case .iq2_xs: return (qkK, 2 + qkK / 4 + qkK / 32)
        case .iq3_xxs: return (qkK, 2 + qkK / 4 + qkK / 8)
        case .iq1_s: return (qkK, 2 + qkK / 8 + qkK / 16)
        case .iq4_nl: return (32, 2 + 16)
        case .iq3_s: return (qkK, 2 + qkK / 4 + qkK / 8 + qkK / 32 + 4)
        case .iq2_s: return (qkK, 2 + qkK / 4 + qkK / 16)
        case .iq4_xs: return (qkK, 2 + 2 + qkK / 2 + qkK / 64)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        case .iq1_m: return (qkK, qkK / 8 + qkK / 16 + qkK / 32)
        case .tq1_0: return (qkK, 2 + 4 * 13)
        case .tq2_0: return (qkK, 2 + 64)
        case .mxfp4: return (32, 1 + 16)
        case .nvfp4: return (64, 4 + 32)
        case .q1_0: return (128, 2 + 16)
        }
    }
}
