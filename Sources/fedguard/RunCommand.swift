import ConstitutionalAI
import ArgumentParser
import Assets
import Engine
import Federation
import Foundation
import Logging
import RunFiles
import SafetyData
import SafetyFilter
import Simulation
import Training

/// `fedguard run`: a federated fine-tuning simulation (new or resumed).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a federated fine-tuning simulation.",
        discussion: """
        Without CONFIG the built-in defaults run (see `fedguard config show`): SmolLM2-135M-Instruct, 4 clients, \
        2 per round, 2 rounds, 4 local steps each, LoRA rank 8 on q and v. --set overrides any key, dotted for \
        nested ones (--set rounds=3 --set strategy=scaffold --set local.steps=8). Missing client data is built \
        first (as `fedguard data build`). The run directory gets config.yaml, rounds.jsonl, adapters/round-NNNN \
        (PEFT) and checkpoint/; a run stopped at any moment continues with `fedguard run --resume RUN_DIR` and \
        ends with the same adapter as an uninterrupted run.
        """)

    @Argument(help: "YAML run configuration (default: the built-in defaults).")
    var config: String?

    @Option(help: "Run directory (default: runs/run-YYYYMMDD-HHMMSS).")
    var out: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a configuration key (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Continue the run in RUN_DIR from its last checkpoint.", valueName: "RUN_DIR"))
    var resume: String?

    @Option(help: "The base model (as --set model=PATH): a GGUF file or a Hugging Face directory.")
    var model: String?

    @Option(help: "Threads (as --set threads=N; recorded, so a resume uses the same).")
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func validate() throws {
        if resume != nil, config != nil || !overrides.isEmpty || out != nil || model != nil || threads != nil {
            throw ValidationError("--resume continues a run with its own config.yaml; drop CONFIG, --set, --out, --model and --threads")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try Console.checkLogLevel(logLevel)
    }

    func run() throws {
        let logger = Console.logger(label: "fedguard.run", level: logLevel)

        let directory: RunDirectory
        var configuration: RunConfiguration
        if let resume {
            directory = RunDirectory(URL(fileURLWithPath: (resume as NSString).expandingTildeInPath))
            configuration = try Self.userFacing { try FederatedRun.configuration(of: directory) }
        } else {
            // The path as a single-quoted YAML scalar (a path may hold ': ' or '#').
            let quotedModel = model.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }
            let overrides = overrides + (quotedModel.map { ["model=\($0)"] } ?? []) + (threads.map { ["threads=\($0)"] } ?? [])
            configuration = Self.resolvedForNewRun(try Self.loadConfiguration(config, overrides: overrides))
            directory = RunDirectory(URL(fileURLWithPath: out.map(Self.absolute) ?? Self.defaultRunDirectory()))
        }
        Parallel.setThreadCount(configuration.threads ?? Parallel.threadCount)

        let (modelURL, baseModelName) = try Self.baseModel(configuration, logger: logger)
        try Self.ensureClientData(configuration, modelURL: modelURL, logger: logger)
        Console.err("loading \(modelURL.lastPathComponent) ...")
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        // Hooks (and the safety filter's judge) load before the run directory is made: a judge that
        // cannot load stops the command before anything is written.
        let hooks = try Self.hooks(configuration, model: model, modelURL: modelURL, runDirectory: directory, logger: logger)
        let harmfulPool = try Self.harmfulPool(configuration, logger: logger)
        if resume == nil {
            configuration = try Self.userFacing { try FederatedRun.createDirectory(directory, configuration: configuration) }
        }
        let display = RunProgressDisplay()
        let run = try Self.userFacing {
            try FederatedRun.standard(configuration: configuration, model: model, baseModelName: baseModelName,
                                      directory: directory, hooks: hooks, harmfulPool: harmfulPool, logger: logger,
                                      onEvent: display.handle)
        }
        Console.err("run directory: \(directory.url.path)  (threads: \(Parallel.threadCount))")
        let summary = try Self.userFacing { try run.run() }
        display.finish()

        let ledger = summary.ledger
        Console.out("final adapter:  \(summary.finalAdapter.path)")
        Console.out("adapters:       \(directory.adaptersURL.path)/round-NNNN (PEFT)")
        Console.out("round records:  \(directory.recordsURL.path)")
        Console.out("configuration:  \(directory.configurationURL.path)")
        Console.out(String(format: "communication:  %.2f MB total (%.2f MB down, %.2f MB up) over %d rounds",
                           ledger.totalMegabytes, Double(ledger.totalDownloadBytes) / 1e6,
                           Double(ledger.totalUploadBytes) / 1e6, ledger.rounds.count))
        Console.out(String(format: "time:           %@", Console.duration(summary.seconds)))
        if let last = try directory.records().last(where: { !($0.eval ?? [:]).isEmpty }), let eval = last.eval {
            Console.out("evaluation:     round \(last.round): " + EvaluationFigures.describe(eval))
        }
    }

    /// The run's hooks: the safety filter on the clients' data when `filter.kind` names a judge, and
    /// the configured evaluation suites every `evaluation.every` rounds. The judge is loaded here,
    /// before the first round, so a judge that cannot load stops the run before it starts; without
    /// `filter.judge`, a judge missing from `$FEDGUARD_HOME/filter/<kind>` is trained there first.
    static func hooks(_ configuration: RunConfiguration, model: LlamaModel, modelURL: URL, runDirectory: RunDirectory,
                      logger: Logger, side: HookSide = .both) throws -> SimulationHooks {
        var hooks = SimulationHooks()
        let filter = configuration.filter
        if side != .server, filter.isEnabled, let kind = JudgeKind(rawValue: filter.kind) {
            let workspace = FilterWorkspace(logger: logger)
            let directory = filter.judge.map { URL(fileURLWithPath: $0) } ?? workspace.judgeDirectory(kind)
            let encoder = filter.encoder.map { URL(fileURLWithPath: $0) }
            if filter.judge == nil, !workspace.hasJudge(kind) {
                Console.err("no trained \(kind.rawValue) judge in \(directory.path): training one first (fedguard filter train --kind \(kind.rawValue))")
                var guardParameters = GuardTrainer.Parameters()
                guardParameters.seed = FilterOptions.defaultSeed
                var head = HeadTrainingParameters()
                head.seed = FilterOptions.defaultSeed
                let trained = try workspace.train(kind, modelURL: modelURL, seed: FilterOptions.defaultSeed, head: head,
                                                  guard: guardParameters, to: directory)
                Console.err(String(format: "judge trained in %@: validation recall %.3f, precision %.3f at threshold %.3f",
                                   Console.duration(trained.seconds), trained.validation.overall.recall?.proportion ?? 0,
                                   trained.validation.overall.precision?.proportion ?? 0, trained.validation.threshold))
            }
            let (judge, ownThreshold) = try workspace.loadJudge(kind, directory: directory, modelURL: modelURL, encoder: encoder,
                                                                model: model)
            let threshold = try FilterThreshold(filter.threshold ?? ownThreshold)
            Console.err(String(format: "safety filter: %@ at threshold %.3f", judge.summary, threshold.value))
            hooks.clientData = [SafetyFilterHook(filter: ExampleFilter(judge: judge, threshold: threshold, batchSize: filter.batchSize))]
        }
        if configuration.cai.isEnabled, side.includes(configuration.cai.placement) {
            let cai = try caiHook(configuration, model: model, runDirectory: runDirectory, logger: logger)
            switch configuration.cai.placement {
            case .server: hooks.server = [cai]
            case .client: hooks.clientUpdate = [cai]
            }
        }
        if side != .client, configuration.safetyScreen.enabled {
            hooks.replies = [try safetyScreen(configuration, model: model, logger: logger)]
        }
        if side != .client, configuration.evaluation.every > 0 {
            hooks.evaluation = try SuiteEvaluationHook(
                configuration: configuration.evaluation, modelURL: modelURL, store: AssetStore(logger: logger),
                runDirectory: runDirectory, logger: logger)
        }
        return hooks
    }

    /// The harmful pool a `harmful_data` adversary without its own file trains on (nil when no
    /// entry needs it): PyRIT's harmful compliance, screened as client data is.
    static func harmfulPool(_ configuration: RunConfiguration, logger: Logger) throws -> [SFTExample]? {
        guard configuration.adversaries.contains(where: { $0.attack == .harmfulData && $0.data == nil }) else { return nil }
        let pyritRoot = try AssetStore(logger: logger).ensure(AssetCatalog.pyrit) { Console.reportAsset($0) }
        return try ClientDataPools.harmfulExamples(pyritRoot: pyritRoot, logger: logger)
    }

    /// The server-side safety screen of client updates: canaries drawn once, with a fixed seed,
    /// from uncensorbench's harmful requests (each with its censored and uncensored response).
    static func safetyScreen(_ configuration: RunConfiguration, model: LlamaModel, logger: Logger) throws -> UpdateSafetyScreen {
        let settings = configuration.safetyScreen
        let url = try AssetStore(logger: logger).url(for: AssetCatalog.uncensorBenchPrompts) { Console.reportAsset($0) }
        let items = try UncensorBenchLoader.load(url, logger: logger).records
        let canaries = UpdateSafetyScreen.canaries(from: items, count: settings.canaries)
        let layout = try AdapterLayout(model: model, configuration: configuration.lora.configuration)
        let screen = try UpdateSafetyScreen(model: model, layout: layout, canaries: canaries, maxShift: settings.maxShift,
                                            relativeShift: settings.relativeShift, minShift: settings.minShift,
                                            responseWords: settings.responseWords)
        let relative = settings.relativeShift.map { String(format: ", or %.1f× the other replies' median above %.3f", $0, settings.minShift) } ?? ""
        Console.err(String(format: "safety screen: %d canaries, max shift %.3f nats/token", canaries.count, settings.maxShift) + relative)
        return screen
    }

    /// Which side of a run the hooks are for: both in the simulation; one in a deployment.
    enum HookSide {
        case both, server, client

        /// Whether constitutional AI placed at `placement` runs on this side.
        func includes(_ placement: CAIPlacement) -> Bool {
            switch (self, placement) {
            case (.both, _), (.server, .server), (.client, .client): return true
            default: return false
            }
        }
    }

    /// Constitutional AI after each aggregation (or, with `cai.placement: client`, on each client
    /// after local training): constitution, prompt pool and critic are loaded
    /// here, before the first round. Each step's records go to `cai/round-NNNN.jsonl` in the run.
    static func caiHook(_ configuration: RunConfiguration, model: LlamaModel, runDirectory: RunDirectory,
                        logger: Logger) throws -> ConstitutionalAIHook {
        let settings = configuration.cai
        let (constitution, pool, critic) = try CAIInputs.load(settings, logger: logger)
        let step = try ConstitutionalAIStep(model: model, critic: critic, lora: configuration.lora.configuration, settings: settings,
                                            constitution: constitution, pool: pool, logger: logger)
        Console.err("constitutional AI: \(settings.mode.rawValue) mode, \(settings.promptsPerStep) prompts per round, "
            + "\(settings.candidates) candidates, objective \(settings.objective.rawValue), constitution \(constitution.name)")
        return ConstitutionalAIHook(step: step) { round, records in
            try FileManager.default.createDirectory(at: runDirectory.constitutionalAIURL, withIntermediateDirectories: true)
            try CAIInputs.writeRecords(records, to: runDirectory.constitutionalAIURL(round: round))
        }
    }

    /// The run's model file and the name its adapters record: `model`, or SmolLM2 from the asset
    /// cache (fetched on first use).
    static func baseModel(_ configuration: RunConfiguration, logger: Logger) throws -> (url: URL, name: String) {
        if let model = configuration.model { return (URL(fileURLWithPath: model), model) }
        let url = try AssetStore(logger: logger).url(for: AssetCatalog.smolLM2GGUF) { Console.reportAsset($0) }
        return (url, "HuggingFaceTB/SmolLM2-135M-Instruct")
    }

    /// Builds the client data directory when it does not exist, as `fedguard data build` would.
    static func ensureClientData(_ configuration: RunConfiguration, modelURL: URL, logger: Logger) throws {
        let output = URL(fileURLWithPath: configuration.data.directory)
        guard !FileManager.default.fileExists(atPath: output.path) else { return }
        let build = configuration.data.build
        let parameters = ClientDataParameters(
            clientCount: configuration.clients, harmfulFraction: build.harmfulFraction,
            samplesPerClient: build.samplesPerClient,
            partition: build.partition == "dirichlet" ? .dirichlet(alpha: build.dirichletAlpha) : .iid,
            seed: configuration.seed)
        do { try parameters.validate() } catch { throw ValidationError(error.description) }
        Console.err("client data \(output.path) is missing: building it (fedguard data build --clients \(configuration.clients) "
            + "--harmful-fraction \(build.harmfulFraction) --samples-per-client \(build.samplesPerClient) --out \(output.path))")
        let pyritRoot = try AssetStore(logger: logger).ensure(AssetCatalog.pyrit) { Console.reportAsset($0) }
        let store = BenignResponseStore(directory: BenignResponseStore.defaultDirectory(), modelFile: modelURL, logger: logger)
        let pipeline = ClientDataPipeline(parameters: parameters, pyritRoot: pyritRoot, logger: logger)
        do {
            let summary = try pipeline.run(store: store, loadModel: { try ModelLoader.load(from: modelURL, logger: logger) },
                                           output: output) { step in
                if case let .benignResponses(p, fromCache) = step, !fromCache {
                    Console.err("  benign responses \(p.done)/\(p.total)")
                }
            }
            Console.err(String(format: "client data built in %.0f s: %d clients", summary.seconds, summary.clientFiles.count))
        } catch {
            throw ValidationError("cannot build the client data: \(error)")
        }
    }

    /// CONFIG (a YAML file; nil: the built-in defaults) with `--set` overrides applied.
    static func loadConfiguration(_ config: String?, overrides: [String]) throws -> RunConfiguration {
        try userFacing {
            guard let config else { return try RunConfiguration.load(overrides: overrides) }
            return try RunConfiguration.load(file: URL(fileURLWithPath: (config as NSString).expandingTildeInPath), overrides: overrides)
        }
    }

    /// A new run's configuration as its run directory records it: paths absolute (data, model, judge,
    /// encoder, initial adapter, adversaries' data, constitution, critic model), so the run resumes
    /// from any working directory, and the thread count fixed, so a resume uses the same one
    /// (bit-identical results).
    static func resolvedForNewRun(_ configuration: RunConfiguration) -> RunConfiguration {
        var resolved = configuration
        resolved.data.directory = absolute(configuration.data.directory)
        resolved.model = configuration.model.map(absolute)
        resolved.filter.judge = configuration.filter.judge.map(absolute)
        resolved.filter.encoder = configuration.filter.encoder.map(absolute)
        resolved.initialAdapter = configuration.initialAdapter.map(absolute)
        for index in resolved.adversaries.indices { resolved.adversaries[index].data = resolved.adversaries[index].data.map(absolute) }
        resolved.cai.constitution = configuration.cai.constitution.map(absolute)
        // A critic named by an optional model's file name is fetched from the catalogue, not a path.
        resolved.cai.criticModel = configuration.cai.criticModel.map { name in
            AssetCatalog.optionalModels.contains { $0.fileName == name } ? name : absolute(name)
        }
        resolved.threads = configuration.threads ?? Parallel.threadCount
        return resolved
    }

    /// Library errors about the configuration or run directory become messages without a stack.
    /// (Thrown as ``UserFacingError``: ArgumentParser prints the message alone, not the usage of the
    /// top-level command, which is what it appends to a `ValidationError` thrown from `run()`.)
    static func userFacing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ConfigurationError {
            throw UserFacingError(error.description)
        } catch let error as SimulationError {
            throw UserFacingError(error.description)
        }
    }

    static func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        return URL(fileURLWithPath: expanded).standardizedFileURL.path
    }

    static func defaultRunDirectory() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return absolute("runs/run-" + formatter.string(from: Date()))
    }
}

/// An error whose message is all the user needs (printed as "Error: <message>", exit code 1).
struct UserFacingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `fedguard config`: the run configuration.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show the default run configuration.",
        subcommands: [ConfigShowCommand.self], defaultSubcommand: ConfigShowCommand.self)
}

/// `fedguard config show [CONFIG] [--set key=value ...]`.
struct ConfigShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print the run configuration (defaults, or CONFIG with --set applied) as commented YAML.")

    @Argument(help: "YAML run configuration to resolve (default: the built-in defaults).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a configuration key (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    func run() throws {
        let resolved = try RunCommand.loadConfiguration(config, overrides: overrides)
        let header = config == nil && overrides.isEmpty
            ? "FedGuard run configuration: the built-in defaults (fedguard run uses them without a CONFIG)."
            : "FedGuard run configuration (resolved)."
        Console.out(try resolved.yaml(header: header), terminator: "")
    }
}
