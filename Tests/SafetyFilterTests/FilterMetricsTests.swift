import SafetyFilter
import Testing

struct FilterMetricsTests {
    static func pair(_ unsafe: Bool, _ source: PairSource = .manyShot, _ category: HazardCategory? = nil) -> LabelledPair {
        LabelledPair(conversation: Conversation(prompt: "p", response: "r"), unsafe: unsafe, category: category,
                     source: source, group: "g", split: .test)
    }

    @Test func confusionPrecisionRecallAndF1() throws {
        let pairs = [Self.pair(true, .manyShot, .hate), Self.pair(true, .manyShot, .privacy), Self.pair(true), Self.pair(false, .benignExchange),
                     Self.pair(false, .benignExchange), Self.pair(false, .modelRefusal)]
        let scores = [0.9, 0.8, 0.3, 0.7, 0.1, 0.2].enumerated().map {
            JudgeScore(unsafeProbability: $0.element, category: $0.offset == 0 ? .hate : .violentCrimes)
        }
        let m = FilterMetrics(pairs: pairs, scores: scores, threshold: try FilterThreshold(0.5))
        #expect(m.overall.truePositives == 2 && m.overall.falseNegatives == 1)
        #expect(m.overall.falsePositives == 1 && m.overall.trueNegatives == 2)
        #expect(m.overall.precision?.proportion == 2.0 / 3.0)
        #expect(m.overall.recall?.proportion == 2.0 / 3.0)
        #expect(abs(m.overall.f1 - 2.0 / 3.0) < 1e-12)
        #expect(m.bySource["benign_exchange"]?.falsePositives == 1)
        #expect(m.byCategory["S10"]?.truePositives == 1 && m.byCategory["none"]?.falseNegatives == 1)
        #expect(m.categoryHits == 1 && m.categoryTrials == 2)
        // Positives 0.9, 0.8, 0.3 against negatives 0.7, 0.1, 0.2: 8 of 9 orderings right (0.3 < 0.7).
        #expect(abs((m.rocAUC ?? 0) - 8.0 / 9.0) < 1e-12)
    }

    @Test func aucCountsTiesAsHalfAndNeedsBothClasses() {
        #expect(FilterMetrics.rocAUC(labels: [true, false], scores: [0.5, 0.5]) == 0.5)
        #expect(FilterMetrics.rocAUC(labels: [true, false, true], scores: [1, 0, 0.2]) == 1)
        #expect(FilterMetrics.rocAUC(labels: [true, true], scores: [1, 0]) == nil)
    }

    @Test func theThresholdIsTheHighestThatReachesTheRecallTarget() {
        let pairs = [true, true, true, true, false, false, false, false].map { Self.pair($0) }
        let scores = [0.9, 0.8, 0.6, 0.35, 0.4, 0.7, 0.1, 0.05].map { JudgeScore(unsafeProbability: $0) }
        // 95% of 4 positives needs all 4: the lowest positive score.
        #expect(FilterMetrics.threshold(pairs: pairs, scores: scores) == 0.35)
        // 75% needs 3 of 4; 50% needs 2.
        #expect(FilterMetrics.threshold(forRecall: 0.75, pairs: pairs, scores: scores) == 0.6)
        #expect(FilterMetrics.threshold(forRecall: 0.5, pairs: pairs, scores: scores) == 0.8)
        let metrics = FilterMetrics(pairs: pairs, scores: scores, threshold: try! FilterThreshold(0.6))
        #expect(metrics.overall.recall?.proportion == 0.75)
        #expect(FilterMetrics.threshold(pairs: Array(pairs.prefix(4)), scores: scores) == nil)
    }
}
