import Foundation
import Federation
import Testing

/// Two rounds of a server optimiser on a one-element model: x₀ = 1, client means 1.5 then 1.2.
@Suite struct ServerOptimizerTests {
    var global0: TensorMap { get throws { try TensorMap([("w", [1], [1])]) } }

    func scalarReply(_ value: Float) throws -> [ClientReply] {
        [ClientReply(clientID: 0, parameters: try TensorMap([("w", [1], [value])]), exampleCount: 1)]
    }

    /// Runs two rounds and returns (x₁, x₂).
    func twoRounds<S: Strategy>(_ strategy: inout S) throws -> (Double, Double) {
        let first = try strategy.aggregate(global: try global0, replies: scalarReply(1.5), round: 1)
        let second = try strategy.aggregate(global: first.global, replies: scalarReply(1.2), round: 2)
        return (Double(first.global.values[0]), Double(second.global.values[0]))
    }

    @Test func fedAdamMatchesFlowerFormula() throws {
        // Prepare
        var strategy = FedAdam()
        let (eta, tau, b1, b2) = (0.1, 1e-9, 0.9, 0.99)
        // Execute
        let (x1, x2) = try twoRounds(&strategy)
        // Assert: m = β₁m + (1−β₁)Δ, v = β₂v + (1−β₂)Δ², η_t = η√(1−β₂^(t+1))/(1−β₁^(t+1))
        var m = 0.0, v = 0.0, x = 1.0
        for (t, mean) in [(1, 1.5), (2, 1.2)] {
            let delta = mean - x
            m = b1 * m + (1 - b1) * delta
            v = b2 * v + (1 - b2) * delta * delta
            let etaT = eta * (1 - pow(b2, Double(t + 1))).squareRoot() / (1 - pow(b1, Double(t + 1)))
            x += etaT * m / (v.squareRoot() + tau)
            #expect(abs((t == 1 ? x1 : x2) - x) < 1e-6)
        }
        #expect(abs(x1 - 1.0742459) < 1e-6)  // by hand: 0.1·√0.0199/0.19 · 0.05/0.05
    }

    @Test func fedAdamWithoutBiasCorrection() throws {
        var strategy = FedAdam(.fedAdamDefaults, biasCorrection: false)
        let (x1, _) = try twoRounds(&strategy)
        #expect(abs(x1 - 1.1) < 1e-6)  // 1 + 0.1 · 0.05 / √0.0025
    }

    @Test func fedYogiMatchesFlowerFormula() throws {
        var strategy = FedYogi()
        let (eta, tau, b1, b2) = (0.01, 1e-3, 0.9, 0.99)
        let (x1, x2) = try twoRounds(&strategy)
        var m = 0.0, v = 0.0, x = 1.0
        for (t, mean) in [(1, 1.5), (2, 1.2)] {
            let delta = mean - x
            m = b1 * m + (1 - b1) * delta
            let d2 = delta * delta
            v -= (1 - b2) * d2 * (v - d2 > 0 ? 1 : (v - d2 < 0 ? -1 : 0))
            x += eta * m / (v.squareRoot() + tau)
            #expect(abs((t == 1 ? x1 : x2) - x) < 1e-6)
        }
        #expect(abs(x1 - 1.0098039) < 1e-6)  // 1 + 0.01 · 0.05 / (0.05 + 0.001)
    }

    @Test func fedAdagradMatchesFlowerFormula() throws {
        var strategy = FedAdagrad()
        let (x1, x2) = try twoRounds(&strategy)
        // β₁ = 0: m = Δ; v accumulates Δ².
        let d1 = 0.5, v1 = d1 * d1
        #expect(abs(x1 - (1 + 0.1 * d1 / (v1.squareRoot() + 1e-9))) < 1e-6)
        let d2 = 1.2 - x1, v2 = v1 + d2 * d2
        #expect(abs(x2 - (x1 + 0.1 * d2 / (v2.squareRoot() + 1e-9))) < 1e-6)
    }

    @Test func fedAvgMAppliesMomentum() throws {
        // Prepare: η_s = 1, β = 0.9
        var strategy = FedAvgM(try .init(serverLearningRate: 1, serverMomentum: 0.9))
        // Execute
        let first = try strategy.aggregate(global: try global0, replies: scalarReply(1.5), round: 1)
        let second = try strategy.aggregate(global: first.global, replies: scalarReply(1.7), round: 2)
        // Assert: g₁ = −0.5, v₁ = g₁, x₁ = 1.5; g₂ = 1.5 − 1.7 = −0.2, v₂ = 0.9·(−0.5) − 0.2 = −0.65
        #expect(isClose(first.global.values, [1.5]))
        #expect(isClose(second.global.values, [2.15]))
        #expect(isClose(try #require(strategy.momentum).values, [-0.65]))
    }

    @Test func fedAvgMWithoutMomentumIsFedAvg() throws {
        var strategy = FedAvgM(try .init())
        let replies = [try reply(1, [1, 2, 3], examples: 1), try reply(2, [3, 4, 5], examples: 3)]
        let outcome = try strategy.aggregate(global: try vector([0, 0, 0]), replies: replies, round: 1)
        #expect(isClose(outcome.global.values, [2.5, 3.5, 4.5]))
        #expect(strategy.parameters.warnings.count == 1)
    }

    @Test func checkpointResumeIsBitIdentical() throws {
        // Prepare: one round, checkpoint, restore into a fresh strategy.
        var original = FedYogi()
        let first = try original.aggregate(global: try global0, replies: scalarReply(1.5), round: 1)
        let checkpoint = try original.encodedState()
        var resumed = FedYogi()
        try resumed.restoreState(from: checkpoint)
        // Execute: the same second round on both.
        let a = try original.aggregate(global: first.global, replies: scalarReply(1.2), round: 2)
        let b = try resumed.aggregate(global: first.global, replies: scalarReply(1.2), round: 2)
        // Assert
        #expect(a.global.values.map(\.bitPattern) == b.global.values.map(\.bitPattern))
        #expect(original.state == resumed.state)
    }
}

@Suite struct FedProxAndScaffoldTests {
    @Test func fedProxConfiguresMuAndGradient() throws {
        let strategy = FedProx(try .init(mu: 0.1))
        let global = try vector([1, 1]), local = try vector([2, 0])
        #expect(strategy.configure(round: 3, global: global).objective == .proximal(mu: 0.1))
        #expect(isClose(try FedProx.proximalGradient(local: local, global: global, mu: 0.1).values, [0.1, -0.1]))
        #expect(abs(try FedProx.proximalTerm(local: local, global: global, mu: 0.1) - 0.1) < 1e-12)
        #expect(federationError { _ = try FedProx.Parameters(mu: -1) }
            == .invalidParameter(key: "mu", value: "-1.0", allowed: "finite, >= 0"))
    }

    @Test func scaffoldClientSideFunctions() throws {
        let c = try vector([0.1, 0.2]), ci = try vector([0.3, 0])
        // g − c_i + c
        let corrected = try Scaffold.correctedGradient(try vector([1, 1]), serverControl: c, clientControl: ci)
        #expect(isClose(corrected.values, [0.8, 1.2]))
        // Option II: c_i⁺ = c_i − c + (x − y)/(Kη) with x = (2, 1), y = (1, 1.5), K = 5, η = 0.1
        let updated = try Scaffold.updatedClientControl(
            clientControl: ci, serverControl: c, global: try vector([2, 1]), local: try vector([1, 1.5]),
            localSteps: 5, learningRate: 0.1)
        #expect(isClose(updated.values, [2.2, -1.2], tolerance: 1e-5))
        #expect(isClose(try Scaffold.controlDelta(updated: updated, previous: ci).values, [1.9, -1.2], tolerance: 1e-5))
    }

    @Test func scaffoldServerBookkeepingOverTwoRounds() throws {
        // Prepare: N = 4 clients, η_g = 1
        var strategy = Scaffold(try .init(totalClients: 4))
        let x0 = try vector([0, 0])
        #expect(strategy.configure(round: 1, global: x0).objective == .scaffold(serverControl: .zeros(like: x0)))
        func scaffoldReply(_ id: Int, _ y: [Float], _ dc: [Float]) throws -> ClientReply {
            ClientReply(clientID: id, parameters: try vector(y), exampleCount: 1, controlVariateDelta: try vector(dc))
        }
        // Execute round 1: Δx = mean((1,2),(3,0)) = (2,1); Δc = mean((0.4,0),(0,0.8)) = (0.2,0.4); c += 2/4·Δc
        let r1 = try strategy.aggregate(
            global: x0, replies: [try scaffoldReply(1, [1, 2], [0.4, 0]), try scaffoldReply(2, [3, 0], [0, 0.8])],
            round: 1)
        #expect(isClose(r1.global.values, [2, 1]))
        #expect(isClose(try #require(strategy.serverControl).values, [0.1, 0.2]))
        #expect(strategy.configure(round: 2, global: r1.global).objective == .scaffold(serverControl: try vector([0.1, 0.2])))
        // Round 2: one client; c += 1/4 · (1, 1)
        let checkpoint = try strategy.encodedState()
        let r2 = try strategy.aggregate(global: r1.global, replies: [try scaffoldReply(3, [2, 3], [1, 1])], round: 2)
        #expect(isClose(r2.global.values, [2, 3]))
        #expect(isClose(try #require(strategy.serverControl).values, [0.35, 0.45]))
        // A reply without a control delta is rejected, not aggregated.
        var restored = Scaffold(try .init(totalClients: 4))
        try restored.restoreState(from: checkpoint)
        let r2b = try restored.aggregate(global: r1.global, replies: [try reply(9, [5, 5])], round: 2)
        #expect(!r2b.isUpdated)
        #expect(r2b.rejections.first?.reason == .invalidControlVariate("missing"))
    }
}
