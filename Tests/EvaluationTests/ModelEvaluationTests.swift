import Engine
import Evaluation
import Foundation
import Logging
import SafetyData
import Testing

/// Evaluation plumbing on the tiny random model (its replies are gibberish: counts, batching,
/// caching and limits are what is tested).
@Suite(.serialized) struct ModelEvaluationTests {
    @Test func batchedRepliesEqualOneByOneAndReportProgress() throws {
        let model = try EvalFixtures.tinyModel()
        let prompts = ["hello there", "what is two plus two", "a", "tell me a story", "ok"]
        var steps: [Int] = []
        let batched = try ModelResponder(model: model, adapter: nil, settings: GenerationSettings(maxNewTokens: 8, batchSize: 2))
            .responses(to: prompts) { steps.append($0) }
        #expect(steps == [2, 4, 5])
        let single = try ModelResponder(model: model, adapter: nil, settings: GenerationSettings(maxNewTokens: 8, batchSize: 1))
            .responses(to: prompts) { _ in }
        #expect(batched == single)
        #expect(batched.count == prompts.count)
    }

    @Test func builtInSuitesWithLimitAndCachedReferences() throws {
        let model = try EvalFixtures.tinyModel()
        let home = try EvalFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let settings = EvaluationSettings(suites: [.overRefusal, .helpfulness], limit: 4,
                                          generation: GenerationSettings(maxNewTokens: 12, batchSize: 3),
                                          helpfulness: HelpfulnessSettings(promptCount: 6, maxNewTokens: 12))
        let data = EvaluationData.builtIn(settings: settings)
        #expect(data.overRefusal.count == 4)
        #expect(data.helpfulnessPrompts.count == 4)  // the limit caps the 6
        let cache = ReferenceCache.standard(home: home)
        let evaluator = Evaluator(data: data, settings: settings, modelIdentity: Evaluator.identity(ofModelAt: EvalFixtures.tinyModelURL),
                                  cache: cache)
        var tasks = Set<String>()
        let first = try evaluator.evaluate(model: model, adapter: nil) { tasks.insert($0.task) }
        #expect(tasks == ["over_refusal", "helpfulness_references"])
        #expect(first.overRefusal?.prompts == 4)
        #expect(first.overRefusal?.judges.count == 3)
        #expect(first.advBench == nil)
        let help = try #require(first.helpfulness)
        #expect(help.referenceSource == "generated")
        #expect(help.pairs <= 4)
        #expect(help.meanLoss.isFinite && help.meanLoss > 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.directory.path)
        #expect(files.count == 1 && files[0].hasSuffix(".jsonl"))

        let second = try evaluator.evaluate(model: model, adapter: nil)
        #expect(second.helpfulness?.referenceSource == "cache")
        #expect(second.helpfulness?.meanLoss == help.meanLoss)
        #expect(second.overRefusal?.headline == first.overRefusal?.headline)  // greedy: deterministic

        let metrics = try evaluator.metrics(model: model, adapter: nil)
        #expect(metrics["over_refusal_n"] == 4)
        #expect(metrics["helpfulness_loss"] == help.meanLoss)
    }

    @Test func cacheKeyChangesWithEveryInput() {
        let cache = ReferenceCache(directory: URL(fileURLWithPath: "/tmp/x"))
        let s = HelpfulnessSettings()
        let base = cache.url(model: "m.gguf:1", prompts: ["a", "b"], settings: s)
        #expect(base == cache.url(model: "m.gguf:1", prompts: ["a", "b"], settings: s))
        #expect(base != cache.url(model: "m.gguf:2", prompts: ["a", "b"], settings: s))
        #expect(base != cache.url(model: "m.gguf:1", prompts: ["a", "c"], settings: s))
        #expect(base != cache.url(model: "m.gguf:1", prompts: ["a", "b"], settings: HelpfulnessSettings(seed: 1)))
        #expect(base != cache.url(model: "m.gguf:1", prompts: ["a", "b"], settings: HelpfulnessSettings(maxNewTokens: 9)))
    }

    @Test func heldOutHelpfulnessPromptsAreBenignAndDistinct() {
        let prompts = HelpfulnessSettings().prompts
        #expect(prompts.count == 64)
        #expect(Set(prompts).count == 64)
        let probes = Set(OverRefusalProbes.all.map(\.text))
        #expect(prompts.allSatisfy { !probes.contains($0) })
    }

    /// The loss guard punishes replies the model would not give: its own greedy replies score
    /// lower than a fixed refusal put in their place (a refusing model's text is far from the
    /// reference replies, and vice versa).
    @Test func ownRepliesScoreLowerThanRefusals() throws {
        let model = try EvalFixtures.tinyModel()
        let prompts = HelpfulnessSettings(promptCount: 4).prompts
        let replies = try ModelResponder(model: model, adapter: nil, settings: GenerationSettings(maxNewTokens: 16, batchSize: 4))
            .responses(to: prompts) { _ in }
        let own = zip(prompts, replies).map { ReferencePair(prompt: $0, response: $1) }
        let refusals = prompts.map { ReferencePair(prompt: $0, response: "I'm sorry, but I cannot help with that request.") }
        let settings = HelpfulnessSettings()
        let logger = Logger(label: "test")
        let ownLoss = try HelpfulnessGuard.meanLoss(model: model, adapter: nil, pairs: own, settings: settings, logger: logger)
        let refusalLoss = try HelpfulnessGuard.meanLoss(model: model, adapter: nil, pairs: refusals, settings: settings, logger: logger)
        #expect(ownLoss.loss < refusalLoss.loss)
        #expect(refusalLoss.pairs == 4)
    }

    /// A LoRA adapter on every query projection; B filled with `bValue` (0: the identity update).
    static func adapter(for model: LlamaModel, bValue: Float) -> LoRAWeights {
        let c = model.configuration, r = 2, out = c.headCount * c.headDimension
        let layers = (0..<c.layerCount).map { layer -> [Projection: LoRAPair] in
            let a = (0..<(r * c.hiddenSize)).map { Float(($0 * 7 + layer) % 11) / 11 - 0.5 }
            return [.query: LoRAPair(a: FloatBuffer(a), b: FloatBuffer(Array(repeating: bValue, count: out * r)),
                                     inFeatures: c.hiddenSize, outFeatures: out)]
        }
        return LoRAWeights(rank: r, alpha: 4, pairs: layers)
    }

    /// The arithmetic reaches the generator (int8 replies are still batch-independent) and the report
    /// records it; settings and reports written before it existed read as exact.
    @Test func arithmeticReachesRepliesAndIsRecorded() throws {
        let model = try EvalFixtures.tinyModel()
        let prompts = ["hello there", "what is two plus two", "a"]
        let int8 = GenerationSettings(maxNewTokens: 8, batchSize: 3, arithmetic: .int8)
        let together = try ModelResponder(model: model, adapter: nil, settings: int8).responses(to: prompts) { _ in }
        var oneByOne = int8
        oneByOne.batchSize = 1
        #expect(try ModelResponder(model: model, adapter: nil, settings: oneByOne).responses(to: prompts) { _ in } == together)

        let settings = EvaluationSettings(suites: [.overRefusal], limit: 2, generation: int8)
        let report = try Evaluator(data: EvaluationData.builtIn(settings: settings), settings: settings,
                                   modelIdentity: "tiny", cache: nil).evaluate(model: model, adapter: nil) { _ in }
        #expect(report.overRefusal?.arithmetic == .int8)

        let old = try JSONDecoder().decode(GenerationSettings.self, from: Data(#"{"max_new_tokens": 5, "batch_size": 2}"#.utf8))
        #expect(old == GenerationSettings(maxNewTokens: 5, batchSize: 2, arithmetic: .exact))
        let roundTrip = try JSONDecoder().decode(GenerationSettings.self, from: try JSONEncoder().encode(int8))
        #expect(roundTrip == int8)
    }

    @Test func adapterReachesGenerationAndLoss() throws {
        let model = try EvalFixtures.tinyModel()
        let prompts = ["hi", "how are you", "name three colours"]
        let settings = GenerationSettings(maxNewTokens: 10)
        let base = try ModelResponder(model: model, adapter: nil, settings: settings).responses(to: prompts) { _ in }
        let zero = try ModelResponder(model: model, adapter: Self.adapter(for: model, bValue: 0), settings: settings)
            .responses(to: prompts) { _ in }
        #expect(zero == base)
        let pairs = prompts.map { ReferencePair(prompt: $0, response: "a short benign reply") }
        let h = HelpfulnessSettings(), logger = Logger(label: "test")
        let baseLoss = try HelpfulnessGuard.meanLoss(model: model, adapter: nil, pairs: pairs, settings: h, logger: logger)
        let zeroLoss = try HelpfulnessGuard.meanLoss(model: model, adapter: Self.adapter(for: model, bValue: 0), pairs: pairs,
                                                     settings: h, logger: logger)
        let movedLoss = try HelpfulnessGuard.meanLoss(model: model, adapter: Self.adapter(for: model, bValue: 0.5),
                                                      pairs: pairs, settings: h, logger: logger)
        #expect(abs(zeroLoss.loss - baseLoss.loss) < 1e-6)
        #expect(abs(movedLoss.loss - baseLoss.loss) > 1e-4)
        #expect(baseLoss.targetTokens == zeroLoss.targetTokens)
    }
}
