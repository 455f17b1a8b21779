import Federation
import Testing

@Suite struct FedAvgTests {
    @Test func weightsByExampleCount() throws {
        // Prepare
        var strategy = FedAvg()
        let global = try vector([0, 0, 0])
        let replies = [try reply(1, [1, 2, 3], examples: 1), try reply(2, [3, 4, 5], examples: 3)]
        // Execute
        let outcome = try strategy.aggregate(global: global, replies: replies, round: 1)
        // Assert: (1·x₁ + 3·x₂) / 4
        #expect(outcome.isUpdated)
        #expect(isClose(outcome.global.values, [2.5, 3.5, 4.5]))
        #expect(outcome.acceptedClientIDs == [1, 2])
    }

    @Test func oneClientGivesThatClientsParameters() throws {
        var strategy = FedAvg()
        let only = try reply(7, [0.1, -2.5, 9], examples: 13)
        let outcome = try strategy.aggregate(global: try vector([5, 5, 5]), replies: [only], round: 1)
        #expect(outcome.global == only.parameters)
    }

    @Test func metricsAreExampleWeighted() throws {
        var strategy = FedAvg()
        let replies = [try reply(1, [0, 0], examples: 1, metrics: ["loss": 1]),
                       try reply(2, [0, 0], examples: 3, metrics: ["loss": 3])]
        let outcome = try strategy.aggregate(global: try vector([0, 0]), replies: replies, round: 1)
        #expect(outcome.metrics["loss"] == 2.5)
        let evaluation = strategy.aggregateEvaluation(
            [ClientEvaluation(clientID: 1, exampleCount: 1, metrics: ["acc": 0]),
             ClientEvaluation(clientID: 2, exampleCount: 1, metrics: ["acc": 1])], round: 1)
        #expect(evaluation["acc"] == 0.5)
    }

    @Test func emptyRoundKeepsGlobal() throws {
        var strategy = FedAvg()
        let global = try vector([1, 2])
        let outcome = try strategy.aggregate(global: global, replies: [], round: 1)
        #expect(outcome.status == .keptPrevious(.tooFewValidReplies(valid: 0, required: 1)))
        #expect(outcome.global == global)
    }
}

@Suite struct RobustAggregationTests {
    let clients: [[Float]] = [[1, 10, -1], [2, 20, 0], [100, -5, 1]]

    @Test func coordinateMedianOddAndEven() throws {
        // Odd n: middle value of each coordinate.
        let odd = try Aggregation.coordinateMedian(clients.map(vector))
        #expect(odd.values == [2, 10, 0])
        // Even n: mean of the two middle values (numpy.median).
        let even = try Aggregation.coordinateMedian((clients + [[3, 0, 2]]).map(vector))
        #expect(even.values == [2.5, 5, 0.5])
    }

    @Test func trimmedMeanCutsBothEnds() throws {
        // n = 5, β = 0.2 → cut ⌊1⌋ at each end, average the middle three.
        let maps = try (clients + [[3, 0, 2], [4, 30, 3]]).map(vector)
        let trimmed = try Aggregation.trimmedMean(maps, beta: 0.2)
        #expect(isClose(trimmed.values, [3, 10, 1]))
        // β = 0 is the plain mean.
        #expect(isClose(try Aggregation.trimmedMean(maps, beta: 0).values, [22, 11, 1]))
        #expect(federationError { _ = try Aggregation.trimmedMean(maps, beta: 0.5) }
            == .invalidParameter(key: "beta", value: "0.5", allowed: "[0, 0.5)"))
    }

    @Test func medianPolicyResistsOutlier() throws {
        var strategy = MedianStrategy(base: FedAvg())
        let replies = try clients.enumerated().map { try reply($0.offset, $0.element) }
        let outcome = try strategy.aggregate(global: try vector([0, 0, 0]), replies: replies, round: 1)
        #expect(outcome.global.values == [2, 10, 0])
        #expect(outcome.acceptedClientIDs == [0, 1, 2])
    }

    @Test func trimmedMeanPolicyDelegates() throws {
        var strategy = try TrimmedMeanStrategy(base: FedAvg(), beta: 0.2)
        let replies = try (clients + [[3, 0, 2], [4, 30, 3]]).enumerated().map { try reply($0.offset, $0.element) }
        let outcome = try strategy.aggregate(global: try vector([0, 0, 0]), replies: replies, round: 1)
        #expect(isClose(outcome.global.values, [3, 10, 1]))
    }

    /// Four points on a unit square and one outlier at (10, 10); n = 5, f = 1 → 2 neighbours.
    let square: [[Float]] = [[0, 0], [1, 0], [0, 1], [1, 1], [10, 10]]

    @Test func krumScoresByHand() throws {
        let scores = try Aggregation.krumScores(square.map(vector), byzantineCount: 1)
        // a: {1,1,2,200} → 2; b, c, d likewise 2; e: {162,181,181,200} → 162 + 181.
        #expect(scores == [2, 2, 2, 2, 343])
    }

    @Test func krumPicksACentralReply() throws {
        var strategy = try KrumStrategy(base: FedAvg(), byzantineCount: 1)
        let replies = try square.enumerated().map { try reply($0.offset, $0.element) }
        let outcome = try strategy.aggregate(global: try vector([0, 0]), replies: replies, round: 1)
        #expect(outcome.global.values == [0, 0])  // ties break to the lowest index
        #expect(outcome.acceptedClientIDs == [0])
        #expect(outcome.metrics["krum.dropped_count"] == 4)
        #expect(strategy.warning(replyCount: 5) == nil)
        #expect(strategy.warning(replyCount: 4) != nil)
    }

    @Test func multiKrumAveragesTheSelected() throws {
        let selection = try Aggregation.multiKrumSelection(square.map(vector), byzantineCount: 1, selectCount: 3)
        #expect(selection == [0, 1, 2])
        var strategy = try KrumStrategy(base: FedAvg(), byzantineCount: 1, selectCount: 4)
        let replies = try square.enumerated().map { try reply($0.offset, $0.element) }
        let outcome = try strategy.aggregate(global: try vector([0, 0]), replies: replies, round: 1)
        #expect(outcome.global.values == [0.5, 0.5])  // the outlier is excluded
        #expect(!outcome.acceptedClientIDs.contains(4))
    }

    @Test func clippingBoundsEachUpdate() throws {
        // Prepare: global (1, 1); updates (3, 4) (norm 5) and (0.3, 0.4) (norm 0.5); C = 1.
        var strategy = try ClippedStrategy(base: FedAvg(), maxNorm: 1)
        let global = try vector([1, 1])
        let replies = [try reply(1, [4, 5]), try reply(2, [1.3, 1.4])]
        // Execute
        let outcome = try strategy.aggregate(global: global, replies: replies, round: 1)
        // Assert: mean of (0.6, 0.8) and (0.3, 0.4), added to the global.
        #expect(isClose(outcome.global.values, [1.45, 1.6]))
        #expect(outcome.metrics["clip.clipped_count"] == 1)
        let (clipped, wasClipped) = Aggregation.clipped(try vector([3, 4]), maxNorm: 1)
        #expect(wasClipped && isClose(clipped.values, [0.6, 0.8]))
    }
}
