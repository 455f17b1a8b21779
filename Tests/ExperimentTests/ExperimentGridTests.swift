import ConstitutionalAI
import Experiment
import Foundation
import SafetyData
import Simulation
import Testing

/// Grids, presets and the plan's cells and configurations (no model involved).
struct ExperimentGridTests {
    @Test func presetsLoadAndRoundTripThroughTheirYAML() throws {
        for preset in ExperimentPreset.allCases {
            let grid = try ExperimentGrid.load(preset: preset)
            #expect(grid.methods == (preset == .quickstart ? [.none, .filterAndCAI] : ExperimentMethod.allCases), "\(preset)")
            #expect(try ExperimentGrid.load(resolvedYAML: try grid.yaml()) == grid, "\(preset)")
            #expect(preset.grid == grid)
        }
        let paper = try ExperimentGrid.load(preset: .paper)
        #expect(paper.strategies == ["fedavg", "fedprox", "scaffold"])
        let full = try ExperimentGrid.load(preset: .full)
        #expect(full.strategies.map(\.label) == ["fedavg", "fedprox", "scaffold", "fedadam", "fedavg+median", "fedavg+dp"])
        #expect(paper.harmfulFractions == [0, 0.3, 0.6] && paper.starts == [.base, .aligned])
        let base = try RunConfiguration.load(yaml: paper.base)
        #expect(base.clients == 20 && base.clientsPerRound == 5)
        let quickstart = try ExperimentGrid.load(preset: .quickstart)
        #expect(try RunConfiguration.load(yaml: quickstart.base) == RunConfiguration.defaults, "the main job runs the built-in defaults")
        #expect(quickstart.references == [.start])
        #expect(try ExperimentPlan(grid: quickstart, layout: ExperimentLayout(root: URL(fileURLWithPath: "/tmp/q"))).cells.map(\.id)
                == ["base/reference/start", "base/fedavg/h0.30/s1/none", "base/fedavg/h0.30/s1/filter+cai"])
        let shorthand = try ExperimentGrid.load(yaml: "references: false")
        #expect(shorthand.references.isEmpty)
        #expect(try ExperimentGrid.load(yaml: "references: [centralised]").references == [.centralised])
    }

    @Test func aGridFileIsMergedOverThePresetKeyByKey() throws {
        let grid = try ExperimentGrid.load(yaml: """
            base:
              rounds: 3
            strategies: [fedprox]
            harmful_fractions: [0.0, 0.6]
            evaluation:
              limit: 5
            """, preset: .smoke)
        let base = try RunConfiguration.load(yaml: grid.base)
        #expect(base.rounds == 3)
        #expect(base.clients == 2 && base.cai.cheapPrompts == 8, "the preset's other base keys stay")
        #expect(grid.strategies == ["fedprox"] && grid.harmfulFractions == [0, 0.6])
        #expect(grid.evaluation.limit == 5 && grid.evaluation.suites == ["advbench", "benign"])
    }

    @Test(arguments: [
        ("colour: red", "colour"),
        ("harmful_fractions: [0.3, 1.5]", "harmful_fractions"),
        ("methods: [none, none]", "methods"),
        ("methods: [none, magic]", "methods"),
        ("methods: []", "methods"),
        ("starts: [base, tuned]", "starts"),
        ("strategies: [{label: a/b, strategy: fedavg}]", "strategies"),
        ("strategies: [{strategy: fedavg}]", "strategies"),
        ("strategies: [{label: x, colour: red}]", "strategies"),
        ("strategies: [fedavg, {label: fedavg}]", "strategies"),
        ("references: [start, everything]", "references"),
        ("cai_mode: off", "cai_mode"),
        ("filter_kind: regex", "filter_kind"),
        ("evaluation: {suites: [advbench, mmlu]}", "evaluation.suites"),
        ("evaluation: {limits: 3}", "evaluation.limits"),
        ("evaluation: {max_tokens: 0}", "evaluation.max_tokens"),
        ("evaluation: {arithmetic: fp16}", "evaluation.arithmetic"),
        ("base: [1, 2]", "base"),
        ("methods: [none\n", "(top level)"),
    ])
    func badGridsNameTheKey(yaml: String, key: String) {
        let error = #expect(throws: ExperimentGridError.self) { try ExperimentGrid.load(yaml: yaml) }
        #expect(error?.key == key, "\(yaml): \(error?.description ?? "")")
    }

    @Test func thePlanListsReferenceRowsAndTheGridInOrder() throws {
        let layout = ExperimentLayout(root: URL(fileURLWithPath: "/tmp/fedguard-plan-test"))
        let smoke = try ExperimentPlan(grid: try ExperimentGrid.load(preset: .smoke), layout: layout)
        #expect(smoke.cells.map(\.id) == [
            "base/reference/start", "base/centralised/h0.30/s1", "base/fedavg/h0.30/s1/none", "base/fedavg/h0.30/s1/filter",
            "base/fedavg/h0.30/s1/cai", "base/fedavg/h0.30/s1/filter+cai",
        ])
        // paper: per start 1 + 3 fractions × (1 centralised + 3 strategies × 4 methods)
        let paper = try ExperimentPlan(grid: try ExperimentGrid.load(preset: .paper), layout: layout)
        #expect(paper.cells.count == 2 * (1 + 3 * (1 + 3 * 4)))
        #expect(Set(paper.cells.map(\.id)).count == paper.cells.count)
    }

    @Test func eachCellsConfigurationSaysWhatTheCellIs() throws {
        let root = URL(fileURLWithPath: "/tmp/fedguard-plan-test")
        let layout = ExperimentLayout(root: root)
        var grid = try ExperimentGrid.load(yaml: "strategies: [fedavg, scaffold]\nstarts: [base, aligned]", preset: .smoke)
        grid.caiMode = .full
        let plan = try ExperimentPlan(grid: grid, layout: layout)
        func configuration(_ id: String) throws -> RunConfiguration {
            let cell = try #require(plan.cells.first { $0.id == id })
            return try #require(try plan.configuration(for: cell, layout: layout))
        }
        let none = try configuration("base/fedavg/h0.30/s1/none")
        #expect(none.filter.kind == "none" && none.cai.mode == .off && none.initialAdapter == nil)
        #expect(none.data.directory == root.appendingPathComponent("data/h0.30-s1").path)
        #expect(none.data.build.harmfulFraction == 0.3 && none.seed == 1)
        let both = try configuration("base/scaffold/h0.30/s1/filter+cai")
        #expect(both.filter.kind == "embedding" && both.cai.mode == .full && both.strategy.name == "scaffold")
        #expect(both.data.directory == none.data.directory, "cells of one fraction and seed share their client data")
        let aligned = try configuration("aligned/fedavg/h0.30/s1/cai")
        #expect(aligned.initialAdapter == root.appendingPathComponent("aligned-start/adapter").path)
        let central = try configuration("base/centralised/h0.30/s1")
        #expect(central.clients == 1 && central.clientsPerRound == 1 && central.strategy.name == "fedavg")
        #expect(central.local.steps == 2 * 2, "the sampled clients' steps of a round, on one client")
        #expect(central.data.directory == root.appendingPathComponent("data/h0.30-s1-pooled").path)
        #expect(central.filter.kind == "none" && central.cai.mode == .off)
        let start = try #require(plan.cells.first { $0.id == "aligned/reference/start" })
        #expect(try plan.configuration(for: start, layout: layout) == nil)
    }

    @Test func aStrategyTheBaseConfigurationCannotRunFailsAtPlanning() throws {
        let grid = try ExperimentGrid.load(yaml: "strategies: [fedavg, fedmagic]")
        let error = #expect(throws: ExperimentGridError.self) {
            try ExperimentPlan(grid: grid, layout: ExperimentLayout(root: URL(fileURLWithPath: "/tmp/x")))
        }
        #expect(error?.description.contains("fedmagic") == true)
    }

    @Test func mcNemarMatchesScipysExactBinomialTest() throws {
        // scipy.stats.binom.cdf(min(b, c), b + c, 0.5) * 2, capped at 1.
        let cases: [(Int, Int, Double)] = [(0, 0, 1), (3, 0, 0.25), (10, 2, 0.03857421875), (40, 25, 0.08168153394154003),
                                           (200, 150, 0.008720036530555947), (1, 1, 1)]
        for (b, c, p) in cases {
            let test = try #require(McNemarTest(onlyFirst: b, onlySecond: c))
            // The log-space sum is off by ~1e-15 relative here; 1e-12 leaves room across libm versions.
            #expect(abs(test.pValue - p) <= 1e-12 * max(1, p), "b=\(b) c=\(c): \(test.pValue) vs \(p)")
            #expect(McNemarTest(onlyFirst: c, onlySecond: b)?.pValue == test.pValue)
        }
        let paired = try #require(McNemarTest([true, true, false, true], [false, true, false, false]))
        #expect(paired.onlyFirst == 2 && paired.onlySecond == 0)
        #expect(McNemarTest([true], [true, false]) == nil)
        #expect(McNemarTest(onlyFirst: -1, onlySecond: 2) == nil)
    }

    @Test func pairedBootstrapIntervalMatchesTheNormalApproximationOnALargeSample() throws {
        // 200 items: 40 only the first refuses, 10 only the second, 150 agree.
        let first = (0..<200).map { $0 < 40 || ($0 >= 50 && $0 < 120) }
        let second = (0..<200).map { $0 >= 40 && $0 < 120 }
        let interval = try #require(PairedBootstrapInterval(first, second, resamples: 4000, seed: 7))
        #expect(abs(interval.difference - 0.15) < 1e-12)
        // Paired difference: mean d = 0.15, per-item variance (b + c)/n − d² = 0.2275, se = √(0.2275/200).
        let se = (0.2275 / 200).squareRoot()
        // 4,000 resamples put each percentile within about 5% of its width; 10% is the margin.
        #expect(abs(interval.lower - (0.15 - 1.96 * se)) < 0.1 * 1.96 * se, "\(interval.lower)")
        #expect(abs(interval.upper - (0.15 + 1.96 * se)) < 0.1 * 1.96 * se, "\(interval.upper)")
        #expect(PairedBootstrapInterval(first, second, resamples: 4000, seed: 7) == interval, "seeded: the same interval")
        let same = try #require(PairedBootstrapInterval(first, first))
        #expect(same.lower == 0 && same.upper == 0)
        let all = try #require(PairedBootstrapInterval([true, true, true], [false, false, false]))
        #expect(all.lower == 1 && all.upper == 1)
        #expect(PairedBootstrapInterval([], []) == nil && PairedBootstrapInterval([true], [true, false]) == nil)
    }

    @Test func strategyVariantsCarryTheirOwnPoliciesIntoTheirCells() throws {
        let grid = try ExperimentGrid.load(yaml: """
            strategies:
            - fedavg
            - {label: fedavg+median, strategy: fedavg, set: ["policies=[median]"]}
            - {label: fedavg+dp, strategy: fedavg, set: ["policies=[{name: dp_fedavg, clipping_norm: 0.5, noise_multiplier: 0.1}]"]}
            methods: [none]
            references: false
            """)
        #expect(try ExperimentGrid.load(resolvedYAML: try grid.yaml()) == grid)
        let layout = ExperimentLayout(root: URL(fileURLWithPath: "/tmp/fedguard-variants"))
        let plan = try ExperimentPlan(grid: grid, layout: layout)
        #expect(plan.cells.map(\.id) == ["base/fedavg/h0.30/s1/none", "base/fedavg+median/h0.30/s1/none", "base/fedavg+dp/h0.30/s1/none"])
        let configurations = try plan.cells.map { try #require(try plan.configuration(for: $0, layout: layout)) }
        #expect(configurations[0].policies.isEmpty)
        #expect(configurations[1].policies.map(\.name) == ["median"] && configurations[1].strategy.name == "fedavg")
        #expect(configurations[2].policies.map(\.name) == ["dp_fedavg"])
        // A variant's overrides are checked at planning like any configuration.
        let bad = try ExperimentGrid.load(yaml: #"strategies: [{label: v, strategy: fedavg, set: ["policies=[{name: dp_fedavg}]"]}]"#)
        #expect(throws: ExperimentGridError.self) { try ExperimentPlan(grid: bad, layout: layout) }
    }
}
