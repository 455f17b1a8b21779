import Engine
import Federation
import Foundation
import Logging

/// A deployed client's round (Flower's `ClientApp.train`): read the task and the global adapter,
/// run the client data hooks (the safety filter) and local training on this machine's data with
/// the simulation's own client code, write the reply folder. Only the adapter, the example count,
/// training metrics and hook counts leave the client; SCAFFOLD's control variates stay in its
/// state directory.
public struct DeployedClient {
    /// The frozen base model.
    public let model: LlamaModel
    /// The run's configuration (from the task).
    public let configuration: RunConfiguration
    /// Client data hooks, in order (the safety filter).
    public let hooks: [any ClientDataHook]
    /// Hooks on the trained adapter (constitutional AI with `cai.placement: client`).
    public let updateHooks: [any ClientUpdateHook]
    let logger: Logger

    /// A client of the run `configuration` describes.
    public init(model: LlamaModel, configuration: RunConfiguration, hooks: [any ClientDataHook] = [],
                updateHooks: [any ClientUpdateHook] = [], logger: Logger) {
        self.model = model
        self.configuration = configuration
        self.hooks = hooks
        self.updateHooks = updateHooks
        self.logger = logger
    }

    /// The configuration a task file carries.
    public static func configuration(of task: ClientTaskFile) throws -> RunConfiguration {
        try RunConfiguration.load(yaml: task.configuration)
    }

    /// Trains `task` from the global adapter in `global` on the chat JSONL `data` and writes the
    /// reply folder `out` (`reply.json`, `adapter.safetensors`, SCAFFOLD's `control_delta.safetensors`).
    /// A client that cannot train (its data unreadable, every example filtered) writes a reply
    /// saying why, as the simulation records it; bad inputs from the server (a global adapter of
    /// another layout, a missing control variate) throw.
    @discardableResult
    public func fit(task: ClientTaskFile, global: URL, serverControl: URL?, data: URL, state: URL?, out: URL,
                    progress: (ClientProgress) -> Void = { _ in }) throws -> ClientReplyFile {
        let started = Date()
        guard task.format == ClientTaskFile.formatVersion else {
            throw SimulationError.io(path: out.path, detail: "task format \(task.format); this version reads \(ClientTaskFile.formatVersion)")
        }
        let layout = try AdapterLayout(model: model, configuration: configuration.lora.configuration)
        if let difference = layout.layout.firstDifference(from: task.layout) {
            throw SimulationError.model("the task's adapter does not fit this client's model: \(difference)")
        }
        let globalMap = try TensorMapFile.read(global, layout: layout.layout)
        var objective = LocalObjective.plain
        var clientControl: TensorMap?
        switch task.objective {
        case .plain: break
        case .proximal:
            guard let mu = task.mu else { throw SimulationError.io(path: out.path, detail: "a proximal task without mu") }
            objective = .proximal(mu: mu)
        case .scaffold:
            guard let serverControl else {
                throw SimulationError.io(path: out.path, detail: "a SCAFFOLD task needs the server control (--server-control)")
            }
            objective = .scaffold(serverControl: try TensorMapFile.read(serverControl, layout: layout.layout))
            if let round = task.controlRound {
                guard let state else {
                    throw SimulationError.io(path: out.path, detail: "SCAFFOLD: the task starts from this client's control variate of "
                        + "round \(round); give the client's state directory (--state)")
                }
                clientControl = try TensorMapFile.read(state.appendingPathComponent(DeploymentFiles.control(round: round)), layout: layout.layout)
            }
        }
        let clientTask = ClientTask(clientID: task.client, round: task.round, global: globalMap,
                                    configuration: RoundConfiguration(round: task.round, objective: objective),
                                    learningRate: task.learningRate, clientControl: clientControl, seed: task.seed, hookSeed: task.hookSeed)

        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var reply = ClientReplyFile(format: ClientReplyFile.formatVersion, client: task.client, round: task.round, failure: nil,
                                    exampleCount: 0, metrics: [:], hookMetrics: [:], seconds: 0, hasControlDelta: false)
        // As in the simulation, any error of the client's own data or training drops the client
        // from the round with its message; the reply says so.
        let result: ClientResult
        do {
            let datasets = try ClientDatasets(file: data, client: task.client, logger: logger)
            let trainer = try LoRAClientTrainer(model: model, layout: layout, datasets: datasets, hooks: hooks,
                                                updateHooks: updateHooks, configuration: configuration, logger: logger)
            result = try trainer.train(clientTask, progress: progress)
        } catch {
            reply.failure = "\(error)"
            reply.hookMetrics = (error as? ClientDataExhausted)?.hookMetrics ?? [:]
            reply.seconds = Date().timeIntervalSince(started)
            try DeploymentFiles.encode(reply).write(to: out.appendingPathComponent(DeploymentFiles.replyJSON), options: .atomic)
            return reply
        }
        try TensorMapFile.write(result.reply.parameters, to: out.appendingPathComponent(DeploymentFiles.adapter),
                                metadata: ["format": "pt"])
        if let delta = result.reply.controlVariateDelta, let updated = result.updatedControl {
            guard let state else {
                throw SimulationError.io(path: out.path, detail: "SCAFFOLD: a client keeps its control variate; give it a state directory (--state)")
            }
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            try TensorMapFile.write(updated, to: state.appendingPathComponent(DeploymentFiles.control(round: task.round)))
            try TensorMapFile.write(delta, to: out.appendingPathComponent(DeploymentFiles.controlDelta))
            reply.hasControlDelta = true
            Self.removeOldControls(in: state, keeping: [task.controlRound, task.round].compactMap { $0 })
        }
        reply.exampleCount = result.reply.exampleCount
        reply.metrics = result.reply.metrics
        reply.hookMetrics = result.hookMetrics
        reply.seconds = Date().timeIntervalSince(started)
        try DeploymentFiles.encode(reply).write(to: out.appendingPathComponent(DeploymentFiles.replyJSON), options: .atomic)
        return reply
    }

    /// Deletes control variates of rounds other than `keeping` (older rounds can never be asked for again).
    static func removeOldControls(in state: URL, keeping: [Int]) {
        let keep = Set(keeping.map(DeploymentFiles.control(round:)))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: state.path)) ?? []
        where name.hasPrefix("control-round-") && name.hasSuffix(".safetensors") && !keep.contains(name) {
            try? FileManager.default.removeItem(at: state.appendingPathComponent(name))
        }
    }
}
