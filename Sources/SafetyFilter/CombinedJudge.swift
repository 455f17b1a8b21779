// Two judges together: P(unsafe) is the mean of theirs, the category the first judge's. The
// embedding judge finds almost every unsafe pair but also flags refusals that name the harmful
// topic; the fine-tuned guard rarely flags a safe pair but misses more unsafe ones. The mean, at a
// threshold chosen on the validation split, trades the two.

import Foundation

/// A judge whose P(unsafe) is the mean of its judges' (kind ``JudgeKind/both``).
public final class CombinedJudge: SafetyJudge {
    /// The judges; the first names the category.
    public let judges: [any SafetyJudge]

    public var kind: JudgeKind { .both }
    public var summary: String { "mean of [" + judges.map(\.summary).joined(separator: "; ") + "]" }

    /// Combines `judges` (at least one).
    public init(_ judges: [any SafetyJudge]) throws(FilterError) {
        guard !judges.isEmpty else { throw .judge("a combined judge needs at least one judge") }
        self.judges = judges
    }

    public func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
        let all = try judges.map { judge in
            let scores = try judge.score(conversations)
            guard scores.count == conversations.count else {
                throw FilterError.judge("\(judge.summary) returned \(scores.count) scores for \(conversations.count) conversations")
            }
            return scores
        }
        return conversations.indices.map { i in
            JudgeScore(unsafeProbability: all.reduce(0) { $0 + $1[i].unsafeProbability } / Double(all.count),
                       category: all[0][i].category, truncated: all.contains { $0[i].truncated })
        }
    }
}
