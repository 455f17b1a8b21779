import Foundation

/// A federated strategy: configures each round and aggregates the clients' replies.
///
/// One type per algorithm (``FedAvg``, ``FedProx``, ``Scaffold``, ``FedAvgM``, ``FedAdagrad``,
/// ``FedYogi``, ``FedAdam``); policies wrap a strategy and delegate to it. Strategies never
/// throw on bad client input: malformed replies are rejected with a reason in the outcome.
/// They throw only on programming errors (e.g. a restored state that does not fit).
///
/// Server-side state (optimiser moments, control variates, DP noise stream and accountant) is
/// exposed as a `Codable` ``State`` so a run can checkpoint and resume bit-identically.
///
/// reference: Flower `Strategy` (configure_fit / aggregate_fit / aggregate_evaluate),
/// https://flower.ai/docs/framework/how-to-implement-strategies.html
public protocol Strategy: Sendable {
    /// The serialisable server-side state.
    associatedtype State: Codable & Sendable & Equatable

    /// A short name for logs and reports (the registry key for core algorithms).
    var name: String { get }

    /// The instructions for the clients of `round` (1-based) given the current `global`.
    func configure(round: Int, global: TensorMap) -> RoundConfiguration

    /// Aggregates the replies of `round` into a new global (or keeps `global`, saying why).
    mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome

    /// Aggregates client evaluation results (default: example-weighted mean of each metric).
    func aggregateEvaluation(_ results: [ClientEvaluation], round: Int) -> [String: Double]

    /// The current server-side state.
    var state: State { get }

    /// Replaces the server-side state (from a checkpoint).
    mutating func restore(_ state: State) throws
}

/// A policy that wraps another strategy and changes only how replies are aggregated: round
/// configuration, evaluation aggregation and state pass through to ``base`` (Flower's strategy
/// wrappers follow the same pattern).
public protocol StrategyDecorator: Strategy where State == Base.State {
    /// The wrapped strategy's type.
    associatedtype Base: Strategy
    /// The wrapped strategy.
    var base: Base { get set }
}

extension StrategyDecorator {
    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        base.configure(round: round, global: global)
    }

    public func aggregateEvaluation(_ results: [ClientEvaluation], round: Int) -> [String: Double] {
        base.aggregateEvaluation(results, round: round)
    }

    public var state: Base.State { base.state }

    public mutating func restore(_ state: Base.State) throws { try base.restore(state) }
}

extension Strategy {
    public func aggregateEvaluation(_ results: [ClientEvaluation], round: Int) -> [String: Double] {
        Aggregation.weightedMetrics(results.map { ($0.metrics, $0.exampleCount) })
    }

    /// The state encoded as JSON with sorted keys (Float values round-trip exactly).
    public func encodedState() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(state)
    }

    /// Restores the state from ``encodedState()`` output.
    public mutating func restoreState(from data: Data) throws {
        try restore(try JSONDecoder().decode(State.self, from: data))
    }
}

/// The state of a stateless strategy.
public struct NoState: Sendable, Equatable, Codable {
    /// Creates the empty state.
    public init() {}
}

/// The state of a policy: the wrapped strategy's state plus the policy's own.
public struct PolicyState<Base: Codable & Sendable & Equatable, Own: Codable & Sendable & Equatable>:
    Sendable, Equatable, Codable
{
    /// The wrapped strategy's state.
    public var base: Base
    /// The policy's own state.
    public var own: Own

    /// Creates a policy state.
    public init(base: Base, own: Own) {
        self.base = base
        self.own = own
    }
}

extension AggregationOutcome {
    /// An outcome that keeps `global` because of too few valid replies.
    static func kept(
        _ global: TensorMap, valid: Int, required: Int, rejections: [Rejection]
    ) -> AggregationOutcome {
        AggregationOutcome(
            global: global,
            status: .keptPrevious(.tooFewValidReplies(valid: valid, required: required)),
            acceptedClientIDs: [], rejections: rejections)
    }
}

/// The common first step of every core strategy: structural screening, then "keep the previous
/// global" when nothing valid remains. Returns the accepted replies or a finished outcome.
func screenForAggregation(
    global: TensorMap, replies: [ClientReply], requireControlVariate: Bool = false
) -> (accepted: [ClientReply], rejections: [Rejection], kept: AggregationOutcome?) {
    let screen = ReplyScreen(minimumReplies: 1, requireControlVariate: requireControlVariate)
    let result = screen.screen(global: global, replies: replies)
    if result.accepted.isEmpty {
        return ([], result.rejections,
                .kept(global, valid: 0, required: 1, rejections: result.rejections))
    }
    return (result.accepted, result.rejections, nil)
}
