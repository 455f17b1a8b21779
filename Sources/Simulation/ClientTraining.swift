import Engine
import Federation
import Foundation
import Logging
import Training

/// One client's job in one round (Flower's `FitIns`).
public struct ClientTask: Sendable {
    /// The client's index in the population.
    public var clientID: Int
    /// The round (1-based).
    public var round: Int
    /// The global adapter the client starts from.
    public var global: TensorMap
    /// The strategy's instructions (FedProx's mu, SCAFFOLD's server control variate).
    public var configuration: RoundConfiguration
    /// The round's learning rate (round-cosine schedule).
    public var learningRate: Double
    /// SCAFFOLD: the client's control variate `c_i` (nil: zeros, the client's first round).
    public var clientControl: TensorMap?
    /// Trainer seed (data order, dropout), from ``RunSeeds/training(_:round:client:)``.
    public var seed: UInt64
    /// Seed for the client data hooks.
    public var hookSeed: UInt64

    /// Creates a task.
    public init(clientID: Int, round: Int, global: TensorMap, configuration: RoundConfiguration, learningRate: Double,
                clientControl: TensorMap?, seed: UInt64, hookSeed: UInt64) {
        self.clientID = clientID
        self.round = round
        self.global = global
        self.configuration = configuration
        self.learningRate = learningRate
        self.clientControl = clientControl
        self.seed = seed
        self.hookSeed = hookSeed
    }
}

/// What a client returns: its reply plus what stays on the client.
public struct ClientResult: Sendable {
    /// The reply sent to the server.
    public var reply: ClientReply
    /// SCAFFOLD: the client's new control variate `c_i⁺` (kept by the runner for the client's next round).
    public var updatedControl: TensorMap?
    /// Metrics of the client data hooks, by hook name.
    public var hookMetrics: [String: [String: Double]]

    /// Creates a result.
    public init(reply: ClientReply, updatedControl: TensorMap? = nil, hookMetrics: [String: [String: Double]] = [:]) {
        self.reply = reply
        self.updatedControl = updatedControl
        self.hookMetrics = hookMetrics
    }
}

/// A client whose data hooks left no example (e.g. a safety filter that removed them all): the
/// client does not train this round, and the runner still records the hooks' metrics.
public struct ClientDataExhausted: Error, CustomStringConvertible {
    /// The client.
    public var clientID: Int
    /// The hooks' metrics, by hook name.
    public var hookMetrics: [String: [String: Double]]

    public var description: String { "no examples left after the client data hooks (\(hookMetrics.keys.sorted().joined(separator: ", ")))" }
}

/// Progress of one client's local training.
public struct ClientProgress: Sendable {
    /// The client.
    public var clientID: Int
    /// The trainer's progress after a step.
    public var training: TrainingProgress
}

/// Local training of one client (Flower's `Client.fit`). The runner calls it for every sampled
/// client; a throw drops the client from the round and is recorded as `failed: <message>`.
public protocol ClientTrainer {
    /// Trains from `task.global` and returns the reply.
    func train(_ task: ClientTask, progress: (ClientProgress) -> Void) throws -> ClientResult
}

/// The standard client: its data (after the client data hooks) → packed SFT sequences → a fresh
/// ``LoRATrainer`` starting from the global adapter at the round's learning rate (constant within
/// the round, as OpenFedLLM sets each round's rate), with FedProx's proximal gradient or SCAFFOLD's
/// correction added through the trainer's `gradientTransform`.
public final class LoRAClientTrainer: ClientTrainer {
    /// The frozen base model.
    public let model: LlamaModel
    /// Tensor map ↔ adapter conversion.
    public let layout: AdapterLayout
    /// The clients' data.
    public let datasets: ClientDatasets
    /// Client data hooks, in order.
    public let hooks: [any ClientDataHook]
    /// Hooks on the trained adapter, in order.
    public let updateHooks: [any ClientUpdateHook]
    /// The run configuration.
    public let configuration: RunConfiguration
    let builder: SequenceBuilder
    let logger: Logger

    /// Creates the client side of a run; throws when the model has no chat template.
    public init(model: LlamaModel, layout: AdapterLayout, datasets: ClientDatasets, hooks: [any ClientDataHook],
                updateHooks: [any ClientUpdateHook] = [], configuration: RunConfiguration, logger: Logger) throws {
        guard let tokenizer = model.tokenizer else {
            throw SimulationError.model("the model carries no tokenizer; client data cannot be tokenized")
        }
        self.model = model
        self.layout = layout
        self.datasets = datasets
        self.hooks = hooks
        self.updateHooks = updateHooks
        self.configuration = configuration
        self.logger = logger
        do {
            builder = try SequenceBuilder(modelTokenizer: tokenizer, maxLength: configuration.data.maxSequenceLength)
        } catch {
            throw SimulationError.model("\(error)")
        }
    }

    /// The trainer settings of a client in a round with learning rate `learningRate`.
    public static func trainerParameters(_ configuration: RunConfiguration, learningRate: Double, seed: UInt64)
        throws -> TrainerParameters {
        var p = TrainerParameters()
        p.objective = .sft
        p.learningRate = learningRate
        p.cosine = false
        p.warmupSteps = 0
        p.epochs = configuration.local.epochs
        p.maxSteps = configuration.local.steps
        p.tokensPerBatch = configuration.local.tokensPerBatch
        p.gradientAccumulation = configuration.local.gradientAccumulation
        p.maxGradientNorm = configuration.local.maxGradientNorm.map(Float.init)
        p.optimizer = try AdamWConfiguration(weightDecay: configuration.local.weightDecay)
        p.seed = seed
        return p
    }

    public func train(_ task: ClientTask, progress: (ClientProgress) -> Void) throws -> ClientResult {
        try train(task, examples: try datasets.examples(client: task.clientID), applyHooks: true, progress: progress)
    }

    /// Trains on `examples` instead of the client's data, with or without the client data hooks
    /// (a poisoned client's data, or one that skips the filter: ``AdversarialClientTrainer``).
    func train(_ task: ClientTask, examples data: [SFTExample], applyHooks: Bool,
               progress: (ClientProgress) -> Void) throws -> ClientResult {
        var examples = data
        var hookMetrics: [String: [String: Double]] = [:]
        let context = ClientDataContext(clientID: task.clientID, round: task.round, seed: task.hookSeed, logger: logger)
        for hook in applyHooks ? hooks : [] {
            let prepared = try hook.prepare(examples, context: context)
            examples = prepared.examples
            if !prepared.metrics.isEmpty { hookMetrics[hook.name] = prepared.metrics }
        }
        guard !examples.isEmpty else { throw ClientDataExhausted(clientID: task.clientID, hookMetrics: hookMetrics) }
        let sequences = try builder.sequences(for: examples, logger: logger).items
        guard !sequences.isEmpty else {
            throw SimulationError.data("client \(task.clientID) has no training sequences left after the data hooks")
        }

        let adapter = try layout.weights(task.global)
        let parameters = try Self.trainerParameters(configuration, learningRate: task.learningRate, seed: task.seed)
        let trainer = LoRATrainer(model: model, adapter: adapter, loraConfiguration: configuration.lora.configuration,
                                  parameters: parameters, logger: logger)
        var serverControl: TensorMap?
        var clientControl: TensorMap?
        switch task.configuration.objective {
        case .plain:
            break
        case let .proximal(mu):
            // FedProx: ∇ h = ∇ F + μ (w − w_global).   reference: Li et al. 2020, Algorithm 2.
            let global = task.global.values
            let factor = Float(mu)
            trainer.gradientTransform = { weights, gradients in
                Self.forEachBuffer(weights, gradients) { offset, w, g, count in
                    for i in 0..<count { g[i] += factor * (w[i] - global[offset + i]) }
                }
            }
        case let .scaffold(control):
            // SCAFFOLD: g − c_i + c.   reference: Karimireddy et al. 2020, Algorithm 1 line 10.
            let own = task.clientControl ?? TensorMap.zeros(like: task.global)
            serverControl = control
            clientControl = own
            let correction = try Scaffold.correction(serverControl: control, clientControl: own).values
            trainer.gradientTransform = { weights, gradients in
                Self.forEachBuffer(weights, gradients) { offset, _, g, count in
                    for i in 0..<count { g[i] += correction[offset + i] }
                }
            }
        }

        var lossSum = 0.0
        let summary = try trainer.trainSFT(sequences) { step in
            lossSum += step.loss
            progress(ClientProgress(clientID: task.clientID, training: step))
            return true
        }
        var local = try layout.tensorMap(adapter)
        var updatedControl: TensorMap?
        var controlDelta: TensorMap?
        if let serverControl, let clientControl {
            let updated = try Scaffold.updatedClientControl(
                clientControl: clientControl, serverControl: serverControl, global: task.global, local: local,
                localSteps: max(1, summary.steps), learningRate: task.learningRate)
            updatedControl = updated
            controlDelta = try Scaffold.controlDelta(updated: updated, previous: clientControl)
        }
        // After the control variate, which reflects local training only.
        for hook in updateHooks {
            let metrics = try hook.afterLocalTraining(local: &local, context: context, layout: layout)
            if !metrics.isEmpty { hookMetrics[hook.name] = metrics }
        }
        let metrics: [String: Double] = [
            "loss": summary.steps > 0 ? lossSum / Double(summary.steps) : .nan,
            "steps": Double(summary.steps), "tokens": Double(summary.tokens),
        ]
        let reply = ClientReply(clientID: task.clientID, parameters: local, exampleCount: sequences.count,
                                metrics: metrics, controlVariateDelta: controlDelta)
        return ClientResult(reply: reply, updatedControl: updatedControl, hookMetrics: hookMetrics)
    }

    /// Calls `body(offset, weights, gradients, count)` for each buffer pair, where `offset` is
    /// the buffer's start in the flat (tensor map) order.
    static func forEachBuffer(_ weights: LoRAWeights, _ gradients: LoRAWeights,
                              _ body: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        var offset = 0
        for (w, g) in zip(weights.orderedBuffers, gradients.orderedBuffers) {
            body(offset, w.pointer, g.pointer, w.count)
            offset += w.count
        }
    }
}
