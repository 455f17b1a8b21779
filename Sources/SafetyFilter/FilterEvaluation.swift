// A judge's evaluation: the held-out test split and the over-refusal exchanges, at one threshold,
// with its speed.

import Foundation
import SafetyData

/// What `fedguard filter eval` reports for one judge.
public struct FilterEvaluation: Sendable, Codable, Equatable {
    /// The row's name (`embedding`, `guard`, `stock`).
    public var name: String
    /// The judge's description.
    public var judge: String
    /// Metrics on the test split.
    public var test: FilterMetrics
    /// Over-refusal exchanges judged unsafe (false positives) ...
    public var overRefusalFlagged: Int
    /// ... out of this many.
    public var overRefusalTotal: Int
    /// Pairs judged per second (test split and over-refusal exchanges together).
    public var pairsPerSecond: Double
    /// Seconds spent judging.
    public var seconds: Double

    /// The false-positive rate on the over-refusal exchanges with its interval.
    public var overRefusalRate: WilsonInterval? { WilsonInterval(successes: overRefusalFlagged, trials: overRefusalTotal) }

    /// Scores the test split of `data` and its over-refusal exchanges with `judge` at `threshold`.
    public static func run(judge: any SafetyJudge, name: String, threshold: FilterThreshold,
                           data: FilterData) throws -> FilterEvaluation {
        let test = data.pairs.split(.test)
        let start = Date()
        let testScores = try judge.score(test.map(\.conversation))
        let probeScores = try judge.score(data.overRefusalExchanges)
        let seconds = Date().timeIntervalSince(start)
        let judged = test.count + data.overRefusalExchanges.count
        return FilterEvaluation(name: name, judge: judge.summary,
                                test: FilterMetrics(pairs: test, scores: testScores, threshold: threshold),
                                overRefusalFlagged: probeScores.filter(threshold.isUnsafe).count,
                                overRefusalTotal: probeScores.count,
                                pairsPerSecond: seconds > 0 ? Double(judged) / seconds : 0, seconds: seconds)
    }
}
