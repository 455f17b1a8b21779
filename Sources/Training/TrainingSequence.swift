import Engine

/// Why a training input was rejected.
public enum TrainingInputError: Error, Equatable, CustomStringConvertible {
    /// A sequence has no tokens.
    case emptySequence(index: Int?)
    /// `targetMask` and `tokens` differ in length.
    case maskLengthMismatch(tokens: Int, mask: Int)
    /// `targetMask[0]` is true: the first token has nothing to be predicted from.
    case firstTokenIsTarget
    /// A token id is negative or outside the model's vocabulary.
    case tokenOutOfRange(sequence: Int, position: Int, token: Int, vocabularySize: Int)
    /// The batch has no target tokens, so a mean loss is undefined.
    case noTargets
    /// The dropout probability is outside [0, 1).
    case invalidDropout(Float)
    /// An adapter or gradient holder does not match the model or the adapter.
    case adapterMismatch(String)
    /// A DPO batch is empty, or `beta` is not positive, or reference values have the wrong count.
    case invalidPreference(String)

    /// A message a person can act on.
    public var description: String {
        switch self {
        case .emptySequence(let i): return "training sequence \(i.map(String.init) ?? "") has no tokens"
        case .maskLengthMismatch(let t, let m): return "targetMask has \(m) entries for \(t) tokens"
        case .firstTokenIsTarget: return "targetMask[0] must be false: the first token is never predicted"
        case .tokenOutOfRange(let s, let p, let t, let v):
            return "token id \(t) at position \(p) of sequence \(s) is outside the vocabulary 0..<\(v)"
        case .noTargets: return "the batch has no target tokens (every targetMask entry is false)"
        case .invalidDropout(let p): return "LoRA dropout \(p) must lie in [0, 1)"
        case .adapterMismatch(let what): return "adapter mismatch: \(what)"
        case .invalidPreference(let what): return "invalid preference batch: \(what)"
        }
    }
}

/// One training example: token ids and which of them are loss targets.
///
/// `targetMask[p]` true means token p is a target predicted from `tokens[..<p]`, so `targetMask[0]`
/// is always false. For chat SFT the mask is typically true on the assistant's tokens only.
public struct TrainingSequence: Sendable, Equatable, Codable {
    /// Token ids.
    public let tokens: [Int]
    /// One flag per token: whether it is a loss target.
    public let targetMask: [Bool]

    /// Creates a sequence; throws when the mask length differs, the sequence is empty or
    /// `targetMask[0]` is true. Token ids are checked against a model's vocabulary when a batch is packed.
    public init(tokens: [Int], targetMask: [Bool]) throws(TrainingInputError) {
        guard !tokens.isEmpty else { throw .emptySequence(index: nil) }
        guard targetMask.count == tokens.count else {
            throw .maskLengthMismatch(tokens: tokens.count, mask: targetMask.count)
        }
        guard !targetMask[0] else { throw .firstTokenIsTarget }
        self.tokens = tokens
        self.targetMask = targetMask
    }

    /// Number of target tokens.
    public var targetCount: Int { targetMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}
