import Engine

/// Errors of batch planning.
public enum BatchingError: Error, CustomStringConvertible, Equatable {
    /// The token budget is not positive.
    case invalidBudget(Int)
    /// An item is longer than one batch may hold.
    case itemTooLong(index: Int, length: Int, budget: Int)
    /// A saved data position does not fit the plan.
    case invalidPosition(String)

    public var description: String {
        switch self {
        case .invalidBudget(let budget):
            return "batching: token budget \(budget) must be positive"
        case .itemTooLong(let index, let length, let budget):
            return "batching: item \(index) has \(length) tokens, more than the budget of \(budget) per batch; "
                + "raise the budget to at least the maximum sequence length, or truncate sequences to it"
        case .invalidPosition(let detail):
            return "batching: \(detail)"
        }
    }
}

/// One batch: items packed back to back (each attends only to itself), so no token is padding.
public struct TokenBatch: Sendable, Equatable, Codable {
    /// Indices of the items, in packing order.
    public var items: [Int]
    /// Tokens of all items together (≤ the budget).
    public var tokenCount: Int
}

/// Where a run is in its data: the epoch and the next batch of that epoch's plan.
public struct DataPosition: Sendable, Equatable, Codable {
    /// 0-based epoch.
    public var epoch: Int
    /// Index of the next batch to train on within the epoch.
    public var batch: Int

    /// Creates a position.
    public init(epoch: Int = 0, batch: Int = 0) {
        self.epoch = epoch
        self.batch = batch
    }
}

/// Plans packed batches under a token budget, reshuffled every epoch from an explicit seed.
///
/// An item is whatever trains together: a sequence for SFT, a (chosen, rejected) pair for DPO; its
/// length is its total token count. Each epoch: the items are shuffled (Fisher-Yates with
/// `SeededGenerator(seed: mix(seed, epoch))`); consecutive windows of `windowSize` shuffled items are
/// packed first-fit-decreasing into batches of at most `tokenBudget` tokens (so similar lengths
/// share batches and batches come out nearly full); finally the batches' order is shuffled. The plan
/// depends only on (lengths, budget, window, seed, epoch), so a resumed run recomputes it and
/// continues at a ``DataPosition``.
public struct BatchPlanner: Sendable, Equatable {
    /// Token count of each item.
    public let lengths: [Int]
    /// Most tokens a batch may hold.
    public let tokenBudget: Int
    /// Items packed together in one first-fit-decreasing pass.
    public let windowSize: Int
    /// The run's data seed.
    public let seed: UInt64

    /// Creates a planner; throws when the budget is not positive or an item exceeds it.
    public init(lengths: [Int], tokenBudget: Int, windowSize: Int = 256, seed: UInt64) throws(BatchingError) {
        guard tokenBudget > 0 else { throw .invalidBudget(tokenBudget) }
        if let index = lengths.firstIndex(where: { $0 > tokenBudget || $0 <= 0 }) {
            throw .itemTooLong(index: index, length: lengths[index], budget: tokenBudget)
        }
        self.lengths = lengths
        self.tokenBudget = tokenBudget
        self.windowSize = max(1, windowSize)
        self.seed = seed
    }

    /// A planner for training sequences (length = token count).
    public init(sequences: [TrainingSequence], tokenBudget: Int, windowSize: Int = 256, seed: UInt64) throws(BatchingError) {
        try self.init(lengths: sequences.map(\.tokens.count), tokenBudget: tokenBudget, windowSize: windowSize, seed: seed)
    }

    /// A planner for preference pairs (length = chosen + rejected tokens; both sides share a batch).
    public init(pairs: [PreferenceSequences], tokenBudget: Int, windowSize: Int = 256, seed: UInt64) throws(BatchingError) {
        try self.init(lengths: pairs.map { $0.chosen.tokens.count + $0.rejected.tokens.count },
                      tokenBudget: tokenBudget, windowSize: windowSize, seed: seed)
    }

    /// The batches of `epoch`; every item appears exactly once.
    public func batches(epoch: Int) -> [TokenBatch] {
        var rng = SeededGenerator(seed: Self.epochSeed(seed, epoch: epoch))
        var order = Array(lengths.indices)
        Self.shuffle(&order, using: &rng)
        var batches: [TokenBatch] = []
        var start = 0
        while start < order.count {
            let window = order[start..<min(start + windowSize, order.count)]
            batches += pack(Array(window))
            start += windowSize
        }
        Self.shuffle(&batches, using: &rng)
        return batches
    }

    /// The batches from `position` to the end of its epoch (for resuming).
    public func remainingBatches(from position: DataPosition) throws(BatchingError) -> ArraySlice<TokenBatch> {
        let all = batches(epoch: position.epoch)
        guard position.epoch >= 0, (0...all.count).contains(position.batch) else {
            throw .invalidPosition("position \(position) is outside epoch \(position.epoch), which has \(all.count) batches")
        }
        return all[position.batch...]
    }

    /// First-fit decreasing over `items` (stable for equal lengths, so deterministic).
    func pack(_ items: [Int]) -> [TokenBatch] {
        let sorted = items.enumerated().sorted { x, y in
            lengths[x.element] != lengths[y.element] ? lengths[x.element] > lengths[y.element] : x.offset < y.offset
        }.map(\.element)
        var batches: [TokenBatch] = []
        for item in sorted {
            let n = lengths[item]
            if let slot = batches.firstIndex(where: { $0.tokenCount + n <= tokenBudget }) {
                batches[slot].items.append(item)
                batches[slot].tokenCount += n
            } else {
                batches.append(TokenBatch(items: [item], tokenCount: n))
            }
        }
        return batches
    }

    /// A per-epoch seed: splitmix64 finaliser of seed + epoch·golden-ratio constant.
    static func epochSeed(_ seed: UInt64, epoch: Int) -> UInt64 {
        var z = seed &+ UInt64(truncatingIfNeeded: epoch &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher-Yates with our own bounded draws (Swift's `shuffle(using:)` may change across releases).
    static func shuffle<T>(_ array: inout [T], using rng: inout SeededGenerator) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(bounded(UInt64(i + 1), using: &rng))
            array.swapAt(i, j)
        }
    }

    /// Uniform in 0..<n (Lemire's multiply-shift with rejection).
    static func bounded(_ n: UInt64, using rng: inout SeededGenerator) -> UInt64 {
        let threshold = (0 &- n) % n
        while true {
            let (high, low) = rng.next().multipliedFullWidth(by: n)
            if low >= threshold { return high }
        }
    }
}
