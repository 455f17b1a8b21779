// The judge contract: a conversation in, P(unsafe) and a hazard category out.

import Foundation

/// One exchange a judge classifies: a user's prompt and the assistant's response.
public struct Conversation: Sendable, Hashable, Codable {
    /// The user's request.
    public var prompt: String
    /// The assistant's reply (may be empty: a judge scores it as it is).
    public var response: String

    /// Creates a conversation.
    public init(prompt: String, response: String) {
        self.prompt = prompt
        self.response = response
    }
}

/// A judge's verdict on one conversation.
public struct JudgeScore: Sendable, Hashable, Codable {
    /// P(unsafe) in [0, 1].
    public var unsafeProbability: Double
    /// The most likely hazard category when the judge names one (it does for every score, even a
    /// safe one; it matters only above the threshold).
    public var category: HazardCategory?
    /// Whether the judge's input was cut to fit its context (counted, never silent).
    public var truncated: Bool

    /// Creates a score.
    public init(unsafeProbability: Double, category: HazardCategory? = nil, truncated: Bool = false) {
        self.unsafeProbability = unsafeProbability
        self.category = category
        self.truncated = truncated
    }
}

/// The judges FedGuard trains and runs.
public enum JudgeKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// all-MiniLM-L6-v2 embeddings of prompt and response with a small trained head.
    case embedding
    /// An LLM judge in Llama Guard 3's format (zero-shot, or LoRA fine-tuned).
    case `guard`
    /// The mean of the embedding judge's and the fine-tuned guard's P(unsafe) (``CombinedJudge``).
    case both
}

/// Maps conversations to P(unsafe) and a hazard category. Batched and deterministic: the same
/// conversations give the same scores, whatever the batch they come in (up to float summation
/// order, which each implementation states).
public protocol SafetyJudge: AnyObject {
    /// Which judge this is.
    var kind: JudgeKind { get }
    /// A short description for logs and reports (model, adapter, head).
    var summary: String { get }
    /// One score per conversation, in order.
    func score(_ conversations: [Conversation]) throws -> [JudgeScore]
}

/// The decision rule: a conversation is unsafe when P(unsafe) ≥ ``value``.
public struct FilterThreshold: Sendable, Hashable, Codable {
    /// The threshold in [0, 1].
    public let value: Double

    /// Creates a threshold; values outside [0, 1] (or NaN) are an error naming the value.
    public init(_ value: Double) throws(FilterError) {
        guard value.isFinite, (0...1).contains(value) else { throw FilterError.invalidThreshold(value) }
        self.value = value
    }

    /// Whether `score` is judged unsafe.
    public func isUnsafe(_ score: JudgeScore) -> Bool { score.unsafeProbability >= value }
}

/// Errors of the safety filter; each says what and where.
public enum FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A threshold outside [0, 1].
    case invalidThreshold(Double)
    /// A judge file that cannot be read, or that was made for another model or encoder.
    case judgeFile(path: String, reason: String)
    /// A labelled data set or input file with a problem (file and what).
    case data(path: String, reason: String)
    /// A judge produced something unusable (e.g. a non-finite score).
    case judge(String)

    public var description: String {
        switch self {
        case let .invalidThreshold(value): return "filter threshold must be in [0, 1] (got \(value))"
        case let .judgeFile(path, reason): return "judge \(path): \(reason)"
        case let .data(path, reason): return "\(path): \(reason)"
        case let .judge(reason): return "judge: \(reason)"
        }
    }
}
