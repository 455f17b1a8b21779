/// SCAFFOLD: stochastic controlled averaging. Server and clients keep control variates `c` and
/// `c_i`; every local gradient step uses `g − c_i + c`, which corrects client drift.
///
/// Server step for sampled set S of N clients (Algorithm 1, lines 16–17):
/// ```
/// Δx = (1/|S|) Σ (y_i − x)        x ← x + η_g · Δx
/// Δc = (1/|S|) Σ (c_i⁺ − c_i)     c ← c + (|S|/N) · Δc
/// ```
/// Client side (pure functions below): the corrected gradient, and the control-variate update
/// of option II, `c_i⁺ = c_i − c + (x − y_i) / (K · η_l)` after K local steps of size η_l.
/// Each client keeps its own `c_i` (initially zero); the runner stores it between rounds.
///
/// reference: Karimireddy et al. 2020, "SCAFFOLD: Stochastic Controlled Averaging for Federated
/// Learning" (ICML), Algorithm 1, equation (4) option II.
public struct Scaffold: Strategy {
    /// SCAFFOLD hyperparameters.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Global step size η_g (1 in the paper's experiments).
        public var globalLearningRate: Double
        /// N: the number of clients in the population (for the `|S|/N` factor).
        public var totalClients: Int

        /// Creates the parameters; throws on a non-positive step size or population.
        public init(globalLearningRate: Double = 1, totalClients: Int) throws {
            try require(globalLearningRate > 0 && globalLearningRate.isFinite,
                        key: "global_learning_rate", value: globalLearningRate, allowed: "finite, > 0")
            try require(totalClients >= 1, key: "total_clients", value: totalClients, allowed: ">= 1")
            self.globalLearningRate = globalLearningRate
            self.totalClients = totalClients
        }

        private enum CodingKeys: String, CodingKey {
            case globalLearningRate = "global_learning_rate", totalClients = "total_clients"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(
                globalLearningRate: try container.decodeIfPresent(Double.self, forKey: .globalLearningRate) ?? 1,
                totalClients: try container.decode(Int.self, forKey: .totalClients))
        }
    }

    /// The server-side state: the server control variate `c` (nil until the first round).
    public struct State: Sendable, Equatable, Codable {
        /// `c`, with the layout of the global parameters.
        public var serverControl: TensorMap?
    }

    /// The hyperparameters.
    public let parameters: Parameters
    /// The server control variate `c` (nil means zeros).
    public private(set) var serverControl: TensorMap?

    /// Creates the strategy.
    public init(_ parameters: Parameters) {
        self.parameters = parameters
    }

    public var name: String { "scaffold" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        let control = serverControl.flatMap { $0.layout == global.layout ? $0 : nil }
            ?? TensorMap.zeros(like: global)
        return RoundConfiguration(round: round, objective: .scaffold(serverControl: control))
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let screened = screenForAggregation(global: global, replies: replies, requireControlVariate: true)
        if let kept = screened.kept { return kept }
        let accepted = screened.accepted
        var control = serverControl ?? TensorMap.zeros(like: global)
        if control.layout != global.layout {
            throw FederationError.stateMismatch("SCAFFOLD server control variate layout differs from the global")
        }
        // Δx = mean(y_i) − x ; x ← x + η_g Δx      (P)
        let meanParameters = try Aggregation.mean(accepted.map(\.parameters))
        let deltaX = try meanParameters.subtracting(global)
        let newGlobal = try global.adding(deltaX, scaledBy: parameters.globalLearningRate)
        // Δc = mean(Δc_i) ; c ← c + |S|/N · Δc      (P)
        let deltas = accepted.compactMap(\.controlVariateDelta)
        let deltaC = try Aggregation.mean(deltas)
        let fraction = Double(accepted.count) / Double(parameters.totalClients)
        control = try control.adding(deltaC, scaledBy: fraction)
        serverControl = control
        return AggregationOutcome(
            global: newGlobal, status: .updated, acceptedClientIDs: accepted.map(\.clientID),
            rejections: screened.rejections,
            metrics: Aggregation.weightedMetrics(accepted.map { ($0.metrics, $0.exampleCount) }))
    }

    public var state: State { State(serverControl: serverControl) }

    public mutating func restore(_ state: State) throws {
        serverControl = state.serverControl
    }

    // MARK: - Client side (pure)

    /// The drift correction `c − c_i` that every local gradient step adds.
    public static func correction(serverControl: TensorMap, clientControl: TensorMap) throws -> TensorMap {
        try serverControl.subtracting(clientControl)
    }

    /// A corrected local gradient `g − c_i + c` (Algorithm 1, line 10).
    public static func correctedGradient(
        _ gradient: TensorMap, serverControl: TensorMap, clientControl: TensorMap
    ) throws -> TensorMap {
        try gradient.adding(try correction(serverControl: serverControl, clientControl: clientControl))
    }

    /// The client's new control variate, option II:
    /// `c_i⁺ = c_i − c + (x − y_i) / (K · η_l)`, with x the global the client started from,
    /// y_i its parameters after K local steps of learning rate η_l (Algorithm 1, line 12).
    public static func updatedClientControl(
        clientControl: TensorMap, serverControl: TensorMap, global: TensorMap, local: TensorMap,
        localSteps: Int, learningRate: Double
    ) throws -> TensorMap {
        try require(localSteps >= 1, key: "local_steps", value: localSteps, allowed: ">= 1")
        try require(learningRate > 0, key: "learning_rate", value: learningRate, allowed: "> 0")
        let drift = try global.subtracting(local)
        return try clientControl.subtracting(serverControl)
            .adding(drift, scaledBy: 1 / (Double(localSteps) * learningRate))
    }

    /// The delta a client sends up: `c_i⁺ − c_i` (Algorithm 1, line 13).
    public static func controlDelta(updated: TensorMap, previous: TensorMap) throws -> TensorMap {
        try updated.subtracting(previous)
    }
}
