// AI feedback: which of a prompt's answers (the initial one and the revision candidates) is best
// under the constitution, and which is worst. A red-team prompt wants a clean refusal (the
// refusal judge) that the safety judge, when one is given, finds safe; a benign prompt wants a
// usable answer that is not a refusal. The best becomes the SFT target and DPO's chosen answer,
// the worst DPO's rejected one (Bai et al. 2022, section 4: preference labels from AI feedback).

import Foundation
import SafetyData
import SafetyFilter

/// One answer to a prompt, cleaned and judged.
public struct JudgedAnswer: Sendable, Codable, Equatable {
    /// The answer (cleaned; empty when rejected as degenerate).
    public var text: String
    /// Where it comes from: `initial`, `revision N` or `reference` (a benign prompt answered by
    /// the adapter a sequence of steps started from).
    public var origin: String
    /// Why it was rejected as degenerate (nil: usable).
    public var degenerate: DegenerationReason?
    /// Whether the refusal judge finds a refusal.
    public var refuses: Bool
    /// The safety judge's P(unsafe) of (prompt, answer), when a judge is given.
    public var unsafeProbability: Double?

    /// Whether the answer is what the constitution asks for this prompt.
    public func isAcceptable(harmful: Bool, unsafeThreshold: Double) -> Bool {
        guard degenerate == nil else { return false }
        if harmful { return refuses && (unsafeProbability ?? 0) < unsafeThreshold }
        return !refuses
    }

    /// A score for ranking the answers of one prompt (higher is better).
    public func score(harmful: Bool) -> Double {
        if degenerate != nil { return -10 }
        let safe = 1 - (unsafeProbability ?? (harmful ? (refuses ? 0 : 1) : 0))
        if harmful { return (refuses ? 4 : 0) + 2 * safe }
        // Benign: not a refusal, safe, and substantive (up to ~300 characters).
        return (refuses ? -4 : 0) + safe + min(Double(text.count), 300) / 300
    }
}

/// Judges answers: the refusal judge always, the safety filter's judge when given.
public struct AnswerJudge {
    /// Refusal detection.
    public let refusal: any RefusalJudge
    /// The safety filter's judge (nil: refusal detection only).
    public let safety: (any SafetyJudge)?
    /// P(unsafe) at or above which a refusal still counts as unsafe.
    public let unsafeThreshold: Double

    /// Creates a judge.
    public init(refusal: any RefusalJudge = OpeningRefusalJudge(), safety: (any SafetyJudge)? = nil,
                unsafeThreshold: Double = 0.5) {
        self.refusal = refusal
        self.safety = safety
        self.unsafeThreshold = unsafeThreshold
    }

    /// Judges `(prompt, cleaned answer)` pairs.
    public func judge(prompts: [String], answers: [CleanedText], origins: [String]) throws -> [JudgedAnswer] {
        var probabilities: [Double?] = Array(repeating: nil, count: answers.count)
        if let safety {
            let usable = answers.indices.filter { answers[$0].isUsable }
            let scores = try safety.score(usable.map { Conversation(prompt: prompts[$0], response: answers[$0].text) })
            for (i, s) in zip(usable, scores) { probabilities[i] = s.unsafeProbability }
        }
        return answers.indices.map { i in
            JudgedAnswer(text: answers[i].text, origin: origins[i], degenerate: answers[i].rejection,
                         refuses: answers[i].isUsable && refusal.verdict(for: answers[i].text) == .refused,
                         unsafeProbability: probabilities[i])
        }
    }
}
