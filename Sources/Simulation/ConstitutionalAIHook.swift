import ConstitutionalAI
import Federation
import Foundation
import Logging
import Training

/// Constitutional AI on the server after aggregation (the paper's placement): one
/// ``ConstitutionalAIStep`` from the aggregated adapter per round. Its output is screened like a
/// client update (finite values, the change's L2 norm at most `cai.max_update_norm`); a rejected
/// step keeps the aggregated adapter and is counted. Metrics go to the round record under
/// `hooks.cai`, so they never mix with the clients'.
public struct ConstitutionalAIHook: ServerHook, ClientUpdateHook {
    /// The step runner.
    public let step: ConstitutionalAIStep
    /// Called with the step's records (e.g. to write them to the run directory).
    public let recordsSink: ((Int, [CAIRecord]) throws -> Void)?

    /// Creates the hook.
    public init(step: ConstitutionalAIStep, recordsSink: ((Int, [CAIRecord]) throws -> Void)? = nil) {
        self.step = step
        self.recordsSink = recordsSink
    }

    public var name: String { "cai" }

    /// The hook's own seed stream: the server seed of the round, mixed with a constant of its own.
    public static func seed(serverSeed: UInt64) -> UInt64 { serverSeed ^ 0xCA1_5EED_0000_C0DE }

    public func afterAggregation(global: inout TensorMap, context: ServerHookContext) throws -> [String: Double] {
        guard context.aggregated else {
            context.logger.notice("CAI skipped: no new aggregate this round", metadata: ["round": "\(context.round)"])
            return ["skipped": 1]
        }
        let start = try context.layout.weights(global)
        let started = Date()
        var result: CAIStepResult
        do {
            var lastPhase = ""
            result = try step.run(adapter: start, seed: Self.seed(serverSeed: context.seed)) { p in
                switch p {
                case let .generating(phase, done, total):
                    // One line per phase: CAI takes minutes, and the run's progress line is the clients'.
                    if phase != lastPhase {
                        lastPhase = phase
                        context.logger.notice("cai: \(phase)", metadata: ["round": "\(context.round)", "conversations": "\(total)"])
                    }
                    if done == total { context.logger.info("cai: \(phase) done", metadata: ["round": "\(context.round)"]) }
                case let .training(objective, t):
                    if objective != lastPhase {
                        lastPhase = objective
                        context.logger.notice("cai: training (\(objective))", metadata: ["round": "\(context.round)", "steps": "\(t.totalSteps)"])
                    }
                    context.logger.info("cai training", metadata: ["objective": "\(objective)", "step": "\(t.step)/\(t.totalSteps)",
                                                                   "loss": "\(t.loss)"])
                }
            }
        } catch let error as CAIError {
            // No usable data or a failed training (a NaN loss): the aggregate stays.
            context.logger.warning("CAI step rejected", metadata: ["round": "\(context.round)", "reason": "\(error)"])
            return ["rejected": 1, "seconds": Date().timeIntervalSince(started)]
        }
        try recordsSink?(context.round, result.records)
        FaultInjection.reach("cai-trained", round: context.round)
        let (proposed, norm) = try screen(result, against: global, layout: context.layout)
        result.metrics["update_norm"] = norm.isFinite ? norm : -1
        guard let proposed else {
            context.logger.warning("CAI update rejected by the screen", metadata: [
                "round": "\(context.round)", "norm": "\(norm)", "bound": "\(step.settings.maxUpdateNorm)"])
            result.metrics["rejected"] = 1
            return result.metrics
        }
        global = proposed
        result.metrics["rejected"] = 0
        return result.metrics
    }

    /// `cai.placement: client`: one step on the client's trained adapter before its reply is sent
    /// (the paper's comparison). Only counts are reported (they are summed over the round's clients).
    public func afterLocalTraining(local: inout TensorMap, context: ClientDataContext, layout: AdapterLayout) throws -> [String: Double] {
        let start = try layout.weights(local)
        let result: CAIStepResult
        do {
            result = try step.run(adapter: start, seed: Self.seed(serverSeed: context.seed))
        } catch let error as CAIError {
            context.logger.warning("client CAI step rejected", metadata: ["client": "\(context.clientID)", "reason": "\(error)"])
            return ["rejected": 1]
        }
        var counts = result.metrics.filter { Self.countKeys.contains($0.key) || $0.key.hasPrefix("seconds") || $0.key.hasPrefix("tokens") }
        guard let proposed = try screen(result, against: local, layout: layout).proposed else {
            counts["rejected"] = 1
            return counts
        }
        local = proposed
        counts["rejected"] = 0
        return counts
    }

    /// Metrics that add up over clients.
    static let countKeys: Set<String> = ["prompts", "harmful_prompts", "benign_prompts", "sft_examples", "dpo_pairs", "sft_steps", "dpo_steps"]

    /// The screen of both placements, as for a client update: the step's adapter replaces
    /// `current` only when it is finite and its change has an L2 norm ≤ `cai.max_update_norm`.
    /// Returns the replacement (nil: rejected) and the change's norm.
    func screen(_ result: CAIStepResult, against current: TensorMap, layout: AdapterLayout) throws -> (proposed: TensorMap?, norm: Double) {
        let proposed = try layout.tensorMap(result.adapter)
        let norm = Self.changeNorm(from: current, to: proposed)
        return (norm.isFinite && norm <= step.settings.maxUpdateNorm ? proposed : nil, norm)
    }

    /// The L2 norm of `b − a` (infinite when the layouts differ or a value is not finite).
    static func changeNorm(from a: TensorMap, to b: TensorMap) -> Double {
        guard b.firstNonFinite == nil, let delta = try? b.subtracting(a) else { return .infinity }
        return delta.l2Norm
    }
}
