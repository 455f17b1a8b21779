import Engine
import Federation
import Foundation
import Logging
import Training

// The three places where later work plugs into the round loop. Each hook reports metrics that
// the runner writes into the round record under `hooks.<name>` (evaluation under `eval`).
//
// Hooks must be deterministic functions of their inputs (use `context.seed` for any random
// choice): a resumed run replays interrupted rounds and must reach the same adapter.

/// What a client-side data hook knows about the client it runs for.
public struct ClientDataContext: Sendable {
    /// The client's index in the population.
    public var clientID: Int
    /// The round (1-based).
    public var round: Int
    /// A seed for this (run, round, client), for hooks that sample.
    public var seed: UInt64
    /// The run's logger (never log a training example in full: it may be harmful text).
    public var logger: Logger

    /// Creates a context (the runner does; tests of hooks do too).
    public init(clientID: Int, round: Int, seed: UInt64, logger: Logger) {
        self.clientID = clientID
        self.round = round
        self.seed = seed
        self.logger = logger
    }
}

/// A client's examples after a data hook, with the hook's metrics (summed over a round's clients
/// in the round record, e.g. `{"removed": 3}`).
public struct PreparedExamples: Sendable {
    /// The examples to train on.
    public var examples: [SFTExample]
    /// Metrics of this client (counts are summed over the round's clients).
    public var metrics: [String: Double]

    /// Creates a result.
    public init(examples: [SFTExample], metrics: [String: Double] = [:]) {
        self.examples = examples
        self.metrics = metrics
    }
}

/// Runs on a client's data before local training: the place of the client-side safety filter.
public protocol ClientDataHook {
    /// The key of the hook's metrics in the round record.
    var name: String { get }
    /// The examples to train on. Throwing drops the client from the round (recorded as failed).
    func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples
}

/// The default client data hook: trains on the data as it is.
public struct IdentityDataHook: ClientDataHook {
    /// Creates the hook.
    public init() {}
    public var name: String { "client_data" }
    public func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        PreparedExamples(examples: examples)
    }
}

/// Runs on a client after its local training, before the reply is sent: may change the trained
/// adapter (constitutional AI with `cai.placement: client`). Its metrics are summed over the
/// round's clients like the data hooks' (report counts, not shares).
public protocol ClientUpdateHook {
    /// The key of the hook's metrics in the round record.
    var name: String { get }
    /// Adjusts `local` (the client's trained adapter, PEFT key names) and returns metrics.
    /// Throwing drops the client from the round (recorded as failed).
    func afterLocalTraining(local: inout TensorMap, context: ClientDataContext, layout: AdapterLayout) throws -> [String: Double]
}

/// What a reply hook knows about the round it runs in.
public struct ReplyHookContext {
    /// The round (1-based).
    public var round: Int
    /// The run's logger.
    public var logger: Logger
}

/// What a reply hook decided: the replies to reject (by client, with the reason) and metrics.
public struct ReplyHookOutcome: Sendable {
    /// Rejected clients and why.
    public var rejected: [Int: String]
    /// Metrics for the round record.
    public var metrics: [String: Double]

    /// Creates an outcome.
    public init(rejected: [Int: String], metrics: [String: Double]) {
        self.rejected = rejected
        self.metrics = metrics
    }
}

/// Runs on the server before aggregation and may reject replies with the model at hand (the
/// Federation module's screens see tensors only): the place of ``UpdateSafetyScreen``. Rejected
/// replies are left out of aggregation and counted under the hook's name.
public protocol ReplyHook {
    /// The key of the hook's metrics and rejections in the round record.
    var name: String { get }
    /// Decides on this round's replies (malformed ones included: the hook may skip them, the run's
    /// reply screen rejects them after it).
    func screen(global: TensorMap, replies: [ClientReply], context: ReplyHookContext) throws -> ReplyHookOutcome
}

/// What a server-side hook knows about the round it runs in.
public struct ServerHookContext {
    /// The round (1-based).
    public var round: Int
    /// Whether aggregation produced a new global this round (false: the previous one was kept).
    public var aggregated: Bool
    /// The frozen base model.
    public let model: LlamaModel
    /// Converts between the global tensor map and engine adapters.
    public let layout: AdapterLayout
    /// The run's configuration.
    public let configuration: RunConfiguration
    /// A seed for this (run, round).
    public var seed: UInt64
    /// The run's logger.
    public var logger: Logger
}

/// Runs on the server after aggregation and may change the global adapter: the place of
/// constitutional AI. Throwing stops the run (resume replays the round).
public protocol ServerHook {
    /// The key of the hook's metrics in the round record.
    var name: String { get }
    /// Adjusts `global` (PEFT key names, see ``AdapterLayout``) and returns metrics.
    func afterAggregation(global: inout TensorMap, context: ServerHookContext) throws -> [String: Double]
}

/// What the evaluation hook evaluates.
public struct EvaluationContext {
    /// The round (1-based).
    public var round: Int
    /// The frozen base model.
    public let model: LlamaModel
    /// The global adapter after the round.
    public let adapter: LoRAWeights
    /// The suite and limit from the configuration.
    public var settings: RunConfiguration.EvaluationSettings
    /// A seed for this (run, round).
    public var seed: UInt64
    /// The run's logger.
    public var logger: Logger
}

/// Evaluates the global adapter every `evaluation.every` rounds (and after the last); its metrics
/// go to the round record's `eval`. Throwing stops the run (resume replays the round).
public protocol EvaluationHook {
    /// A name for logs.
    var name: String { get }
    /// False for a hook that does nothing (the round record then has no `eval`).
    var isEnabled: Bool { get }
    /// Metrics of the global adapter (e.g. `harmful_rate`, `refusal_rate`).
    func evaluate(_ context: EvaluationContext) throws -> [String: Double]
}

extension EvaluationHook {
    public var isEnabled: Bool { true }
}

/// The default evaluation hook: evaluates nothing (the lead wires the harmlessness evaluator).
public struct NoEvaluation: EvaluationHook {
    /// Creates the hook.
    public init() {}
    public var name: String { "none" }
    public var isEnabled: Bool { false }
    public func evaluate(_ context: EvaluationContext) throws -> [String: Double] { [:] }
}

/// The hooks of a run.
public struct SimulationHooks {
    /// Client-side data hooks, applied in order to each client's examples.
    public var clientData: [any ClientDataHook]
    /// Client-side hooks on the trained adapter, applied in order before the reply is sent.
    public var clientUpdate: [any ClientUpdateHook]
    /// Server-side hooks on the replies, applied in order before aggregation.
    public var replies: [any ReplyHook]
    /// Server-side hooks, applied in order after aggregation.
    public var server: [any ServerHook]
    /// The evaluation hook.
    public var evaluation: any EvaluationHook

    /// Creates hooks; the defaults change nothing.
    public init(clientData: [any ClientDataHook] = [IdentityDataHook()], clientUpdate: [any ClientUpdateHook] = [],
                replies: [any ReplyHook] = [], server: [any ServerHook] = [], evaluation: any EvaluationHook = NoEvaluation()) {
        self.clientData = clientData
        self.clientUpdate = clientUpdate
        self.replies = replies
        self.server = server
        self.evaluation = evaluation
    }
}
