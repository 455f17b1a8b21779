// Fine-tuning the guard judge as Llama Guard 3 was fine-tuned: SFT on (guard prompt, verdict)
// pairs, a LoRA adapter on the judge model.

import Engine
import Foundation
import Logging
import Tokenizers
import Training

/// LoRA fine-tuning of a ``GuardJudge`` on labelled pairs.
///
/// Each training pair becomes one SFT example: the user turn is ``GuardPrompt`` for the pair, the
/// assistant turn its answer (``GuardPrompt/answer(unsafe:category:)``): `safe`, `unsafe\nS<n>`,
/// or `unsafe` alone for an unsafe pair whose source names no category (its verdict is still
/// learned; the category tokens are learned only from pairs that have one). The loss covers the
/// answer and the end-of-turn token.
///
/// Cost: every example carries the whole prompt (about 200 shared tokens for SmolLM2 and 60 of
/// instruction; the shared part is computed once per packed batch, see the Training module's
/// shared prefixes), so training is bounded: at most ``Parameters/maxExamples`` examples,
/// balanced between unsafe and safe, with prompts and responses cut to short training budgets.
/// Measured on SmolLM2-135M (release build, two cores): ~380 tokens per typical example, 400–550
/// tokens/s with shared prefixes (Zen 3). The defaults, every train pair (1,285 at seed 1) for 2
/// epochs, about 37 minutes there, were chosen on the validation split: 256 examples for one
/// epoch gave ROC-AUC 0.72 and 46% precision at 97.5% recall there, 512 × 2 (15-16 minutes) 0.978
/// and 81.1% at 95.1%, all 1,285 × 2 0.998 and 97.5% at 95.1%. Only `split == .train` pairs are
/// used; giving test pairs is an error.
public enum GuardTrainer {
    /// Settings of a fine-tune (each has a default sized for SmolLM2-135M on two cores).
    public struct Parameters: Sendable, Codable, Equatable {
        /// The adapter: rank, alpha, dropout and adapted projections. Every projection, the MLP's too:
        /// chosen on the validation split (seed 1), where adapting q, k, v and o only gave 61.6%
        /// precision at 95.1% recall (ROC-AUC 0.947) and all seven 81.1% (0.978), for 10% more
        /// training time (16.5 against 15 minutes on two Zen 3 cores).
        public var lora = LoRAConfiguration(rank: 8, alpha: 16, dropout: 0.05, targets: Projection.allCases)
        /// Peak learning rate (cosine decay to zero after warm-up).
        public var learningRate = 4e-4
        /// Linear warm-up steps.
        public var warmupSteps = 4
        /// Passes over the selected examples (ignored when `maxSteps` is set).
        public var epochs = 2
        /// Optimizer steps, overriding `epochs`.
        public var maxSteps: Int?
        /// Tokens per packed micro-batch (one optimizer step each).
        public var tokensPerBatch = 2048
        /// Most examples trained on (drawn with ``seed``); the default is more than the train split
        /// holds, so every train pair is used (see the type's notes for how that was chosen).
        public var maxExamples = 4096
        /// Draw up to half the examples from the unsafe pairs and half from the safe ones (a
        /// class with fewer pairs leaves its share to the other).
        public var balanced = true
        /// Most prompt tokens kept per training example.
        public var promptTokens = 48
        /// Most response tokens kept per training example.
        public var responseTokens = 96
        /// Seed of the example draw, data order, LoRA initialisation and dropout.
        public var seed: UInt64 = 0

        /// Defaults.
        public init() {}
    }

    /// What a fine-tune produced.
    public struct Result: Sendable {
        /// The trained adapter.
        public var adapter: LoRAWeights
        /// The description written beside it.
        public var file: GuardJudgeFile
    }

    /// The training pairs to use: `split == .train` only (validation pairs are skipped), drawn with
    /// the seed and balanced as ``Parameters`` says. Throws when a pair of the test split is given.
    public static func select(_ pairs: [LabelledPair], parameters: Parameters) throws(FilterError) -> [LabelledPair] {
        let test = pairs.filter { $0.split == .test }.count
        guard test == 0 else {
            throw .data(path: "guard training pairs", reason: "\(test) pairs of the test split; the test split is never trained on")
        }
        let train = pairs.filter { $0.split == .train }
        var rng = SeededGenerator(seed: parameters.seed ^ 0x6A09_E667_F3BC_C908)
        let limit = max(0, parameters.maxExamples)
        guard parameters.balanced else { return Array(shuffled(train, &rng).prefix(limit)) }
        let unsafe = shuffled(train.filter(\.unsafe), &rng), safe = shuffled(train.filter { !$0.unsafe }, &rng)
        let safeCount = min(safe.count, max(limit / 2, limit - unsafe.count))
        let unsafeCount = min(unsafe.count, limit - safeCount)
        return shuffled(Array(unsafe.prefix(unsafeCount)) + Array(safe.prefix(safeCount)), &rng)
    }

    /// The SFT example of a pair (after the encoder's truncation): the guard prompt as the user
    /// turn and the pair's answer as the assistant turn.
    public static func example(for pair: LabelledPair, encoder: GuardPromptEncoder) -> SFTExample {
        SFTExample(messages: encoder.messages(for: pair.conversation).messages
            + [ChatMessage(role: .assistant, content: GuardPrompt.answer(unsafe: pair.unsafe, category: pair.category))])
    }

    /// The training tokens of a pair: exactly the prompt tokens the judge reads, then the answer
    /// and end-of-turn tokens as targets. Also says whether the pair was truncated.
    public static func sequence(for pair: LabelledPair, encoder: GuardPromptEncoder) throws -> (TrainingSequence, Bool) {
        let prompt = encoder.encode(pair.conversation)
        let tokens = (prompt.sharesPrefix ? encoder.sharedPrefix : []) + prompt.tokens
        let answer = encoder.continuation(GuardPrompt.answer(unsafe: pair.unsafe, category: pair.category) + (encoder.endOfTurn ?? ""))
        let sequence = try TrainingSequence(tokens: tokens + answer,
                                            targetMask: Array(repeating: false, count: tokens.count) + Array(repeating: true, count: answer.count))
        return (sequence, prompt.truncated)
    }

    /// Fine-tunes a LoRA adapter on `model` (loaded from `modelURL`) with the selected pairs,
    /// reporting every optimizer step to `progress` (returning false stops there), and, with a
    /// `directory`, saves the PEFT adapter and ``GuardJudgeFile`` into it. `settings` and `threshold`
    /// are what the saved judge will score with; without `settings` it reads what it was trained on
    /// (the parameters' prompt and response budgets). Measured on the seed-1 test split (the
    /// 512 × 2 guard): read with 128/256 tokens after training on 48/96, 57.8% precision, 99.2%
    /// recall and 11.9% false positives on the probes; read with 48/96, 61.7%, 98.4% and 4.4%.
    public static func train(pairs: [LabelledPair], model: LlamaModel, modelURL: URL, parameters: Parameters = Parameters(),
                             settings: GuardSettings? = nil, threshold: FilterThreshold? = nil,
                             saveTo directory: URL? = nil, logger: Logger = Logger(label: "fedguard.filter"),
                             progress: (TrainingProgress) -> Bool = { _ in true }) throws -> Result {
        let fingerprint = try ModelFingerprint(modelURL: modelURL)
        let selected = try select(pairs, parameters: parameters)
        guard !selected.isEmpty else { throw FilterError.data(path: "guard training pairs", reason: "no pair of the train split") }
        guard let tokenizer = model.tokenizer else { throw FilterError.judge("the guard model has no tokenizer") }
        let encoder = try GuardPromptEncoder(tokenizer: tokenizer, promptTokens: parameters.promptTokens,
                                             responseTokens: parameters.responseTokens)
        var sequences: [TrainingSequence] = []
        var truncated = 0
        for pair in selected {
            let (sequence, cut) = try sequence(for: pair, encoder: encoder)
            sequences.append(sequence)
            if cut { truncated += 1 }
        }
        var trainer = TrainerParameters()
        trainer.learningRate = parameters.learningRate
        trainer.warmupSteps = parameters.warmupSteps
        trainer.epochs = parameters.epochs
        trainer.maxSteps = parameters.maxSteps
        trainer.tokensPerBatch = max(parameters.tokensPerBatch, sequences.map(\.tokens.count).max() ?? 0)
        trainer.seed = parameters.seed
        let adapter = LoRAWeights.initialized(for: model, configuration: parameters.lora, seed: parameters.seed)
        let loop = LoRATrainer(model: model, adapter: adapter, loraConfiguration: parameters.lora, parameters: trainer, logger: logger)
        logger.info("guard fine-tune", metadata: [
            "examples": "\(sequences.count)", "unsafe": "\(selected.filter(\.unsafe).count)", "truncated": "\(truncated)",
            "tokens": "\(sequences.reduce(0) { $0 + $1.tokens.count })",
        ])
        let summary = try loop.trainSFT(sequences) { progress($0) }

        let training = GuardTrainingSummary(
            examples: sequences.count, unsafeExamples: selected.filter(\.unsafe).count,
            categorisedExamples: selected.filter { $0.unsafe && $0.category != nil }.count, truncatedExamples: truncated,
            steps: summary.steps, tokens: summary.tokens, seconds: summary.seconds,
            firstLoss: summary.firstLoss, lastLoss: summary.lastLoss)
        let read = settings ?? GuardSettings(promptTokens: parameters.promptTokens, responseTokens: parameters.responseTokens)
        let file = GuardJudgeFile(baseModel: fingerprint, settings: read, threshold: threshold?.value,
                                  lora: parameters.lora, training: training)
        if let directory {
            do {
                try PEFTAdapter.save(adapter, dropout: parameters.lora.dropout, baseModel: fingerprint.fileName, to: directory)
            } catch {
                throw FilterError.judgeFile(path: directory.path, reason: "\(error)")
            }
            try file.write(to: directory)
        }
        return Result(adapter: adapter, file: file)
    }

    /// Fisher–Yates with the given generator (stable across Swift versions, unlike `shuffled(using:)`).
    static func shuffled<T>(_ items: [T], _ rng: inout SeededGenerator) -> [T] {
        var out = items
        guard out.count > 1 else { return out }
        for i in stride(from: out.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            out.swapAt(i, j)
        }
        return out
    }
}
