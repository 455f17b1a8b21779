import CKernels
import Foundation
import Testing

/// The C kernels against plain double-precision references, on shapes that cross their block and
/// vector-width boundaries (64-row attention blocks, 8-wide tails, head sizes that are and are not
/// multiples of 8).
struct KernelTests {
    /// A reproducible stream of floats in [-scale, scale).
    struct Values {
        var state: UInt64
        mutating func next(_ scale: Float = 1) -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        mutating func array(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in next(scale) } }
    }

    /// Causal grouped-query attention in doubles, the definition fg_attention implements.
    static func referenceAttention(q: [Float], k: [Float], v: [Float], newRows: Int, start: Int,
                                   H: Int, KVH: Int, D: Int) -> [Double] {
        let QD = H * D, KVD = KVH * D, group = H / KVH
        var out = [Double](repeating: 0, count: newRows * QD)
        for i in 0..<newRows {
            for h in 0..<H {
                let g = h / group, visible = start + i + 1
                var scores = (0..<visible).map { j in
                    (0..<D).reduce(0.0) { $0 + Double(q[i * QD + h * D + $1]) * Double(k[j * KVD + g * D + $1]) } / Double(D).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let sum = scores.reduce(0, +)
                for d in 0..<D {
                    out[i * QD + h * D + d] = (0..<visible).reduce(0.0) { $0 + scores[$1] / sum * Double(v[$1 * KVD + g * D + d]) }
                }
            }
        }
        return out
    }

    @Test(arguments: [(1, 0, 64), (1, 37, 64), (70, 0, 64), (130, 5, 16), (9, 3, 24), (20, 4, 12)])
    func attentionMatchesTheDefinition(newRows: Int, start: Int, D: Int) {
        let H = 4, KVH = 2, QD = H * D, KVD = KVH * D, total = start + newRows
        var values = Values(state: UInt64(newRows * 1000 + start * 10 + D))
        let q = values.array(newRows * QD, 2), k = values.array(total * KVD, 2), v = values.array(total * KVD)
        var out = [Float](repeating: .nan, count: newRows * QD)
        var scratch = [Float](repeating: 0, count: Int(fg_attention_scratch(Int64(newRows), Int64(start))))
        fg_attention(&out, Int64(QD), q, Int64(QD), k, v, Int64(KVD), Int64(D), Int64(newRows), Int64(start),
                     Int64(H), Int64(KVH), Int64(D), 0, Int64(H), &scratch)
        let expected = Self.referenceAttention(q: q, k: k, v: v, newRows: newRows, start: start, H: H, KVH: KVH, D: D)
        let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 2e-6, "worst error \(worst)")
    }

    /// The vectorised half conversions agree bit for bit with the scalar reference conversions
    /// (round to nearest even, subnormals, infinities, NaN) on every tail length.
    @Test func halfConversionsMatchTheScalarReference() {
        var values = Values(state: 11)
        var x = values.array(37, 70000)
        x += [0, -0.0, 1e-7, -6e-8, 65519, 65520, .infinity, -.infinity, 0.1, 1 + 1.0 / 2048, 1 + 3.0 / 2048]
        for n in 0...x.count {
            var halves = [UInt16](repeating: 0, count: n)
            fg_f32_to_f16_array(&halves, x, Int64(n))
            #expect(halves == x.prefix(n).map { fg_f32_to_f16($0) }, "n = \(n)")
            var back = [Float](repeating: .nan, count: n)
            fg_f16_to_f32_array(&back, halves, Int64(n))
            #expect(back.map(\.bitPattern) == halves.map { fg_f16_to_f32($0).bitPattern }, "n = \(n)")
        }
        var nan = [UInt16](repeating: 0, count: 9)
        fg_f32_to_f16_array(&nan, [Float](repeating: .nan, count: 9), 9)
        #expect(nan.allSatisfy { fg_f16_to_f32($0).isNaN })
    }

    @Test func softmaxAndSiLUMatchTheDefinitionsOnEveryTailLength() {
        var values = Values(state: 7)
        for n in 1...19 {
            let x = values.array(n, 30)
            var y = x
            fg_softmax(&y, Int64(n))
            let m = Double(x.max()!), e = x.map { exp(Double($0) - m) }, s = e.reduce(0, +)
            #expect(zip(y, e).allSatisfy { abs(Double($0) - $1 / s) <= 1e-6 * max($1 / s, 1e-30) + 1e-12 })

            let gate = values.array(n, 12) + [-100, 100, 0], up = values.array(n + 3)
            var out = [Float](repeating: .nan, count: n + 3)
            fg_silu_mul(&out, gate, up, Int64(n + 3))
            for i in 0..<(n + 3) {
                let g = Double(gate[i]), want = g / (1 + exp(-g)) * Double(up[i])
                #expect(abs(Double(out[i]) - want) <= 1e-6 * abs(want) + 1e-30, "silu at \(gate[i])")
            }
        }
    }
}
