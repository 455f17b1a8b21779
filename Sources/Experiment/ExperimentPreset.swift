import Foundation

/// The built-in grids. A grid file's keys are merged over the chosen preset.
public enum ExperimentPreset: String, Sendable, CaseIterable {
    /// The README's main job: the built-in run configuration undefended and with filter + CAI,
    /// beside the starting model (the round-0 figure), on a fifth of AdvBench and the benign suites.
    /// CAI runs in full mode (256 prompts per round): cheap mode's 24 moved AdvBench by 1.9 points
    /// (p = 0.5) in two rounds, full mode by 7.7 (p = 0.008).
    case quickstart
    /// Minutes once the safety filter's judge is trained (it is trained and cached on first use):
    /// the four methods, FedAvg, one fraction, 2 clients, 1 round, a short evaluation.
    case smoke
    /// The paper's shape scaled to a 2-core CPU: 20 clients, 5 per round, 5 rounds of 4 local
    /// steps; methods × FedAvg, FedProx, SCAFFOLD × fractions 0, 0.3, 0.6 × both starts, one seed;
    /// AdvBench 520, StrongREJECT 253, over-refusal and helpfulness per cell (estimate in the README).
    case paper
    /// The paper preset with three seeds, FedAdam, FedAvg with median aggregation and DP-FedAvg
    /// beside the three strategies, 10 rounds and HarmBench too (days on 2 cores).
    case full

    /// The preset's grid as YAML.
    public var yaml: String {
        switch self {
        case .quickstart: Self.quickstartYAML
        case .smoke: Self.smokeYAML
        case .paper: Self.paperYAML
        case .full: Self.fullYAML
        }
    }

    /// The preset's grid.
    public var grid: ExperimentGrid {
        // The presets are tested to load; a failure here is a programming error.
        (try? ExperimentGrid.load(preset: self)) ?? ExperimentGrid(base: "")
    }

    static let quickstartYAML = """
        base: {}
        methods: [none, filter+cai]
        strategies: [fedavg]
        harmful_fractions: [0.3]
        seeds: [1]
        starts: [base]
        references: [start]
        filter_kind: embedding
        cai_mode: full
        aligned_steps: 1
        aligned_adapter: null
        evaluation:
          suites: [advbench, benign]
          limit: 104
          max_tokens: 64
          helpfulness_prompts: 32
          arithmetic: exact
        """

    static let smokeYAML = """
        base:
          clients: 2
          clients_per_round: 2
          rounds: 1
          local:
            steps: 2
          data:
            build:
              samples_per_client: 8
          evaluation:
            every: 0
          cai:
            cheap_prompts: 8
        methods: [none, filter, cai, filter+cai]
        strategies: [fedavg]
        harmful_fractions: [0.3]
        seeds: [1]
        starts: [base]
        references: [start, centralised]
        filter_kind: embedding
        cai_mode: cheap
        aligned_steps: 1
        aligned_adapter: null
        evaluation:
          suites: [advbench, benign]
          limit: 16
          max_tokens: 32
          helpfulness_prompts: 8
          arithmetic: exact
        """

    static let paperYAML = """
        base:
          clients: 20
          clients_per_round: 5
          min_replies: 3
          rounds: 5
          local:
            steps: 4
          data:
            build:
              samples_per_client: 12
          evaluation:
            every: 1
            suite: advbench
            limit: 20
        methods: [none, filter, cai, filter+cai]
        strategies: [fedavg, fedprox, scaffold]
        harmful_fractions: [0.0, 0.3, 0.6]
        seeds: [1]
        starts: [base, aligned]
        references: [start, centralised]
        filter_kind: embedding
        cai_mode: cheap
        aligned_steps: 4
        aligned_adapter: null
        evaluation:
          suites: [advbench, strongreject, benign, arc_easy]
          limit: null
          max_tokens: 64
          helpfulness_prompts: 64
          arithmetic: exact
        """

    static let fullYAML = """
        base:
          clients: 20
          clients_per_round: 5
          min_replies: 3
          rounds: 10
          local:
            steps: 4
          data:
            build:
              samples_per_client: 24
          evaluation:
            every: 1
            suite: advbench
            limit: 20
        methods: [none, filter, cai, filter+cai]
        strategies:
        - fedavg
        - fedprox
        - scaffold
        - fedadam
        - {label: fedavg+median, strategy: fedavg, set: ["policies=[median]"]}
        - {label: fedavg+dp, strategy: fedavg, set: ["policies=[{name: dp_fedavg, clipping_norm: 0.5, noise_multiplier: 0.1}]"]}
        harmful_fractions: [0.0, 0.3, 0.6]
        seeds: [1, 2, 3]
        starts: [base, aligned]
        references: [start, centralised]
        filter_kind: embedding
        cai_mode: cheap
        aligned_steps: 8
        aligned_adapter: null
        evaluation:
          suites: [advbench, harmbench, strongreject, benign, arc_easy]
          limit: null
          max_tokens: 64
          helpfulness_prompts: 64
          arithmetic: exact
        """
}
