// Where in the answer the guard judge reads its verdict and its category, as token ids.

import Foundation

/// The answer tokens the judge reads, worked out once per tokenizer.
///
/// Verdict: `safe` and `unsafe` are encoded as continuations; ``decisionPrefix`` is their common
/// leading tokens (empty for byte-level BPE, where the first bytes differ), fed after the prompt;
/// P(unsafe) is the probability of ``unsafeToken`` renormalised against ``safeToken`` at the next
/// position.
///
/// Category: each category's answer `unsafe\nS<n>` + end-of-turn is encoded; ``categoryLead`` is
/// what all fourteen share after the decision prefix (`unsafe\nS` for SmolLM2) and the remaining
/// tails form a trie (`1`, `2`, …, `1 0`, … with one digit per token). A category's log-probability
/// is that of its tail under decoding constrained to the fourteen tails: at every trie node with
/// more than one child, the chosen child's logit minus the log-sum-exp of all children's logits.
/// The end-of-turn token is what tells `S1` from `S10`–`S14`. Nodes with one child contribute
/// nothing, so only the branching nodes need logits: ``chains`` are token paths from the trie root
/// that pass through every branching node (one path for SmolLM2: `1`), each run as one extra
/// request of a few tokens.
struct GuardAnswers: Sendable, Equatable {
    /// One branching decision on a category's path.
    struct Choice: Sendable, Equatable {
        /// Which chain's logits, and which row of that request (0-based).
        var chain: Int, row: Int
        /// The category's token and all tokens allowed at that node (sorted).
        var token: Int, candidates: [Int]
    }

    let decisionPrefix: [Int]
    let safeToken: Int, unsafeToken: Int
    let categoryLead: [Int]
    let chains: [[Int]]
    let choices: [HazardCategory: [Choice]]

    /// Works out the tokens; throws when `safe` and `unsafe`, or two categories, cannot be told apart.
    init(encode: (String) -> [Int], endOfTurn: String?) throws(FilterError) {
        let safeIDs = encode("safe"), unsafeIDs = encode("unsafe")
        let d = Self.commonPrefixLength([safeIDs, unsafeIDs])
        guard d < safeIDs.count, d < unsafeIDs.count else {
            throw .judge("the tokenizer encodes 'safe' as \(safeIDs) and 'unsafe' as \(unsafeIDs): one is a prefix of the other, "
                + "so no token position tells them apart")
        }
        decisionPrefix = Array(safeIDs[..<d])
        safeToken = safeIDs[d]
        unsafeToken = unsafeIDs[d]

        let categories = HazardCategory.allCases.sorted()
        let answers = categories.map { encode(GuardPrompt.answer(unsafe: true, category: $0) + (endOfTurn ?? "")) }
        let p = Self.commonPrefixLength(answers)
        let prefix = Array(safeIDs[..<d])
        guard answers.allSatisfy({ $0.starts(with: prefix) }), p > d else {
            throw .judge("the tokenizer's category answers do not continue the verdict tokens \(unsafeIDs); "
                + "the judge cannot read categories with it")
        }
        let lead = Array(answers[0][d..<p])
        categoryLead = lead
        let tails = answers.map { Array($0[p...]) }
        for (i, a) in tails.enumerated() {
            for (j, b) in tails.enumerated() where i != j && b.starts(with: a) {
                throw .judge("the answers for \(categories[i].code) and \(categories[j].code) encode so that one "
                    + "is a prefix of the other (the template has no end-of-turn string to end an answer)")
            }
        }

        // Trie children of every node (a node is its token path from the root).
        var children: [[Int]: Set<Int>] = [:]
        for tail in tails {
            for k in tail.indices { children[Array(tail[..<k]), default: []].insert(tail[k]) }
        }
        let branching = children.filter { $0.value.count > 1 }.keys.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        var chains: [[Int]] = []
        for node in branching where !chains.contains(where: { $0.starts(with: node) }) { chains.append(node) }
        self.chains = chains

        var choices: [HazardCategory: [Choice]] = [:]
        for (category, tail) in zip(categories, tails) {
            var path: [Choice] = []
            for k in tail.indices {
                let node = Array(tail[..<k])
                guard let next = children[node], next.count > 1,
                      let chain = chains.firstIndex(where: { $0.starts(with: node) }) else { continue }
                path.append(Choice(chain: chain, row: lead.count - 1 + k, token: tail[k], candidates: next.sorted()))
            }
            choices[category] = path
        }
        self.choices = choices
    }

    /// The tokens of chain `i`'s request: the lead, then the chain's path.
    func chainTokens(_ i: Int) -> [Int] { categoryLead + chains[i] }

    /// P(unsafe) from the logits at the verdict position: unsafe against safe.
    func unsafeProbability(_ logits: [Float]) -> Double {
        let lu = Double(logits[unsafeToken]), ls = Double(logits[safeToken])
        return 1 / (1 + exp(ls - lu))
    }

    /// The most likely category (ties: the lowest number) from each chain's logits, (rows, V) flattened.
    func category(chainLogits: [[Float]], vocabularySize V: Int) -> HazardCategory? {
        var best: (HazardCategory, Double)?
        for category in HazardCategory.allCases.sorted() {
            var logProbability = 0.0
            for c in choices[category] ?? [] {
                let row = c.row * V
                let logits = chainLogits[c.chain]
                let values = c.candidates.map { Double(logits[row + $0]) }
                let top = values.max() ?? 0
                let logSum = top + log(values.reduce(0) { $0 + exp($1 - top) })
                logProbability += Double(logits[row + c.token]) - logSum
            }
            if best == nil || logProbability > (best?.1 ?? -.infinity) { best = (category, logProbability) }
        }
        return best?.0
    }

    static func commonPrefixLength(_ sequences: [[Int]]) -> Int {
        guard let first = sequences.first else { return 0 }
        var n = sequences.map(\.count).min() ?? 0
        for s in sequences.dropFirst() {
            var i = 0
            while i < n, s[i] == first[i] { i += 1 }
            n = i
        }
        return n
    }
}
