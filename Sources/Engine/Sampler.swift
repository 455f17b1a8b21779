import Foundation

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64).
/// reference: Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2021.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the state from one 64-bit seed.
    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var r = z
            r = (r ^ (r >> 30)) &* 0xBF58_476D_1CE4_E5B9
            r = (r ^ (r >> 27)) &* 0x94D0_49BB_1331_11EB
            return r ^ (r >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The four state words, to save a generator (e.g. in a training checkpoint).
    public var state: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// Restores a generator from `state` (four words, not all zero); nil otherwise.
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        s = (state[0], state[1], state[2], state[3])
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
}

/// Picks the next token from a row of logits: greedy, or temperature with optional top-k and top-p.
public struct Sampler: Sendable {
    /// 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens (0: off).
    public var topK: Int
    /// Keep the smallest set whose probability reaches p (1: off).
    public var topP: Float

    /// Creates a sampler.
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// Index of the largest logit (the first one on ties, as `torch.argmax`).
    public static func argmax(_ logits: ArraySlice<Float>) -> Int {
        var best = logits.startIndex
        var bestValue = -Float.infinity
        for i in logits.indices where logits[i] > bestValue {
            bestValue = logits[i]
            best = i
        }
        return best - logits.startIndex
    }

    /// Samples an index from `logits` (length V) with `rng`.
    public func sample(_ logits: ArraySlice<Float>, using rng: inout SeededGenerator) -> Int {
        guard temperature > 0 else { return Self.argmax(logits) }
        let base = logits.startIndex
        var candidates: [(index: Int, logit: Float)] = logits.indices.map { ($0 - base, logits[$0] / temperature) }
        candidates.sort { $0.logit > $1.logit }
        if topK > 0 && topK < candidates.count { candidates.removeSubrange(topK...) }
        let maxLogit = candidates.first?.logit ?? 0
        var probs = candidates.map { Double(exp($0.logit - maxLogit)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if topP < 1 {
            var cumulative = 0.0
            var keep = probs.count
            for (i, p) in probs.enumerated() {
                cumulative += p
                if cumulative >= Double(topP) { keep = i + 1; break }
            }
            probs.removeSubrange(keep...)
            candidates.removeSubrange(keep...)
            let kept = probs.reduce(0, +)
            probs = probs.map { $0 / kept }
        }
        let u = Double(rng.next() >> 11) * 0x1.0p-53
        var cumulative = 0.0
        for (i, p) in probs.enumerated() {
            cumulative += p
            if u < cumulative { return candidates[i].index }
        }
        return candidates[candidates.count - 1].index
    }
}
