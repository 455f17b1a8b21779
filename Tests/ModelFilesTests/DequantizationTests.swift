import CKernels
import Foundation
import Testing

@testable import ModelFiles

/// Dequantization against gguf-py's `gguf.quants.dequantize` (bit-exact: the C kernels round
/// `d * q + m` in the same order as numpy) and half-precision conversions against Swift's Float16.
@Suite struct DequantizationTests {
    static let dequantizable = [
        "f32.weight", "f16.weight", "bf16.weight", "q4_0.weight", "q4_1.weight", "q5_0.weight",
        "q5_1.weight", "q8_0.weight", "q4_k.weight", "q5_k.weight", "q6_k.weight",
    ]

    @Test(arguments: dequantizable)
    func matchesGGUFPy(tensor name: String) throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let manifest = try Fixtures.expectedGGUF()
        let all = try Fixtures.expectedGGUFValues()
        let entry = try #require(manifest.tensors.first { $0.name == name })
        let start = try #require(entry.start)
        let expected = Array(all[start ..< start + entry.count])
        let actual = try gguf.floats(named: name)
        #expect(actual.count == expected.count)
        var mismatches = 0
        for (index, (a, e)) in zip(actual, expected).enumerated() where !sameFloat(a, e) {
            mismatches += 1
            if mismatches <= 5 { Issue.record("\(name)[\(index)]: got \(a), gguf-py \(e)") }
        }
        #expect(mismatches == 0)
        // The values are not degenerate (catches an all-zero dequantizer matching all-zero data).
        #expect(actual.contains { $0 != 0 && $0.isFinite })
    }

    @Test func unsupportedTypeThrowsNamingTypeAndTensor() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let info = try #require(gguf.tensor(named: "q2_k.weight"))
        #expect(info.type == .q2_K)
        #expect(gguf.rawData(of: info).count == 84)
        let error = try #require(throws: ModelFileError.self) { try gguf.floats(of: info) }
        #expect(error.kind == .unsupportedTensorType)
        #expect(error.detail.contains("unsupported tensor type Q2_K for tensor q2_k.weight"))
        #expect(error.file.hasSuffix("tiny.gguf"))
    }

    @Test func foreignTensorInfoIsRejected() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let bogus = GGUFTensorInfo(name: "bogus", dimensions: [32], type: .q8_0, offset: 1 << 40, byteCount: 34)
        let error = try #require(throws: ModelFileError.self) { try gguf.floats(of: bogus) }
        #expect(error.kind == .invalidArgument)
        #expect(gguf.rawData(of: bogus).isEmpty)
        let missing = try #require(throws: ModelFileError.self) { try gguf.floats(named: "nope") }
        #expect(missing.kind == .tensorNotFound)
    }

    @Test func kernelRejectsBadTypeAndCount() {
        var source = [UInt8](repeating: 0, count: 64)
        var out = [Float](repeating: 0, count: 64)
        #expect(fg_dequantize(GGMLType.q2_K.rawValue, &source, &out, 256) == -1)
        #expect(fg_dequantize(GGMLType.q4_0.rawValue, &source, &out, 31) == -2)
        #expect(fg_dequantize(GGMLType.q4_0.rawValue, &source, &out, -32) == -2)
        #expect(fg_dequantize(GGMLType.q4_0.rawValue, &source, &out, 32) == 0)
    }

    @Test func halfToFloatMatchesFloat16ForEveryBitPattern() {
        var mismatches = 0
        for bits in 0 ... UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            if !sameFloat(fg_f16_to_f32(bits), want) { mismatches += 1 }
            // Every non-NaN half survives the round trip bit for bit.
            if !want.isNaN, fg_f32_to_f16(want) != bits { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func floatToHalfRoundsLikeFloat16() {
        var generator = SplitMix64(seed: 42)
        var mismatches = 0
        for index in 0 ..< 20_000 {
            // Mix arbitrary bit patterns with values near the half range and its subnormals.
            let x: Float = index % 2 == 0
                ? Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
                : Float.random(in: -70_000 ... 70_000, using: &generator) * (index % 4 == 1 ? 1 : 1e-9)
            if x.isNaN {
                if !Float16(bitPattern: fg_f32_to_f16(x)).isNaN { mismatches += 1 }
                continue
            }
            if fg_f32_to_f16(x) != Float16(x).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(fg_f32_to_f16(65504) == 0x7BFF)
        #expect(fg_f32_to_f16(65520) == 0x7C00)
        #expect(fg_f32_to_f16(-0.0) == 0x8000)
    }

    @Test func bfloat16IsTheUpperHalfOfAFloat() {
        #expect(fg_bf16_to_f32(0x3F80) == 1)
        #expect(fg_bf16_to_f32(0xC040) == -3)
        #expect(fg_bf16_to_f32(0x7F80) == .infinity)
    }
}
