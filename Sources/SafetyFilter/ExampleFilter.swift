// The filter's decision on chat training examples: every (user, assistant) exchange of an example
// is judged, and an example with any exchange at or above the threshold is removed. Used by the
// federated run's client data hook and by `fedguard filter apply`.

import Foundation
import Training

/// The filter's decision on one example.
public struct ExampleDecision: Sendable, Equatable, Codable {
    /// The highest P(unsafe) over the example's exchanges (0 for an example without one).
    public var unsafeProbability: Double
    /// The judge's category for that exchange.
    public var category: HazardCategory?
    /// Whether the example is removed.
    public var removed: Bool
    /// Exchanges judged.
    public var exchanges: Int
    /// Whether any exchange was truncated to fit the judge.
    public var truncated: Bool
}

/// Judges chat examples in batches and decides which to remove.
public struct ExampleFilter {
    /// The judge.
    public let judge: any SafetyJudge
    /// The decision threshold.
    public let threshold: FilterThreshold
    /// Exchanges judged together.
    public let batchSize: Int

    /// Creates a filter.
    public init(judge: any SafetyJudge, threshold: FilterThreshold, batchSize: Int = 32) {
        self.judge = judge
        self.threshold = threshold
        self.batchSize = max(batchSize, 1)
    }

    /// The (prompt, response) exchanges of an example: each assistant message with the user message
    /// before it (an assistant message without one is judged with an empty prompt).
    public static func exchanges(of example: SFTExample) -> [Conversation] {
        var result: [Conversation] = []
        var lastUser = ""
        for message in example.messages {
            switch message.role {
            case .user: lastUser = message.content
            case .assistant: result.append(Conversation(prompt: lastUser, response: message.content))
            default: break
            }
        }
        return result
    }

    /// One decision per example, in order. A judge that returns the wrong number of scores or a
    /// score outside [0, 1] is an error (never a silently kept or dropped example).
    public func decide(_ examples: [SFTExample]) throws -> [ExampleDecision] {
        let perExample = examples.map(Self.exchanges(of:))
        let flat = perExample.flatMap { $0 }
        var scores: [JudgeScore] = []
        scores.reserveCapacity(flat.count)
        for start in stride(from: 0, to: flat.count, by: batchSize) {
            let batch = Array(flat[start..<min(start + batchSize, flat.count)])
            let batchScores = try judge.score(batch)
            guard batchScores.count == batch.count else {
                throw FilterError.judge("\(judge.summary) returned \(batchScores.count) scores for \(batch.count) exchanges")
            }
            if let bad = batchScores.first(where: { !($0.unsafeProbability.isFinite && (0...1).contains($0.unsafeProbability)) }) {
                throw FilterError.judge("\(judge.summary) returned P(unsafe) = \(bad.unsafeProbability), outside [0, 1]")
            }
            scores += batchScores
        }
        var decisions: [ExampleDecision] = []
        decisions.reserveCapacity(examples.count)
        var offset = 0
        for exchanges in perExample {
            let exampleScores = scores[offset..<(offset + exchanges.count)]
            offset += exchanges.count
            let worst = exampleScores.max { $0.unsafeProbability < $1.unsafeProbability }
            decisions.append(ExampleDecision(unsafeProbability: worst?.unsafeProbability ?? 0, category: worst?.category,
                                             removed: worst.map(threshold.isUnsafe) ?? false, exchanges: exchanges.count,
                                             truncated: exampleScores.contains { $0.truncated }))
        }
        return decisions
    }
}
