/// The rows one attention call covers: `length` query rows from `start`, which see their own rows
/// causally after the `prefixLength` rows from `prefixStart` (a shared prefix; 0 rows when none).
struct AttentionSpan: Equatable {
    /// First own row.
    let start: Int
    /// Own rows.
    let length: Int
    /// First row of the shared prefix the rows attend to first.
    let prefixStart: Int
    /// Rows of that prefix (0: the span attends only to itself).
    let prefixLength: Int

    /// A span with no prefix.
    init(start: Int, length: Int) {
        self.init(start: start, length: length, prefixStart: start, prefixLength: 0)
    }

    /// A span that attends to `prefixLength` rows from `prefixStart` first.
    init(start: Int, length: Int, prefixStart: Int, prefixLength: Int) {
        self.start = start
        self.length = length
        self.prefixStart = prefixStart
        self.prefixLength = prefixLength
    }

    /// Keys the last row sees: prefix and own rows.
    var keyCount: Int { prefixLength + length }

    /// Whether the prefix rows lie directly before the own rows, so the keys are one contiguous run.
    var keysAreContiguous: Bool { prefixLength == 0 || prefixStart + prefixLength == start }
}

/// Sequences packed into T rows with no padding. Sequence s owns rows `rowStarts[s] ..< rowStarts[s]
/// + lengths[s]` and attends only to itself, positions from 0 — unless it belongs to a sharing group
/// whose members begin with the same tokens (a chat template's system prompt; the prompt of a DPO
/// pair). Then those leading tokens are packed once, as a shared prefix that attends only to itself,
/// and each member's rows hold only the rest, attend to the prefix first and continue its positions.
/// Every row's activations are those of the sequence packed alone (up to floating-point summation
/// order), and the prefix's gradient is the sum of what each member sends back through it; what is
/// saved is the prefix's rows of every member but one.
///
/// The output head runs on R "head rows" only: row t is a head row when the next token of the same
/// sequence is a target; `targets[i]` is that token and `headSequence[i]` its sequence. A prefix
/// never holds a head row: it ends before any member's first target's predecessor.
struct PackedBatch {
    /// Every token id, (T).
    let tokens: [Int]
    /// Position of each row inside its sequence, (T).
    let positions: [Int]
    /// Rows evaluated by the output head, (R), increasing.
    let headRows: [Int]
    /// Target token of each head row, (R).
    let targets: [Int32]
    /// Sequence of each head row, (R).
    let headSequence: [Int]
    /// The attention calls that cover every row once: the shared prefixes first, then one per
    /// sequence (in sequence order).
    let spans: [AttentionSpan]
    /// Number of sequences (the last spans).
    let sequenceCount: Int

    /// The spans of the sequences' own rows, in sequence order.
    var sequenceSpans: ArraySlice<AttentionSpan> { spans.suffix(sequenceCount) }
    /// First own row of each sequence.
    var rowStarts: [Int] { sequenceSpans.map(\.start) }
    /// Own rows of each sequence (its token count less a shared prefix).
    var lengths: [Int] { sequenceSpans.map(\.length) }
    /// T.
    var rowCount: Int { tokens.count }
    /// R.
    var headRowCount: Int { headRows.count }
    /// Rows saved by sharing prefixes: the sequences' tokens less T.
    let sharedRows: Int

    /// Packs `sequences` for a model with `vocabularySize` tokens; throws on an empty batch or
    /// out-of-range ids. Each group of `sharing` (disjoint sets of sequence indices) shares the
    /// longest prefix its members have in common that holds no target and leaves each member at
    /// least one own row; a group of fewer than two members, or without a common first token,
    /// shares nothing.
    init(_ sequences: [TrainingSequence], vocabularySize V: Int, sharing: [[Int]] = []) throws(TrainingInputError) {
        guard !sequences.isEmpty else { throw .emptySequence(index: 0) }
        for (s, seq) in sequences.enumerated() {
            // Re-checked: a decoded sequence bypasses the initialiser's validation.
            guard !seq.tokens.isEmpty else { throw .emptySequence(index: s) }
            guard seq.targetMask.count == seq.tokens.count else {
                throw .maskLengthMismatch(tokens: seq.tokens.count, mask: seq.targetMask.count)
            }
            guard !seq.targetMask[0] else { throw .firstTokenIsTarget }
            for (p, id) in seq.tokens.enumerated() where id < 0 || id >= V {
                throw .tokenOutOfRange(sequence: s, position: p, token: id, vocabularySize: V)
            }
        }
        // The prefix each sequence shares with its group: (group, length), length 0 when none.
        var group = Array(repeating: -1, count: sequences.count)
        var shared = Array(repeating: 0, count: sequences.count)
        for (g, members) in sharing.enumerated() {
            let length = Self.sharedPrefixLength(members.map { sequences[$0] })
            guard length > 0 else { continue }
            for m in members {
                precondition(group[m] < 0, "PackedBatch: sequence \(m) is in two sharing groups")
                group[m] = g
                shared[m] = length
            }
        }

        var tokens: [Int] = [], positions: [Int] = []
        var headRows: [Int] = [], targets: [Int32] = [], headSequence: [Int] = []
        var prefixStart = Array(repeating: -1, count: sharing.count)
        var prefixSpans: [AttentionSpan] = [], sequenceSpans: [AttentionSpan] = []
        for (s, seq) in sequences.enumerated() {
            let P = shared[s]
            if P > 0, prefixStart[group[s]] < 0 {
                // The group's first member brings the prefix rows.
                prefixStart[group[s]] = tokens.count
                prefixSpans.append(AttentionSpan(start: tokens.count, length: P))
                tokens += seq.tokens[..<P]
                positions += 0..<P
            }
            sequenceSpans.append(P > 0
                ? AttentionSpan(start: tokens.count, length: seq.tokens.count - P, prefixStart: prefixStart[group[s]], prefixLength: P)
                : AttentionSpan(start: tokens.count, length: seq.tokens.count))
            for p in P..<seq.tokens.count {
                if seq.targetMask[p] {
                    headRows.append(tokens.count - 1)  // the previous row predicts token p (p > P: an own row)
                    targets.append(Int32(seq.tokens[p]))
                    headSequence.append(s)
                }
                tokens.append(seq.tokens[p])
                positions.append(p)
            }
        }
        self.tokens = tokens
        self.positions = positions
        self.headRows = headRows
        self.targets = targets
        self.headSequence = headSequence
        self.spans = prefixSpans + sequenceSpans
        self.sequenceCount = sequences.count
        self.sharedRows = sequences.reduce(0) { $0 + $1.tokens.count } - tokens.count
    }

    /// The rows a group of sequences can share: their longest common prefix, cut before the token
    /// that precedes any member's first target (that row predicts a target, and each member's
    /// target differs) and so that every member keeps at least one own row; 0 for fewer than two.
    static func sharedPrefixLength(_ members: [TrainingSequence]) -> Int {
        guard members.count >= 2, let first = members.first else { return 0 }
        var length = first.tokens.count - 1
        for m in members {
            length = min(length, m.tokens.count - 1)
            if let t = m.targetMask.firstIndex(of: true) { length = min(length, t - 1) }
            var p = 0
            while p < length && m.tokens[p] == first.tokens[p] { p += 1 }
            length = p
        }
        return max(0, length)
    }
}
