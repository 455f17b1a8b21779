import Federation
import Testing

@Suite struct ScreeningTests {
    @Test func badUpdatesAreRejectedAndCounted() throws {
        // Prepare: two good replies and one of each kind of bad reply; norm bound 10.
        var strategy = ScreenedStrategy(base: FedAvg(), screen: ReplyScreen(minimumReplies: 2, maxUpdateNorm: 10))
        let global = try vector([0, 0, 0])
        let wrongShape = ClientReply(clientID: 4, parameters: try TensorMap([("a", [3], [0, 0, 0]), ("b", [1], [0])]),
                                     exampleCount: 1)
        let wrongName = ClientReply(clientID: 5, parameters: try TensorMap([("a", [2], [0, 0]), ("c", [1], [0])]),
                                    exampleCount: 1)
        let extraName = ClientReply(
            clientID: 6, parameters: try TensorMap([("a", [2], [0, 0]), ("b", [1], [0]), ("z", [1], [0])]),
            exampleCount: 1)
        let replies = [
            try reply(1, [1, 1, 1]), try reply(2, [3, 3, 3]),
            try reply(3, [1, .nan, 1]), wrongShape, wrongName, extraName,
            try reply(7, [100, 0, 0]), try reply(8, [1, 1, 1], examples: 0), try reply(1, [2, 2, 2]),
        ]
        // Execute
        let outcome = try strategy.aggregate(global: global, replies: replies, round: 1)
        // Assert
        #expect(outcome.isUpdated)
        #expect(outcome.acceptedClientIDs == [1, 2])
        #expect(isClose(outcome.global.values, [2, 2, 2]))
        #expect(outcome.rejections.map(\.reason) == [
            .nonFinite(tensor: "a", index: 1),
            .shapeMismatch(tensor: "a", expected: [2], found: [3]),
            .missingTensor("b"),
            .unexpectedTensor("z"),
            .normExceeded(norm: 100, bound: 10),
            .nonPositiveExampleCount(0),
            .duplicateClient,
        ])
        #expect(outcome.rejectionCounts[.nonFinite] == 1)
        #expect(outcome.rejectionCounts.values.reduce(0, +) == 7)
        #expect(strategy.tally.rejections[.normExceeded] == 1)
    }

    @Test func tooFewValidRepliesKeepsPreviousGlobal() throws {
        // Prepare
        var strategy = ScreenedStrategy(base: FedAdam(), screen: ReplyScreen(minimumReplies: 2))
        let global = try vector([1, 2, 3])
        let replies = [try reply(1, [1, 1, 1]), try reply(2, [.infinity, 0, 0])]
        // Execute
        let outcome = try strategy.aggregate(global: global, replies: replies, round: 1)
        // Assert
        #expect(outcome.status == .keptPrevious(.tooFewValidReplies(valid: 1, required: 2)))
        #expect(outcome.global == global)
        #expect(outcome.rejections.count == 1)
        #expect(strategy.tally.keptRounds == 1)
        #expect(strategy.base.moments.first == nil)  // the optimiser did not step
        // The tally survives a checkpoint.
        var resumed = ScreenedStrategy(base: FedAdam(), screen: ReplyScreen(minimumReplies: 2))
        try resumed.restoreState(from: try strategy.encodedState())
        #expect(resumed.tally == strategy.tally)
    }

    @Test func coreStrategiesRejectMalformedRepliesWithoutThrowing() throws {
        var strategy = FedAvg()
        let outcome = try strategy.aggregate(
            global: try vector([0, 0]), replies: [try reply(1, [1, 1]), try reply(2, [1, 1, 1])], round: 1)
        #expect(outcome.acceptedClientIDs == [1])
        #expect(outcome.rejections == [Rejection(clientID: 2, reason: .shapeMismatch(tensor: "a", expected: [1], found: [2]))])
    }
}
