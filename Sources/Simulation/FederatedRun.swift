import Engine
import Federation
import Foundation
import Logging
import RunFiles
import Training

/// Progress of a run, delivered to the caller's closure (the library never prints).
public enum SimulationEvent {
    /// The run starts at `startRound` (after a checkpoint when resuming).
    case started(startRound: Int, totalRounds: Int, strategy: String)
    /// A round starts with these clients.
    case roundStarted(round: Int, totalRounds: Int, clients: [Int], learningRate: Double)
    /// A client finished an optimizer step.
    case clientStep(round: Int, totalRounds: Int, progress: ClientProgress)
    /// A client finished (ok or failed); rejections are known after aggregation.
    case clientFinished(round: Int, client: RoundRecord.Client)
    /// The server starts a step of the round that may take a while: a reply hook (the safety
    /// screen), a server hook (constitutional AI) or the evaluation.
    case serverStep(round: Int, totalRounds: Int, step: String)
    /// A round is recorded; `etaSeconds` estimates the rest of the run.
    case roundFinished(record: RoundRecord, totalRounds: Int, etaSeconds: Double)
}

/// What a finished run reports.
public struct SimulationSummary: Sendable {
    /// The run directory.
    public var directory: RunDirectory
    /// Rounds completed.
    public var rounds: Int
    /// The final global adapter (PEFT directory).
    public var finalAdapter: URL
    /// Communication per round and in total.
    public var ledger: CommunicationLedger
    /// Wall time of this invocation (after a resume: since the resume).
    public var seconds: Double
}

/// The federated round loop, written once.
///
/// Each round: sample K of N clients from (seed, round); for each, the client trainer (data
/// hooks, local LoRA training from the global adapter, FedProx/SCAFFOLD through the round
/// configuration) returns a reply or throws (the client is dropped and recorded); the strategy,
/// wrapped in the configured policies and an outermost ``ScreenedStrategy`` (NaN/Inf, names,
/// shapes, norm bound, minimum replies), aggregates; the server hooks run; every k rounds the
/// evaluation hook runs; the global adapter, the checkpoint and the round record are written.
///
/// ``run()`` continues from the directory's latest checkpoint, so starting and resuming are
/// the same call; a run killed at any point and resumed ends with a bit-identical adapter.
public final class FederatedRun {
    /// The configuration (as read back from `config.yaml`).
    public let configuration: RunConfiguration
    /// The frozen base model.
    public let model: LlamaModel
    /// Recorded as `base_model_name_or_path` in the adapters.
    public let baseModelName: String
    /// The run directory.
    public let directory: RunDirectory
    /// Local training.
    public let client: any ClientTrainer
    /// Server-side and evaluation hooks (client data hooks live in the client trainer).
    public let hooks: SimulationHooks
    /// Tensor map ↔ adapter conversion.
    public let layout: AdapterLayout
    let logger: Logger
    let onEvent: (SimulationEvent) -> Void

    /// A run over `directory` (see ``createDirectory(_:configuration:)`` and ``configuration(of:)``).
    public init(configuration: RunConfiguration, model: LlamaModel, baseModelName: String, directory: RunDirectory,
                client: any ClientTrainer, hooks: SimulationHooks = SimulationHooks(), layout: AdapterLayout,
                logger: Logger = Logger(label: "fedguard.simulation"), onEvent: @escaping (SimulationEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.model = model
        self.baseModelName = baseModelName
        self.directory = directory
        self.client = client
        self.hooks = hooks
        self.layout = layout
        self.logger = logger
        self.onEvent = onEvent
    }

    /// The standard run: client data from `configuration.data.directory` (relative paths from
    /// the current directory), ``LoRAClientTrainer`` with the hooks' client data hooks, wrapped in
    /// ``AdversarialClientTrainer`` when the configuration names adversaries. A `harmful_data`
    /// entry without its own `data` file trains on `harmfulPool` (the CLI passes the harmful pool of
    /// the client-data sources).
    public static func standard(configuration: RunConfiguration, model: LlamaModel, baseModelName: String,
                                directory: RunDirectory, hooks: SimulationHooks = SimulationHooks(),
                                harmfulPool: [SFTExample]? = nil,
                                logger: Logger = Logger(label: "fedguard.simulation"),
                                onEvent: @escaping (SimulationEvent) -> Void = { _ in }) throws -> FederatedRun {
        let layout = try AdapterLayout(model: model, configuration: configuration.lora.configuration)
        let dataURL = URL(fileURLWithPath: (configuration.data.directory as NSString).expandingTildeInPath)
        let datasets = try ClientDatasets(directory: dataURL, clients: configuration.clients, logger: logger)
        let honest = try LoRAClientTrainer(model: model, layout: layout, datasets: datasets, hooks: hooks.clientData,
                                           updateHooks: hooks.clientUpdate, configuration: configuration, logger: logger)
        var client: any ClientTrainer = honest
        if !configuration.adversaries.isEmpty {
            var harmful: [Int: [SFTExample]] = [:]
            for (index, entry) in configuration.adversaries.enumerated() where entry.attack == .harmfulData {
                if let path = entry.data {
                    let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
                    harmful[index] = try DatasetLoader.loadSFT(from: url, logger: logger).examples
                } else {
                    guard let harmfulPool else {
                        throw SimulationError.data("adversaries.\(index) (harmful_data) names no data file and no harmful pool was given")
                    }
                    harmful[index] = harmfulPool
                }
            }
            client = try AdversarialClientTrainer(honest: honest, adversaries: configuration.adversaries, harmfulExamples: harmful)
            logger.notice("poisoned clients", metadata: ["adversaries": "\(configuration.adversaries.map { "\($0.attack.rawValue)\($0.clients)" })"])
        }
        return FederatedRun(configuration: configuration, model: model, baseModelName: baseModelName, directory: directory,
                            client: client, hooks: hooks, layout: layout, logger: logger, onEvent: onEvent)
    }

    /// Creates a new run directory with `configuration` as `config.yaml` and returns the
    /// configuration read back from it (what the run and any resume use).
    public static func createDirectory(_ directory: RunDirectory, configuration: RunConfiguration) throws -> RunConfiguration {
        try configuration.validate()
        let yaml = try configuration.yaml(header: "FedGuard run configuration (resolved). Resume: fedguard run --resume \(directory.url.path)")
        try directory.create(configurationYAML: yaml)
        return try RunConfiguration.load(file: directory.configurationURL)
    }

    /// The configuration of an existing run.
    public static func configuration(of directory: RunDirectory) throws -> RunConfiguration {
        guard directory.holdsRun else {
            throw SimulationError.runDirectory(path: directory.url.path, detail: "no config.yaml: not a run directory")
        }
        return try RunConfiguration.load(file: directory.configurationURL)
    }

    /// The strategy the configuration describes: the algorithm, its policies (innermost first)
    /// and the run's screen outermost.
    public static func makeStrategy(_ configuration: RunConfiguration, logger: Logger? = nil) throws -> any Strategy {
        var strategy = configuration.strategy.makeStrategy(logger: logger)
        for policy in configuration.policies { strategy = try policy.wrap(strategy, logger: logger) }
        var requiresControl = false
        if case .scaffold = configuration.strategy { requiresControl = true }
        let screen = ReplyScreen(minimumReplies: configuration.minReplies, maxUpdateNorm: configuration.updateNormBound,
                                 requireControlVariate: requiresControl)
        return try PolicyConfiguration.screen(screen).wrap(strategy, logger: logger)
    }

    /// The global adapter of round 0: `initial_adapter` when set (its rank, alpha and targets must
    /// match `lora`), else a fresh adapter drawn from the run's seed.
    func initialAdapter() throws -> LoRAWeights {
        let lora = configuration.lora.configuration
        guard let path = configuration.initialAdapter else {
            return LoRAWeights.initialized(for: model, configuration: lora, seed: RunSeeds.initialAdapter(configuration.seed))
        }
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath, isDirectory: true)
        let loaded: LoadedAdapter
        do { loaded = try PEFTAdapter.load(from: url, for: model) } catch {
            throw SimulationError.io(path: url.path, detail: "cannot load initial_adapter: \(error)")
        }
        let found = loaded.configuration
        guard found.rank == lora.rank, Set(found.targets) == Set(lora.targets), abs(found.alpha - lora.alpha) <= 1e-6 * lora.alpha else {
            throw SimulationError.io(path: url.path, detail: "initial_adapter has rank \(found.rank), alpha \(found.alpha), targets "
                + "\(found.targets.map(\.rawValue)) but the run's lora section has rank \(lora.rank), alpha \(lora.alpha), targets "
                + "\(lora.targets.map(\.rawValue)); set lora to match the adapter")
        }
        return loaded.weights
    }

    /// The run's client sampler: K of N clients per round, a pure function of (seed, round).
    func makeSampler() throws -> ClientSampler {
        try ClientSampler(population: configuration.clients, mode: .fixedCount(configuration.clientsPerRound), seed: configuration.seed)
    }

    /// Rounds completed by the run in `directory`, from its latest checkpoint (no model needed).
    public static func completedRounds(in directory: RunDirectory) throws -> Int {
        try RunCheckpoint.read(from: directory)?.round ?? 0
    }

        /// Runs the remaining rounds (all of them for a new run).
    @discardableResult
    public func run() throws -> SimulationSummary {
        let started = Date()
        let c = configuration
        var strategy = try Self.makeStrategy(c, logger: logger)
        var state = try loadState(strategy: &strategy)
        let sampler = try makeSampler()
        onEvent(.started(startRound: state.round + 1, totalRounds: c.rounds, strategy: strategy.name))
        var roundTimes: [Double] = []
        while state.round < c.rounds {
            let round = state.round + 1
            let roundStart = Date()
            let (record, next) = try runRound(round, state: state, strategy: &strategy, sampler: sampler)
            state = next
            let finished = try commit(record, state: &state, strategy: strategy, started: roundStart, forceCheckpoint: false)
            roundTimes.append(finished.seconds)
            let eta = roundTimes.reduce(0, +) / Double(roundTimes.count) * Double(c.rounds - round)
            onEvent(.roundFinished(record: finished, totalRounds: c.rounds, etaSeconds: eta))
        }
        return SimulationSummary(directory: directory, rounds: state.round, finalAdapter: directory.adapterURL(round: state.round),
                                 ledger: state.ledger, seconds: Date().timeIntervalSince(started))
    }

    /// One round in process: the plan, every sampled client trained here, then the server's half.
    /// Returns the record (without `seconds`) and the new state.
    func runRound(_ round: Int, state: RunState, strategy: inout any Strategy, sampler: ClientSampler) throws
        -> (RoundRecord, RunState) {
        let plan = self.plan(round: round, state: state, strategy: strategy, sampler: sampler)
        onEvent(.roundStarted(round: round, totalRounds: configuration.rounds, clients: plan.clients, learningRate: plan.learningRate))
        var outcomes: [Int: ClientOutcome] = [:]
        for task in plan.tasks {
            let clientStart = Date()
            var outcome: ClientOutcome
            do {
                let result = try client.train(task) { progress in
                    onEvent(.clientStep(round: round, totalRounds: configuration.rounds, progress: progress))
                }
                outcome = ClientOutcome(result: result)
            } catch {
                outcome = ClientOutcome(failure: "\(error)", hookMetrics: (error as? ClientDataExhausted)?.hookMetrics ?? [:])
            }
            outcome.seconds = Date().timeIntervalSince(clientStart)
            outcomes[task.clientID] = outcome
            onEvent(.clientFinished(round: round, client: plan.clientRecord(task.clientID, outcome)))
            FaultInjection.reach("client-trained", round: round)
        }
        return try complete(plan, outcomes: outcomes, state: state, strategy: &strategy)
    }
}
