import Engine
import Foundation
import Logging
import Tokenizers

/// Produces replies to user prompts. The engine implementation is ``ModelResponder``; tests and
/// what-if analyses use ``FixedResponder`` (e.g. a model that refuses everything).
public protocol ResponseSource: Sendable {
    /// One reply per prompt (a single user message), in order. `progress(done)` is called after
    /// each batch with the number of prompts answered so far.
    func responses(to prompts: [String], progress: (Int) -> Void) throws -> [String]
}

/// How replies are generated for evaluation.
public struct GenerationSettings: Codable, Sendable, Hashable {
    /// Most new tokens per reply (the AdvBench convention in FedGuard is 64).
    public var maxNewTokens: Int
    /// Prompts generated together in one batched `Generator` call.
    public var batchSize: Int
    /// Arithmetic of the quantized products (`exact` unless asked; reports record it).
    public var arithmetic: Arithmetic

    /// Creates settings (values below 1 are raised to 1).
    public init(maxNewTokens: Int = 64, batchSize: Int = 32, arithmetic: Arithmetic = .exact) {
        self.maxNewTokens = max(maxNewTokens, 1)
        self.batchSize = max(batchSize, 1)
        self.arithmetic = arithmetic
    }

    enum CodingKeys: String, CodingKey {
        case maxNewTokens = "max_new_tokens", batchSize = "batch_size", arithmetic
    }

    /// Decodes settings; files written before `arithmetic` existed were exact.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(maxNewTokens: try c.decode(Int.self, forKey: .maxNewTokens), batchSize: try c.decode(Int.self, forKey: .batchSize),
                  arithmetic: try c.decodeIfPresent(Arithmetic.self, forKey: .arithmetic) ?? .exact)
    }
}

/// Greedy replies from the engine: each prompt is rendered with the model's chat template (its
/// default system prompt included, as `fedguard chat` does), and prompts are generated in
/// batches of ``GenerationSettings/batchSize`` through ``Generator``. Generation stops at the
/// end-of-turn token or after ``GenerationSettings/maxNewTokens`` tokens.
public struct ModelResponder: ResponseSource {
    /// The model.
    public let model: LlamaModel
    /// The adapter applied on top of the frozen weights (nil: the base model).
    public let adapter: LoRAWeights?
    /// Token budget and batch size.
    public let settings: GenerationSettings
    let logger: Logger

    /// Creates a responder.
    public init(model: LlamaModel, adapter: LoRAWeights?, settings: GenerationSettings,
                logger: Logger = Logger(label: "fedguard.evaluation")) {
        self.model = model
        self.adapter = adapter
        self.settings = settings
        self.logger = logger
    }

    /// Greedy replies, batch by batch.
    public func responses(to prompts: [String], progress: (Int) -> Void) throws -> [String] {
        guard let tokenizer = model.tokenizer else { throw EvaluationError.noTokenizer }
        var parameters = GenerationParameters(maxNewTokens: settings.maxNewTokens, sampler: Sampler(temperature: 0),
                                              seed: 0, stopStrings: tokenizer.stopStrings)
        parameters.adapter = adapter
        parameters.arithmetic = settings.arithmetic
        let generator = Generator(model: model, logger: logger)
        var replies: [String] = []
        replies.reserveCapacity(prompts.count)
        for start in stride(from: 0, to: prompts.count, by: settings.batchSize) {
            let batch = prompts[start..<min(start + settings.batchSize, prompts.count)]
            let encoded = try batch.map { try tokenizer.encodeChat([ChatMessage(role: .user, content: $0)]) }
            let results = try generator.generate(prompts: encoded, parameters: parameters)
            replies += results.map(\.text)
            progress(replies.count)
        }
        return replies
    }
}

/// Replies from a function of the prompt: fakes for tests ("a model that refuses everything")
/// and replays of recorded replies.
public struct FixedResponder: ResponseSource {
    let reply: @Sendable (String) -> String

    /// A responder that answers `prompt` with `reply(prompt)`.
    public init(_ reply: @escaping @Sendable (String) -> String) { self.reply = reply }

    /// A responder that gives the same reply to every prompt.
    public init(always text: String) { self.init { _ in text } }

    /// The replies (progress is reported once, at the end).
    public func responses(to prompts: [String], progress: (Int) -> Void) throws -> [String] {
        let replies = prompts.map(reply)
        progress(replies.count)
        return replies
    }
}

/// Errors of the evaluation module; each says what failed and where.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// The model has no tokenizer (chat evaluation needs one).
    case noTokenizer
    /// A suite has no prompts to evaluate.
    case noPrompts(EvaluationSuite)
    /// A responder returned a different number of replies than prompts.
    case replyCount(expected: Int, got: Int)
    /// A data set could not be loaded.
    case data(String)
    /// The helpfulness guard could not score anything.
    case helpfulness(String)
    /// A file could not be read or written.
    case io(file: String, detail: String)
    /// A suite list names no suite or an unknown one.
    case invalidSuite(String)

    /// What went wrong.
    public var description: String {
        switch self {
        case .noTokenizer: "the model has no tokenizer; evaluation renders prompts with its chat template"
        case let .noPrompts(suite): "the \(suite.rawValue) suite has no prompts to evaluate"
        case let .replyCount(expected, got): "expected \(expected) replies, got \(got)"
        case let .data(detail): "evaluation data: \(detail)"
        case let .helpfulness(detail): "helpfulness guard: \(detail)"
        case let .io(file, detail): "\(file): \(detail)"
        case let .invalidSuite(detail): detail
        }
    }
}
