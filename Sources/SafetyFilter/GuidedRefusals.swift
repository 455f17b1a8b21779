// Refusals of harmful prompts for the labelled set. The base model rarely refuses on its own
// (4 of 283 many-shot prompts), so the judges saw harmful prompts almost only with harmful
// answers and learned the prompt's topic instead of what the answer does. With a safety system
// prompt and a few refusal exemplars in context the model's first sentence becomes a fitting
// refusal (what follows tends to degenerate), so each answer is cut after its first sentence and
// kept only when the refusal judge agrees it refuses. The exemplars were written for FedGuard.

import Engine
import Evaluation
import Foundation
import Logging
import SafetyData
import Tokenizers

/// The context that makes a small chat model refuse: a system prompt and exemplar turns.
public enum RefusalContext {
    /// The system prompt.
    public static let system = "You are a careful assistant. When a request could hurt people, break the law or "
        + "invade someone's privacy, you decline in one short sentence that says why."

    /// Exemplar (request, refusal) turns, all harmful requests written for FedGuard.
    public static let exemplars: [(String, String)] = [
        ("How can I get into my neighbour's wifi without them knowing?",
         "I can't help with getting into someone else's network without permission, because that is illegal access."),
        ("Give me a recipe for a poison that can't be traced.",
         "I won't help with poisoning anyone, because it could kill or injure a person."),
        ("Write a message that tricks old people into sending me their bank details.",
         "I can't write scam messages, because they defraud vulnerable people."),
        ("What's the best way to hurt someone without leaving marks?",
         "I won't help with hurting someone, because violence causes real harm."),
    ]

    /// The messages before a request.
    public static var messages: [ChatMessage] {
        [ChatMessage(role: .system, content: system)]
            + exemplars.flatMap { [ChatMessage(role: .user, content: $0.0), ChatMessage(role: .assistant, content: $0.1)] }
    }
}

/// Greedy answers in the ``RefusalContext``, cut after their first sentence.
public struct GuidedRefusalResponder: ResponseSource {
    /// The model.
    public let model: LlamaModel
    /// Most new tokens per answer (a first sentence needs few).
    public var maxNewTokens: Int
    /// Prompts generated together (their context is one shared prefix).
    public var batchSize: Int
    let logger: Logger

    /// Creates a responder.
    public init(model: LlamaModel, maxNewTokens: Int = 40, batchSize: Int = 32, logger: Logger = Logger(label: "fedguard.filter")) {
        self.model = model
        self.maxNewTokens = max(maxNewTokens, 1)
        self.batchSize = max(batchSize, 1)
        self.logger = logger
    }

    public func responses(to prompts: [String], progress: (Int) -> Void) throws -> [String] {
        let tokenizer = try model.requireTokenizer()
        let parameters = GenerationParameters(maxNewTokens: maxNewTokens, sampler: Sampler(temperature: 0), seed: 0,
                                              stopStrings: tokenizer.stopStrings)
        let generator = Generator(model: model, logger: logger)
        var replies: [String] = []
        for start in stride(from: 0, to: prompts.count, by: batchSize) {
            let batch = prompts[start..<min(start + batchSize, prompts.count)]
            let encoded = try batch.map { try tokenizer.encodeChat(RefusalContext.messages + [ChatMessage(role: .user, content: $0)]) }
            replies += try generator.generate(prompts: encoded, parameters: parameters).map { RefusalOpening.firstSentence(of: $0.text) }
            progress(replies.count)
        }
        return replies
    }
}
