// The client-side safety filter as a client data hook: before local training, the client's judge
// scores every (user, assistant) exchange of every example and removes the unsafe examples
// (``ExampleFilter``). Nothing leaves the client but the counts.

import Foundation
import Logging
import SafetyFilter
import Training

/// Removes a client's harmful training examples with a ``SafetyJudge``.
///
/// Metrics (summed over a round's clients in the round record under `hooks.filter`): `seen`,
/// `removed`, `kept`, `exchanges` (judged), `truncated` (examples whose judge input was cut to
/// fit), `removed_S1` … `removed_S14` (the judge's category of each removed example), `seconds`.
/// The judge is deterministic, so a resumed round removes the same examples; for the same reason a
/// client's decisions are kept (in memory) and reused when the client is sampled again with the
/// same examples (`cached` counts those clients; their `seconds` is the lookup).
public final class SafetyFilterHook: ClientDataHook {
    /// The decision rule and its judge.
    public let filter: ExampleFilter
    private var decided: [Int: (examples: [SFTExample], decisions: [ExampleDecision])] = [:]

    public var name: String { "filter" }

    /// Creates the hook.
    public init(filter: ExampleFilter) { self.filter = filter }

    public func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        let start = Date()
        let decisions: [ExampleDecision]
        var cached = 0.0
        if let previous = decided[context.clientID], previous.examples == examples {
            decisions = previous.decisions
            cached = 1
        } else {
            decisions = try filter.decide(examples)
            decided[context.clientID] = (examples, decisions)
        }
        var metrics: [String: Double] = [
            "cached": cached,
            "seen": Double(examples.count), "removed": 0,
            "exchanges": Double(decisions.reduce(0) { $0 + $1.exchanges }),
            "truncated": Double(decisions.filter(\.truncated).count),
        ]
        var kept: [SFTExample] = []
        for (example, decision) in zip(examples, decisions) {
            if decision.removed {
                metrics["removed", default: 0] += 1
                metrics["removed_" + (decision.category?.code ?? "uncategorised"), default: 0] += 1
            } else {
                kept.append(example)
            }
        }
        metrics["kept"] = Double(kept.count)
        metrics["seconds"] = Date().timeIntervalSince(start)
        context.logger.info("safety filter", metadata: [
            "client": "\(context.clientID)", "round": "\(context.round)", "seen": "\(examples.count)",
            "removed": "\(examples.count - kept.count)",
        ])
        return PreparedExamples(examples: kept, metrics: metrics)
    }
}
