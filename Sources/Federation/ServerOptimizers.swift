import Foundation

// Server optimisers: FedAvg produces the mean of the clients' parameters, then a server-side
// optimiser step treats `mean − global` as a pseudo-gradient. Formulas follow Flower exactly
// (FedAvgM: `fedavgm.py`; FedAdagrad/FedYogi/FedAdam: `fedadagrad.py`, `fedyogi.py`,
// `fedadam.py`), all element-wise over the flat parameter vector (P).
//
// reference: Reddi et al. 2021, "Adaptive Federated Optimization" (ICLR), Algorithm 2.
// reference: Hsu, Qi, Brown 2019, "Measuring the Effects of Non-Identical Data Distribution
// for Federated Visual Classification" (FedAvgM).

/// Moments shared by the adaptive server optimisers (nil until the first update).
public struct ServerMoments: Sendable, Equatable, Codable {
    /// First moment m_t.
    public var first: TensorMap?
    /// Second moment v_t.
    public var second: TensorMap?
}

/// Hyperparameters of FedAdagrad, FedYogi and FedAdam (Flower's names in the coding keys).
public struct AdaptiveParameters: Sendable, Equatable, Codable {
    /// Server learning rate η.
    public var eta: Double
    /// Adaptivity τ (added to √v).
    public var tau: Double
    /// First-moment decay β₁ in [0, 1).
    public var beta1: Double
    /// Second-moment decay β₂ in [0, 1) (unused by FedAdagrad).
    public var beta2: Double

    /// Creates the parameters; throws on out-of-range values.
    public init(eta: Double, tau: Double, beta1: Double, beta2: Double) throws {
        try require(eta > 0 && eta.isFinite, key: "eta", value: eta, allowed: "finite, > 0")
        try require(tau > 0 && tau.isFinite, key: "tau", value: tau, allowed: "finite, > 0")
        try require(beta1 >= 0 && beta1 < 1, key: "beta_1", value: beta1, allowed: "[0, 1)")
        try require(beta2 >= 0 && beta2 < 1, key: "beta_2", value: beta2, allowed: "[0, 1)")
        self.eta = eta
        self.tau = tau
        self.beta1 = beta1
        self.beta2 = beta2
    }

    /// Flower's FedAdagrad defaults: η = 0.1, τ = 1e-9, β₁ = 0 (m_t = Δ_t).
    public static let fedAdagradDefaults = AdaptiveParameters(uncheckedEta: 0.1, tau: 1e-9, beta1: 0, beta2: 0)
    /// Flower's FedYogi defaults: η = 0.01, τ = 1e-3, β₁ = 0.9, β₂ = 0.99.
    public static let fedYogiDefaults = AdaptiveParameters(uncheckedEta: 0.01, tau: 1e-3, beta1: 0.9, beta2: 0.99)
    /// Flower's FedAdam defaults: η = 0.1, τ = 1e-9, β₁ = 0.9, β₂ = 0.99.
    public static let fedAdamDefaults = AdaptiveParameters(uncheckedEta: 0.1, tau: 1e-9, beta1: 0.9, beta2: 0.99)

    private init(uncheckedEta eta: Double, tau: Double, beta1: Double, beta2: Double) {
        self.eta = eta
        self.tau = tau
        self.beta1 = beta1
        self.beta2 = beta2
    }

    private enum CodingKeys: String, CodingKey { case eta, tau, beta1 = "beta_1", beta2 = "beta_2" }

    /// Decodes values present in `decoder`, the rest from `defaults`.
    static func decode(from decoder: any Decoder, defaults: AdaptiveParameters) throws -> AdaptiveParameters {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        return try AdaptiveParameters(
            eta: try c.decodeIfPresent(Double.self, forKey: .eta) ?? defaults.eta,
            tau: try c.decodeIfPresent(Double.self, forKey: .tau) ?? defaults.tau,
            beta1: try c.decodeIfPresent(Double.self, forKey: .beta1) ?? defaults.beta1,
            beta2: try c.decodeIfPresent(Double.self, forKey: .beta2) ?? defaults.beta2)
    }

    public init(from decoder: any Decoder) throws {
        self = try Self.decode(from: decoder, defaults: .fedAdamDefaults)
    }
}

/// One adaptive step, shared by the three optimisers: returns the new global and moments.
/// `secondMoment(v, Δ)` is the only part that differs between Adagrad, Yogi and Adam.
func adaptiveStep(
    global: TensorMap, replies: [ClientReply], moments: inout ServerMoments,
    parameters p: AdaptiveParameters, stepSize: Double,
    secondMoment: (_ v: Double, _ delta: Double) -> Double
) throws -> AggregationOutcome {
    let screened = screenForAggregation(global: global, replies: replies)
    if let kept = screened.kept { return kept }
    // Δ_t = mean(client) − x   (P)
    let delta = try FedAvg.weightedAverage(of: screened.accepted).subtracting(global)
    let m0 = moments.first ?? .zeros(like: global)
    let v0 = moments.second ?? .zeros(like: global)
    try global.checkLayout(m0, "server optimiser state")
    try global.checkLayout(v0, "server optimiser state")
    var m = m0.values, v = v0.values, x = global.values
    for i in x.indices {
        let d = Double(delta.values[i])
        // m_t = β₁ m_{t−1} + (1 − β₁) Δ_t
        let mi = p.beta1 * Double(m[i]) + (1 - p.beta1) * d
        let vi = secondMoment(Double(v[i]), d)
        m[i] = Float(mi)
        v[i] = Float(vi)
        // x_{t+1} = x_t + η' · m_t / (√v_t + τ)   (v_t read back as stored, as Flower's float32)
        x[i] = Float(Double(x[i]) + stepSize * mi / (Double(v[i]).squareRoot() + p.tau))
    }
    moments = ServerMoments(first: TensorMap(unchecked: global.layout, values: m),
                            second: TensorMap(unchecked: global.layout, values: v))
    return AggregationOutcome(
        global: TensorMap(unchecked: global.layout, values: x), status: .updated,
        acceptedClientIDs: screened.accepted.map(\.clientID), rejections: screened.rejections,
        metrics: Aggregation.weightedMetrics(screened.accepted.map { ($0.metrics, $0.exampleCount) }))
}

/// FedAdagrad: `v_t = v_{t−1} + Δ_t²`; `x ← x + η m_t / (√v_t + τ)`.
public struct FedAdagrad: Strategy {
    /// The hyperparameters (β₂ unused).
    public let parameters: AdaptiveParameters
    /// The moments.
    public private(set) var moments = ServerMoments()

    /// Creates the strategy (default: Flower's defaults).
    public init(_ parameters: AdaptiveParameters = .fedAdagradDefaults) {
        self.parameters = parameters
    }

    public var name: String { "fedadagrad" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        try adaptiveStep(global: global, replies: replies, moments: &moments, parameters: parameters,
                         stepSize: parameters.eta) { v, d in v + d * d }
    }

    public var state: ServerMoments { moments }
    public mutating func restore(_ state: ServerMoments) throws { moments = state }
}

/// FedYogi: `v_t = v_{t−1} − (1 − β₂) Δ_t² · sign(v_{t−1} − Δ_t²)`; `x ← x + η m_t / (√v_t + τ)`.
public struct FedYogi: Strategy {
    /// The hyperparameters.
    public let parameters: AdaptiveParameters
    /// The moments.
    public private(set) var moments = ServerMoments()

    /// Creates the strategy (default: Flower's defaults).
    public init(_ parameters: AdaptiveParameters = .fedYogiDefaults) {
        self.parameters = parameters
    }

    public var name: String { "fedyogi" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let beta2 = parameters.beta2
        return try adaptiveStep(global: global, replies: replies, moments: &moments, parameters: parameters,
                                stepSize: parameters.eta) { v, d in
            let d2 = d * d
            let difference = v - d2
            let sign: Double = difference > 0 ? 1 : (difference < 0 ? -1 : 0)  // numpy.sign(0) = 0
            return v - (1 - beta2) * d2 * sign
        }
    }

    public var state: ServerMoments { moments }
    public mutating func restore(_ state: ServerMoments) throws { moments = state }
}

/// FedAdam: `v_t = β₂ v_{t−1} + (1 − β₂) Δ_t²`; `x ← x + η_t m_t / (√v_t + τ)` with Flower's
/// bias-corrected rate `η_t = η √(1 − β₂^(t+1)) / (1 − β₁^(t+1))` for server round t ≥ 1
/// (Flower ≥ 1.8; set ``biasCorrection`` false for the earlier constant-η form).
public struct FedAdam: Strategy {
    /// The hyperparameters.
    public let parameters: AdaptiveParameters
    /// Whether to apply Flower's bias-corrected learning rate.
    public let biasCorrection: Bool
    /// The moments.
    public private(set) var moments = ServerMoments()

    /// Creates the strategy (default: Flower's defaults, with bias correction).
    public init(_ parameters: AdaptiveParameters = .fedAdamDefaults, biasCorrection: Bool = true) {
        self.parameters = parameters
        self.biasCorrection = biasCorrection
    }

    public var name: String { "fedadam" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round)
    }

    /// The step size used in `round` (1-based).
    public func stepSize(round: Int) -> Double {
        guard biasCorrection else { return parameters.eta }
        let t = Double(round) + 1
        return parameters.eta * (1 - pow(parameters.beta2, t)).squareRoot() / (1 - pow(parameters.beta1, t))
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let beta2 = parameters.beta2
        return try adaptiveStep(global: global, replies: replies, moments: &moments, parameters: parameters,
                                stepSize: stepSize(round: round)) { v, d in beta2 * v + (1 - beta2) * d * d }
    }

    public var state: ServerMoments { moments }
    public mutating func restore(_ state: ServerMoments) throws { moments = state }
}
