@testable import Engine
import Foundation
import Testing
@testable import Training

/// Sequences that begin with the same tokens (a chat template's system prompt, a DPO pair's prompt)
/// share those rows in a packed batch: the same losses and gradients as packing each whole, for
/// less work.
struct SharedPrefixTests {
    static func sequence(_ tokens: [Int], firstTarget: Int) throws -> TrainingSequence {
        try TrainingSequence(tokens: tokens, targetMask: tokens.indices.map { $0 >= firstTarget })
    }

    /// The shared length stops at the first difference, before the row that predicts any member's
    /// first target, and leaves every member an own row; fewer than two members share nothing.
    @Test func sharedLengthRules() throws {
        let a = try Self.sequence([1, 2, 3, 4, 5, 6], firstTarget: 5)
        let b = try Self.sequence([1, 2, 3, 4, 9, 8, 7], firstTarget: 5)
        #expect(PackedBatch.sharedPrefixLength([a, b]) == 4)
        // b's first target at 3: row 2 predicts it, so only rows 0 and 1 are shared.
        let early = try Self.sequence([1, 2, 3, 4, 9], firstTarget: 3)
        #expect(PackedBatch.sharedPrefixLength([a, early]) == 2)
        // Identical sequences without targets keep their last row.
        let plain = try TrainingSequence(tokens: [1, 2, 3], targetMask: [false, false, false])
        #expect(PackedBatch.sharedPrefixLength([plain, plain]) == 2)
        #expect(PackedBatch.sharedPrefixLength([a, try Self.sequence([7, 2, 3, 4, 5], firstTarget: 4)]) == 0)
        #expect(PackedBatch.sharedPrefixLength([a]) == 0)
    }

    /// Layout: the group's first member brings the prefix rows; every member's own rows continue the
    /// prefix's positions; head rows and targets are those of the sequences packed whole.
    @Test func layoutOfASharedPrefix() throws {
        let sequences = [
            try Self.sequence([1, 2, 3, 4, 5, 6], firstTarget: 5),
            try Self.sequence([7, 8, 9], firstTarget: 2),
            try Self.sequence([1, 2, 3, 4, 9, 8, 7], firstTarget: 5),
        ]
        let batch = try PackedBatch(sequences, vocabularySize: 16, sharing: [[0, 2]])
        let whole = try PackedBatch(sequences, vocabularySize: 16)
        #expect(batch.tokens == [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7])
        #expect(batch.positions == [0, 1, 2, 3, 4, 5, 0, 1, 2, 4, 5, 6])
        #expect(batch.rowStarts == [4, 6, 9] && batch.lengths == [2, 3, 3])
        #expect(batch.spans == [
            AttentionSpan(start: 0, length: 4),
            AttentionSpan(start: 4, length: 2, prefixStart: 0, prefixLength: 4),
            AttentionSpan(start: 6, length: 3),
            AttentionSpan(start: 9, length: 3, prefixStart: 0, prefixLength: 4),
        ])
        #expect(batch.sharedRows == 4 && batch.rowCount + batch.sharedRows == whole.rowCount)
        #expect(batch.targets == whole.targets && batch.headSequence == whole.headSequence)
        #expect(batch.headRows == [4, 7, 9, 10])
        #expect(batch.headRows.map { batch.tokens[$0 + 1] } == batch.targets.map(Int.init))
    }

    /// Attention over a prefix shared by two spans against the same rows packed as two whole
    /// sequences: outputs and dq equal row for row, dk and dv of the prefix the sum of the two
    /// copies'. Both kernel paths: D = 8 (generic) and D = 64 (register blocks), where a prefix of 70
    /// rows puts the spans' query blocks past the 64-row block edge. Bound 1e-5 relative: the same
    /// products in another association (blocks of other sizes); measured ≤ 5e-7.
    @Test(arguments: [(8, 3, [2, 4]), (64, 70, [40, 75])])
    func attentionMatchesWholeSequences(D: Int, prefix P: Int, own: [Int]) {
        let H = 4, KVH = 2, QD = H * D, KVD = KVH * D
        var r = TestRandom(seed: 41)
        let prefixQ = r.uniform(P * QD, scale: 0.5), prefixK = r.uniform(P * KVD, scale: 0.5), prefixV = r.uniform(P * KVD)
        let ownQ = own.map { r.uniform($0 * QD, scale: 0.5) }, ownK = own.map { r.uniform($0 * KVD, scale: 0.5) }
        let ownV = own.map { r.uniform($0 * KVD) }, ownG = own.map { r.uniform($0 * QD) }, prefixG = r.uniform(P * QD)

        // Shared: prefix, then the two spans' own rows.
        let T = P + own.reduce(0, +)
        let q = prefixQ + ownQ.joined(), k = prefixK + ownK.joined(), v = prefixV + ownV.joined()
        let g = prefixG + ownG.joined()
        let spans = [AttentionSpan(start: 0, length: P),
                     AttentionSpan(start: P, length: own[0], prefixStart: 0, prefixLength: P),
                     AttentionSpan(start: P + own[0], length: own[1], prefixStart: 0, prefixLength: P)]
        let out = FloatBuffer(count: T * QD), dq = FloatBuffer(count: T * QD)
        let dk = FloatBuffer(count: T * KVD), dv = FloatBuffer(count: T * KVD)
        AttentionLayer.forward(out.pointer, q: q, k: k, v: v, spans: spans, heads: H, kvHeads: KVH, headDimension: D)
        AttentionLayer.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, g, q: q, k: k, v: v,
                                spans: spans, heads: H, kvHeads: KVH, headDimension: D)

        // Whole: prefix + own rows of each sequence; the prefix's output gradient goes with the
        // first copy only, as the shared rows carry it once.
        let wq = prefixQ + ownQ[0] + prefixQ + ownQ[1], wk = prefixK + ownK[0] + prefixK + ownK[1]
        let wv = prefixV + ownV[0] + prefixV + ownV[1]
        let wg = prefixG + ownG[0] + Array(repeating: 0, count: P * QD) + ownG[1]
        let WT = 2 * P + own[0] + own[1]
        let wSpans = [AttentionSpan(start: 0, length: P + own[0]), AttentionSpan(start: P + own[0], length: P + own[1])]
        let wOut = FloatBuffer(count: WT * QD), wdq = FloatBuffer(count: WT * QD)
        let wdk = FloatBuffer(count: WT * KVD), wdv = FloatBuffer(count: WT * KVD)
        AttentionLayer.forward(wOut.pointer, q: wq, k: wk, v: wv, spans: wSpans, heads: H, kvHeads: KVH, headDimension: D)
        AttentionLayer.backward(dq: wdq.pointer, dk: wdk.pointer, dv: wdv.pointer, wg, q: wq, k: wk, v: wv,
                                spans: wSpans, heads: H, kvHeads: KVH, headDimension: D)

        // Rows of the whole layout in the shared layout's order; the prefix's dk and dv summed.
        func rearranged(_ x: [Float], width w: Int, sumPrefix: Bool) -> [Float] {
            let first = Array(x[0..<(P * w)]), second = Array(x[((P + own[0]) * w)..<((2 * P + own[0]) * w)])
            let prefix = sumPrefix ? zip(first, second).map { $0 + $1 } : first
            return prefix + x[(P * w)..<((P + own[0]) * w)] + x[((2 * P + own[0]) * w)...]
        }
        let checks = [("out", out.array, rearranged(wOut.array, width: QD, sumPrefix: false)),
                      ("dq", dq.array, rearranged(wdq.array, width: QD, sumPrefix: false)),
                      ("dk", dk.array, rearranged(wdk.array, width: KVD, sumPrefix: true)),
                      ("dv", dv.array, rearranged(wdv.array, width: KVD, sumPrefix: true))]
        for (name, shared, whole) in checks {
            let c = compare(shared, whole)
            print("shared prefix D \(D) \(name): \(c)")
            #expect(c.relative < 1e-5, "\(name): \(c)")
        }
    }

    /// dq, dk and dv of attention with a shared prefix against central differences (the bound and
    /// step of LayerGradientTests).
    @Test func attentionWithAPrefixGradients() {
        let spans = [AttentionSpan(start: 0, length: 3),
                     AttentionSpan(start: 3, length: 2, prefixStart: 0, prefixLength: 3),
                     AttentionSpan(start: 5, length: 4, prefixStart: 0, prefixLength: 3)]
        _ = LayerGradientTests.checkAttentionGradients(spans: spans, rows: 9, seed: 43, label: "shared-prefix attention")
    }

    /// Three chat-like sequences with a common 7-token head (then different prompts and replies).
    static func chatSequences(vocabulary V: Int, seed: UInt64) throws -> [TrainingSequence] {
        var r = TestRandom(seed: seed)
        let head = r.uniform(7).map { Int(abs($0) * Float(V - 1)) }
        return try [(5, 9), (3, 12), (8, 6)].map { prompt, reply in
            let tokens = head + r.uniform(prompt + reply).map { Int(abs($0) * Float(V - 1)) }
            return try Self.sequence(tokens, firstTarget: head.count + prompt)
        }
    }

    /// SFT loss and LoRA gradients with the shared prefix equal those of the whole sequences, on the
    /// tiny Llama and the tiny Qwen2 (q/k/v biases). Bounds: loss 1e-6 relative, each gradient
    /// tensor 1e-5 of its largest entry (summation order only; the products see other row counts);
    /// measured 1e-7 and 3.3e-6 (DPO 2.9e-6).
    @Test(arguments: ["tiny_llama", "tiny_qwen2"])
    func sftMatchesWholeSequences(modelName: String) throws {
        let model = try TrainingFixtures.loadTinyModel(named: modelName)
        let lora = ModelGradientTests.randomAdapter(model, seed: 51)
        let sequences = try Self.chatSequences(vocabulary: model.configuration.vocabularySize, seed: 52)
        let batch = try PackedBatch(sequences, vocabularySize: model.configuration.vocabularySize, sharing: [[0, 1, 2]])
        #expect(batch.sharedRows == 14)
        let shared = lora.zerosLike(), whole = lora.zerosLike()
        var rng = SeededGenerator(seed: 1)
        let a = try sftLossAndGradients(model: model, adapter: lora, sequences: sequences, gradients: shared, rng: &rng)
        let b = try sftLossAndGradients(model: model, adapter: lora, sequences: sequences, gradients: whole, rng: &rng,
                                        sharePrefix: false)
        #expect(a.targetTokens == b.targetTokens)
        print("SFT shared vs whole (\(modelName)): loss \(a.loss) vs \(b.loss)")
        #expect(abs(a.loss - b.loss) <= 1e-6 * b.loss)
        try Self.expectEqualGradients(shared, whole, bound: 1e-5)
        let lp = try sequenceLogProbabilities(model: model, adapter: lora, sequences: sequences)
        let lpWhole = try sequenceLogProbabilities(model: model, adapter: lora, sequences: sequences, sharePrefix: false)
        #expect(zip(lp, lpWhole).allSatisfy { abs($0 - $1) <= 1e-5 * abs($1) })
    }

    /// DPO shares each pair's prompt between its chosen and rejected sequences: loss, rewards and
    /// gradients equal the whole sequences' (bounds as for SFT).
    @Test func dpoMatchesWholeSequences() throws {
        let model = try TrainingFixtures.loadTinyModel()
        let lora = ModelGradientTests.randomAdapter(model, seed: 61)
        var r = TestRandom(seed: 62)
        let V = model.configuration.vocabularySize
        func tokens(_ n: Int) -> [Int] { r.uniform(n).map { Int(abs($0) * Float(V - 1)) } }
        let pairs = try (0..<3).map { i in
            let prompt = tokens(6 + i)
            return DPOPair(chosen: try Self.sequence(prompt + tokens(5), firstTarget: prompt.count),
                           rejected: try Self.sequence(prompt + tokens(4 + i), firstTarget: prompt.count))
        }
        let shared = lora.zerosLike(), whole = lora.zerosLike()
        var rng = SeededGenerator(seed: 1)
        let a = try dpoLossAndGradients(model: model, adapter: lora, pairs: pairs, gradients: shared, rng: &rng)
        let b = try dpoLossAndGradients(model: model, adapter: lora, pairs: pairs, gradients: whole, rng: &rng, sharePrefix: false)
        print("DPO shared vs whole: loss \(a.loss) vs \(b.loss)")
        #expect(abs(a.loss - b.loss) <= 1e-6 * b.loss)
        #expect(zip(a.chosenRewards + a.rejectedRewards, b.chosenRewards + b.rejectedRewards).allSatisfy { abs($0 - $1) <= 1e-6 })
        try Self.expectEqualGradients(shared, whole, bound: 1e-5)
    }

    static func expectEqualGradients(_ a: LoRAWeights, _ b: LoRAWeights, bound: Double) throws {
        var worst = 0.0
        for (x, y) in zip(a.orderedBuffers, b.orderedBuffers) {
            let c = compare(x.array, y.array)
            worst = max(worst, c.relative)
            #expect(c.relative <= bound, "\(c)")
        }
        #expect(a.orderedBuffers.contains { $0.array.contains { $0 != 0 } })
        print("worst gradient difference, relative to the tensor's largest entry: \(worst)")
    }
}
