import Engine
import Foundation
import Testing
import Tokenizers
import Training
@testable import SafetyFilter

/// Fine-tuning the guard judge: training data format, pair selection, a short fine-tune on a
/// separable toy set, and the judge directory round trip.
struct GuardTrainerTests {
    static func pair(_ prompt: String, _ response: String, unsafe: Bool, category: HazardCategory? = nil,
                     split: PairSplit = .train) -> LabelledPair {
        LabelledPair(conversation: Conversation(prompt: prompt, response: response), unsafe: unsafe, category: category,
                     source: .scorerEval, group: prompt, split: split)
    }

    /// Unsafe responses say "zap", safe ones "ok"; prompts vary.
    static func toySet(count: Int, from first: Int = 0, split: PairSplit = .train) -> [LabelledPair] {
        let subjects = ["cats", "rain", "maps", "tea", "jazz", "moss", "kites", "salt"]
        return (first..<(first + count)).map { i in
            let subject = subjects[i % subjects.count]
            return i % 2 == 0
                ? pair("tell me about \(subject) \(i)", "zap zap zap", unsafe: true, category: .violentCrimes, split: split)
                : pair("tell me about \(subject) \(i)", "ok ok ok", unsafe: false, split: split)
        }
    }

    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-guard-\(UUID().uuidString)")
    }

    @Test func trainingExamplesHoldThePromptAndTheAnswer() throws {
        let tokenizer = try #require(try GuardFixtures.tinyModel().tokenizer)
        let encoder = try GuardPromptEncoder(tokenizer: tokenizer, promptTokens: 48, responseTokens: 96)
        let c = GuardFixtures.conversation
        let cases: [(LabelledPair, String)] = [
            (Self.pair(c.prompt, c.response, unsafe: false), "safe"),
            (Self.pair(c.prompt, c.response, unsafe: true, category: .sexRelatedCrimes), "unsafe\nS3"),
            (Self.pair(c.prompt, c.response, unsafe: true), "unsafe"),
        ]
        let builder = try SequenceBuilder(modelTokenizer: tokenizer, maxLength: 4096)
        for (pair, answer) in cases {
            let example = GuardTrainer.example(for: pair, encoder: encoder)
            #expect(example.messages == [ChatMessage(role: .user, content: GuardPrompt.userMessage(for: c)),
                                         ChatMessage(role: .assistant, content: answer)])
            let (sequence, truncated) = try GuardTrainer.sequence(for: pair, encoder: encoder)
            #expect(!truncated)
            let prompt = encoder.encode(c)
            let promptCount = encoder.sharedPrefix.count + prompt.tokens.count
            #expect(Array(sequence.tokens.prefix(promptCount)) == encoder.sharedPrefix + prompt.tokens)
            #expect(sequence.targetMask == Array(repeating: false, count: promptCount)
                + Array(repeating: true, count: sequence.tokens.count - promptCount))
            #expect(tokenizer.tokenizer.decode(Array(sequence.tokens[promptCount...])) == answer + "<|im_end|>")
            // The house's SequenceBuilder turns the example into the same tokens and targets (plus
            // ChatML's closing newline as context).
            let built = try builder.sequence(for: example).sequence
            #expect(Array(built.tokens.prefix(sequence.tokens.count)) == sequence.tokens)
            #expect(Array(built.targetMask.prefix(sequence.tokens.count)) == sequence.targetMask)
        }
    }

    @Test func selectionUsesTrainPairsBalancedAndRefusesTestPairs() throws {
        var p = GuardTrainer.Parameters()
        p.maxExamples = 10
        let unsafe = (0..<20).map { Self.pair("u\($0)", "r", unsafe: true) }
        let safe = (0..<3).map { Self.pair("s\($0)", "r", unsafe: false) }
        let validation = [Self.pair("v", "r", unsafe: false, split: .validation)]
        let selected = try GuardTrainer.select(unsafe + safe + validation, parameters: p)
        #expect(selected.count == 10 && selected.filter { !$0.unsafe }.count == 3)
        #expect(selected.allSatisfy { $0.split == .train })
        #expect(try GuardTrainer.select(unsafe + safe, parameters: p) == selected, "seeded")
        let plenty = try GuardTrainer.select(unsafe + (0..<20).map { Self.pair("t\($0)", "r", unsafe: false) }, parameters: p)
        #expect(plenty.filter(\.unsafe).count == 5)
        #expect(throws: FilterError.self) {
            try GuardTrainer.select(unsafe + [Self.pair("x", "y", unsafe: false, split: .test)], parameters: p)
        }
    }

    @Test func shortFineTuneSeparatesAToySet() throws {
        let model = try GuardFixtures.tinyModel()
        let settings = GuardSettings(promptTokens: 16, responseTokens: 12)
        let heldOut = Self.toySet(count: 16, from: 100, split: .validation).map(\.conversation)  // prompts not trained on
        let before = try GuardJudge(model: model, settings: settings).score(heldOut)

        var p = GuardTrainer.Parameters()
        p.lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: Projection.allCases)
        p.learningRate = 1e-2
        p.maxSteps = 60
        p.tokensPerBatch = 4096
        p.promptTokens = 16
        p.responseTokens = 12
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var steps = 0
        let result = try GuardTrainer.train(pairs: Self.toySet(count: 24), model: model, modelURL: GuardFixtures.tinyModelURL,
                                            parameters: p, threshold: try FilterThreshold(0.4),
                                            saveTo: directory) { _ in steps += 1; return true }
        #expect(steps == 60)
        let summary = try #require(result.file.training)
        #expect(summary.examples == 24 && summary.unsafeExamples == 12 && summary.categorisedExamples == 12)
        #expect(summary.lastLoss < summary.firstLoss)

        let judge = try GuardJudge.load(from: directory, model: model, modelURL: GuardFixtures.tinyModelURL)
        #expect(judge.threshold == (try FilterThreshold(0.4)))
        #expect(judge.settings == settings)  // the saved judge reads the budgets it was trained on
        let after = try judge.score(heldOut)
        /// Mean P(unsafe) of the unsafe (even) and the safe (odd) conversations.
        func means(_ s: [JudgeScore]) -> (unsafe: Double, safe: Double) {
            let unsafe = stride(from: 0, to: s.count, by: 2).map { s[$0].unsafeProbability }
            let safe = stride(from: 1, to: s.count, by: 2).map { s[$0].unsafeProbability }
            return (unsafe.reduce(0, +) / Double(unsafe.count), safe.reduce(0, +) / Double(safe.count))
        }
        let (b, a) = (means(before), means(after))
        print("guard toy fine-tune: mean P(unsafe) unsafe \(b.unsafe) → \(a.unsafe), safe \(b.safe) → \(a.safe); "
            + "loss \(summary.firstLoss) → \(summary.lastLoss)")
        #expect(a.unsafe > 0.9 && a.safe < 0.1)
        #expect(a.unsafe > b.unsafe && a.safe < b.safe)
        #expect(stride(from: 0, to: after.count, by: 2).allSatisfy { after[$0].category == .violentCrimes })
    }

    @Test func anAdapterForAnotherModelIsRefused() throws {
        let model = try GuardFixtures.tinyModel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lora = LoRAConfiguration(rank: 2, alpha: 4, dropout: 0, targets: [.query, .value])
        try PEFTAdapter.save(.initialized(for: model, configuration: lora, seed: 1), baseModel: "tiny", to: directory)
        let other = GuardFixtures.testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_llama.q4_1.gguf")
        try GuardJudgeFile(baseModel: try ModelFingerprint(modelURL: other), settings: GuardSettings(), threshold: nil,
                           lora: lora, training: nil).write(to: directory)
        do {
            _ = try GuardJudge.load(from: directory, model: model, modelURL: GuardFixtures.tinyModelURL)
            Issue.record("loading an adapter made for another model succeeded")
        } catch let error as FilterError {
            guard case let .judgeFile(_, reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("made for base model tiny_llama.q4_1.gguf"))
        }
        // Same fingerprint, but the adapter's shapes do not fit the model: also a judge-file error.
        let llama3 = try ModelLoader.load(from: GuardFixtures.testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_llama3"))
        let mismatched = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: mismatched) }
        try PEFTAdapter.save(.initialized(for: llama3, configuration: lora, seed: 1), baseModel: "tiny3", to: mismatched)
        try GuardJudgeFile(baseModel: try ModelFingerprint(modelURL: GuardFixtures.tinyModelURL), settings: GuardSettings(),
                           threshold: nil, lora: lora, training: nil).write(to: mismatched)
        #expect(throws: FilterError.self) {
            try GuardJudge.load(from: mismatched, model: model, modelURL: GuardFixtures.tinyModelURL)
        }
        #expect(throws: FilterError.self) {
            try GuardJudge.load(from: Self.temporaryDirectory(), model: model, modelURL: GuardFixtures.tinyModelURL)
        }
    }
}
