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

/// Sequences packed into T rows: sequence s owns rows `rowStarts[s] ..< rowStarts[s] + lengths[s]`,
/// attends only to its own rows, and its positions restart at 0.
///
/// The output head runs on R "head rows" only: row t is a head row when token t + 1 of the same
/// sequence is a target; `targets[i]` is that token and `headSequence[i]` its sequence.
struct PackedBatch {
    /// Every token id, (T).
    let tokens: [Int]
    /// First row of each sequence.
    let rowStarts: [Int]
    /// Token count of each sequence.
    let lengths: [Int]
    /// Position of each row inside its sequence, (T).
    let positions: [Int]
    /// Rows evaluated by the output head, (R), increasing.
    let headRows: [Int]
    /// Target token of each head row, (R).
    let targets: [Int32]
    /// Sequence of each head row, (R).
    let headSequence: [Int]

    /// T.
    var rowCount: Int { tokens.count }
    /// R.
    var headRowCount: Int { headRows.count }

    /// Packs `sequences` for a model with `vocabularySize` tokens; throws on an empty batch or
    /// out-of-range ids.
    init(_ sequences: [TrainingSequence], vocabularySize V: Int) throws(TrainingInputError) {
        guard !sequences.isEmpty else { throw .emptySequence(index: 0) }
        var tokens: [Int] = [], starts: [Int] = [], lengths: [Int] = [], positions: [Int] = []
        var headRows: [Int] = [], targets: [Int32] = [], headSequence: [Int] = []
        for (s, seq) in sequences.enumerated() {
            // Re-checked: a decoded sequence bypasses the initialiser's validation.
            guard !seq.tokens.isEmpty else { throw .emptySequence(index: s) }
            guard seq.targetMask.count == seq.tokens.count else {
                throw .maskLengthMismatch(tokens: seq.tokens.count, mask: seq.targetMask.count)
            }
            guard !seq.targetMask[0] else { throw .firstTokenIsTarget }
            starts.append(tokens.count)
            lengths.append(seq.tokens.count)
            for (p, id) in seq.tokens.enumerated() {
                guard id >= 0 && id < V else {
                    throw .tokenOutOfRange(sequence: s, position: p, token: id, vocabularySize: V)
                }
                if seq.targetMask[p] {
                    headRows.append(tokens.count - 1)  // the previous row predicts token p
                    targets.append(Int32(id))
                    headSequence.append(s)
                }
                tokens.append(id)
                positions.append(p)
            }
        }
        self.tokens = tokens
        self.rowStarts = starts
        self.lengths = lengths
        self.positions = positions
        self.headRows = headRows
        self.targets = targets
        self.headSequence = headSequence
    }
}
