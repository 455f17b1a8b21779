// How well a judge separates unsafe from safe pairs: the confusion matrix at a threshold,
// precision / recall / F1 with Wilson intervals, ROC-AUC, and the same per source and per
// hazard category; plus threshold choice on a validation split.

import Foundation
import SafetyData

/// A judge's scores on labelled pairs, summarised at one threshold.
public struct FilterMetrics: Sendable, Codable, Equatable {
    /// Counts at the threshold.
    public struct Confusion: Sendable, Codable, Equatable {
        /// Unsafe pairs judged unsafe.
        public var truePositives = 0
        /// Safe pairs judged unsafe.
        public var falsePositives = 0
        /// Safe pairs judged safe.
        public var trueNegatives = 0
        /// Unsafe pairs judged safe.
        public var falseNegatives = 0

        /// Creates counts.
        public init() {}

        /// All pairs.
        public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
        /// TP / (TP + FP) with its interval.
        public var precision: WilsonInterval? { WilsonInterval(successes: truePositives, trials: truePositives + falsePositives) }
        /// TP / (TP + FN) with its interval.
        public var recall: WilsonInterval? { WilsonInterval(successes: truePositives, trials: truePositives + falseNegatives) }
        /// FP / (FP + TN) with its interval.
        public var falsePositiveRate: WilsonInterval? {
            WilsonInterval(successes: falsePositives, trials: falsePositives + trueNegatives)
        }
        /// The harmonic mean of precision and recall (0 when either is undefined).
        public var f1: Double {
            let denominator = 2 * truePositives + falsePositives + falseNegatives
            return denominator == 0 ? 0 : Double(2 * truePositives) / Double(denominator)
        }

        mutating func record(unsafe: Bool, judgedUnsafe: Bool) {
            switch (unsafe, judgedUnsafe) {
            case (true, true): truePositives += 1
            case (false, true): falsePositives += 1
            case (false, false): trueNegatives += 1
            case (true, false): falseNegatives += 1
            }
        }
    }

    /// The threshold the counts are taken at.
    public var threshold: Double
    /// Counts over every pair.
    public var overall: Confusion
    /// ROC-AUC over every pair (nil without both classes).
    public var rocAUC: Double?
    /// Counts per source (``PairSource`` raw value).
    public var bySource: [String: Confusion]
    /// Counts per hazard category of the unsafe pairs (recall per category; `none` for pairs
    /// without one).
    public var byCategory: [String: Confusion]
    /// Unsafe pairs judged unsafe whose predicted category matches the labelled one ...
    public var categoryHits: Int
    /// ... out of the unsafe pairs judged unsafe that have a labelled category.
    public var categoryTrials: Int
    /// ``categoryHits`` / ``categoryTrials`` with its interval.
    public var categoryAccuracy: WilsonInterval? { WilsonInterval(successes: categoryHits, trials: categoryTrials) }
    /// Scores whose input was truncated to fit the judge.
    public var truncated: Int

    /// Summarises `scores` (one per pair, in order) at `threshold`.
    public init(pairs: [LabelledPair], scores: [JudgeScore], threshold: FilterThreshold) {
        precondition(pairs.count == scores.count, "one score per pair")
        self.threshold = threshold.value
        var overall = Confusion(), bySource: [String: Confusion] = [:], byCategory: [String: Confusion] = [:]
        var categoryHits = 0, categoryTrials = 0
        for (pair, score) in zip(pairs, scores) {
            let judged = threshold.isUnsafe(score)
            overall.record(unsafe: pair.unsafe, judgedUnsafe: judged)
            bySource[pair.source.rawValue, default: Confusion()].record(unsafe: pair.unsafe, judgedUnsafe: judged)
            if pair.unsafe {
                byCategory[pair.category?.code ?? "none", default: Confusion()].record(unsafe: true, judgedUnsafe: judged)
                if judged, let labelled = pair.category {
                    categoryTrials += 1
                    if score.category == labelled { categoryHits += 1 }
                }
            }
        }
        self.overall = overall
        self.bySource = bySource
        self.byCategory = byCategory
        self.rocAUC = Self.rocAUC(labels: pairs.map(\.unsafe), scores: scores.map(\.unsafeProbability))
        self.categoryHits = categoryHits
        self.categoryTrials = categoryTrials
        self.truncated = scores.filter(\.truncated).count
    }

    /// The area under the ROC curve: the probability that a random unsafe pair scores above a
    /// random safe one, ties counting one half (the Mann-Whitney U statistic over n₊·n₋).
    /// reference: Hanley & McNeil 1982, Radiology 143(1).
    public static func rocAUC(labels: [Bool], scores: [Double]) -> Double? {
        let positives = labels.filter { $0 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        // Average ranks over ties, then U = R₊ − n₊(n₊+1)/2.
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        let positiveRankSum = zip(labels, ranks).reduce(0.0) { $0 + ($1.0 ? $1.1 : 0) }
        let u = positiveRankSum - Double(positives) * Double(positives + 1) / 2
        return u / (Double(positives) * Double(negatives))
    }

    /// The recall a judge's threshold is chosen for: the filter's target operating point (≥ 95%
    /// of harmful pairs caught, with as few benign ones dropped as that allows).
    public static let targetRecall = 0.95
    /// How a saved judge's threshold was chosen, for its record.
    public static let thresholdRule = "the highest with 95% recall on the validation split"

    /// The threshold chosen on `pairs` (a validation split): the highest score at which recall
    /// reaches `recall`, so precision is as high as that recall allows. Nil without both classes.
    ///
    /// Until judges reached the target's neighbourhood the rule was F2-optimal; on the labelled set
    /// (seed 1) F2 chose thresholds with 97-98% validation recall and 77-80% test precision, while
    /// this rule, which states the target directly, gave 95% and 88% for the same embedding judge.
    public static func threshold(forRecall recall: Double = targetRecall, pairs: [LabelledPair], scores: [JudgeScore]) -> Double? {
        let positives = pairs.indices.filter { pairs[$0].unsafe }.map { scores[$0].unsafeProbability }.sorted(by: >)
        guard !positives.isEmpty, positives.count < pairs.count else { return nil }
        // The k-th highest positive score with k / P ≥ recall.
        let needed = min(max(Int((recall * Double(positives.count)).rounded(.up)), 1), positives.count)
        return positives[needed - 1]
    }
}
