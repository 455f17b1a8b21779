/// Federated Averaging: the new global is the example-weighted mean of the clients' parameters.
///
/// reference: McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data" (AISTATS), Algorithm 1; Flower `FedAvg`.
public struct FedAvg: Strategy {
    /// FedAvg has no hyperparameters; the type exists for the registry.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Creates the (empty) parameters.
        public init() {}
    }

    /// Creates the strategy.
    public init(_ parameters: Parameters = Parameters()) {}

    public var name: String { "fedavg" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round, objective: .plain)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        try Self.average(global: global, replies: replies)
    }

    /// The FedAvg step shared by strategies that aggregate like FedAvg (FedProx; the server
    /// optimisers use ``weightedAverage(of:)`` before their own step).
    static func average(global: TensorMap, replies: [ClientReply]) throws -> AggregationOutcome {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        return AggregationOutcome(
            global: try weightedAverage(of: screened.accepted),
            status: .updated,
            acceptedClientIDs: screened.accepted.map(\.clientID),
            rejections: screened.rejections,
            metrics: Aggregation.weightedMetrics(screened.accepted.map { ($0.metrics, $0.exampleCount) }))
    }

    /// The example-weighted mean of the replies' parameters (pure).
    public static func weightedAverage(of replies: [ClientReply]) throws -> TensorMap {
        try Aggregation.weightedMean(replies.map { ($0.parameters, weight: Double($0.exampleCount)) })
    }

    public var state: NoState { NoState() }
    public mutating func restore(_ state: NoState) throws {}
}

/// FedProx: FedAvg aggregation, with a proximal term `mu/2 · ‖w − w_global‖²` added to each
/// client's local loss to limit client drift.
///
/// reference: Li et al. 2020, "Federated Optimization in Heterogeneous Networks" (MLSys),
/// Algorithm 2, objective h_k(w; w^t) = F_k(w) + μ/2 ‖w − w^t‖².
public struct FedProx: Strategy {
    /// FedProx hyperparameters.
    public struct Parameters: Sendable, Equatable, Codable {
        /// The proximal coefficient μ ≥ 0 (μ = 0 is FedAvg).
        public var mu: Double

        /// Creates the parameters; throws if μ is negative or not finite.
        public init(mu: Double) throws {
            try require(mu >= 0 && mu.isFinite, key: "mu", value: mu, allowed: "finite, >= 0")
            self.mu = mu
        }

        private enum CodingKeys: String, CodingKey { case mu }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(mu: try container.decodeIfPresent(Double.self, forKey: .mu) ?? 0.01)
        }

        /// Degenerate settings worth a warning.
        public var warnings: [String] { mu == 0 ? ["fedprox: mu = 0 makes FedProx identical to FedAvg"] : [] }
    }

    /// The hyperparameters.
    public let parameters: Parameters

    /// Creates the strategy.
    public init(_ parameters: Parameters) {
        self.parameters = parameters
    }

    public var name: String { "fedprox" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round, objective: .proximal(mu: parameters.mu))
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        try FedAvg.average(global: global, replies: replies)
    }

    /// The proximal term's contribution to the local gradient: `μ · (w − w_global)`.
    /// The local trainer adds it to the gradient of its loss.
    public static func proximalGradient(local: TensorMap, global: TensorMap, mu: Double) throws -> TensorMap {
        try local.subtracting(global).scaled(by: mu)
    }

    /// The proximal term's value `μ/2 · ‖w − w_global‖²` (for logging the local objective).
    public static func proximalTerm(local: TensorMap, global: TensorMap, mu: Double) throws -> Double {
        mu / 2 * (try local.squaredDistance(to: global))
    }

    public var state: NoState { NoState() }
    public mutating func restore(_ state: NoState) throws {}
}
