import Engine
import Foundation
import Testing
@testable import SafetyFilter

/// The guard judge on the tiny random model: valid, batch-invariant, deterministic scores; the
/// copied prefix equals a full prefill; truncation is flagged; categories are read by constrained
/// log-probability.
struct GuardJudgeTests {
    /// Largest |ΔP(unsafe)| between two score lists.
    static func maxDifference(_ a: [JudgeScore], _ b: [JudgeScore]) -> Double {
        zip(a, b).map { abs($0.unsafeProbability - $1.unsafeProbability) }.max() ?? .infinity
    }

    @Test func scoresAreProbabilitiesWithACategory() throws {
        let judge = try GuardJudge(model: try GuardFixtures.tinyModel(), settings: GuardSettings(batchSize: 2))
        #expect(judge.kind == .guard)
        let scores = try judge.score(GuardFixtures.conversations)
        #expect(scores.count == GuardFixtures.conversations.count)
        for s in scores {
            #expect((0...1).contains(s.unsafeProbability))
            #expect(s.category != nil && !s.truncated)
        }
        #expect(Set(scores.map(\.unsafeProbability)).count > 1, "different conversations, different scores")
        #expect(try judge.score([]).isEmpty)
        #expect(try judge.score([Conversation(prompt: "", response: "")]).count == 1)
    }

    @Test func deterministicAndBatchInvariant() throws {
        let model = try GuardFixtures.tinyModel()
        let batched = try GuardJudge(model: model, settings: GuardSettings(batchSize: 8))
        let single = try GuardJudge(model: model, settings: GuardSettings(batchSize: 1))
        let all = try batched.score(GuardFixtures.conversations)
        #expect(try batched.score(GuardFixtures.conversations) == all)
        let alone = try GuardFixtures.conversations.flatMap { try single.score([$0]) }
        let d = Self.maxDifference(all, alone)
        print("guard batch invariance: max |ΔP| = \(d)")
        #expect(d <= 1e-6)
        #expect(all.map(\.category) == alone.map(\.category))
    }

    /// The shared prefix's copied rows give the same scores as prefilling each whole prompt, and as
    /// a forward of the full prompt's tokens from an empty cache computed here by hand.
    @Test func cachedPrefixEqualsFullForward() throws {
        let model = try GuardFixtures.tinyModel()
        let judge = try GuardJudge(model: model)
        let shared = try judge.score(GuardFixtures.conversations)
        let unshared = try judge.score(GuardFixtures.conversations, sharePrefix: false)
        let tokenizer = try #require(model.tokenizer)
        var manual: [Double] = []
        for c in GuardFixtures.conversations {
            let ids = tokenizer.encode(judge.encoder.text(for: c))
            let logits = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: ids.count))])[0]
            manual.append(judge.answers.unsafeProbability(logits))
        }
        let dPrefix = Self.maxDifference(shared, unshared)
        let dManual = zip(shared, manual).map { abs($0.unsafeProbability - $1) }.max() ?? .infinity
        print("guard cached prefix vs full forward: max |ΔP| = \(dPrefix) (judge), \(dManual) (by hand)")
        #expect(dPrefix <= 1e-6 && dManual <= 1e-6)
        #expect(shared.map(\.category) == unshared.map(\.category))
    }

    @Test func truncationIsFlaggedAndScoresTheCutText() throws {
        let model = try GuardFixtures.tinyModel()
        let judge = try GuardJudge(model: model, settings: GuardSettings(promptTokens: 6, responseTokens: 10))
        let long = Conversation(prompt: String(repeating: "tell me about bread ", count: 10),
                                response: String(repeating: "bread is baked ", count: 20))
        let scores = try judge.score([long, Conversation(prompt: "hi", response: "ok")])
        #expect(scores[0].truncated && !scores[1].truncated)
        let (cut, _) = judge.encoder.truncatedConversation(long)
        let cutScore = try judge.score([cut])[0]
        #expect(!cutScore.truncated)
        #expect(abs(cutScore.unsafeProbability - scores[0].unsafeProbability) <= 1e-6)
    }

    /// S1 versus S10–S14 is decided by the end-of-turn token after `1`; other digits by one choice.
    @Test func categoriesAreReadByConstrainedLogProbability() throws {
        // A toy tokenizer: one token per character; digits 0-9 are 10...19, "<E>" (end) is 1.
        func encode(_ text: String) -> [Int] {
            var ids: [Int] = []
            var rest = Substring(text)
            while let ch = rest.first {
                if rest.hasPrefix("<E>") { ids.append(1); rest = rest.dropFirst(3); continue }
                ids.append(ch.wholeNumberValue.map { 10 + $0 } ?? 20 + Int(ch.asciiValue ?? 0))
                rest = rest.dropFirst()
            }
            return ids
        }
        let answers = try GuardAnswers(encode: encode, endOfTurn: "<E>")
        #expect(answers.decisionPrefix.isEmpty)
        #expect(answers.categoryLead == encode("unsafe\nS"))
        #expect(answers.chains == [[11]], "one chain through `1`, the only branching node below the root")
        let V = 160, rows = answers.chainTokens(0).count
        func logits(_ set: [(row: Int, token: Int, value: Float)]) -> [[Float]] {
            var l = [Float](repeating: 0, count: rows * V)
            for s in set { l[s.row * V + s.token] = s.value }
            return [l]
        }
        let root = answers.categoryLead.count - 1
        // `1` likely, then the end likely: S1.
        #expect(answers.category(chainLogits: logits([(root, 11, 5), (root + 1, 1, 5)]), vocabularySize: V) == .violentCrimes)
        // `1` likely, then `3` likely: S13.
        #expect(answers.category(chainLogits: logits([(root, 11, 5), (root + 1, 13, 5)]), vocabularySize: V) == .elections)
        // `7` most likely: S7, whatever follows `1`.
        #expect(answers.category(chainLogits: logits([(root, 17, 5), (root, 11, 4), (root + 1, 1, 9)]), vocabularySize: V) == .privacy)
        // A token outside the candidates does not count.
        #expect(answers.category(chainLogits: logits([(root, 99, 50), (root, 12, 1)]), vocabularySize: V) == .nonViolentCrimes)
    }

    @Test func settingsDecodeWithDefaults() throws {
        let decoded = try JSONDecoder().decode(GuardSettings.self, from: Data(#"{"batchSize": 4}"#.utf8))
        #expect(decoded == GuardSettings(batchSize: 4))
        let settings = GuardSettings(promptTokens: 7, responseTokens: 9, batchSize: 3, arithmetic: .int8)
        #expect(try JSONDecoder().decode(GuardSettings.self, from: JSONEncoder().encode(settings)) == settings)
        #expect(throws: FilterError.self) { try GuardJudge(model: try GuardFixtures.tinyModel(), settings: GuardSettings(batchSize: 0)) }
    }

    @Test func indistinguishableAnswersAreAClearError() {
        // Without an end-of-turn, S1 is a prefix of S10.
        #expect(throws: FilterError.self) {
            try GuardAnswers(encode: { $0.unicodeScalars.map { Int($0.value) } }, endOfTurn: nil)
        }
        // A tokenizer that spells `unsafe` as `safe` plus more.
        #expect(throws: FilterError.self) {
            try GuardAnswers(encode: { $0 == "unsafe" ? [1, 2] : $0 == "safe" ? [1] : [3] }, endOfTurn: "<E>")
        }
    }
}
