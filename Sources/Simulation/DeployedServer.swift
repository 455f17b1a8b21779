import Federation
import Foundation
import Logging
import RunFiles

/// A client trainer for a server whose clients run on other machines: never called.
public struct RemoteClients: ClientTrainer {
    /// Creates it.
    public init() {}

    public func train(_ task: ClientTask, progress: (ClientProgress) -> Void) throws -> ClientResult {
        throw SimulationError.data("deployment: client \(task.clientID) trains on its own machine, not in the server process")
    }
}

/// The server of a deployed run, one call per phase of a round, with all state in the run
/// directory (so each call may be a new process, as a Flower ServerApp's subprocess calls are).
///
/// ``configure(into:)`` writes the next round's tasks and global adapter into a round directory;
/// the transport (a Flower ServerApp) carries them to the clients and their replies back into the
/// round directory's `replies/`; ``aggregate(roundDirectory:)`` screens, aggregates, runs the server
/// hooks (constitutional AI) and evaluation, and commits the round with a checkpoint. Both use the
/// same round code as ``FederatedRun/run()``, so the adapters equal the simulation's bit for bit.
public final class DeployedServer {
    /// The run (its client trainer is ``RemoteClients``).
    public let run: FederatedRun

    /// A server for `run`.
    public init(run: FederatedRun) { self.run = run }

    /// The run's state after its latest checkpoint, the strategy restored to it, and its sampler.
    private func current() throws -> (state: RunState, strategy: any Strategy, sampler: ClientSampler) {
        var strategy = try FederatedRun.makeStrategy(run.configuration, logger: run.logger)
        let state = try run.loadState(strategy: &strategy)
        return (state, strategy, try run.makeSampler())
    }

    /// Plans the next round into `directory` (created; emptied of an earlier attempt's files):
    /// `plan.json`, `global.safetensors`, SCAFFOLD's `server_control.safetensors` and one
    /// `client-NNN.json` task per sampled client. Returns nil when the run has finished.
    public func configure(into directory: URL) throws -> DeployedRoundPlan? {
        let c = run.configuration
        let (state, strategy, sampler) = try current()
        guard state.round < c.rounds else { return nil }
        let plan = run.plan(round: state.round + 1, state: state, strategy: strategy, sampler: sampler)

        let fm = FileManager.default
        if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
        try fm.createDirectory(at: directory.appendingPathComponent(DeploymentFiles.replies), withIntermediateDirectories: true)
        try TensorMapFile.write(state.global, to: directory.appendingPathComponent(DeploymentFiles.global),
                                metadata: ["round": "\(plan.round)", "format": "pt"])
        var objective = ClientTaskFile.Objective.plain
        var mu: Double?
        switch plan.configuration.objective {
        case .plain: break
        case let .proximal(value):
            objective = .proximal
            mu = value
        case let .scaffold(control):
            objective = .scaffold
            try TensorMapFile.write(control, to: directory.appendingPathComponent(DeploymentFiles.serverControl))
        }
        let yaml = try c.yaml(header: "FedGuard run configuration (resolved), sent with a deployed client's task")
        for task in plan.tasks {
            let file = ClientTaskFile(
                format: ClientTaskFile.formatVersion, client: task.clientID, round: task.round, learningRate: task.learningRate,
                seed: task.seed, hookSeed: task.hookSeed, objective: objective, mu: mu,
                controlRound: plan.controlRounds[task.clientID], layout: run.layout.layout, configuration: yaml)
            try DeploymentFiles.encode(file).write(to: directory.appendingPathComponent(DeploymentFiles.task(client: task.clientID)),
                                                   options: .atomic)
        }
        let summary = DeployedRoundPlan(round: plan.round, rounds: c.rounds, clients: plan.clients,
                                        plannedAt: Date().timeIntervalSince1970, hasServerControl: objective == .scaffold)
        try DeploymentFiles.encode(summary).write(to: directory.appendingPathComponent(DeploymentFiles.plan), options: .atomic)
        run.logger.notice("round planned", metadata: ["round": "\(plan.round)", "clients": "\(plan.clients)"])
        return summary
    }

    /// Completes the round planned in `roundDirectory` from the replies in its `replies/`: a
    /// sampled client without a reply, or whose reply is malformed (unreadable JSON, another round
    /// or client, an adapter of the wrong layout), counts as failed; a reply from a client that was
    /// not sampled is ignored and counted (`unsampled_client` in the record's rejections).
    public func aggregate(roundDirectory: URL) throws -> RoundRecord {
        let planned = try DeploymentFiles.decode(DeployedRoundPlan.self, from: roundDirectory.appendingPathComponent(DeploymentFiles.plan))
        var (state, strategy, sampler) = try current()
        guard planned.round == state.round + 1 else {
            throw SimulationError.runDirectory(path: run.directory.url.path, detail: "the plan in \(roundDirectory.path) is for round "
                + "\(planned.round) but the run has completed \(state.round) rounds; plan the round again (fedguard server configure)")
        }
        let plan = run.plan(round: planned.round, state: state, strategy: strategy, sampler: sampler)
        guard plan.clients == planned.clients else {
            throw SimulationError.runDirectory(path: roundDirectory.path, detail: "plan.json samples \(planned.clients), the run samples \(plan.clients)")
        }
        let repliesURL = roundDirectory.appendingPathComponent(DeploymentFiles.replies)
        var outcomes: [Int: ClientOutcome] = [:]
        for task in plan.tasks {
            let folder = repliesURL.appendingPathComponent(DeploymentFiles.reply(client: task.clientID))
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(DeploymentFiles.replyJSON).path) else {
                continue  // no reply: counted as failed by `complete`
            }
            do { outcomes[task.clientID] = try readReply(folder, task: task) } catch {
                outcomes[task.clientID] = ClientOutcome(failure: "malformed reply: \(error)")
            }
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: repliesURL.path)) ?? []
        let expected = Set(plan.clients.map(DeploymentFiles.reply(client:)))
        let unsampled = present.filter { !$0.hasPrefix(".") && !expected.contains($0) }
        if !unsampled.isEmpty {
            run.logger.warning("replies from clients that were not sampled ignored", metadata: ["round": "\(plan.round)", "replies": "\(unsampled.sorted())"])
        }
        let (record, next) = try run.complete(plan, outcomes: outcomes, state: state, strategy: &strategy,
                                              extraRejections: unsampled.isEmpty ? [:] : ["unsampled_client": unsampled.count])
        state = next
        return try run.commit(record, state: &state, strategy: strategy, started: Date(timeIntervalSince1970: planned.plannedAt),
                              forceCheckpoint: true)
    }

    /// One client's reply folder as an outcome.
    func readReply(_ folder: URL, task: ClientTask) throws -> ClientOutcome {
        let reply = try DeploymentFiles.decode(ClientReplyFile.self, from: folder.appendingPathComponent(DeploymentFiles.replyJSON))
        guard reply.client == task.clientID, reply.round == task.round else {
            throw SimulationError.io(path: folder.path, detail: "reply is for client \(reply.client), round \(reply.round); "
                + "expected client \(task.clientID), round \(task.round)")
        }
        if let failure = reply.failure {
            return ClientOutcome(failure: failure, hookMetrics: reply.hookMetrics, seconds: reply.seconds)
        }
        let layout = run.layout.layout
        let parameters = try TensorMapFile.read(folder.appendingPathComponent(DeploymentFiles.adapter), layout: layout)
        let delta = reply.hasControlDelta
            ? try TensorMapFile.read(folder.appendingPathComponent(DeploymentFiles.controlDelta), layout: layout) : nil
        let clientReply = ClientReply(clientID: task.clientID, parameters: parameters, exampleCount: reply.exampleCount,
                                      metrics: reply.metrics, controlVariateDelta: delta)
        return ClientOutcome(result: ClientResult(reply: clientReply, hookMetrics: reply.hookMetrics), seconds: reply.seconds)
    }
}
