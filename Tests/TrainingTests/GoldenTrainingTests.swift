@testable import Engine
import Foundation
import Testing
@testable import Training

/// Golden tests against PyTorch 2.13 + PEFT 0.21 (scripts/fixtures/training_fixtures.py): the tiny
/// Llama with r = 4, alpha = 8 LoRA on all seven projections, non-zero A and B.
///
/// Tolerances: loss relative 1e-5; every gradient tensor max |Swift − PyTorch| ≤ 1e-4·max|g| + 1e-6;
/// AdamW loss curve relative 1e-4 per step; DPO rewards absolute 1e-5.
struct GoldenTrainingTests {
    struct Reference {
        let model: LlamaModel
        let json: [String: Any]
        let adapter: LoRAWeights

        init() throws {
            model = try TrainingFixtures.loadTinyModel()
            json = try TrainingFixtures.reference()
            let rank = try #require(json["rank"] as? Int), alpha = try #require(json["alpha"] as? Double)
            adapter = try TrainingFixtures.adapter(try #require(json["adapter"] as? [String: Any]), model: model,
                                                   rank: rank, alpha: Float(alpha))
        }

        /// Compares every gradient tensor with the fixture's; returns the worst error relative to max|g|.
        func expectGradients(_ gradients: LoRAWeights, _ expected: Any?, label: String) throws -> Double {
            let tensors = try #require(expected as? [String: Any])
            var worst = 0.0
            for (l, layer) in gradients.pairs.enumerated() {
                for (p, pair) in layer {
                    for (name, buffer) in [("A", pair.a), ("B", pair.b)] {
                        let want = try TrainingFixtures.floats(tensors["\(l).\(p.rawValue).\(name)"])
                        let c = compare(buffer.array, want)
                        worst = max(worst, c.relative)
                        #expect(c.maxAbsError <= 1e-4 * c.maxAnalytic + 1e-6, "\(label) \(l).\(p.rawValue).\(name): \(c)")
                    }
                }
            }
            return worst
        }
    }

    @Test func sftLossAndEveryGradientMatchPyTorch() throws {
        let ref = try Reference()
        let sft = try #require(ref.json["sft"] as? [String: Any])
        let sequences = try #require(sft["sequences"] as? [Any]).map(TrainingFixtures.sequence)
        let expectedLoss = try #require(sft["loss"] as? Double)
        let gradients = ref.adapter.zerosLike()
        var rng = SeededGenerator(seed: 0)
        let result = try sftLossAndGradients(model: ref.model, adapter: ref.adapter, sequences: sequences,
                                             gradients: gradients, rng: &rng)
        #expect(result.targetTokens == sft["target_tokens"] as? Int)
        let lossError = abs(result.loss - expectedLoss) / expectedLoss
        #expect(lossError < 1e-5)
        let worst = try ref.expectGradients(gradients, sft["gradients"], label: "sft")
        print("golden SFT: loss \(result.loss) vs \(expectedLoss) (rel \(lossError)); worst gradient error / max|g| \(worst)")
    }

    /// Replays torch.optim.AdamW (decoupled weight decay) for 10 steps with the Swift gradients.
    /// reference: Loshchilov & Hutter 2019; torch.optim.AdamW.
    @Test func adamWLossCurveMatchesPyTorch() throws {
        let ref = try Reference()
        let sft = try #require(ref.json["sft"] as? [String: Any])
        let sequences = try #require(sft["sequences"] as? [Any]).map(TrainingFixtures.sequence)
        let curve = try #require(ref.json["adamw_10_steps"] as? [String: Any])
        let expected = try #require(curve["losses"] as? [Double])
        let lr: Float = 1e-2, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, decay: Float = 0.01
        let params = ref.adapter.orderedBuffers
        let m = params.map { FloatBuffer(count: $0.count) }, v = params.map { FloatBuffer(count: $0.count) }
        let gradients = ref.adapter.zerosLike()
        let ws = TrainingWorkspace(model: ref.model, tokens: 32)
        var rng = SeededGenerator(seed: 0)
        var losses: [Double] = []
        for step in 1...expected.count {
            for g in gradients.orderedBuffers { g.zero() }
            losses.append(try sftLossAndGradients(model: ref.model, adapter: ref.adapter, sequences: sequences,
                                                  gradients: gradients, rng: &rng, workspace: ws).loss)
            let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
            for (i, g) in gradients.orderedBuffers.enumerated() {
                let p = params[i].pointer, gp = g.pointer, mp = m[i].pointer, vp = v[i].pointer
                for j in 0..<g.count {
                    p[j] *= 1 - lr * decay
                    mp[j] = beta1 * mp[j] + (1 - beta1) * gp[j]
                    vp[j] = beta2 * vp[j] + (1 - beta2) * gp[j] * gp[j]
                    p[j] -= lr * (mp[j] / c1) / ((vp[j].squareRoot() / c2.squareRoot()) + eps)
                }
            }
        }
        let errors = zip(losses, expected).map { abs($0 - $1) / abs($1) }
        print("golden AdamW curve: \(losses.map { String(format: "%.5f", $0) }) worst rel \(errors.max() ?? 0)")
        #expect(errors.allSatisfy { $0 < 1e-4 })
    }

    @Test func dpoLossRewardsAndGradientsMatchPyTorch() throws {
        let ref = try Reference()
        let dpo = try #require(ref.json["dpo"] as? [String: Any])
        let pairs = try #require(dpo["pairs"] as? [[String: Any]]).map {
            DPOPair(chosen: try TrainingFixtures.sequence($0["chosen"]), rejected: try TrainingFixtures.sequence($0["rejected"]))
        }
        let gradients = ref.adapter.zerosLike()
        var rng = SeededGenerator(seed: 0)
        let result = try dpoLossAndGradients(model: ref.model, adapter: ref.adapter, pairs: pairs, gradients: gradients,
                                             beta: try #require(dpo["beta"] as? Double), rng: &rng)
        let expectedLoss = try #require(dpo["loss"] as? Double)
        let lossError = abs(result.loss - expectedLoss) / expectedLoss
        #expect(lossError < 1e-5)
        let chosen = try #require(dpo["chosen_rewards"] as? [Double]), rejected = try #require(dpo["rejected_rewards"] as? [Double])
        let rewardError = zip(result.chosenRewards + result.rejectedRewards, chosen + rejected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(rewardError < 1e-5)
        #expect(result.accuracy == dpo["accuracy"] as? Double)
        // The reference model is the base model: its log-probabilities match PyTorch's with the adapter disabled.
        let refLogps = try #require(dpo["reference_logps"] as? [String: [Double]])
        let swiftRef = try sequenceLogProbabilities(model: ref.model, adapter: nil, sequences: pairs.map(\.chosen))
        #expect(zip(swiftRef, try #require(refLogps["chosen"])).allSatisfy { abs($0 - $1) < 1e-4 })
        let worst = try ref.expectGradients(gradients, dpo["gradients"], label: "dpo")
        print("golden DPO: loss \(result.loss) vs \(expectedLoss) (rel \(lossError)), reward err \(rewardError), worst gradient error / max|g| \(worst)")
    }
}
