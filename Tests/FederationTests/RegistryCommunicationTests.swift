import Foundation
import Federation
import Testing

@Suite struct RegistryTests {
    func decode(_ json: String) throws -> StrategyConfiguration {
        try JSONDecoder().decode(StrategyConfiguration.self, from: Data(json.utf8))
    }

    @Test func everyNameBuildsItsStrategy() throws {
        #expect(StrategyRegistry.names == ["fedadagrad", "fedadam", "fedavg", "fedavgm", "fedprox", "fedyogi", "scaffold"])
        for name in StrategyRegistry.names {
            let extra = name == "scaffold" ? ", \"total_clients\": 10" : ""
            let configuration = try decode("{\"name\": \"\(name)\"\(extra)}")
            #expect(configuration.name == name)
            #expect(configuration.makeStrategy().name == name)
        }
    }

    @Test func valuesOverrideFlowerDefaults() throws {
        let configuration = try decode(#"{"name": "fedadam", "eta": 0.01, "bias_correction": false}"#)
        #expect(configuration == .fedAdam(try AdaptiveParameters(eta: 0.01, tau: 1e-9, beta1: 0.9, beta2: 0.99),
                                         biasCorrection: false))
        let yogi = try decode(#"{"name": "fedyogi"}"#)
        #expect(yogi == .fedYogi(.fedYogiDefaults))
        // Encoding round-trips.
        #expect(try decode(String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)) == configuration)
    }

    @Test func errorsNameTheKeyAndAllowedValues() throws {
        #expect(federationError { _ = try decode(#"{"name": "fedsgd"}"#) }
            == .unknownName(key: "strategy.name", value: "fedsgd", allowed: StrategyRegistry.names))
        #expect(federationError { _ = try decode(#"{"name": "fedyogi", "beta_1": 1.5}"#) }
            == .invalidParameter(key: "beta_1", value: "1.5", allowed: "[0, 1)"))
        #expect(try decode(#"{"name": "fedprox", "mu": 0}"#).warnings.count == 1)
    }
}

@Suite struct CommunicationTests {
    @Test func countsFloat32BytesBothWays() throws {
        // Prepare: a 3-element global (12 bytes), 4 clients sampled, 3 replies.
        let global = try vector([0, 0, 0])
        let replies = try (0..<3).map { try reply($0, [1, 1, 1]) }
        // Execute
        let plain = RoundCommunication(round: 1, global: global, configuration: RoundConfiguration(round: 1),
                                       sampledClients: 4, replies: replies)
        let scaffold = RoundCommunication(
            round: 2, global: global,
            configuration: RoundConfiguration(round: 2, objective: .scaffold(serverControl: .zeros(like: global))),
            sampledClients: 4,
            replies: replies.map { var r = $0; r.controlVariateDelta = global; return r })
        var ledger = CommunicationLedger()
        ledger.record(plain)
        ledger.record(scaffold)
        // Assert
        #expect(plain.downloadBytes == 48 && plain.uploadBytes == 36)
        #expect(scaffold.downloadBytes == 96 && scaffold.uploadBytes == 72)
        #expect(ledger.totalDownloadBytes == 144 && ledger.totalUploadBytes == 108 && ledger.totalBytes == 252)
        #expect(ledger.totalMegabytes == 252e-6)
    }
}

@Suite struct PolicyRegistryTests {
    func decode(_ json: String) throws -> PolicyConfiguration {
        try JSONDecoder().decode(PolicyConfiguration.self, from: Data(json.utf8))
    }

    @Test func policiesWrapAnyStrategy() throws {
        // Prepare: FedAvg inside multi-Krum inside a screen, as a run configuration lists them.
        let policies = try [
            decode(#"{"name": "multi_krum", "byzantine_count": 1, "select_count": 4}"#),
            decode(#"{"name": "screen", "minimum_replies": 2}"#),
        ]
        var strategy: any Strategy = StrategyConfiguration.fedAvg.makeStrategy()
        for policy in policies { strategy = try policy.wrap(strategy) }
        // Execute
        let replies = try [[0, 0], [1, 0], [0, 1], [1, 1], [10, 10]].enumerated().map { try reply($0.offset, $0.element) }
        let outcome = try strategy.aggregate(global: try vector([0, 0]), replies: replies, round: 1)
        // Assert
        #expect(strategy.name == "screened(multi_krum(fedavg))")
        #expect(outcome.global.values == [0.5, 0.5])
    }

    @Test func policyErrorsNameTheKey() throws {
        #expect(federationError { _ = try decode(#"{"name": "bulyan"}"#) }
            == .unknownName(key: "policy.name", value: "bulyan", allowed: PolicyRegistry.names))
        #expect(federationError { _ = try decode(#"{"name": "clip", "max_norm": -1}"#) }
            == .invalidParameter(key: "max_norm", value: "-1.0", allowed: "finite, > 0"))
        let dp = try decode(#"{"name": "dp_fedavg", "clipping_norm": 1, "noise_multiplier": 0.8, "sampling_rate": 0.1}"#)
        #expect(dp == .dpFedAvg(try DPFedAvgParameters(clippingNorm: 1, noiseMultiplier: 0.8, samplingRate: 0.1,
                                                       delta: 1e-5, seed: 0)))
        #expect(try decode(String(decoding: try JSONEncoder().encode(dp), as: UTF8.self)) == dp)
    }
}
