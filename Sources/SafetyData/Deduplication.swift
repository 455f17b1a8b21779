// Text normalisation and near-duplicate detection, used to keep benchmark goals (AdvBench)
// and held-out prompts out of training data.
//
// Two texts are duplicates when their normalised forms are equal. A candidate is a near
// duplicate of a reference when, over character 5-grams of the normalised texts,
// - Jaccard similarity |A ∩ B| / |A ∪ B| ≥ `jaccardThreshold` (default 0.8): a light edit, or
// - containment |A ∩ B| / |B| ≥ `containmentThreshold` (default 0.9) where B is the reference:
//   the reference copied near-verbatim inside a longer text (e.g. with a jailbreak wrapper).
// reference: Broder 1997, "On the resemblance and containment of documents" (shingling).

/// Canonical text for comparisons: lower case, apostrophes removed, every other punctuation
/// or symbol a space, whitespace runs collapsed to one space, trimmed.
public enum TextNormalizer {
    /// Normalises `text` ("Don't  STOP!" → "dont stop").
    public static func normalize(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        for character in text.lowercased() {
            if character == "'" || character == "’" || character == "‘" || character == "`" { continue }
            let isWord = character.isLetter || character.isNumber
            if !isWord {
                pendingSpace = true
                continue
            }
            if pendingSpace, !out.isEmpty { out.append(" ") }
            pendingSpace = false
            out.append(character)
        }
        return out
    }

    /// Hashes of the character `n`-grams of `normalized` (a text shorter than `n` yields one
    /// shingle of the whole text, so short strings still compare).
    public static func shingles(_ normalized: String, n: Int = 5) -> Set<UInt64> {
        let characters = Array(normalized.unicodeScalars)
        guard !characters.isEmpty else { return [] }
        guard characters.count > n else { return [fnv1a(characters[...])] }
        var result = Set<UInt64>()
        result.reserveCapacity(characters.count - n + 1)
        for start in 0 ... characters.count - n {
            result.insert(fnv1a(characters[start ..< start + n]))
        }
        return result
    }

    /// 64-bit FNV-1a over the scalars' values (reference: Fowler-Noll-Vo hash, FNV-1a).
    static func fnv1a(_ scalars: ArraySlice<Unicode.Scalar>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for scalar in scalars {
            var value = scalar.value
            for _ in 0 ..< 4 {
                hash ^= UInt64(value & 0xFF)
                hash = hash &* 0x0000_0100_0000_01B3
                value >>= 8
            }
        }
        return hash
    }

    /// Jaccard similarity of two shingle sets (1 for two empty sets).
    public static func jaccard(_ a: Set<UInt64>, _ b: Set<UInt64>) -> Double {
        if a.isEmpty, b.isEmpty { return 1 }
        let shared = a.intersection(b).count
        return Double(shared) / Double(a.count + b.count - shared)
    }
}

/// Why a candidate matched a reference text.
public enum ContaminationKind: String, Hashable, Sendable {
    /// Equal after normalisation.
    case exact
    /// 5-gram Jaccard at or above the threshold.
    case nearDuplicate
    /// The reference's 5-grams are (almost) all inside the candidate.
    case contains
}

/// A candidate's closest reference text.
public struct ContaminationMatch: Hashable, Sendable {
    /// Index of the reference text (in the order given to ``ContaminationFilter``).
    public let referenceIndex: Int
    /// How it matched.
    public let kind: ContaminationKind
    /// 5-gram Jaccard similarity with that reference.
    public let jaccard: Double
    /// Fraction of the reference's 5-grams found in the candidate.
    public let containment: Double
}

/// The outcome of filtering a training set.
public struct FilterReport<Item: Sendable>: Sendable {
    /// Items that matched no reference, in input order.
    public var kept: [Item]
    /// Items removed, each with the match that removed it.
    public var dropped: [(item: Item, match: ContaminationMatch)]
    /// Number of items removed.
    public var droppedCount: Int { dropped.count }
    /// Removed items per match kind.
    public var droppedByKind: [ContaminationKind: Int] {
        dropped.reduce(into: [:]) { $0[$1.match.kind, default: 0] += 1 }
    }
}

/// Finds training items that copy any of a set of reference texts (e.g. the AdvBench goals).
public struct ContaminationFilter: Sendable {
    /// Jaccard threshold for a near duplicate.
    public let jaccardThreshold: Double
    /// Containment threshold for a reference copied inside a longer text.
    public let containmentThreshold: Double
    /// Number of reference texts.
    public var referenceCount: Int { references.count }

    private let references: [Set<UInt64>]
    private let exact: [String: Int]
    private let index: [UInt64: [Int]]  // shingle → references containing it

    /// Builds a filter over `references`.
    /// - Parameters:
    ///   - jaccardThreshold: near-duplicate threshold, in (0, 1]; default 0.8.
    ///   - containmentThreshold: embedded-copy threshold, in (0, 1]; default 0.9.
    public init(references: [String], jaccardThreshold: Double = 0.8, containmentThreshold: Double = 0.9) {
        self.jaccardThreshold = min(max(jaccardThreshold, .ulpOfOne), 1)
        self.containmentThreshold = min(max(containmentThreshold, .ulpOfOne), 1)
        var exact: [String: Int] = [:]
        var shingleSets: [Set<UInt64>] = []
        var index: [UInt64: [Int]] = [:]
        for (i, text) in references.enumerated() {
            let normalized = TextNormalizer.normalize(text)
            if exact[normalized] == nil { exact[normalized] = i }
            let set = TextNormalizer.shingles(normalized)
            shingleSets.append(set)
            for shingle in set { index[shingle, default: []].append(i) }
        }
        self.references = shingleSets
        self.exact = exact
        self.index = index
    }

    /// A filter over the AdvBench goals.
    public init(advBench goals: [AdvBenchGoal], jaccardThreshold: Double = 0.8, containmentThreshold: Double = 0.9) {
        self.init(references: goals.map(\.text), jaccardThreshold: jaccardThreshold,
                  containmentThreshold: containmentThreshold)
    }

    /// The strongest match of `text` against the references, or nil if it is clean.
    public func match(_ text: String) -> ContaminationMatch? {
        let normalized = TextNormalizer.normalize(text)
        if let i = exact[normalized] {
            return ContaminationMatch(referenceIndex: i, kind: .exact, jaccard: 1, containment: 1)
        }
        let candidate = TextNormalizer.shingles(normalized)
        var shared: [Int: Int] = [:]
        for shingle in candidate {
            for reference in index[shingle] ?? [] { shared[reference, default: 0] += 1 }
        }
        var best: ContaminationMatch?
        for (reference, count) in shared.sorted(by: { $0.key < $1.key }) {
            let size = references[reference].count
            let jaccard = Double(count) / Double(candidate.count + size - count)
            let containment = Double(count) / Double(size)
            let kind: ContaminationKind? = jaccard >= jaccardThreshold ? .nearDuplicate
                : containment >= containmentThreshold ? .contains : nil
            guard let kind else { continue }
            if best == nil || jaccard > best?.jaccard ?? 0 {
                best = ContaminationMatch(referenceIndex: reference, kind: kind, jaccard: jaccard, containment: containment)
            }
        }
        return best
    }

    /// Splits `items` into kept and dropped, checking every text `texts(item)` returns
    /// (e.g. a pair's prompt and response).
    public func filter<Item: Sendable>(_ items: [Item], texts: (Item) -> [String]) -> FilterReport<Item> {
        var report = FilterReport<Item>(kept: [], dropped: [])
        for item in items {
            if let match = texts(item).lazy.compactMap(match).first {
                report.dropped.append((item, match))
            } else {
                report.kept.append(item)
            }
        }
        return report
    }

    /// Filters training pairs on their prompts.
    public func filter(_ pairs: [PromptResponsePair]) -> FilterReport<PromptResponsePair> {
        filter(pairs) { [$0.prompt] }
    }
}

/// Removes duplicates and near duplicates within one list, keeping the first occurrence.
public enum Deduplicator {
    /// The items of `items` that are not (near) duplicates of an earlier kept item, using the
    /// same tests as ``ContaminationFilter`` minus containment. Quadratic in the worst case
    /// only among items sharing 5-grams.
    public static func unique<Item>(_ items: [Item], jaccardThreshold: Double = 0.8,
                                    text: (Item) -> String) -> [Item] {
        var kept: [Item] = []
        var exact = Set<String>()
        var sets: [Set<UInt64>] = []
        var index: [UInt64: [Int]] = [:]
        for item in items {
            let normalized = TextNormalizer.normalize(text(item))
            guard exact.insert(normalized).inserted else { continue }
            let set = TextNormalizer.shingles(normalized)
            var shared: [Int: Int] = [:]
            for shingle in set { for k in index[shingle] ?? [] { shared[k, default: 0] += 1 } }
            let isNear = shared.contains { k, count in
                Double(count) / Double(set.count + sets[k].count - count) >= jaccardThreshold
            }
            guard !isNear else { continue }
            for shingle in set { index[shingle, default: []].append(sets.count) }
            sets.append(set)
            kept.append(item)
        }
        return kept
    }
}
