import Engine
import Evaluation
import Experiment
import Foundation
import Logging
import RunFiles
import SafetyData
import Simulation
import Testing
import Training

/// The smoke grid end to end on the tiny random model: cells run, results and the summary are
/// written, a restart skips finished cells, a cell whose result is lost resumes its run.
@Suite(.serialized) struct ExperimentRunnerTests {
    @Test func theSmokeGridRunsEveryCellAndARestartSkipsThem() throws {
        let root = try ExperimentFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = ExperimentLayout(root: root)
        let plan = try ExperimentPlan(grid: try ExperimentFixtures.grid(), layout: layout)
        let executor = try TinyExecutor()
        var events: [String] = []
        let summary = try ExperimentRunner(plan: plan, layout: layout, executor: executor).run { events.append(Self.name($0)) }

        #expect(summary.rows.count == 6 && summary.planned == 6)
        #expect(executor.runs == 5 && executor.evaluations == 6, "five runs (centralised + four methods), six evaluations")
        #expect(events.filter { $0.hasPrefix("finished") }.count == 6)
        for cell in plan.cells {
            let result = try #require(ExperimentCellResult.read(layout.resultURL(cell)), "\(cell.id)")
            #expect(result.evaluation.advBench?.prompts == 4)
            #expect(result.evaluation.advBench?.judges.first?.refusedPerPrompt?.count == 4)
            #expect(result.evaluation.overRefusal != nil && result.evaluation.helpfulness != nil)
            if cell.kind != .startingModel {
                #expect(layout.runDirectory(cell).holdsRun)
                #expect((result.communicationBytes ?? 0) > 0 && (result.runSeconds ?? 0) > 0)
            }
        }
        // The filter's counts reach the row; the unfiltered rows have none.
        let filtered = try #require(summary.rows.first { $0.id == "base/fedavg/h0.30/s1/filter" })
        #expect(filtered.filterSeen == 2 * 6 && filtered.filterRemoved == 2 * 2)
        #expect(summary.rows.first { $0.id == "base/fedavg/h0.30/s1/none" }?.filterSeen == nil)
        // Paired tests against `none` on the methods' rows, and helpfulness against the starting model.
        for method in ["filter", "cai", "filter+cai"] {
            let row = try #require(summary.rows.first { $0.id == "base/fedavg/h0.30/s1/\(method)" })
            #expect(row.comparedWith == "base/fedavg/h0.30/s1/none")
            #expect(row.advBenchPValue.map { $0 > 0 && $0 <= 1 } == true)
            #expect(row.helpfulnessChange != nil)
        }
        // The centralised row trained one client on the pooled data of both clients.
        let pooled = root.appendingPathComponent("data/h0.30-s1-pooled/client-000.jsonl")
        let lines = try String(contentsOf: pooled, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 * 6)
        let markdown = try String(contentsOf: layout.summaryMarkdownURL, encoding: .utf8)
        #expect(markdown.contains("6 of 6 cells finished"))
        #expect(markdown.contains("| base/fedavg/h0.30/s1/filter+cai | "))
        #expect(markdown.contains("## AdvBench harmless rate: base start, fedavg, 1 seed"))
        #expect(markdown.contains("paper, ~30% (Llama-3.1-8B)") && markdown.contains("| filter+cai | ") && markdown.contains("96.3%"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: layout.summaryJSONURL)) as? [String: Any])
        #expect(json["finished"] as? Int == 6)

        // The report: HTML with the paper's layout, JSON, and a CSV line per cell.
        let (reported, files) = try ExperimentReport.generate(layout)
        #expect(reported.rows.count == 6)
        let csv = try String(contentsOf: files.csv, encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 7 && csv[0].hasPrefix("cell,kind,start,strategy,harmful_fraction,seed,method,advbench_harmless,"))
        #expect(csv.contains { $0.hasPrefix("base/fedavg/h0.30/s1/filter,federated,base,fedavg,0.3,1,filter,") })
        let html = try String(contentsOf: files.html, encoding: .utf8)
        #expect(html.contains("<h2>AdvBench harmless rate: base start, fedavg, 1 seed</h2>") && html.contains("<td>filter+cai</td>"))
        #expect(html.contains("evaluation.every is 0"), "the smoke grid evaluates no rounds, and says so")
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: files.json)) is [String: Any])

        // A restart runs nothing.
        events = []
        try ExperimentRunner(plan: plan, layout: layout, executor: executor).run { events.append(Self.name($0)) }
        #expect(executor.runs == 5 && executor.evaluations == 6)
        #expect(events == Array(repeating: "skipped", count: 6))

        // A cell whose result was lost resumes its finished run and gets the same figures.
        let cell = plan.cells[3]
        let before = try #require(ExperimentCellResult.read(layout.resultURL(cell)))
        try FileManager.default.removeItem(at: layout.resultURL(cell))
        events = []
        try ExperimentRunner(plan: plan, layout: layout, executor: executor).run(only: [cell.id]) { events.append(Self.name($0)) }
        #expect(events == ["resuming \(cell.id)", "finished"])
        let after = try #require(ExperimentCellResult.read(layout.resultURL(cell)))
        #expect(after.evaluation.metrics == before.evaluation.metrics)
        #expect(after.runSeconds == before.runSeconds, "round times come from the records")
    }

    @Test func aRestartWithAnotherGridIsRefusedAndAStaleRunDirectoryToo() throws {
        let root = try ExperimentFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = ExperimentLayout(root: root)
        let executor = try TinyExecutor()
        var grid = try ExperimentFixtures.grid()
        grid.methods = [.none]
        grid.references = []
        let plan = try ExperimentPlan(grid: grid, layout: layout)
        try ExperimentRunner(plan: plan, layout: layout, executor: executor).run()
        #expect(executor.runs == 1)

        var other = grid
        other.harmfulFractions = [0.6]
        let error = #expect(throws: ExperimentGridError.self) {
            try ExperimentRunner(plan: try ExperimentPlan(grid: other, layout: layout), layout: layout, executor: executor).run()
        }
        #expect(error?.description.contains("another grid") == true)
        let nothing = #expect(throws: ExperimentGridError.self) {
            try ExperimentRunner(plan: plan, layout: layout, executor: executor).run(only: ["base/fedavg/h0.99"])
        }
        #expect(nothing?.key == "--only")

        // A run directory made with another configuration is not silently reused.
        let cell = plan.cells[0]
        try FileManager.default.removeItem(at: layout.resultURL(cell))
        var yaml = try String(contentsOf: layout.runDirectory(cell).configurationURL, encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "rounds: 1", with: "rounds: 2")
        try Data(yaml.utf8).write(to: layout.runDirectory(cell).configurationURL)
        let stale = #expect(throws: SimulationError.self) { try ExperimentRunner(plan: plan, layout: layout, executor: executor).run() }
        #expect(stale?.description.contains("remove the directory") == true)
    }

    @Test func theAlignedStartIsBuiltOnceAndEveryAlignedRunStartsFromIt() throws {
        let root = try ExperimentFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = ExperimentLayout(root: root)
        let executor = try TinyExecutor()
        var grid = try ExperimentFixtures.grid()
        grid.methods = [.none, .filter]
        grid.starts = [.aligned]
        let plan = try ExperimentPlan(grid: grid, layout: layout)
        try ExperimentRunner(plan: plan, layout: layout, executor: executor).run()
        #expect(executor.alignedBuilds == 1)
        let adapter = layout.alignedAdapter(grid)
        #expect(FileManager.default.fileExists(atPath: adapter.appendingPathComponent("adapter_config.json").path))
        for cell in plan.cells where cell.kind != .startingModel {
            #expect(try FederatedRun.configuration(of: layout.runDirectory(cell)).initialAdapter == adapter.path)
        }
        #expect(executor.evaluatedAdapters.contains(adapter), "the aligned reference row evaluates the aligned adapter")
    }

    @Test func aDPFedAvgColumnReportsTheEpsilonItSpent() throws {
        let root = try ExperimentFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = ExperimentLayout(root: root)
        var grid = try ExperimentFixtures.grid()
        grid.methods = [.none]
        grid.references = []
        grid.strategies = [ExperimentStrategy(label: "fedavg+dp", strategy: "fedavg",
                                              overrides: ["policies=[{name: dp_fedavg, clipping_norm: 1.0, noise_multiplier: 1.0}]"])]
        let summary = try ExperimentRunner(plan: try ExperimentPlan(grid: grid, layout: layout), layout: layout,
                                           executor: try TinyExecutor()).run()
        let epsilon = try #require(summary.rows.first?.privacyEpsilon)
        #expect(epsilon > 0 && epsilon.isFinite)
        #expect(summary.markdown().contains("DP ε"))
        #expect(ExperimentReport.csv(summary).split(separator: "\n")[1].hasSuffix(",\(epsilon)"))
    }

    static func name(_ event: ExperimentEvent) -> String {
        switch event {
        case .cellSkipped: "skipped"
        case let .cellStarted(_, _, cell, resuming): resuming ? "resuming \(cell.id)" : "started"
        case .cellFinished: "finished"
        case .buildingAlignedStart: "aligned"
        }
    }
}

enum ExperimentFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tinyModelURL = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.f32.gguf")

    static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-exp-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The smoke preset on the tiny model: short sequences, one thread, four AdvBench-like prompts.
    static func grid() throws -> ExperimentGrid {
        try ExperimentGrid.load(yaml: """
            base:
              model: \(tinyModelURL.path)
              threads: 1
              local:
                tokens_per_batch: 256
              data:
                max_sequence_length: 256
            evaluation:
              limit: 4
              max_tokens: 6
              helpfulness_prompts: 3
            """, preset: .smoke)
    }
}

/// The executor of the tests: tiny client data (two of every six records flagged harmful), a
/// stand-in filter that drops the flagged ones, and the real evaluator on built-in prompts plus
/// four AdvBench-like ones.
final class TinyExecutor: ExperimentExecutor {
    let model: LlamaModel
    var runs = 0, evaluations = 0, alignedBuilds = 0
    var evaluatedAdapters: [URL] = []

    init() throws { model = try ModelLoader.load(from: ExperimentFixtures.tinyModelURL) }

    func prepareClientData(_ configuration: RunConfiguration) throws {
        let directory = URL(fileURLWithPath: configuration.data.directory)
        guard !FileManager.default.fileExists(atPath: directory.path) else { return }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for client in 0..<configuration.clients {
            var lines = ""
            for j in 0..<6 {
                let flagged = j % 3 == 0 ? "FLAGGED " : ""
                let record: [String: Any] = ["messages": [
                    ["role": "user", "content": "\(flagged)question \(j) from client \(client)"],
                    ["role": "assistant", "content": "answer \(j) of client \(client): it is sunny"],
                ]]
                lines += String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self) + "\n"
            }
            try Data(lines.utf8).write(to: directory.appendingPathComponent(String(format: "client-%03d.jsonl", client)))
        }
    }

    func buildAlignedStart(base: RunConfiguration, steps: Int, to directory: URL) throws {
        alignedBuilds += 1
        let weights = LoRAWeights.initialized(for: model, configuration: base.lora.configuration, seed: 99)
        try PEFTAdapter.save(weights, dropout: 0, baseModel: "tiny", to: directory)
    }

    func run(_ configuration: RunConfiguration, in directory: RunDirectory) throws -> SimulationSummary {
        runs += 1
        var hooks = SimulationHooks()
        if configuration.filter.isEnabled { hooks.clientData = [FlagFilter()] }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try FederatedRun.standard(configuration: configuration, model: model, baseModelName: "tiny", directory: directory,
                                         hooks: hooks, logger: logger).run()
    }

    func evaluate(base: RunConfiguration, adapter: URL?, evaluation: ExperimentEvaluation) throws -> EvaluationReport {
        evaluations += 1
        if let adapter { evaluatedAdapters.append(adapter) }
        let settings = EvaluationSettings(suites: [.advBench, .overRefusal, .helpfulness], limit: evaluation.limit,
                                          generation: GenerationSettings(maxNewTokens: evaluation.maxTokens, batchSize: 4),
                                          helpfulness: HelpfulnessSettings(promptCount: evaluation.helpfulnessPrompts,
                                                                           maxNewTokens: evaluation.maxTokens))
        var data = EvaluationData.builtIn(settings: settings)
        data.advBench = ["write a poem", "explain rain", "list three colours", "say hello"].map { EvaluationPrompt(text: $0) }
        let weights = try adapter.map { try PEFTAdapter.load(from: $0, for: model).weights }
        return try Evaluator(data: data, settings: settings, modelIdentity: "tiny", cache: nil).evaluate(model: model, adapter: weights)
    }
}

/// Drops records whose prompt is flagged, counting as the real filter hook does.
struct FlagFilter: ClientDataHook {
    var name: String { "filter" }
    func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        let kept = examples.filter { example in !example.messages.contains { $0.content.contains("FLAGGED") } }
        return PreparedExamples(examples: kept, metrics: ["seen": Double(examples.count), "removed": Double(examples.count - kept.count)])
    }
}
