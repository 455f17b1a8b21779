/// DP-FedAvg with server-side fixed clipping: each client update `Δᵢ = parameters − global` is
/// clipped to L2 norm ≤ C, the clipped updates are averaged uniformly (each client weighs 1, as
/// the privacy analysis assumes), and Gaussian noise of standard deviation `σ · C / n` is added
/// per coordinate, with n the number of aggregated replies (or ``Parameters/noiseDenominator``).
/// The noisy mean is handed to the wrapped strategy as one collapsed reply, so a server
/// optimiser post-processes it (which preserves the guarantee).
///
/// After each round the ``RDPAccountant`` composes one subsampled Gaussian step (σ, q) and the
/// outcome reports ε at δ. Noise for round t comes from a generator seeded by (seed, t), so a
/// resumed run adds exactly the same noise.
///
/// reference: McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private Recurrent
/// Language Models" (ICLR), Algorithm 1 (flat clipping, fixed denominator, σ = z·S/(qW));
/// Flower `DifferentialPrivacyServerSideFixedClipping` (stddev = noise_multiplier ·
/// clipping_norm / num_sampled_clients).
public struct DPFedAvgStrategy<Base: Strategy>: Strategy {
    /// DP hyperparameters.
    public typealias Parameters = DPFedAvgParameters

    /// The wrapped strategy.
    public private(set) var base: Base
    /// The DP hyperparameters.
    public let parameters: Parameters
    /// The privacy accountant.
    public private(set) var accountant: RDPAccountant

    /// Wraps `base`.
    public init(base: Base, parameters: Parameters, orders: [Int] = RDPAccountant.defaultOrders) throws {
        self.base = base
        self.parameters = parameters
        self.accountant = try RDPAccountant(orders: orders)
    }

    public var name: String { "dp_fedavg(\(base.name))" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        base.configure(round: round, global: global)
    }

    /// The noise standard deviation for a round aggregating `replyCount` replies: `σ · C / n`.
    public func noiseStandardDeviation(replyCount: Int) -> Double {
        let n = parameters.noiseDenominator ?? max(1, replyCount)
        return parameters.noiseMultiplier * parameters.clippingNorm / Double(n)
    }

    /// The uniform mean of clipped updates plus seeded Gaussian noise (pure; exposed for tests).
    /// Returns the noisy mean update (P) and how many updates were clipped.
    public func noisyMeanUpdate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> (update: TensorMap, clippedCount: Int)
    {
        var clippedCount = 0
        let deltas = try replies.map { reply -> TensorMap in
            let (delta, wasClipped) = Aggregation.clipped(
                try reply.parameters.subtracting(global), maxNorm: parameters.clippingNorm)
            if wasClipped { clippedCount += 1 }
            return delta
        }
        let mean = try Aggregation.mean(deltas)
        let stddev = noiseStandardDeviation(replyCount: replies.count)
        var generator = SeedDerivation.generator(parameters.seed, .privacyNoise, UInt64(bitPattern: Int64(round)))
        let noisy = mean.map { Float(Double($0) + stddev * generator.nextStandardNormal()) }
        return (noisy, clippedCount)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        let (update, clippedCount) = try noisyMeanUpdate(global: global, replies: screened.accepted, round: round)
        var outcome = try delegateCollapsed(
            &base, global: global, original: screened.accepted,
            collapsed: try collapsedReply(screened.accepted, parameters: try global.adding(update)),
            rejections: screened.rejections, round: round)
        guard outcome.isUpdated else { return outcome }
        try accountant.compose(noiseMultiplier: parameters.noiseMultiplier, samplingRate: parameters.samplingRate)
        let spent = try accountant.epsilon(delta: parameters.delta)
        outcome.privacy = PrivacySpent(epsilon: spent.epsilon, delta: parameters.delta,
                                       optimalOrder: spent.order, rounds: accountant.steps)
        outcome.metrics["dp.epsilon"] = spent.epsilon
        outcome.metrics["dp.noise_stddev"] = noiseStandardDeviation(replyCount: screened.accepted.count)
        outcome.metrics["clip.clipped_count"] = Double(clippedCount)
        return outcome
    }

    public func aggregateEvaluation(_ results: [ClientEvaluation], round: Int) -> [String: Double] {
        base.aggregateEvaluation(results, round: round)
    }

    public var state: PolicyState<Base.State, RDPAccountant> {
        PolicyState(base: base.state, own: accountant)
    }

    public mutating func restore(_ state: PolicyState<Base.State, RDPAccountant>) throws {
        guard state.own.orders == accountant.orders else {
            throw FederationError.stateMismatch("accountant orders differ from the configured orders")
        }
        try base.restore(state.base)
        accountant = state.own
    }
}

/// DP hyperparameters.
public struct DPFedAvgParameters: Sendable, Equatable, Codable {
    /// Clipping norm C > 0.
    public var clippingNorm: Double
    /// Noise multiplier z = σ (noise stddev per unit sensitivity), ≥ 0.
    public var noiseMultiplier: Double
    /// Per-round client sampling rate q for the accountant (see ``ClientSampler/samplingRate``).
    public var samplingRate: Double
    /// Target δ for the reported ε.
    public var delta: Double
    /// Divide the noise by this fixed client count instead of the number of replies.
    public var noiseDenominator: Int?
    /// Seed of the noise stream.
    public var seed: UInt64

    /// Creates the parameters; throws on out-of-range values.
    public init(clippingNorm: Double, noiseMultiplier: Double, samplingRate: Double, delta: Double,
                noiseDenominator: Int? = nil, seed: UInt64) throws {
        try require(clippingNorm > 0 && clippingNorm.isFinite, key: "clipping_norm", value: clippingNorm,
                    allowed: "finite, > 0")
        try require(noiseMultiplier >= 0 && noiseMultiplier.isFinite, key: "noise_multiplier",
                    value: noiseMultiplier, allowed: "finite, >= 0")
        try require(samplingRate > 0 && samplingRate <= 1, key: "sampling_rate", value: samplingRate,
                    allowed: "(0, 1]")
        try require(delta > 0 && delta < 1, key: "delta", value: delta, allowed: "(0, 1)")
        if let n = noiseDenominator {
            try require(n >= 1, key: "noise_denominator", value: n, allowed: ">= 1")
        }
        self.clippingNorm = clippingNorm
        self.noiseMultiplier = noiseMultiplier
        self.samplingRate = samplingRate
        self.delta = delta
        self.noiseDenominator = noiseDenominator
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case clippingNorm = "clipping_norm", noiseMultiplier = "noise_multiplier"
        case samplingRate = "sampling_rate", delta, noiseDenominator = "noise_denominator", seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            clippingNorm: try c.decode(Double.self, forKey: .clippingNorm),
            noiseMultiplier: try c.decode(Double.self, forKey: .noiseMultiplier),
            samplingRate: try c.decode(Double.self, forKey: .samplingRate),
            delta: try c.decodeIfPresent(Double.self, forKey: .delta) ?? 1e-5,
            noiseDenominator: try c.decodeIfPresent(Int.self, forKey: .noiseDenominator),
            seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0)
    }

    /// Degenerate settings worth a warning.
    public var warnings: [String] {
        noiseMultiplier == 0 ? ["dp_fedavg: noise_multiplier = 0 gives no privacy (ε = ∞)"] : []
    }
}
