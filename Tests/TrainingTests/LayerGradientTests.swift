import CKernels
@testable import Engine
import Foundation
import Testing
@testable import Training

/// Finite-difference checks of each layer's backward on tiny random shapes.
///
/// Central differences in float32 (the kernels are float32) with the scalar loss Σ out·g summed in
/// Double. Bound: max |numeric − analytic| ≤ 5e-4 · max |analytic| per tensor (eps 1e-2 on O(1)
/// inputs: truncation error ~eps²·f‴/6 ≈ 1e-5, rounding ~1e-6/eps ≈ 1e-4 relative at worst).
struct LayerGradientTests {
    static let bound = 5e-4

    @Test func rmsNorm() {
        let T = 3, C = 16
        var r = TestRandom(seed: 1)
        let x = r.uniform(T * C, scale: 2), w = r.uniform(C), g = r.uniform(T * C)
        let out = FloatBuffer(count: T * C), rstd = FloatBuffer(count: T), dx = FloatBuffer(count: T * C)
        func loss(_ x: [Float]) -> Double {
            RMSNormLayer.forward(out.pointer, rstd: rstd.pointer, x, weight: w, rows: T, channels: C, eps: 1e-5)
            return dot(out.pointer, g)
        }
        _ = loss(x)
        RMSNormLayer.backward(dx.pointer, g, x: x, weight: w, rstd: rstd.pointer, rows: T, channels: C)
        let result = checkGradient(x, analytic: dx.array, eps: 1e-2, loss)
        print("RMSNorm dx:", result)
        #expect(result.relative < Self.bound)
    }

    @Test func rope() {
        let T = 3, H = 2, D = 8
        let positions = [0, 5, 2]
        let freqs = (0..<(D / 2)).map { Float(pow(10000, -2 * Double($0) / Double(D))) }
        var r = TestRandom(seed: 2)
        let x = r.uniform(T * H * D), g = r.uniform(T * H * D)
        let buffer = FloatBuffer(count: T * H * D)
        let angles = RotaryAngles(positions: positions, headDimension: D, inverseFrequencies: freqs)
        func loss(_ x: [Float]) -> Double {
            buffer.pointer.update(from: x, count: x.count)
            angles.rotate(buffer.pointer, heads: H)
            return dot(buffer.pointer, g)
        }
        let dx = FloatBuffer(g)
        angles.rotate(dx.pointer, heads: H, sign: -1)
        // The table-driven forward rotation is the inference kernel's, bit for bit.
        let reference = FloatBuffer(x)
        freqs.withUnsafeBufferPointer { f in
            for (t, p) in positions.enumerated() {
                fg_rope(reference.pointer + t * H * D, Int64(H), Int64(D), f.baseAddress, Int64(p))
            }
        }
        buffer.pointer.update(from: x, count: x.count)
        angles.rotate(buffer.pointer, heads: H)
        #expect(buffer.array == reference.array)
        let result = checkGradient(x, analytic: dx.array, eps: 1e-2, loss)
        print("RoPE dx:", result)
        #expect(result.relative < Self.bound)
    }

    /// Attention's dq, dk and dv over `spans` (T rows, GQA 4 query heads on 2 kv heads, D = 8: the
    /// generic path) against central differences; returns the inputs and dk for further checks.
    static func checkAttentionGradients(spans: [AttentionSpan], rows T: Int, seed: UInt64, label: String)
        -> (q: [Float], k: [Float], v: [Float], g: [Float], dk: [Float]) {
        let H = 4, KVH = 2, D = 8, QD = H * D, KVD = KVH * D
        var r = TestRandom(seed: seed)
        let q = r.uniform(T * QD), k = r.uniform(T * KVD), v = r.uniform(T * KVD), g = r.uniform(T * QD)
        let out = FloatBuffer(count: T * QD)
        func loss(q: [Float], k: [Float], v: [Float]) -> Double {
            AttentionLayer.forward(out.pointer, q: q, k: k, v: v, spans: spans, heads: H, kvHeads: KVH, headDimension: D)
            return dot(out.pointer, g)
        }
        let dq = FloatBuffer(count: T * QD), dk = FloatBuffer(count: T * KVD), dv = FloatBuffer(count: T * KVD)
        AttentionLayer.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, g, q: q, k: k, v: v,
                                spans: spans, heads: H, kvHeads: KVH, headDimension: D)
        let rq = checkGradient(q, analytic: dq.array, eps: 1e-2) { loss(q: $0, k: k, v: v) }
        let rk = checkGradient(k, analytic: dk.array, eps: 1e-2) { loss(q: q, k: $0, v: v) }
        let rv = checkGradient(v, analytic: dv.array, eps: 1e-2) { loss(q: q, k: k, v: $0) }
        print("\(label) dq:", rq, "dk:", rk, "dv:", rv)
        #expect(rq.relative < bound && rk.relative < bound && rv.relative < bound, "\(label)")
        return (q, k, v, g, dk.array)
    }

    /// GQA (4 query heads on 2 kv heads) over two packed sequences of 3 and 4 rows.
    @Test func attentionWithGQAAndPackedSequences() {
        let T = 7, QD = 32, KVD = 16
        let spans = [AttentionSpan(start: 0, length: 3), AttentionSpan(start: 3, length: 4)]
        let (q, k, v, g, dk) = Self.checkAttentionGradients(spans: spans, rows: T, seed: 3, label: "attention")
        // Packing: the first sequence's keys get no gradient from the second sequence's queries.
        let dq = FloatBuffer(count: T * QD), dv = FloatBuffer(count: T * KVD), firstOnly = FloatBuffer(count: T * KVD)
        AttentionLayer.backward(dq: dq.pointer, dk: firstOnly.pointer, dv: dv.pointer, g.enumerated().map { $0.offset < 3 * QD ? $0.element : 0 },
                                q: q, k: k, v: v, spans: spans, heads: 4, kvHeads: 2, headDimension: 8)
        #expect(compare(Array(firstOnly.array[0..<(3 * KVD)]), Array(dk[0..<(3 * KVD)])).maxAbsError < 1e-6)
    }

    /// A sequence longer than the backward's 64-row query blocks, with D = 64 (the register path):
    /// sampled coordinates of dq, dk and dv against central differences.
    @Test func attentionAcrossQueryBlocks() {
        let H = 2, KVH = 1, D = 64, T = 150
        let QD = H * D, KVD = KVH * D
        var r = TestRandom(seed: 13)
        let q = r.uniform(T * QD, scale: 0.5), k = r.uniform(T * KVD, scale: 0.5), v = r.uniform(T * KVD), g = r.uniform(T * QD)
        let out = FloatBuffer(count: T * QD)
        func loss(q: [Float], k: [Float], v: [Float]) -> Double {
            AttentionLayer.forward(out.pointer, q: q, k: k, v: v, spans: [AttentionSpan(start: 0, length: T)],
                                   heads: H, kvHeads: KVH, headDimension: D)
            return dot(out.pointer, g)
        }
        let dq = FloatBuffer(count: T * QD), dk = FloatBuffer(count: T * KVD), dv = FloatBuffer(count: T * KVD)
        AttentionLayer.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, g, q: q, k: k, v: v,
                                spans: [AttentionSpan(start: 0, length: T)], heads: H, kvHeads: KVH, headDimension: D)
        // rows on both sides of the block edges 64 and 128, and the ends
        let rows = [0, 1, 63, 64, 65, 100, 127, 128, 129, 149]
        let eps: Float = 1e-2
        for (name, x, analytic, width) in [("dq", q, dq.array, QD), ("dk", k, dk.array, KVD), ("dv", v, dv.array, KVD)] {
            var worst = 0.0, scale = 1e-12
            for row in rows {
                for col in [0, 17, width - 1] {
                    let i = row * width + col
                    var plus = x, minus = x
                    plus[i] += eps
                    minus[i] -= eps
                    let numeric: Double
                    switch name {
                    case "dq": numeric = (loss(q: plus, k: k, v: v) - loss(q: minus, k: k, v: v)) / Double(2 * eps)
                    case "dk": numeric = (loss(q: q, k: plus, v: v) - loss(q: q, k: minus, v: v)) / Double(2 * eps)
                    default: numeric = (loss(q: q, k: k, v: plus) - loss(q: q, k: k, v: minus)) / Double(2 * eps)
                    }
                    worst = max(worst, abs(numeric - Double(analytic[i])))
                    scale = max(scale, abs(Double(analytic[i])))
                }
            }
            #expect(worst / scale < 5e-3, "\(name): max error \(worst) at gradient scale \(scale)")
        }
    }

    @Test func swiGLU() {
        let n = 24
        var r = TestRandom(seed: 4)
        let gate = r.uniform(n, scale: 3), up = r.uniform(n, scale: 2), g = r.uniform(n)
        let out = FloatBuffer(count: n)
        func loss(gate: [Float], up: [Float]) -> Double {
            SwiGLULayer.forward(out.pointer, gate: gate, up: up, count: n)
            return dot(out.pointer, g)
        }
        let dGate = FloatBuffer(count: n), dUp = FloatBuffer(count: n)
        SwiGLULayer.backward(dGate: dGate.pointer, dUp: dUp.pointer, g, gate: gate, up: up, count: n)
        let rg = checkGradient(gate, analytic: dGate.array, eps: 1e-2) { loss(gate: $0, up: up) }
        let ru = checkGradient(up, analytic: dUp.array, eps: 1e-2) { loss(gate: gate, up: $0) }
        print("SwiGLU dgate:", rg, "dup:", ru)
        #expect(rg.relative < Self.bound && ru.relative < Self.bound)
    }

    /// y = x·Wᵀ + scale·(dropout(x)·Aᵀ)·Bᵀ: dA, dB and dx, without and with dropout (a fixed seed makes
    /// the masked function deterministic).
    @Test(arguments: [Float(0), 0.3])
    func loraLinear(dropout: Float) {
        let T = 4, n = 6, m = 5, rank = 2, scale: Float = 2
        var r = TestRandom(seed: 5)
        let x = r.uniform(T * n), w = r.uniform(m * n), a0 = r.uniform(rank * n), b0 = r.uniform(m * rank), g = r.uniform(T * m)
        let weight = LinearWeight(outFeatures: m, inFeatures: n, dense: FloatBuffer(w))
        let y = FloatBuffer(count: T * m), h = FloatBuffer(count: T * rank), dh = FloatBuffer(count: T * rank)
        let mask = FloatBuffer(count: T * n), dropped = FloatBuffer(count: T * n), inGrad = FloatBuffer(count: T * n)
        let scratch = LoRALinear.Scratch(mask: mask.pointer, dropped: dropped.pointer, inputGradient: inGrad.pointer)
        let seed: UInt64? = dropout > 0 ? 77 : nil
        func loss(x: [Float], a: [Float], b: [Float]) -> Double {
            let pair = LoRAPair(a: FloatBuffer(a), b: FloatBuffer(b), inFeatures: n, outFeatures: m)
            FrozenLinear.forward(y.pointer, x, weight: weight, rows: T)
            LoRALinear.forward(y.pointer, x, pair: pair, rank: rank, scale: scale, rows: T, hidden: h.pointer,
                               dropout: dropout, dropoutSeed: seed, scratch: scratch)
            return dot(y.pointer, g)
        }
        _ = loss(x: x, a: a0, b: b0)
        let pair = LoRAPair(a: FloatBuffer(a0), b: FloatBuffer(b0), inFeatures: n, outFeatures: m)
        let grad = LoRAPair(a: FloatBuffer(count: rank * n), b: FloatBuffer(count: m * rank), inFeatures: n, outFeatures: m)
        let dx = FloatBuffer(count: T * n)
        FrozenLinear.backward(dx.pointer, g, weight: weight, rows: T, accumulate: false)
        LoRALinear.backward(dx: dx.pointer, g, x: x, pair: pair, gradient: grad, rank: rank, scale: scale, rows: T,
                            hidden: h.pointer, dHidden: dh.pointer, dropout: dropout, dropoutSeed: seed, scratch: scratch)
        let rx = checkGradient(x, analytic: dx.array, eps: 1e-2) { loss(x: $0, a: a0, b: b0) }
        let ra = checkGradient(a0, analytic: grad.a.array, eps: 1e-2) { loss(x: x, a: $0, b: b0) }
        let rb = checkGradient(b0, analytic: grad.b.array, eps: 1e-2) { loss(x: x, a: a0, b: $0) }
        print("LoRA linear (dropout \(dropout)) dx:", rx, "dA:", ra, "dB:", rb)
        #expect(rx.relative < Self.bound && ra.relative < Self.bound && rb.relative < Self.bound)
        if dropout > 0 {
            let zeros = mask.array.filter { $0 == 0 }.count
            #expect(zeros > 0 && zeros < mask.count)
            #expect(mask.array.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - dropout)) < 1e-6 })
        }
    }

    /// Final RMSNorm, logits on the selected rows, weighted −log-softmax at the targets.
    @Test func outputHeadWithMaskedCrossEntropy() {
        let R = 3, C = 8, V = 11
        var r = TestRandom(seed: 6)
        let x = r.uniform(R * C, scale: 2), normWeight = r.uniform(C), w = r.uniform(V * C, scale: 2)
        let targets: [Int32] = [4, 0, 10], rowWeights: [Float] = [0.5, 1.5, 0.25]
        let normed = FloatBuffer(count: R * C), rstd = FloatBuffer(count: R), logits = FloatBuffer(count: R * V)
        var lse: [Double] = [], logp: [Double] = []
        func loss(_ x: [Float]) -> Double {
            OutputHeadLayer.forward(x: x, normWeight: normWeight, eps: 1e-5, weight: w, rows: R, channels: C, vocabulary: V,
                                    targets: targets, normed: normed.pointer, rstd: rstd.pointer, logits: logits.pointer,
                                    logSumExp: &lse, logProbabilities: &logp)
            return zip(logp, rowWeights).reduce(0) { $0 - $1.0 * Double($1.1) }
        }
        _ = loss(x)
        let dx = FloatBuffer(count: R * C), dNormed = FloatBuffer(count: R * C)
        OutputHeadLayer.backward(dx: dx.pointer, rowWeights: rowWeights, x: x, normWeight: normWeight, weight: w,
                                 rows: R, channels: C, vocabulary: V, targets: targets, rstd: rstd.pointer,
                                 logits: logits.pointer, logSumExp: lse, dNormed: dNormed.pointer)
        let result = checkGradient(x, analytic: dx.array, eps: 1e-2, loss)
        print("output head + CE dx:", result)
        #expect(result.relative < Self.bound)
    }
}
