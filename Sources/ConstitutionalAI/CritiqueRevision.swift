// The conversations of critique and revision, in the model's chat template, and batched
// generation over them. The constitution's exemplars come first, with fixed requests, so every
// conversation of a batch shares them as one prefix (prefilled once); the drawn principle's own
// critique and revision requests follow for the prompt at hand (Bai et al. 2022, section 3.1).

import Engine
import Foundation
import Logging
import Tokenizers
import Training

/// Builds the messages of each phase.
public struct CritiqueConversation: Sendable {
    /// The constitution (its exemplars are the few-shot context).
    public let constitution: Constitution

    /// The system prompt of critique and revision.
    public static let system = "You are a careful and helpful assistant. You critique your own answers against a principle "
        + "and then rewrite them. A harmful request gets a short refusal that says why; a harmless request gets a full, direct answer."
    /// The critique request of the exemplars.
    public static let exemplarCritiqueRequest = "Critique your last answer: is it harmful, or is it unhelpful?"
    /// The revision request of the exemplars.
    public static let exemplarRevisionRequest = "Rewrite your last answer so that it fixes what the critique found."

    /// Creates the builder.
    public init(constitution: Constitution) { self.constitution = constitution }

    /// The shared context: the system prompt and every exemplar as a worked conversation.
    public var context: [ChatMessage] {
        [ChatMessage(role: .system, content: Self.system)] + constitution.exemplars.flatMap { e in
            [ChatMessage(role: .user, content: e.prompt), ChatMessage(role: .assistant, content: e.answer),
             ChatMessage(role: .user, content: Self.exemplarCritiqueRequest), ChatMessage(role: .assistant, content: e.critique),
             ChatMessage(role: .user, content: Self.exemplarRevisionRequest), ChatMessage(role: .assistant, content: e.revision)]
        }
    }

    /// Messages that ask for a critique of `answer` to `prompt` under `principle`.
    public func critique(prompt: String, answer: String, principle: Principle) -> [ChatMessage] {
        context + [ChatMessage(role: .user, content: prompt), ChatMessage(role: .assistant, content: answer),
                   ChatMessage(role: .user, content: principle.critique)]
    }

    /// Messages that ask for a revision after `critique` (nil: the critique was unusable, and the
    /// revision request follows the answer directly).
    public func revision(prompt: String, answer: String, critique: String?, principle: Principle) -> [ChatMessage] {
        var messages = context + [ChatMessage(role: .user, content: prompt), ChatMessage(role: .assistant, content: answer)]
        if let critique {
            messages += [ChatMessage(role: .user, content: principle.critique), ChatMessage(role: .assistant, content: critique)]
        }
        return messages + [ChatMessage(role: .user, content: principle.revision)]
    }
}

/// How a revision is asked for.
public enum RevisionContext: String, Sendable, Codable, CaseIterable {
    /// The paper's: the revision request follows the answer and its critique in one conversation,
    /// after the exemplars' worked critique → revision conversations.
    case dialogue
    /// For small models: no critique; the drawn principle's revision request becomes the system
    /// prompt, the exemplars are shown as request → revised answer turns, and the prompt is
    /// answered afresh in that context (a 135M model answers a revision request in a dialogue
    /// with more critique, and revises to a refusal 1% of the time; see the README).
    case direct
}

extension CritiqueConversation {
    /// The `direct` context for `principle`: a system prompt carrying the principle, and the
    /// exemplars of the prompt's kind (red-team or benign; all when the constitution has none of
    /// that kind) as request → revised answer turns. With both kinds in context, SmolLM2-135M
    /// followed the benign ones and complied with red-team prompts (see the README).
    public func directContext(principle: Principle, harmful: Bool) -> [ChatMessage] {
        let ofKind = constitution.exemplars.filter { $0.harmful == harmful }
        return [ChatMessage(role: .system, content: Self.directSystem + " "
                            + principle.revision.replacingOccurrences(of: "Rewrite the answer", with: "Answer"))]
            + (ofKind.isEmpty ? constitution.exemplars : ofKind).flatMap {
                [ChatMessage(role: .user, content: $0.prompt), ChatMessage(role: .assistant, content: $0.revision)]
            }
    }

    /// Messages that ask for a revised answer to `prompt` in the `direct` context.
    public func directRevision(prompt: String, harmful: Bool, principle: Principle) -> [ChatMessage] {
        directContext(principle: principle, harmful: harmful) + [ChatMessage(role: .user, content: prompt)]
    }

    /// The start of the `direct` system prompt.
    public static let directSystem = "You are a careful and helpful assistant. A harmful request gets a short refusal that "
        + "says why, in one or two sentences; a harmless request gets a full, direct answer."
}

/// One generated text with what the generator reports about it.
public struct GeneratedText: Sendable {
    /// The text.
    public var text: String
    /// Whether it ended by itself (false: the token limit cut it).
    public var finished: Bool
    /// Tokens generated.
    public var tokens: Int
}

/// Replies to chat conversations (the engine's generator; tests substitute canned text).
public protocol ChatResponder {
    /// One reply per conversation: greedy when `temperature` is 0, else sampled with `seed`.
    func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                  progress: (Int) -> Void) throws -> [GeneratedText]
}

/// Batched chat generation with one model and adapter.
public struct ChatGenerator: ChatResponder {
    /// The model.
    public let model: LlamaModel
    /// The adapter (nil: the base model).
    public let adapter: LoRAWeights?
    /// Conversations generated together.
    public let batchSize: Int
    let logger: Logger

    /// Creates a generator.
    public init(model: LlamaModel, adapter: LoRAWeights?, batchSize: Int, logger: Logger) {
        self.model = model
        self.adapter = adapter
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// One reply per conversation: greedy when `temperature` is 0, else sampled with `seed` (each
    /// conversation its own stream, by position).
    public func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                         progress: (Int) -> Void = { _ in }) throws -> [GeneratedText] {
        let tokenizer = try model.requireTokenizer()
        var parameters = GenerationParameters(maxNewTokens: maxNewTokens, sampler: Sampler(temperature: Float(temperature)),
                                              seed: seed, stopStrings: tokenizer.stopStrings)
        parameters.adapter = adapter
        let generator = Generator(model: model, logger: logger)
        var results: [GeneratedText] = []
        results.reserveCapacity(conversations.count)
        for range in Self.batches(conversations, size: batchSize) {
            let start = range.lowerBound
            let batch = conversations[range]
            parameters.seed = seed &+ UInt64(start) &* 0xA24B_AED4_963E_E407
            let encoded = try batch.map { try tokenizer.encodeChat($0) }
            results += try generator.generate(prompts: encoded, parameters: parameters).map {
                GeneratedText(text: $0.text, finished: $0.finishReason != .length, tokens: $0.generatedIDs.count)
            }
            progress(results.count)
        }
        return results
    }

    /// Consecutive batches of at most `size` conversations. A batch also ends where a group of
    /// conversations with one shared context (every message but the last, as the `direct` revision
    /// context per principle) begins, so the group's context is read once as a shared prefix: a batch
    /// mixing two contexts shares only the system header, and a 1.5B critic spent most of such a
    /// batch (8 of 10 minutes) reading the contexts again. Unique contexts (the dialogue context,
    /// which quotes each answer) never end a batch early.
    static func batches(_ conversations: [[ChatMessage]], size: Int) -> [Range<Int>] {
        func context(_ i: Int) -> ArraySlice<ChatMessage> { conversations[i].dropLast() }
        var batches: [Range<Int>] = []
        var start = 0
        while start < conversations.count {
            var end = start + 1
            while end < conversations.count, end - start < size {
                let startsGroup = context(end) != context(end - 1) && end + 1 < conversations.count && context(end) == context(end + 1)
                if startsGroup { break }
                end += 1
            }
            batches.append(start..<end)
            start = end
        }
        return batches
    }
}
