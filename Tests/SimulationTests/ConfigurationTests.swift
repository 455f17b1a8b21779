import Federation
import Foundation
import Simulation
import Testing

struct ConfigurationTests {
    @Test func defaultsAreTheTinyBudget() throws {
        let d = RunConfiguration.defaults
        #expect(d.model == nil && d.clients == 4 && d.clientsPerRound == 2 && d.rounds == 2)
        #expect(d.local.steps == 4 && d.local.tokensPerBatch <= 512 && d.lora.rank == 8)
        #expect(d.lora.targets == [.query, .value])
        #expect(d.strategy == .fedAvg)
        try d.validate()
    }

    @Test func emptyYAMLGivesTheDefaults() throws {
        #expect(try RunConfiguration.load(yaml: "") == RunConfiguration.defaults)
    }

    @Test func shownDefaultsRoundTripWithACommentPerKey() throws {
        let text = try RunConfiguration.defaults.yaml(header: "defaults")
        #expect(try RunConfiguration.load(yaml: text) == RunConfiguration.defaults)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.contains("  # "), "no comment on: \(line)")
        }
        #expect(text.contains("learning_rate: 0.0005"))
    }

    @Test func everyStrategyAndPolicyRoundTrips() throws {
        let yaml = """
        clients: 5
        strategy: {name: fedadam, eta: 0.02, tau: 0.001}
        policies: [clip_placeholder]
        """.replacingOccurrences(of: "clip_placeholder", with: "{name: clip, max_norm: 2.5}")
        let configuration = try RunConfiguration.load(yaml: yaml)
        #expect(configuration.policies == [.clip(maxNorm: 2.5)])
        #expect(configuration.strategy.name == "fedadam")
        #expect(try RunConfiguration.load(yaml: try configuration.yaml()) == configuration)
    }

    @Test func scalarStrategyShorthandAndScaffoldPopulation() throws {
        let configuration = try RunConfiguration.load(yaml: "clients: 6\nclients_per_round: 3\nstrategy: scaffold\n")
        guard case let .scaffold(parameters) = configuration.strategy else {
            Issue.record("expected scaffold, got \(configuration.strategy)")
            return
        }
        #expect(parameters.totalClients == 6)
    }

    @Test func dpFedAvgTakesTheSamplingRateAndSeedOfTheRun() throws {
        let configuration = try RunConfiguration.load(overrides: [
            "clients=8", "clients_per_round=2", "seed=7",
            "policies=[{name: dp_fedavg, clipping_norm: 1.0, noise_multiplier: 0.5}]",
        ])
        guard case let .dpFedAvg(parameters) = configuration.policies.first else {
            Issue.record("expected dp_fedavg")
            return
        }
        #expect(parameters.samplingRate == 0.25 && parameters.seed == 7)
    }

    @Test func setOverridesDottedKeys() throws {
        let base = "rounds: 5\nlocal:\n  steps: 3\nstrategy: {name: fedadam, eta: 0.1}\n"
        let configuration = try RunConfiguration.load(yaml: base, overrides: [
            "rounds=2", "local.steps=7", "lora.targets=[q, k, v, o]", "strategy.eta=0.05", "learning_rate=2e-4",
            "update_norm_bound=3.5", "evaluation.limit=null",
        ])
        #expect(configuration.rounds == 2 && configuration.local.steps == 7)
        #expect(configuration.lora.targets == [.query, .key, .value, .output])
        #expect(configuration.learningRate == 2e-4 && configuration.updateNormBound == 3.5)
        #expect(configuration.evaluation.limit == nil)
        guard case let .fedAdam(parameters, _) = configuration.strategy else {
            Issue.record("expected fedadam")
            return
        }
        #expect(parameters.eta == 0.05)
        // Replacing the strategy by name drops the old parameters.
        let switched = try RunConfiguration.load(yaml: base, overrides: ["strategy=fedyogi"])
        #expect(switched.strategy.name == "fedyogi")
        // Indices reach into lists.
        let listed = try RunConfiguration.load(overrides: ["policies=[{name: clip, max_norm: 1.0}]", "policies.0.max_norm=4"])
        #expect(listed.policies == [.clip(maxNorm: 4)])
    }

    /// Loads and returns the error's message (or nil when it loads).
    func message(yaml: String = "", _ overrides: [String] = []) -> String? {
        do {
            _ = try RunConfiguration.load(yaml: yaml, overrides: overrides)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func validationMessagesNameTheKeyAndAllowedValues() {
        let cases: [([String], [String])] = [
            (["rounds=0"], ["'rounds'", ">= 1"]),
            (["clients=3", "clients_per_round=5"], ["'clients_per_round'", "1...3"]),
            (["min_replies=3"], ["'min_replies'", "1...2"]),
            (["learning_rate=-1"], ["'learning_rate'", "> 0"]),
            (["lora.dropout=1.5"], ["'lora.dropout'", "[0, 1)"]),
            (["lora.targets=[q, nope]"], ["lora.targets", "nope", "q, k, v, o, gate, up, down"]),
            (["data.max_sequence_length=4096"], ["'data.max_sequence_length'", "local.tokens_per_batch"]),
            (["data.build.partition=skewed"], ["data.build.partition", "iid, dirichlet"]),
            (["strategy=fedmagic"], ["strategy.name", "fedmagic", "fedavg", "scaffold", "fedadam"]),
            (["strategy=fedprox", "strategy.mu=-1"], ["strategy.mu", ">= 0"]),
            (["policies=[{name: trimmed_mean, beta: 0.7}]"], ["beta", "[0, 0.5)"]),
            (["policies=[shield]"], ["policies.name", "shield", "krum", "dp_fedavg"]),
            (["roundz=3"], ["unknown configuration key 'roundz'", "rounds", "clients_per_round"]),
            (["local.stepz=3"], ["'local.stepz'", "steps", "tokens_per_batch"]),
            (["strategy=fedadam", "strategy.etaa=1"], ["'strategy.etaa'", "eta"]),
            (["rounds=many"], ["rounds", "integer"]),
            (["clients=3", "strategy=scaffold", "strategy.total_clients=9"], ["strategy.total_clients", "3"]),
            (["checkpoint.every=0"], ["checkpoint.every", ">= 1"]),
        ]
        for (overrides, fragments) in cases {
            let text = message(overrides)
            #expect(text != nil, "\(overrides) should be rejected")
            for fragment in fragments {
                #expect(text?.contains(fragment) == true, "\(overrides): '\(text ?? "")' lacks '\(fragment)'")
            }
        }
        #expect(message(["rounds"])?.contains("key=value") == true)
        #expect(message(yaml: "rounds: [1, 2") != nil)
        #expect(message(yaml: "- a\n- b\n")?.contains("mapping") == true)
    }
}
