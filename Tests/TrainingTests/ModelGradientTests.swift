@testable import Engine
import Foundation
import Testing
@testable import Training

/// Whole-model checks on the tiny Llama (2 layers, C 64, 4 heads on 2 kv heads, V 320).
struct ModelGradientTests {
    static func randomAdapter(_ model: LlamaModel, seed: UInt64) -> LoRAWeights {
        let lora = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targets: Projection.allCases), seed: seed)
        var r = TestRandom(seed: seed + 1)
        for layer in lora.pairs {
            for p in Projection.allCases {  // fixed order: dictionary order varies between processes
                guard let pair = layer[p] else { continue }
                pair.b.pointer.update(from: r.uniform(pair.b.count, scale: 0.1), count: pair.b.count)
            }
        }
        return lora
    }

    static let sequences: [TrainingSequence] = [
        try! TrainingSequence(tokens: [5, 9, 100, 42, 7], targetMask: [false, false, true, true, true]),
        try! TrainingSequence(tokens: [1, 300, 12, 8], targetMask: [false, true, false, true]),
    ]

    /// dA and dB of every pair of a whole tiny model against central differences of the float32 loss,
    /// at the 3 largest-gradient entries of each tensor, with and without LoRA dropout (same seed per
    /// evaluation, so the masks are fixed). Bound: |numeric − analytic| ≤ 2e-2 · max|g| of the tensor
    /// (eps 2e-3: the float32 loss is ~7, so each difference carries ~1e-6 / eps of rounding noise, and
    /// the adapter is strong enough that eps 1e-2 shows ~3% truncation error). Measured: ≤ 0.9%.
    /// The tiny Qwen2 runs the same check: its q/k/v biases sit between the frozen products and RoPE.
    @Test(arguments: [("tiny_llama", Float(0)), ("tiny_llama", 0.1), ("tiny_qwen2", 0)])
    func endToEndLoRAGradients(modelName: String, dropout: Float) throws {
        let model = try TrainingFixtures.loadTinyModel(named: modelName)
        let lora = Self.randomAdapter(model, seed: 11)
        let grads = lora.zerosLike()
        let ws = TrainingWorkspace(model: model, tokens: 4)
        var rng = SeededGenerator(seed: 3)
        _ = try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: grads,
                                    dropout: dropout, rng: &rng, workspace: ws)
        let scratch = lora.zerosLike()
        func loss() -> Double {
            var rng = SeededGenerator(seed: 3)
            return (try? sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: scratch,
                                             dropout: dropout, rng: &rng, workspace: ws).loss) ?? .nan
        }
        var worst = 0.0
        for (buffer, gradient) in zip(lora.orderedBuffers, grads.orderedBuffers) {
            let g = gradient.array
            let top = g.indices.sorted { abs(g[$0]) > abs(g[$1]) }.prefix(3)
            let result = checkGradient(buffer.array, analytic: g, eps: 2e-3, indices: Array(top)) { values in
                buffer.pointer.update(from: values, count: values.count)
                return loss()
            }
            worst = max(worst, result.relative)
            #expect(result.relative < 2e-2, "\(result)")
        }
        print("end-to-end dA/dB (\(modelName), dropout \(dropout)): worst relative error \(worst)")
    }

    /// SFT takes the head's gradient in the forward, 256 rows at a time, without keeping the (R, V)
    /// logits; the two-pass head (forward keeps logits, backward consumes them, as DPO runs it) gives
    /// the same loss and gradients up to float rounding. 300 head rows, so the fused path runs two blocks.
    @Test func fusedHeadMatchesTheTwoPassHead() throws {
        let model = try TrainingFixtures.loadTinyModel()
        let lora = Self.randomAdapter(model, seed: 31)
        var r = TestRandom(seed: 32)
        let sequences = try (0..<3).map { _ in
            try TrainingSequence(tokens: r.uniform(101, scale: 1).map { Int(abs($0) * 319) },
                                 targetMask: [false] + Array(repeating: true, count: 100))
        }
        let fused = lora.zerosLike()
        var rng = SeededGenerator(seed: 1)
        let result = try sftLossAndGradients(model: model, adapter: lora, sequences: sequences, gradients: fused, rng: &rng)
        #expect(result.targetTokens == 300)

        let twoPass = lora.zerosLike()
        let batch = try PackedBatch(sequences, vocabularySize: model.configuration.vocabularySize)
        let ws = TrainingWorkspace(model: model, tokens: batch.rowCount)
        TrainingPass.forward(model: model, adapter: lora, batch: batch, dropout: 0, rng: &rng, workspace: ws)
        let loss = -ws.targetLogProbabilities.reduce(0, +) / 300
        TrainingPass.backward(model: model, adapter: lora, gradients: twoPass, batch: batch,
                              rowWeights: Array(repeating: 1 / 300, count: 300), dropout: 0, workspace: ws)
        // Products over other row counts may round the last bit of a logit differently.
        #expect(abs(loss - result.loss) <= 1e-7 * loss)
        for (a, b) in zip(fused.orderedBuffers, twoPass.orderedBuffers) {
            let scale = b.array.map { abs($0) }.max() ?? 0
            let worst = zip(a.array, b.array).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "gradient differs by \(worst) (max |g| \(scale))")
        }
    }

    /// The training forward's loss equals the cross-entropy of the inference engine's logits (on the
    /// tiny Qwen2 too, whose inference logits are golden-tested against transformers).
    @Test(arguments: ["tiny_llama", "tiny_qwen2"])
    func trainingLossMatchesInferenceLogits(modelName: String) throws {
        let model = try TrainingFixtures.loadTinyModel(named: modelName)
        let lora = Self.randomAdapter(model, seed: 21)
        let V = model.configuration.vocabularySize
        var total = 0.0, count = 0
        for s in Self.sequences {
            let logits = try model.forward([ForwardRequest(tokens: s.tokens, cache: model.makeCache(capacity: s.tokens.count),
                                                           logits: .all)], adapter: lora)[0]
            for p in 1..<s.tokens.count where s.targetMask[p] {
                let row = logits[((p - 1) * V)..<(p * V)].map(Double.init)
                let m = row.max() ?? 0
                let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                total -= row[s.tokens[p]] - lse
                count += 1
            }
        }
        let expected = total / Double(count)
        let training = try sftLoss(model: model, adapter: lora, sequences: Self.sequences)
        #expect(training.targetTokens == count)
        print("training vs inference loss: \(training.loss) vs \(expected), rel \(abs(training.loss - expected) / expected)")
        #expect(abs(training.loss - expected) <= 1e-6 * expected)
        // Packing: per-sequence log-probabilities do not depend on the other sequences of the batch.
        let packed = try sequenceLogProbabilities(model: model, adapter: lora, sequences: Self.sequences)
        let alone = try Self.sequences.map { try sequenceLogProbabilities(model: model, adapter: lora, sequences: [$0])[0] }
        #expect(zip(packed, alone).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// Gradients accumulate (add) across calls; lossScale scales them.
    @Test func gradientsAccumulate() throws {
        let model = try TrainingFixtures.loadTinyModel()
        let lora = Self.randomAdapter(model, seed: 31)
        let once = lora.zerosLike(), twice = lora.zerosLike()
        var rng = SeededGenerator(seed: 1)
        _ = try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: once, rng: &rng)
        _ = try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: twice, rng: &rng, lossScale: 0.5)
        _ = try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: twice, rng: &rng, lossScale: 1.5)
        for (a, b) in zip(once.orderedBuffers, twice.orderedBuffers) {
            #expect(compare(b.array, a.array.map { 2 * $0 }).relative < 1e-5)
        }
        #expect(once.orderedBuffers.contains { $0.array.contains { $0 != 0 } })
    }

    @Test func invalidInputsAreRejected() throws {
        #expect(throws: TrainingInputError.maskLengthMismatch(tokens: 2, mask: 1)) {
            try TrainingSequence(tokens: [1, 2], targetMask: [false])
        }
        #expect(throws: TrainingInputError.firstTokenIsTarget) { try TrainingSequence(tokens: [1, 2], targetMask: [true, true]) }
        #expect(throws: TrainingInputError.emptySequence(index: nil)) { try TrainingSequence(tokens: [], targetMask: []) }
        let model = try TrainingFixtures.loadTinyModel()
        let lora = Self.randomAdapter(model, seed: 41)
        var rng = SeededGenerator(seed: 1)
        let noTargets = try TrainingSequence(tokens: [1, 2], targetMask: [false, false])
        #expect(throws: TrainingInputError.noTargets) {
            try sftLossAndGradients(model: model, adapter: lora, sequences: [noTargets], gradients: lora.zerosLike(), rng: &rng)
        }
        let outOfRange = try TrainingSequence(tokens: [1, 320], targetMask: [false, true])
        #expect(throws: TrainingInputError.tokenOutOfRange(sequence: 0, position: 1, token: 320, vocabularySize: 320)) {
            try sftLossAndGradients(model: model, adapter: lora, sequences: [outOfRange], gradients: lora.zerosLike(), rng: &rng)
        }
        #expect(throws: TrainingInputError.invalidDropout(1)) {
            try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: lora.zerosLike(),
                                    dropout: 1, rng: &rng)
        }
        let other = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(rank: 2, targets: [.query]), seed: 1)
        #expect(throws: TrainingInputError.self) {
            try sftLossAndGradients(model: model, adapter: lora, sequences: Self.sequences, gradients: other, rng: &rng)
        }
    }
}
