import Foundation

/// A learning rate as a function of the optimizer step, as the `transformers` schedulers define it.
///
/// `learningRate(atStep:)` takes the number of optimizer steps already taken (0 for the first
/// update), like `LambdaLR` after that many `scheduler.step()` calls: with warm-up, the first
/// update therefore uses learning rate 0, exactly as in `transformers`.
public enum LearningRateSchedule: Sendable, Codable, Equatable {
    /// `peak` at every step (`get_constant_schedule`).
    case constant(peak: Double)
    /// Linear warm-up from 0 to `peak` over `warmupSteps`, then `peak`
    /// (`get_constant_schedule_with_warmup`).
    case constantWithWarmup(peak: Double, warmupSteps: Int)
    /// Linear warm-up, then linear decay to 0 at `totalSteps` (`get_linear_schedule_with_warmup`).
    case linearWithWarmup(peak: Double, warmupSteps: Int, totalSteps: Int)
    /// Linear warm-up, then a cosine from `peak` down to 0 at `totalSteps` over `cycles` periods
    /// (`get_cosine_schedule_with_warmup`; the default 0.5 is one half-cosine).
    case cosineWithWarmup(peak: Double, warmupSteps: Int, totalSteps: Int, cycles: Double = 0.5)

    /// The learning rate for the update after `step` completed steps.
    ///
    /// reference: transformers `optimization.py` (`_get_*_lr_lambda`), factor × peak.
    public func learningRate(atStep step: Int) -> Double {
        let s = Double(max(step, 0))
        switch self {
        case .constant(let peak):
            return peak
        case .constantWithWarmup(let peak, let warmup):
            if step < warmup { return peak * s / Double(max(1, warmup)) }
            return peak
        case .linearWithWarmup(let peak, let warmup, let total):
            if step < warmup { return peak * s / Double(max(1, warmup)) }
            return peak * max(0, Double(total - step) / Double(max(1, total - warmup)))
        case .cosineWithWarmup(let peak, let warmup, let total, let cycles):
            if step < warmup { return peak * s / Double(max(1, warmup)) }
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return peak * max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
        }
    }
}

/// The learning rate of each federated round: a half-cosine from `initial` at round 0 down towards
/// `floor` at round `totalRounds` (clients then run their local steps at that rate).
///
/// reference: OpenFedLLM `cosine_learning_rate(current_round, total_rounds, initial_lr, min_lr)`:
/// `floor + ½·(initial − floor)·(1 + cos(π·round / totalRounds))`.
public struct RoundCosineSchedule: Sendable, Codable, Equatable {
    /// The rate of round 0.
    public var initial: Double
    /// The rate approached at the last round.
    public var floor: Double
    /// Number of rounds.
    public var totalRounds: Int

    /// Creates the schedule; `totalRounds` below 1 is treated as 1.
    public init(initial: Double, floor: Double = 0, totalRounds: Int) {
        self.initial = initial
        self.floor = floor
        self.totalRounds = max(1, totalRounds)
    }

    /// The learning rate of round `round` (0-based); rounds past the end stay at `floor`.
    public func learningRate(round: Int) -> Double {
        let r = Double(min(max(round, 0), totalRounds))
        return floor + 0.5 * (initial - floor) * (1 + cos(Double.pi * r / Double(totalRounds)))
    }
}
