/// FedAvg with server momentum. With pseudo-gradient `g_t = x_t − mean_t` (global minus the
/// example-weighted client mean):
/// ```
/// v_t = β v_{t−1} + g_t   (v_1 = g_1)          x_{t+1} = x_t − η_s v_t
/// ```
/// With β = 0 and η_s = 1 this is FedAvg.
///
/// reference: Hsu, Qi, Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for
/// Federated Visual Classification", Section 3; Flower `FedAvgM` (`server_learning_rate`,
/// `server_momentum`).
public struct FedAvgM: Strategy {
    /// FedAvgM hyperparameters.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Server learning rate η_s (Flower default 1).
        public var serverLearningRate: Double
        /// Server momentum β in [0, 1) (Flower default 0).
        public var serverMomentum: Double

        /// Creates the parameters; throws on out-of-range values.
        public init(serverLearningRate: Double = 1, serverMomentum: Double = 0) throws {
            try require(serverLearningRate > 0 && serverLearningRate.isFinite,
                        key: "server_learning_rate", value: serverLearningRate, allowed: "finite, > 0")
            try require(serverMomentum >= 0 && serverMomentum < 1,
                        key: "server_momentum", value: serverMomentum, allowed: "[0, 1)")
            self.serverLearningRate = serverLearningRate
            self.serverMomentum = serverMomentum
        }

        private enum CodingKeys: String, CodingKey {
            case serverLearningRate = "server_learning_rate", serverMomentum = "server_momentum"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(
                serverLearningRate: try c.decodeIfPresent(Double.self, forKey: .serverLearningRate) ?? 1,
                serverMomentum: try c.decodeIfPresent(Double.self, forKey: .serverMomentum) ?? 0)
        }

        /// Degenerate settings worth a warning.
        public var warnings: [String] {
            serverMomentum == 0 && serverLearningRate == 1
                ? ["fedavgm: server_momentum = 0 and server_learning_rate = 1 make FedAvgM identical to FedAvg"]
                : []
        }
    }

    /// The server-side state: the momentum buffer v (nil before the first update).
    public struct State: Sendable, Equatable, Codable {
        /// v_{t−1}.
        public var momentum: TensorMap?
    }

    /// The hyperparameters.
    public let parameters: Parameters
    /// The momentum buffer.
    public private(set) var momentum: TensorMap?

    /// Creates the strategy.
    public init(_ parameters: Parameters) {
        self.parameters = parameters
    }

    public var name: String { "fedavgm" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        RoundConfiguration(round: round)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let screened = screenForAggregation(global: global, replies: replies)
        if let kept = screened.kept { return kept }
        // g_t = x_t − mean_t   (P)
        var step = try global.subtracting(FedAvg.weightedAverage(of: screened.accepted))
        if parameters.serverMomentum > 0 {
            if let previous = momentum {
                step = try step.adding(previous, scaledBy: parameters.serverMomentum)
            }
            momentum = step
        }
        return AggregationOutcome(
            global: try global.adding(step, scaledBy: -parameters.serverLearningRate),
            status: .updated, acceptedClientIDs: screened.accepted.map(\.clientID),
            rejections: screened.rejections,
            metrics: Aggregation.weightedMetrics(screened.accepted.map { ($0.metrics, $0.exampleCount) }))
    }

    public var state: State { State(momentum: momentum) }
    public mutating func restore(_ state: State) throws { momentum = state.momentum }
}
