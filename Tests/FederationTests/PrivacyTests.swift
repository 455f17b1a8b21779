import Foundation
import Federation
import Testing

@Suite struct AccountantTests {
    @Test func gaussianClosedForm() throws {
        // ε(α) = α / (2σ²); e.g. α = 20, σ = 10 → 0.1 (TF-Privacy rdp_accountant_test).
        #expect(abs(RDPAccountant.gaussianRDP(order: 20, noiseMultiplier: 10) - 0.1) < 1e-15)
        // q = 1 takes the same path through the subsampled formula.
        #expect(RDPAccountant.subsampledGaussianRDP(order: 7, noiseMultiplier: 2, samplingRate: 1) == 7.0 / 8)
        // The binomial expansion with q = 1 − 1e-12 approaches the closed form.
        let nearlyFull = RDPAccountant.subsampledGaussianRDP(order: 7, noiseMultiplier: 2, samplingRate: 1 - 1e-12)
        #expect(abs(nearlyFull - 7.0 / 8) < 1e-9)
        #expect(RDPAccountant.subsampledGaussianRDP(order: 7, noiseMultiplier: 2, samplingRate: 0) == 0)
    }

    /// Published values from TF-Privacy `compute_dp_sgd_privacy_test.py`:
    /// (n, batch, σ, epochs, δ) → (ε, optimal order), with steps = epochs·n/batch, q = batch/n.
    @Test(arguments: [
        (60000.0, 150.0, 1.3, 15.0, 1e-5, 0.7242234026109595, 19),
        (100000.0, 100.0, 1.0, 30.0, 1e-7, 1.4154988495444842, 13),
    ])
    func matchesTFPrivacy(
        _ example: (Double, Double, Double, Double, Double, Double, Int)
    ) throws {
        // Prepare
        let (n, batch, sigma, epochs, delta, expectedEpsilon, expectedOrder) = example
        var accountant = try RDPAccountant()
        // Execute
        try accountant.compose(noiseMultiplier: sigma, samplingRate: batch / n, steps: Int(epochs * n / batch))
        let (epsilon, order) = try accountant.epsilon(delta: delta)
        // Assert
        #expect(abs(epsilon - expectedEpsilon) < 1e-7)
        #expect(order == expectedOrder)
    }

    @Test func compositionIsAdditive() throws {
        var once = try RDPAccountant(), stepwise = try RDPAccountant()
        try once.compose(noiseMultiplier: 1.1, samplingRate: 0.01, steps: 10)
        for _ in 0..<10 { try stepwise.compose(noiseMultiplier: 1.1, samplingRate: 0.01) }
        for (a, b) in zip(once.rdp, stepwise.rdp) { #expect(abs(a - b) <= 1e-12 * max(1, abs(a))) }
        #expect(stepwise.steps == 10)
        #expect(federationError { _ = try once.epsilon(delta: 0) }
            == .invalidParameter(key: "delta", value: "0.0", allowed: "(0, 1)"))
    }
}

@Suite struct DPFedAvgTests {
    func parameters(sigma: Double = 1, clip: Double = 1, seed: UInt64 = 42) throws -> DPFedAvgStrategy<FedAvg>.Parameters {
        try .init(clippingNorm: clip, noiseMultiplier: sigma, samplingRate: 0.1, delta: 1e-5, seed: seed)
    }

    @Test func noiseStandardDeviationIsSigmaTimesClipOverN() throws {
        // Prepare: 4 replies equal to the global (zero updates) over 20 000 coordinates, σ = 1, C = 1.
        let strategy = try DPFedAvgStrategy(base: FedAvg(), parameters: parameters())
        let global = try TensorMap([("w", [20_000], [Float](repeating: 0, count: 20_000))])
        let replies = (0..<4).map { ClientReply(clientID: $0, parameters: global, exampleCount: 1) }
        // Execute
        let (noise, _) = try strategy.noisyMeanUpdate(global: global, replies: replies, round: 1)
        // Assert: sample mean ≈ 0 and sample stddev ≈ σC/n = 0.25 (standard error ≈ 0.0013).
        let values = noise.values.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        #expect(strategy.noiseStandardDeviation(replyCount: 4) == 0.25)
        #expect(abs(mean) < 0.01)
        #expect(abs(std - 0.25) < 0.01)
    }

    @Test func noiseIsDeterministicPerSeedAndRound() throws {
        let strategy = try DPFedAvgStrategy(base: FedAvg(), parameters: parameters())
        let global = try vector([0, 0, 0, 0])
        let replies = [ClientReply(clientID: 0, parameters: global, exampleCount: 1)]
        let a = try strategy.noisyMeanUpdate(global: global, replies: replies, round: 3).update
        let b = try strategy.noisyMeanUpdate(global: global, replies: replies, round: 3).update
        let c = try strategy.noisyMeanUpdate(global: global, replies: replies, round: 4).update
        #expect(a == b)
        #expect(a != c)
    }

    @Test func clipsNoisesAndAccountsEachRound() throws {
        // Prepare: σ = 0 isolates clipping (C = 1): updates (3, 4) and (0, 0.5) → mean of (0.6,0.8),(0,0.5)
        var strategy = try DPFedAvgStrategy(base: FedAvg(), parameters: parameters(sigma: 0))
        let global = try vector([0, 0])
        let outcome = try strategy.aggregate(global: global, replies: [try reply(1, [3, 4]), try reply(2, [0, 0.5], examples: 9)],
                                             round: 1)
        // Assert: uniform weights, not example counts.
        #expect(isClose(outcome.global.values, [0.3, 0.65]))
        #expect(outcome.metrics["clip.clipped_count"] == 1)
        #expect(outcome.acceptedClientIDs == [1, 2])
        // With noise, the accountant composes one step per round and reports ε.
        var noisy = try DPFedAvgStrategy(base: FedAvg(), parameters: parameters(sigma: 1.0))
        var expected = try RDPAccountant()
        for round in 1...3 {
            let result = try noisy.aggregate(global: global, replies: [try reply(1, [1, 0])], round: round)
            try expected.compose(noiseMultiplier: 1.0, samplingRate: 0.1)
            let privacy = try #require(result.privacy)
            #expect(privacy.rounds == round)
            #expect(privacy.epsilon == (try expected.epsilon(delta: 1e-5)).epsilon)
        }
        // Resume: restoring the state continues the accountant.
        var resumed = try DPFedAvgStrategy(base: FedAvg(), parameters: parameters(sigma: 1.0))
        try resumed.restoreState(from: try noisy.encodedState())
        #expect(resumed.accountant == noisy.accountant)
    }
}
