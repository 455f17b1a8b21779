/// Robustness policies: decorators that take any ``Strategy`` and change what reaches it.
///
/// - ``ClippedStrategy`` clips each update `parameters − global` to a norm bound.
/// - ``MedianStrategy`` and ``TrimmedMeanStrategy`` replace the replies by one robust aggregate.
/// - ``KrumStrategy`` keeps the most central reply (Krum) or replies (multi-Krum).
///
/// The wrapped strategy still runs its own step, so e.g. `MedianStrategy(base: FedAdam())` uses
/// the coordinate-wise median as FedAdam's "client mean". Caveat: a collapsing policy (median,
/// trimmed mean, DP) hands SCAFFOLD a single reply carrying the mean control delta, so SCAFFOLD's
/// `|S|/N` factor becomes `1/N`; prefer clipping or Krum with SCAFFOLD.

/// Collapses replies into a single reply carrying `parameters` (their robust or noisy
/// aggregate), with the summed example count and the mean SCAFFOLD control delta.
func collapsedReply(_ replies: [ClientReply], parameters: TensorMap) throws -> ClientReply {
    let controls = replies.compactMap(\.controlVariateDelta)
    let control = controls.count == replies.count && !controls.isEmpty ? try Aggregation.mean(controls) : nil
    return ClientReply(
        clientID: replies.first?.clientID ?? 0, parameters: parameters,
        exampleCount: replies.reduce(0) { $0 + max(0, $1.exampleCount) },
        metrics: [:], controlVariateDelta: control)
}

extension StrategyDecorator {
    /// Screens `replies`, replaces the accepted ones by one reply whose parameters are
    /// `combine(their parameters)`, and delegates that reply to ``base``.
    mutating func aggregateCombined(global: TensorMap, replies: [ClientReply], round: Int,
                                    combine: ([TensorMap]) throws -> TensorMap) throws -> AggregationOutcome {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        let combined = try combine(screened.accepted.map(\.parameters))
        return try delegateCollapsed(
            &base, global: global, original: screened.accepted,
            collapsed: try collapsedReply(screened.accepted, parameters: combined),
            rejections: screened.rejections, round: round)
    }
}

/// Delegates `collapsed` replies to `base` and reports the original replies as accepted.
func delegateCollapsed<Base: Strategy>(
    _ base: inout Base, global: TensorMap, original: [ClientReply], collapsed: ClientReply,
    rejections: [Rejection], round: Int
) throws -> AggregationOutcome {
    var outcome = try base.aggregate(global: global, replies: [collapsed], round: round)
    if outcome.isUpdated { outcome.acceptedClientIDs = original.map(\.clientID) }
    outcome.rejections = rejections + outcome.rejections
    outcome.metrics.merge(Aggregation.weightedMetrics(original.map { ($0.metrics, $0.exampleCount) })) { a, _ in a }
    return outcome
}

/// Clips every client update to L2 norm ≤ ``maxNorm`` before delegating:
/// `parameters ← global + Δ · min(1, C/‖Δ‖)` with `Δ = parameters − global`.
/// Reports `"clip.clipped_count"` in the outcome metrics.
///
/// reference: McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models",
/// flat clipping; Sun et al. 2019, "Can You Really Backdoor Federated Learning?" (norm bounding
/// as a defence).
public struct ClippedStrategy<Base: Strategy>: StrategyDecorator {
    /// The wrapped strategy.
    public var base: Base
    /// The clipping bound C > 0.
    public let maxNorm: Double

    /// Wraps `base`; throws if `maxNorm` is not positive and finite.
    public init(base: Base, maxNorm: Double) throws {
        try require(maxNorm > 0 && maxNorm.isFinite, key: "max_norm", value: maxNorm, allowed: "finite, > 0")
        self.base = base
        self.maxNorm = maxNorm
    }

    public var name: String { "clipped(\(base.name))" }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        var clippedCount = 0
        let clipped = try screened.accepted.map { reply -> ClientReply in
            let (delta, wasClipped) = Aggregation.clipped(try reply.parameters.subtracting(global), maxNorm: maxNorm)
            if wasClipped { clippedCount += 1 }
            var copy = reply
            copy.parameters = try global.adding(delta)
            return copy
        }
        var outcome = try base.aggregate(global: global, replies: clipped, round: round)
        outcome.rejections = screened.rejections + outcome.rejections
        outcome.metrics["clip.clipped_count"] = Double(clippedCount)
        return outcome
    }
}

/// Replaces the replies by their coordinate-wise median, then delegates.
///
/// reference: Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
/// Statistical Rates" (ICML); Flower `FedMedian`.
public struct MedianStrategy<Base: Strategy>: StrategyDecorator {
    /// The wrapped strategy.
    public var base: Base

    /// Wraps `base`.
    public init(base: Base) { self.base = base }

    public var name: String { "median(\(base.name))" }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        try aggregateCombined(global: global, replies: replies, round: round, combine: Aggregation.coordinateMedian)
    }
}

/// Replaces the replies by their coordinate-wise β-trimmed mean, then delegates.
///
/// reference: Yin et al. 2018 (coordinate-wise trimmed mean); Flower `FedTrimmedAvg`.
public struct TrimmedMeanStrategy<Base: Strategy>: StrategyDecorator {
    /// The wrapped strategy.
    public var base: Base
    /// Fraction β cut at each end, in [0, 0.5).
    public let beta: Double

    /// Wraps `base`; throws if β is outside [0, 0.5).
    public init(base: Base, beta: Double) throws {
        try require(beta >= 0 && beta < 0.5, key: "beta", value: beta, allowed: "[0, 0.5)")
        self.base = base
        self.beta = beta
    }

    public var name: String { "trimmed_mean(\(base.name))" }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let beta = self.beta
        return try aggregateCombined(global: global, replies: replies, round: round) {
            try Aggregation.trimmedMean($0, beta: beta)
        }
    }
}

/// Krum (``selectCount`` = 1) or multi-Krum (``selectCount`` = m > 1): keeps the m replies with
/// the lowest Krum scores and delegates them (so FedAvg averages the m selected, as multi-Krum
/// prescribes). Replies not selected are reported in `"krum.dropped_count"`, not as rejections.
///
/// reference: Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent" (NeurIPS), Sections 4 and 5 (multi-Krum); Flower `Krum`.
public struct KrumStrategy<Base: Strategy>: StrategyDecorator {
    /// The wrapped strategy.
    public var base: Base
    /// f: the number of Byzantine clients tolerated.
    public let byzantineCount: Int
    /// m: how many replies to keep.
    public let selectCount: Int

    /// Wraps `base`; throws on negative f or m < 1.
    public init(base: Base, byzantineCount: Int, selectCount: Int = 1) throws {
        try require(byzantineCount >= 0, key: "byzantine_count", value: byzantineCount, allowed: ">= 0")
        try require(selectCount >= 1, key: "select_count", value: selectCount, allowed: ">= 1")
        self.base = base
        self.byzantineCount = byzantineCount
        self.selectCount = selectCount
    }

    public var name: String { selectCount == 1 ? "krum(\(base.name))" : "multi_krum(\(base.name))" }

    /// Krum's guarantee needs n > 2f + 2 replies; a warning for smaller rounds.
    public func warning(replyCount n: Int) -> String? {
        n > 2 * byzantineCount + 2 ? nil : "krum: \(n) replies do not exceed 2f + 2 = \(2 * byzantineCount + 2)"
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        let accepted = screened.accepted
        let chosen = try Aggregation.multiKrumSelection(
            accepted.map(\.parameters), byzantineCount: byzantineCount, selectCount: selectCount)
        var outcome = try base.aggregate(global: global, replies: chosen.map { accepted[$0] }, round: round)
        outcome.rejections = screened.rejections + outcome.rejections
        outcome.metrics["krum.dropped_count"] = Double(accepted.count - chosen.count)
        return outcome
    }
}
