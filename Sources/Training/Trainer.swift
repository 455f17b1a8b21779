import Engine
import Foundation
import Logging

/// What a training run optimises.
public enum TrainingObjective: String, Sendable, Codable, CaseIterable {
    /// Supervised fine-tuning: cross-entropy on assistant tokens.
    case sft
    /// Direct Preference Optimization (sigmoid loss) against the adapter-free base model.
    case dpo
}

/// Settings of a training run (every field has a default a demanding user would expect).
public struct TrainerParameters: Sendable, Codable, Equatable {
    /// SFT or DPO.
    public var objective: TrainingObjective = .sft
    /// Peak learning rate.
    public var learningRate: Double = 2e-4
    /// Cosine decay to zero after `warmupSteps` (false: constant after warm-up).
    public var cosine = true
    /// Linear warm-up steps.
    public var warmupSteps = 0
    /// Passes over the data (ignored when `maxSteps` is set).
    public var epochs = 1
    /// Optimizer steps to take, overriding `epochs`.
    public var maxSteps: Int?
    /// Token budget of one micro-batch (sequences are packed, no padding).
    public var tokensPerBatch = 1024
    /// Micro-batches per optimizer step.
    public var gradientAccumulation = 1
    /// Clip the global gradient norm to this (nil: no clipping).
    public var maxGradientNorm: Float? = 1.0
    /// AdamW settings (decoupled weight decay).
    public var optimizer = AdamWConfiguration.torchDefaults
    /// DPO temperature β.
    public var dpoBeta: Double = 0.1
    /// Seed of data order and LoRA dropout.
    public var seed: UInt64 = 0

    /// Defaults.
    public init() {}
}

/// Progress of a run, delivered after every optimizer step.
public struct TrainingProgress: Sendable {
    /// Optimizer steps done and planned.
    public var step, totalSteps: Int
    /// Mean loss of the step (token-weighted for SFT).
    public var loss: Double
    /// Learning rate used by the step.
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Float
    /// Tokens in the step's packed batches, and those carrying loss (SFT) or pairs (DPO).
    public var tokens, targetTokens: Int
    /// Tokens processed per second (all tokens of the packed batches) and loss-carrying tokens per second.
    public var tokensPerSecond, targetTokensPerSecond: Double
    /// Estimated seconds to the end.
    public var etaSeconds: Double
    /// DPO only: reward accuracy of the step.
    public var accuracy: Double?
}

/// What a finished run reports.
public struct TrainingSummary: Sendable, Codable {
    public var steps: Int
    public var firstLoss: Double
    public var lastLoss: Double
    public var seconds: Double
    public var tokens: Int
    public var targetTokens: Int
}

/// Errors of the training loop.
public enum TrainerError: Error, CustomStringConvertible {
    case emptyData
    case sequenceTooLong(index: Int, length: Int, budget: Int)
    case nonFiniteLoss(step: Int)
    case input(String)

    public var description: String {
        switch self {
        case .emptyData: return "no training examples: the data set is empty after loading and filtering"
        case .sequenceTooLong(let i, let n, let b):
            return "example \(i) has \(n) tokens, more than the \(b)-token batch budget; raise the batch size or lower --max-seq-len"
        case .nonFiniteLoss(let s): return "the loss became NaN or infinite at step \(s); lower the learning rate"
        case .input(let m): return m
        }
    }
}

/// The LoRA training loop: packed micro-batches, gradient accumulation, clipping, AdamW, schedule,
/// checkpoints, and exact resume. One trainer serves `fedguard train` and every federated client.
public final class LoRATrainer {
    /// The frozen base model.
    public let model: LlamaModel
    /// The adapter being trained (updated in place).
    public let adapter: LoRAWeights
    /// The adapter's settings (rank, alpha, dropout, targets).
    public let loraConfiguration: LoRAConfiguration
    /// Run settings.
    public let parameters: TrainerParameters
    /// Called on the gradients of every optimizer step, after accumulation and before clipping:
    /// the place for FedProx's proximal term and SCAFFOLD's control-variate correction.
    public var gradientTransform: ((_ adapter: LoRAWeights, _ gradients: LoRAWeights) -> Void)?

    /// Optimizer steps taken so far.
    public private(set) var step = 0
    /// Where in the data stream the next micro-batch starts.
    public private(set) var position = DataPosition()
    let optimizer: AdamW
    var rng: SeededGenerator
    let gradients: LoRAWeights
    let logger: Logger
    /// Activation buffers reused by every micro-step (allocated on first use, grown as needed).
    private lazy var workspace = TrainingWorkspace(model: model, tokens: parameters.tokensPerBatch)

    /// A fresh run.
    public init(model: LlamaModel, adapter: LoRAWeights, loraConfiguration: LoRAConfiguration,
                parameters: TrainerParameters, logger: Logger = Logger(label: "fedguard.train")) {
        self.model = model
        self.adapter = adapter
        self.loraConfiguration = loraConfiguration
        self.parameters = parameters
        self.optimizer = AdamW(parameters: adapter, configuration: parameters.optimizer)
        self.rng = SeededGenerator(seed: parameters.seed ^ 0x5EED_D809_0C7A_11E5)
        self.gradients = adapter.zerosLike()
        self.logger = logger
    }

    /// Continues a run from a checkpoint (adapter, optimizer, step, random state, data position).
    public convenience init(model: LlamaModel, resuming checkpoint: TrainingCheckpoint, parameters: TrainerParameters,
                            logger: Logger = Logger(label: "fedguard.train")) throws {
        self.init(model: model, adapter: checkpoint.adapter, loraConfiguration: checkpoint.loraConfiguration,
                  parameters: parameters, logger: logger)
        try optimizer.restore(checkpoint.optimizerState)
        rng = try checkpoint.random.generator()
        step = checkpoint.step
        position = checkpoint.dataPosition
    }

    /// The run's state as a checkpoint value.
    public func checkpoint(baseModel: String) -> TrainingCheckpoint {
        TrainingCheckpoint(step: step, adapter: adapter, loraConfiguration: loraConfiguration, baseModel: baseModel,
                           optimizerConfiguration: parameters.optimizer, optimizerState: optimizer.state,
                           schedule: nil, random: RandomState(rng), dataSeed: parameters.seed, dataPosition: position)
    }

    /// The learning-rate schedule for a run of `totalSteps`.
    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        let p = parameters
        return p.cosine
            ? .cosineWithWarmup(peak: p.learningRate, warmupSteps: p.warmupSteps, totalSteps: totalSteps)
            : .constantWithWarmup(peak: p.learningRate, warmupSteps: p.warmupSteps)
    }

    /// Supervised fine-tuning on `sequences`. `afterStep` runs after every optimizer step (progress
    /// display, checkpoints); returning false stops the run there.
    public func trainSFT(_ sequences: [TrainingSequence], afterStep: (TrainingProgress) throws -> Bool = { _ in true }) throws -> TrainingSummary {
        try run(lengths: sequences.map(\.tokens.count), afterStep: afterStep) { items, scale, rng in
            let batch = items.map { sequences[$0] }
            let r = try sftLossAndGradients(model: model, adapter: adapter, sequences: batch, gradients: gradients,
                                            dropout: loraConfiguration.dropout, rng: &rng, lossScale: scale,
                                            workspace: workspace)
            return (r.loss, r.targetTokens, nil)
        } targets: { items in items.reduce(0) { $0 + sequences[$1].targetCount } }
    }

    /// DPO on preference pairs. The reference is the base model (adapter off, as TRL does with a
    /// PEFT model) or, given `reference`, that adapter on the base model (for instance the adapter a
    /// constitutional-AI step starts from); its log-probabilities are computed once, before training.
    public func trainDPO(_ pairs: [PreferenceSequences], reference: LoRAWeights? = nil,
                         afterStep: (TrainingProgress) throws -> Bool = { _ in true }) throws -> TrainingSummary {
        let dpoPairs = pairs.map(DPOPair.init)
        var referenceValues: [(chosen: Double, rejected: Double)]?
        if let reference {
            try reference.validate(for: model)
            var values: [(chosen: Double, rejected: Double)] = []
            for pair in dpoPairs {
                let lp = try sequenceLogProbabilities(model: model, adapter: reference, sequences: [pair.chosen, pair.rejected],
                                                      workspace: workspace)
                values.append((lp[0], lp[1]))
            }
            referenceValues = values
        }
        return try run(lengths: pairs.map { $0.chosen.tokens.count + $0.rejected.tokens.count }, afterStep: afterStep) { items, scale, rng in
            let r = try dpoLossAndGradients(model: model, adapter: adapter, pairs: items.map { dpoPairs[$0] }, gradients: gradients,
                                            beta: parameters.dpoBeta, dropout: loraConfiguration.dropout, rng: &rng, lossScale: scale,
                                            referenceLogProbabilities: referenceValues.map { v in items.map { v[$0] } },
                                            workspace: workspace)
            return (r.loss, items.count, r.accuracy)
        } targets: { items in items.count }
    }

    /// The shared loop. `microStep(items, lossScale, rng)` adds the gradients of `lossScale` × its
    /// mean loss and returns (mean loss, weight of that mean, accuracy); `targets(items)` is the
    /// weight of a micro-batch, so the step's loss is the weighted mean over its micro-batches.
    private func run(lengths: [Int], afterStep: (TrainingProgress) throws -> Bool,
                     microStep: ([Int], Float, inout SeededGenerator) throws -> (Double, Int, Double?),
                     targets: ([Int]) -> Int) throws -> TrainingSummary {
        guard !lengths.isEmpty else { throw TrainerError.emptyData }
        let p = parameters
        if let i = lengths.firstIndex(where: { $0 > p.tokensPerBatch }) {
            throw TrainerError.sequenceTooLong(index: i, length: lengths[i], budget: p.tokensPerBatch)
        }
        let planner = try BatchPlanner(lengths: lengths, tokenBudget: p.tokensPerBatch, seed: p.seed)
        let perEpoch = planner.batches(epoch: 0).count
        let totalSteps = p.maxSteps ?? max(1, (perEpoch * p.epochs + p.gradientAccumulation - 1) / p.gradientAccumulation)
        let schedule = self.schedule(totalSteps: totalSteps)
        var epochBatches = planner.batches(epoch: position.epoch)

        var summary = TrainingSummary(steps: 0, firstLoss: .nan, lastLoss: .nan, seconds: 0, tokens: 0, targetTokens: 0)
        let started = Date()
        let startStep = step
        while step < totalSteps {
            let stepStart = Date()
            // Gather this step's micro-batches from the data stream (crossing epochs as needed).
            var micro: [TokenBatch] = []
            while micro.count < p.gradientAccumulation {
                if position.batch >= epochBatches.count {
                    position = DataPosition(epoch: position.epoch + 1, batch: 0)
                    epochBatches = planner.batches(epoch: position.epoch)
                }
                micro.append(epochBatches[position.batch])
                position.batch += 1
            }
            let weights = micro.map { targets($0.items) }
            let total = max(1, weights.reduce(0, +))
            gradients.zeroBuffers()
            var loss = 0.0
            var accuracy: Double?
            var tokens = 0
            for (batch, w) in zip(micro, weights) {
                let (l, _, acc) = try microStep(batch.items, Float(w) / Float(total), &rng)
                loss += l * Double(w) / Double(total)
                if let acc { accuracy = (accuracy ?? 0) + acc * Double(w) / Double(total) }
                tokens += batch.tokenCount
            }
            guard loss.isFinite else { throw TrainerError.nonFiniteLoss(step: step) }
            gradientTransform?(adapter, gradients)
            let norm = gradients.globalNorm()
            if let maxNorm = p.maxGradientNorm { _ = gradients.clipGlobalNorm(maxNorm: maxNorm) }
            let lr = schedule.learningRate(atStep: step)
            try optimizer.update(adapter, gradients: gradients, learningRate: lr)
            step += 1

            let seconds = Date().timeIntervalSince(stepStart)
            summary.tokens += tokens
            summary.targetTokens += total
            if summary.steps == 0 { summary.firstLoss = loss }
            summary.steps += 1
            summary.lastLoss = loss
            let elapsed = Date().timeIntervalSince(started)
            let done = step - startStep
            let progress = TrainingProgress(
                step: step, totalSteps: totalSteps, loss: loss, learningRate: lr, gradientNorm: norm,
                tokens: tokens, targetTokens: total, tokensPerSecond: Double(tokens) / max(seconds, 1e-9), targetTokensPerSecond: Double(total) / max(seconds, 1e-9),
                etaSeconds: elapsed / Double(done) * Double(totalSteps - step), accuracy: accuracy)
            logger.debug("step", metadata: ["step": "\(step)", "loss": "\(loss)", "lr": "\(lr)"])
            if try !afterStep(progress) { break }
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }
}
