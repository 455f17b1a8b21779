// The LLM judge in Llama Guard 3's format: one batched forward pass per batch of conversations
// reads P(unsafe) at the first answer position, and one more of a few tokens reads the category.

import Engine
import Foundation
import Logging

/// Settings of a ``GuardJudge``.
public struct GuardSettings: Sendable, Codable, Equatable {
    /// Most tokens of a conversation's prompt the judge reads; longer prompts are cut on a token
    /// boundary and the score is flagged ``JudgeScore/truncated``.
    public var promptTokens: Int
    /// Most tokens of a conversation's response the judge reads (cut and flagged the same way).
    public var responseTokens: Int
    /// Conversations per batched forward pass. Each holds a key/value cache of its whole prompt
    /// (about 19 MB for SmolLM2-135M at 400 positions).
    public var batchSize: Int
    /// How products with quantized weights treat activations: `exact` (the default, the arithmetic
    /// a fine-tune trains with) or `int8` (llama.cpp's, about twice as fast; scores move slightly).
    public var arithmetic: Arithmetic

    /// Creates settings; the defaults read a typical pair whole.
    public init(promptTokens: Int = 128, responseTokens: Int = 256, batchSize: Int = 16, arithmetic: Arithmetic = .exact) {
        self.promptTokens = promptTokens
        self.responseTokens = responseTokens
        self.batchSize = batchSize
        self.arithmetic = arithmetic
    }

    /// Decodes settings; missing fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = GuardSettings()
        promptTokens = try c.decodeIfPresent(Int.self, forKey: .promptTokens) ?? d.promptTokens
        responseTokens = try c.decodeIfPresent(Int.self, forKey: .responseTokens) ?? d.responseTokens
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        arithmetic = try c.decodeIfPresent(Arithmetic.self, forKey: .arithmetic) ?? d.arithmetic
    }
}

/// An LLM judge that reads Llama Guard 3's prompt (``GuardPrompt``) with any chat model FedGuard
/// runs, zero-shot or with a LoRA adapter fine-tuned by ``GuardTrainer``.
///
/// P(unsafe) is the probability of the first token of `unsafe` renormalised against the first
/// token of `safe` at the first answer position; the category is the most likely `S<n>` after
/// `unsafe\nS` (see ``GuardAnswers``). The prompt's shared prefix (system turn, task, categories) is
/// run through the model once, when the judge is made, and its key/value rows are copied into
/// every conversation's cache, so a conversation costs only its own tokens.
///
/// Deterministic: the same conversations give the same scores. A conversation scored alone or in a
/// batch goes through matrix products of different row counts, which may change the last bits of
/// its logits: P(unsafe) moved by at most 7e-8 on the tiny test model and 4.5e-7 on SmolLM2-135M;
/// the copied prefix rows against a full prefill of the whole prompt, by at most 7e-8 (tiny).
/// The judge never logs texts.
public final class GuardJudge: SafetyJudge {
    /// ``JudgeKind/guard``.
    public var kind: JudgeKind { .guard }
    /// The model, the adapter (if any) and the budgets.
    public let summary: String
    /// The judge model.
    public let model: LlamaModel
    /// The LoRA adapter applied on top of the model (nil: zero-shot).
    public let adapter: LoRAWeights?
    /// Token budgets and batch size.
    public let settings: GuardSettings
    /// The prompt's renderer and tokenizer.
    public let encoder: GuardPromptEncoder
    /// The decision threshold stored with a fine-tuned judge (``GuardJudge/load(from:model:modelURL:batchSize:logger:)``), if any.
    public internal(set) var threshold: FilterThreshold?
    let answers: GuardAnswers
    /// Keys and values of ``GuardPromptEncoder/sharedPrefix`` (with the adapter), computed once.
    let prefixCache: KVCache
    let logger: Logger

    /// Makes a judge and prefills the shared prefix. Throws when the model has no tokenizer or chat
    /// template, when `safe` and `unsafe` cannot be told apart by a token, or on invalid settings.
    public init(model: LlamaModel, adapter: LoRAWeights? = nil, settings: GuardSettings = GuardSettings(),
                name: String? = nil, logger: Logger = Logger(label: "fedguard.filter")) throws {
        guard settings.batchSize > 0 else { throw FilterError.judge("batch size must be positive (got \(settings.batchSize))") }
        guard let tokenizer = model.tokenizer else { throw FilterError.judge("the guard model has no tokenizer") }
        let encoder = try GuardPromptEncoder(tokenizer: tokenizer, promptTokens: settings.promptTokens,
                                             responseTokens: settings.responseTokens)
        self.answers = try GuardAnswers(encode: encoder.continuation, endOfTurn: encoder.endOfTurn)
        self.encoder = encoder
        self.model = model
        self.adapter = adapter
        self.settings = settings
        self.logger = logger
        self.summary = "guard(\(name ?? "model"), \(adapter == nil ? "zero-shot" : "LoRA r=\(adapter?.rank ?? 0)"), "
            + "prompt≤\(settings.promptTokens) response≤\(settings.responseTokens) tokens)"
        prefixCache = model.makeCache(capacity: encoder.sharedPrefix.count)
        _ = try model.forward([ForwardRequest(tokens: encoder.sharedPrefix, cache: prefixCache, logits: .none)], adapter: adapter,
                              arithmetic: settings.arithmetic)
        logger.debug("guard judge ready", metadata: [
            "sharedPrefixTokens": "\(encoder.sharedPrefix.count)", "categoryChains": "\(answers.chains.count)",
        ])
    }

    /// One score per conversation, in order, in batches of ``GuardSettings/batchSize``.
    public func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
        try score(conversations, sharePrefix: true)
    }

    /// Scores with the shared prefix copied from the judge's cache (`sharePrefix`), or prefilled
    /// for every conversation on its own (the reference the tests compare against).
    func score(_ conversations: [Conversation], sharePrefix: Bool) throws -> [JudgeScore] {
        guard !conversations.isEmpty else { return [] }
        var scores: [JudgeScore] = []
        scores.reserveCapacity(conversations.count)
        var caches: [KVCache] = []
        let started = Date()
        var truncated = 0
        for start in stride(from: 0, to: conversations.count, by: settings.batchSize) {
            let batch = Array(conversations[start..<min(conversations.count, start + settings.batchSize)])
            let encoded = batch.map { encoder.encode($0) }
            let prefix = encoder.sharedPrefix.count
            let longest = (encoded.map { $0.tokens.count + ($0.sharesPrefix ? 0 : prefix) }.max() ?? 0) + answers.decisionPrefix.count
                + answers.categoryLead.count + (answers.chains.map(\.count).max() ?? 0)
            while caches.count < batch.count { caches.append(model.makeCache(capacity: prefix + longest)) }

            // Verdict: the rest of each prompt (and the decision prefix) after the shared rows.
            var requests: [ForwardRequest] = []
            for (i, e) in encoded.enumerated() {
                var tokens = e.tokens + answers.decisionPrefix
                if sharePrefix && e.sharesPrefix {
                    try caches[i].copyPrefix(of: prefixCache, count: prefix)
                } else {
                    caches[i].truncate(to: 0)
                    if e.sharesPrefix { tokens = encoder.sharedPrefix + tokens }
                }
                requests.append(ForwardRequest(tokens: tokens, cache: caches[i], logits: .last))
            }
            let verdicts = try model.forward(requests, adapter: adapter, arithmetic: settings.arithmetic)

            // Category: the lead and each chain of branching nodes, on copies of the conversation's
            // cache for chains after the first.
            var categoryRequests: [ForwardRequest] = []
            for i in batch.indices {
                let length = caches[i].length
                for chain in answers.chains.indices {
                    let cache = chain == 0 ? caches[i] : model.makeCache(capacity: length + answers.chainTokens(chain).count)
                    if chain > 0 { try cache.copyPrefix(of: caches[i], count: length) }
                    categoryRequests.append(ForwardRequest(tokens: answers.chainTokens(chain), cache: cache, logits: .all))
                }
            }
            let chainLogits = categoryRequests.isEmpty ? [] : try model.forward(categoryRequests, adapter: adapter,
                                                                                     arithmetic: settings.arithmetic)

            let V = model.configuration.vocabularySize, perConversation = answers.chains.count
            for (i, e) in encoded.enumerated() {
                let p = answers.unsafeProbability(verdicts[i])
                guard p.isFinite else { throw FilterError.judge("the model produced a non-finite P(unsafe)") }
                let category = answers.category(
                    chainLogits: Array(chainLogits[(i * perConversation)..<((i + 1) * perConversation)]), vocabularySize: V)
                scores.append(JudgeScore(unsafeProbability: min(1, max(0, p)), category: category, truncated: e.truncated))
                if e.truncated { truncated += 1 }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        logger.debug("guard judge scored", metadata: [
            "conversations": "\(conversations.count)", "truncated": "\(truncated)",
            "pairsPerSecond": "\(String(format: "%.2f", Double(conversations.count) / max(seconds, 1e-9)))",
        ])
        return scores
    }
}
