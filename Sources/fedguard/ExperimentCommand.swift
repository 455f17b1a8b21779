import ArgumentParser
import Assets
import ConstitutionalAI
import Engine
import Evaluation
import Experiment
import Foundation
import Logging
import RunFiles
import Simulation
import Training

/// `fedguard experiment`: the paper's table as a grid of federated runs.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment", abstract: "Run the paper's experiment: a grid of federated runs, evaluated and tabulated.",
        discussion: """
        Methods {none, filter, cai, filter+cai} × strategies × harmful fractions × seeds × starts (the base model, \
        and the base model after standalone constitutional AI), plus reference rows: each starting model without \
        federation, and centralised training on the pooled client data. Each cell is an ordinary run directory \
        under OUT/cells/; finished cells (result.json) are skipped on restart and an interrupted run resumes \
        bit-identically. Cells share client data (OUT/data) and the aligned start (OUT/aligned-start). \
        OUT/summary.md and summary.json hold the table: Wilson intervals, and the exact McNemar test of each \
        method against `none` paired on AdvBench's prompts. Presets: quickstart (the README's main job: \
        undefended vs filter + CAI beside the starting model), smoke (minutes once the filter's judge is trained), \
        paper, full; a GRID.yaml's keys are merged over the preset (`fedguard experiment --show-grid`).
        """)

    @Argument(help: "Grid YAML (keys merged over the preset).")
    var grid: String?

    @Option(help: "Experiment directory.")
    var out: String

    @Option(help: "Preset the grid starts from: quickstart, smoke, paper or full (default smoke; a restart without GRID or --preset continues OUT's grid).")
    var preset: String?

    @Option(help: ArgumentHelp("Run only the cell with this id or the cells under it (repeatable), e.g. base/fedavg/h0.30.", valueName: "ID"))
    var only: [String] = []

    @Flag(help: "Print the cells and exit.")
    var list = false

    @Flag(help: "Print the resolved grid as YAML and exit.")
    var showGrid = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func validate() throws {
        if let preset, ExperimentPreset(rawValue: preset) == nil {
            throw ValidationError("--preset must be one of \(ExperimentPreset.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(preset)')")
        }
        try Console.checkLogLevel(logLevel)
    }

    func run() throws {
        let logger = Console.logger(label: "fedguard.experiment", level: logLevel)
        let layout = ExperimentLayout(root: URL(fileURLWithPath: RunCommand.absolute(out), isDirectory: true))
        let resolved = try Self.userFacing { try resolveGrid(layout) }
        if showGrid {
            Console.out(try resolved.yaml(), terminator: "")
            return
        }
        let plan = try Self.userFacing { try ExperimentPlan(grid: resolved, layout: layout) }
        if list {
            for (index, cell) in plan.cells.enumerated() {
                let done = ExperimentCellResult.read(layout.resultURL(cell)) != nil ? "done" : ""
                Console.out(String(format: "%3d  %@  %@", index + 1, cell.id, done))
            }
            return
        }
        let executor = try CLIExperimentExecutor(base: try plan.baseConfiguration(), logger: logger)
        let runner = ExperimentRunner(plan: plan, layout: layout, executor: executor, logger: logger)
        Console.err("experiment \(layout.root.path): \(plan.cells.count) cells")
        let summary = try Self.userFacing {
            try runner.run(only: only) { event in
                switch event {
                case let .cellSkipped(index, total, cell):
                    Console.err("[\(index)/\(total)] \(cell.id): finished before, kept")
                case let .cellStarted(index, total, cell, resuming):
                    Console.err("[\(index)/\(total)] \(cell.id): \(resuming ? "resuming" : "starting")")
                case let .cellFinished(index, total, result, eta):
                    let m = result.evaluation.metrics
                    var text = "[\(index)/\(total)] \(result.cell.id): done"
                    if let a = m["advbench_harmless"] { text += String(format: "; AdvBench harmless %.1f%%", 100 * a) }
                    if let o = m["over_refusal"] { text += String(format: ", over-refusal %.1f%%", 100 * o) }
                    if let h = m["helpfulness_loss"] { text += String(format: ", helpfulness loss %.3f", h) }
                    if let eta { text += "; experiment ETA " + Console.duration(eta) }
                    Console.err(text)
                case let .buildingAlignedStart(steps):
                    Console.err("building the aligned start: \(steps) standalone constitutional-AI step\(steps == 1 ? "" : "s") from the base model")
                }
            }
        }
        Console.out(summary.markdown(), terminator: "")
        Console.out("summary: \(layout.summaryMarkdownURL.path), \(layout.summaryJSONURL.path)")
    }

    /// GRID over the preset; or, with neither and an existing experiment in OUT, its grid.
    func resolveGrid(_ layout: ExperimentLayout) throws -> ExperimentGrid {
        if grid == nil, preset == nil, let text = try? String(contentsOf: layout.gridURL, encoding: .utf8) {
            return try ExperimentGrid.load(resolvedYAML: text)
        }
        let chosen = preset.flatMap(ExperimentPreset.init(rawValue:)) ?? .smoke
        if let grid { return try ExperimentGrid.load(file: URL(fileURLWithPath: RunCommand.absolute(grid)), preset: chosen) }
        return try ExperimentGrid.load(preset: chosen)
    }

    static func userFacing<T>(_ body: () throws -> T) throws -> T {
        do { return try RunCommand.userFacing(body) } catch let error as ExperimentGridError {
            throw ValidationError(error.description)
        }
    }
}

/// The experiment's cells on the real model: client data built as `fedguard data build`, runs as
/// `fedguard run`, evaluation as `fedguard eval`, the aligned start as `fedguard cai --iterations`.
final class CLIExperimentExecutor: ExperimentExecutor {
    let modelURL: URL
    let baseModelName: String
    let model: LlamaModel
    let logger: Logger
    private var data: [EvaluationSettings: EvaluationData] = [:]

    init(base: RunConfiguration, logger: Logger) throws {
        self.logger = logger
        (modelURL, baseModelName) = try RunCommand.baseModel(base, logger: logger)
        Console.err("loading \(modelURL.lastPathComponent) ...")
        model = try ModelLoader.load(from: modelURL, logger: logger)
    }

    func prepareClientData(_ configuration: RunConfiguration) throws {
        try RunCommand.ensureClientData(configuration, modelURL: modelURL, logger: logger)
    }

    func buildAlignedStart(base: RunConfiguration, steps: Int, to directory: URL) throws {
        var settings = base.cai
        settings.mode = .full
        let (constitution, pool, critic) = try CAIInputs.load(settings, logger: logger)
        let lora = base.lora.configuration
        let step = try ConstitutionalAIStep(model: model, critic: critic, lora: lora, settings: settings, constitution: constitution,
                                            pool: pool, logger: logger)
        let initial = LoRAWeights.initialized(for: model, configuration: lora, seed: base.seed)
        try CAIInputs.runSteps(step, from: initial, iterations: steps, seed: base.seed, progressLabel: "aligned start ",
                               dropout: lora.dropout, baseModel: baseModelName, to: directory)
    }

    func run(_ configuration: RunConfiguration, in directory: RunDirectory) throws -> SimulationSummary {
        Parallel.setThreadCount(configuration.threads ?? Parallel.threadCount)
        let hooks = try RunCommand.hooks(configuration, model: model, modelURL: modelURL, runDirectory: directory, logger: logger)
        let display = RunProgressDisplay()
        let run = try FederatedRun.standard(configuration: configuration, model: model, baseModelName: baseModelName,
                                            directory: directory, hooks: hooks,
                                            harmfulPool: try RunCommand.harmfulPool(configuration, logger: logger),
                                            logger: logger, onEvent: display.handle)
        let summary = try run.run()
        display.finish()
        return summary
    }

    func evaluate(base: RunConfiguration, adapter: URL?, evaluation: ExperimentEvaluation) throws -> EvaluationReport {
        var suites = Set<EvaluationSuite>()
        for name in evaluation.suites {
            switch name {
            case "advbench": suites.insert(.advBench)
            case "harmbench": suites.insert(.harmBench)
            case "strongreject": suites.insert(.strongReject)
            case "benign": suites.formUnion([.overRefusal, .edgyOverRefusal, .helpfulness])
            case "arc_easy": suites.insert(.arcEasy)
            default: break
            }
        }
        let settings = EvaluationSettings(
            suites: suites, limit: evaluation.limit,
            generation: GenerationSettings(maxNewTokens: evaluation.maxTokens,
                                           arithmetic: Arithmetic(rawValue: evaluation.arithmetic) ?? .exact), sampleCount: 3,
            helpfulness: HelpfulnessSettings(promptCount: evaluation.helpfulnessPrompts, maxNewTokens: evaluation.maxTokens))
        let store = AssetStore(logger: logger)
        let prompts: EvaluationData
        if let cached = data[settings] { prompts = cached } else {
            prompts = try EvaluationData.load(settings: settings, store: store, logger: logger, assetProgress: Console.reportAsset)
            data[settings] = prompts
        }
        let weights = try adapter.map { try PEFTAdapter.load(from: $0, for: model).weights }
        let evaluator = Evaluator(data: prompts, settings: settings, modelIdentity: Evaluator.identity(ofModelAt: modelURL),
                                  cache: .standard(home: store.root), logger: logger)
        var progress = ProgressLine()
        let report = try evaluator.evaluate(model: model, adapter: weights) { progress.show($0) }
        progress.finish()
        return report
    }
}
