import Federation
import Foundation
import Logging
import RunFiles
import Training

/// One round's instructions before any client runs (Flower's `configure_fit`): the sampled
/// clients and each one's task. A pure function of the run's seed, the round and the state.
public struct RoundPlan: Sendable {
    /// The round (1-based).
    public var round: Int
    /// The sampled clients, ascending.
    public var clients: [Int]
    /// The strategy's instructions (FedProx's mu, SCAFFOLD's server control).
    public var configuration: RoundConfiguration
    /// The clients' learning rate this round.
    public var learningRate: Double
    /// Bytes sent down to each client (float32 parameters and server control).
    public var bytesDown: Int
    /// One task per sampled client, in `clients` order.
    public var tasks: [ClientTask]
    /// SCAFFOLD in deployment: the round whose control variate each client must start from (the
    /// last round its reply was aggregated; absent: zeros). The client keeps the variates.
    public var controlRounds: [Int: Int]

    /// The record of `client` given its outcome (status before aggregation: `ok` or `failed: …`).
    func clientRecord(_ client: Int, _ outcome: ClientOutcome?) -> RoundRecord.Client {
        var record = RoundRecord.Client(id: RoundRecord.Client.id(client), loss: nil, examples: 0, seconds: outcome?.seconds ?? 0,
                                        bytesUp: 0, bytesDown: bytesDown, status: "ok")
        guard let outcome else {
            record.status = "failed: no reply"
            return record
        }
        if let reply = outcome.result?.reply {
            record.loss = reply.metrics["loss"]
            record.examples = reply.exampleCount
            record.bytesUp = reply.parameters.float32ByteCount + (reply.controlVariateDelta?.float32ByteCount ?? 0)
        } else {
            record.status = "failed: \(outcome.failure ?? "no reply")"
        }
        return record
    }
}

/// What one sampled client's round came to: its result, or why it has none.
public struct ClientOutcome: Sendable {
    /// The client's result (nil when it failed).
    public var result: ClientResult?
    /// Why it failed (nil when it replied).
    public var failure: String?
    /// Hook metrics of a client that failed after its data hooks ran (e.g. all examples filtered).
    public var failedHookMetrics: [String: [String: Double]]
    /// Wall time of the client's work.
    public var seconds: Double

    /// A client that replied.
    public init(result: ClientResult, seconds: Double = 0) {
        self.result = result
        failure = nil
        failedHookMetrics = [:]
        self.seconds = seconds
    }

    /// A client that failed, with what its hooks reported before it did.
    public init(failure: String, hookMetrics: [String: [String: Double]] = [:], seconds: Double = 0) {
        result = nil
        self.failure = failure
        failedHookMetrics = hookMetrics
        self.seconds = seconds
    }
}

/// The server's half of a round, written once and shared by the in-process simulation
/// (``FederatedRun/run()``) and a deployment whose clients run elsewhere (``DeployedServer``):
/// load the state → plan (sample, configure) → [clients, wherever they run] → complete (screen,
/// aggregate, server hooks, evaluation) → commit (adapter, checkpoint, record).
extension FederatedRun {
    /// The state after the latest checkpoint (or round 0), with records and leftovers cut back to it.
    func loadState(strategy: inout any Strategy) throws -> RunState {
        var state: RunState
        if let saved = try RunCheckpoint.read(from: directory) {
            state = saved
            if let difference = layout.layout.firstDifference(from: saved.global.layout) {
                throw SimulationError.runDirectory(path: directory.url.path, detail: "the checkpoint's adapter does not fit the model: \(difference)")
            }
            try strategy.restoreState(from: saved.strategyState)
            // Cut the records back to the checkpoint's round, then (re)write its line.
            try directory.truncateRecords(to: min(saved.recordsPrefix, directory.recordsLength()))
            if let line = saved.recordLine { try directory.appendRecord(line, faultRound: -1) }
            logger.notice("resuming", metadata: ["run": "\(directory.url.path)", "after_round": "\(saved.round)"])
        } else {
            let initial = try initialAdapter()
            state = RunState(round: 0, global: try layout.tensorMap(initial), strategyState: try strategy.encodedState(),
                             clientControls: [:], controlRounds: [:], ledger: CommunicationLedger(), recordsPrefix: 0, recordLine: nil)
            try directory.truncateRecords(to: 0)
        }
        try directory.removeLeftovers(after: state.round)
        RunCheckpoint.removeStale(in: directory.checkpointURL, keeping: state.round > 0 ? RunDirectory.roundName(state.round) : nil)
        return state
    }

    /// The plan of `round` from `state`.
    func plan(round: Int, state: RunState, strategy: any Strategy, sampler: ClientSampler) -> RoundPlan {
        let c = configuration
        let sampled = sampler.sample(round: round)
        let roundConfiguration = strategy.configure(round: round, global: state.global)
        let learningRate = c.learningRate(round: round)
        let bytesDown = (state.global.elementCount + roundConfiguration.extraDownloadElementCount) * MemoryLayout<Float>.size
        let tasks = sampled.map { id in
            ClientTask(clientID: id, round: round, global: state.global, configuration: roundConfiguration,
                       learningRate: learningRate, clientControl: state.clientControls[id],
                       seed: RunSeeds.training(c.seed, round: round, client: id),
                       hookSeed: RunSeeds.clientHook(c.seed, round: round, client: id))
        }
        return RoundPlan(round: round, clients: sampled, configuration: roundConfiguration, learningRate: learningRate,
                         bytesDown: bytesDown, tasks: tasks, controlRounds: state.controlRounds.filter { sampled.contains($0.key) })
    }

    /// The server's half of `plan`'s round given each sampled client's outcome (a missing one
    /// counts as failed): aggregation through the screened strategy, server hooks, evaluation.
    /// `extraRejections` are counted in the record (e.g. replies from clients not sampled).
    func complete(_ plan: RoundPlan, outcomes: [Int: ClientOutcome], state: RunState, strategy: inout any Strategy,
                  extraRejections: [String: Int] = [:]) throws -> (RoundRecord, RunState) {
        let c = configuration
        let round = plan.round
        var next = state
        var replies: [ClientReply] = []
        var clientRecords: [Int: RoundRecord.Client] = [:]
        var hookSums: [String: [String: Double]] = [:]
        func add(_ metrics: [String: [String: Double]]) {
            for (hook, values) in metrics {
                for (key, value) in values { hookSums[hook, default: [:]][key, default: 0] += value }
            }
        }
        for id in plan.clients {
            let outcome = outcomes[id]
            if let result = outcome?.result {
                replies.append(result.reply)
                add(result.hookMetrics)
            } else {
                add(outcome?.failedHookMetrics ?? [:])
                logger.warning("client failed; dropped from the round", metadata: [
                    "round": "\(round)", "client": "\(id)", "error": "\(outcome?.failure ?? "no reply")",
                ])
            }
            clientRecords[id] = plan.clientRecord(id, outcome)
        }

        let received = replies
        var extraRejections = extraRejections
        for hook in hooks.replies where !replies.isEmpty {
            onEvent(.serverStep(round: round, totalRounds: c.rounds, step: "\(hook.name) of \(replies.count) replies"))
            let decided: ReplyHookOutcome
            do { decided = try hook.screen(global: state.global, replies: replies, context: ReplyHookContext(round: round, logger: logger)) } catch {
                throw SimulationError.hook(name: hook.name, detail: "\(error)")
            }
            hookSums[hook.name, default: [:]].merge(decided.metrics) { $0 + $1 }
            for (id, reason) in decided.rejected.sorted(by: { $0.key < $1.key }) {
                clientRecords[id]?.status = "rejected: \(reason)"
                logger.warning("reply rejected", metadata: ["round": "\(round)", "client": "\(id)", "reason": "\(reason)"])
            }
            extraRejections[hook.name, default: 0] += decided.rejected.count
            replies.removeAll { decided.rejected[$0.clientID] != nil }
        }

        let aggregationStart = Date()
        let outcome = try strategy.aggregate(global: state.global, replies: replies, round: round)
        let aggregationSeconds = Date().timeIntervalSince(aggregationStart)
        for rejection in outcome.rejections {
            clientRecords[rejection.clientID]?.status = "rejected: \(rejection.reason)"
            logger.warning("reply rejected", metadata: [
                "round": "\(round)", "client": "\(rejection.clientID)", "reason": "\(rejection.reason)",
            ])
        }
        if case let .keptPrevious(reason) = outcome.status {
            logger.warning("previous global adapter kept", metadata: ["round": "\(round)", "reason": "\(reason)"])
        }
        // SCAFFOLD: a client keeps its new control variate only if its reply was aggregated.
        for id in outcome.acceptedClientIDs {
            guard let result = outcomes[id]?.result, result.reply.controlVariateDelta != nil else { continue }
            if let control = result.updatedControl { next.clientControls[id] = control }
            next.controlRounds[id] = round
        }
        let communication = RoundCommunication(round: round, global: state.global, configuration: plan.configuration,
                                               sampledClients: plan.clients.count, replies: received)
        next.ledger.record(communication)

        var global = outcome.global
        let serverSeed = RunSeeds.serverHook(c.seed, round: round)
        let serverContext = ServerHookContext(round: round, aggregated: outcome.isUpdated, model: model, layout: layout,
                                              configuration: c, seed: serverSeed, logger: logger)
        for hook in hooks.server {
            onEvent(.serverStep(round: round, totalRounds: c.rounds, step: hook.name))
            do { hookSums[hook.name] = try hook.afterAggregation(global: &global, context: serverContext) } catch {
                throw SimulationError.hook(name: hook.name, detail: "\(error)")
            }
        }
        var evaluation: [String: Double]?
        let every = c.evaluation.every
        if hooks.evaluation.isEnabled, every > 0, round % every == 0 || round == c.rounds {
            onEvent(.serverStep(round: round, totalRounds: c.rounds, step: "evaluation (\(c.evaluation.suite), "
                + (c.evaluation.limit.map { "\($0) prompts per suite)" } ?? "every prompt)")))
            let context = EvaluationContext(round: round, model: model, adapter: try layout.weights(global),
                                            settings: c.evaluation, seed: serverSeed, logger: logger)
            do { evaluation = try hooks.evaluation.evaluate(context) } catch {
                throw SimulationError.hook(name: hooks.evaluation.name, detail: "\(error)")
            }
        }
        next.global = global
        next.round = round

        var strategyMetrics = outcome.metrics
        if let privacy = outcome.privacy {
            strategyMetrics["privacy.epsilon"] = privacy.epsilon
            strategyMetrics["privacy.delta"] = privacy.delta
        }
        var rejections = Dictionary(uniqueKeysWithValues: outcome.rejectionCounts.map { ($0.key.rawValue, $0.value) })
        for (kind, count) in extraRejections { rejections[kind, default: 0] += count }
        let record = RoundRecord(
            round: round, lr: plan.learningRate, clients: plan.clients.compactMap { clientRecords[$0] },
            aggregationSeconds: aggregationSeconds, keptPrevious: !outcome.isUpdated,
            bytesUp: communication.uploadBytes, bytesDown: communication.downloadBytes, hooks: hookSums,
            eval: evaluation, seconds: 0, rejections: rejections, strategy: strategyMetrics)
        return (record, next)
    }

    /// Persists a completed round: its adapter, then (when due, or when `forceCheckpoint`) the
    /// checkpoint holding its record, then the record. Returns the record with its `seconds`.
    @discardableResult
    func commit(_ record: RoundRecord, state: inout RunState, strategy: any Strategy, started: Date,
                forceCheckpoint: Bool) throws -> RoundRecord {
        let c = configuration
        let round = state.round
        try directory.saveAdapter(try layout.weights(state.global), dropout: Float(c.lora.dropout),
                                  baseModel: baseModelName, round: round)
        FaultInjection.reach("adapter-written", round: round)
        var finished = record
        finished.seconds = Date().timeIntervalSince(started)
        let line = try finished.jsonLine()
        state.recordsPrefix = directory.recordsLength()
        state.recordLine = line
        if forceCheckpoint || round % c.checkpoint.every == 0 || round == c.rounds {
            state.strategyState = try strategy.encodedState()
            try RunCheckpoint.write(state, seed: c.seed, strategyName: strategy.name, in: directory)
        }
        try directory.appendRecord(line, faultRound: round)
        FaultInjection.reach("record-appended", round: round)
        return finished
    }
}
