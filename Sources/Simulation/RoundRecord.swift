import Federation
import Foundation

/// One line of `rounds.jsonl`: what happened in a round.
///
/// Keys: `round`, `lr`, `clients` (`id`, `loss`, `examples`, `seconds`, `bytes_up`, `bytes_down`,
/// `status`: `ok`, `rejected: <reason>` or `failed: <message>`), `aggregation_seconds`,
/// `kept_previous`, `bytes_up`, `bytes_down`, `hooks` (`{hook: {metric: value}}`), `eval` (only on
/// evaluated rounds); and besides: `seconds` (the round's wall time), `rejections` (count per
/// reason kind), `strategy` (example-weighted client metrics and policy metrics, e.g. DP epsilon).
public struct RoundRecord: Sendable, Equatable, Codable {
    /// One sampled client.
    public struct Client: Sendable, Equatable, Codable {
        /// `client-NNN` (the client's index in the population).
        public var id: String
        /// Mean training loss over the client's local steps (nil when it did not train).
        public var loss: Double?
        /// Training examples (the FedAvg weight; 0 when it failed).
        public var examples: Int
        /// Wall time of the client's local work.
        public var seconds: Double
        /// Bytes sent up (parameters and SCAFFOLD control delta, float32).
        public var bytesUp: Int
        /// Bytes sent down (global parameters and SCAFFOLD server control, float32).
        public var bytesDown: Int
        /// `ok`, `rejected: <reason>` or `failed: <message>`.
        public var status: String

        enum CodingKeys: String, CodingKey {
            case id, loss, examples, seconds, bytesUp = "bytes_up", bytesDown = "bytes_down", status
        }

        /// The `id` of client `index`.
        public static func id(_ index: Int) -> String { "client-" + String(format: "%03d", index) }
    }

    /// The round (1-based).
    public var round: Int
    /// The clients' learning rate.
    public var lr: Double
    /// The sampled clients, ascending.
    public var clients: [Client]
    /// Wall time of aggregation.
    public var aggregationSeconds: Double
    /// Whether the previous global adapter was kept (too few valid replies).
    public var keptPrevious: Bool
    /// Bytes sent up this round.
    public var bytesUp: Int
    /// Bytes sent down this round.
    public var bytesDown: Int
    /// Hook metrics by hook name.
    public var hooks: [String: [String: Double]]
    /// Evaluation metrics (evaluated rounds only).
    public var eval: [String: Double]?
    /// Wall time of the round.
    public var seconds: Double
    /// Rejected replies per reason kind.
    public var rejections: [String: Int]
    /// Aggregated client metrics and policy metrics.
    public var strategy: [String: Double]

    enum CodingKeys: String, CodingKey {
        case round, lr, clients, aggregationSeconds = "aggregation_seconds", keptPrevious = "kept_previous"
        case bytesUp = "bytes_up", bytesDown = "bytes_down", hooks, eval, seconds, rejections, strategy
    }

    /// The record as one JSON line (sorted keys, newline-terminated). Non-finite metrics are dropped
    /// (JSON has no NaN).
    public func jsonLine() throws -> Data {
        var clean = self
        clean.hooks = hooks.mapValues(Self.finite)
        clean.eval = eval.map(Self.finite)
        clean.strategy = Self.finite(strategy)
        clean.clients = clients.map { var c = $0; if let l = c.loss, !l.isFinite { c.loss = nil }; return c }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(clean)
        data.append(0x0A)
        return data
    }

    private static func finite(_ metrics: [String: Double]) -> [String: Double] { metrics.filter { $0.value.isFinite } }
}
