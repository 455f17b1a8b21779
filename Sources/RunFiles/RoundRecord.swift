import Foundation

/// One line of `rounds.jsonl`: what happened in a round. The simulation and a deployed server write
/// it; reports and the experiment read it.
///
/// Keys: `round`, `lr`, `clients` (`id`, `loss`, `examples`, `seconds`, `bytes_up`, `bytes_down`,
/// `status`: `ok`, `rejected: <reason>` or `failed: <message>`), `aggregation_seconds`,
/// `kept_previous`, `bytes_up`, `bytes_down`, `hooks` (`{hook: {metric: value}}`), `eval` (only on
/// evaluated rounds), `seconds` (the round's wall time), `rejections` (count per reason kind),
/// `strategy` (example-weighted client metrics and policy metrics, e.g. DP epsilon).
///
/// Decoding is lenient so that one odd value does not lose a round: only `round` is required, a
/// missing or mistyped field takes its empty value (0, `false`, `ok`, no entries), integers and
/// reals are both accepted, a metric that is not a number is dropped, and a client without an `id`
/// is left out.
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

        /// Creates a client entry.
        public init(id: String, loss: Double? = nil, examples: Int = 0, seconds: Double = 0, bytesUp: Int = 0,
                    bytesDown: Int = 0, status: String = "ok") {
            self.id = id
            self.loss = loss
            self.examples = examples
            self.seconds = seconds
            self.bytesUp = bytesUp
            self.bytesDown = bytesDown
            self.status = status
        }

        /// Decodes leniently; an `id` (string, or an integer written as one) is required.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let text = try? c.decode(String.self, forKey: .id) {
                id = text
            } else {
                id = String(try c.decode(Int.self, forKey: .id))
            }
            loss = (try? c.decodeIfPresent(Double.self, forKey: .loss)) ?? nil
            examples = (try? c.decodeIfPresent(Int.self, forKey: .examples)) ?? 0
            seconds = (try? c.decodeIfPresent(Double.self, forKey: .seconds)) ?? 0
            bytesUp = (try? c.decodeIfPresent(Int.self, forKey: .bytesUp)) ?? 0
            bytesDown = (try? c.decodeIfPresent(Int.self, forKey: .bytesDown)) ?? 0
            status = (try? c.decodeIfPresent(String.self, forKey: .status)) ?? "ok"
        }

        /// The `id` of client `index`.
        public static func id(_ index: Int) -> String { "client-" + String(format: "%03d", index) }

        /// Whether the server aggregated this client's update.
        public var accepted: Bool { status.hasPrefix("ok") }
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

    /// Creates a record.
    public init(round: Int, lr: Double = 0, clients: [Client] = [], aggregationSeconds: Double = 0,
                keptPrevious: Bool = false, bytesUp: Int = 0, bytesDown: Int = 0, hooks: [String: [String: Double]] = [:],
                eval: [String: Double]? = nil, seconds: Double = 0, rejections: [String: Int] = [:],
                strategy: [String: Double] = [:]) {
        self.round = round
        self.lr = lr
        self.clients = clients
        self.aggregationSeconds = aggregationSeconds
        self.keptPrevious = keptPrevious
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.hooks = hooks
        self.eval = eval
        self.seconds = seconds
        self.rejections = rejections
        self.strategy = strategy
    }

    /// Decodes leniently (see the type's documentation); only `round` is required.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        round = try c.decode(Int.self, forKey: .round)
        lr = (try? c.decodeIfPresent(Double.self, forKey: .lr)) ?? 0
        clients = ((try? c.decodeIfPresent([Lenient<Client>].self, forKey: .clients)) ?? nil)?.compactMap(\.value) ?? []
        aggregationSeconds = (try? c.decodeIfPresent(Double.self, forKey: .aggregationSeconds)) ?? 0
        keptPrevious = (try? c.decodeIfPresent(Bool.self, forKey: .keptPrevious)) ?? false
        bytesUp = (try? c.decodeIfPresent(Int.self, forKey: .bytesUp)) ?? 0
        bytesDown = (try? c.decodeIfPresent(Int.self, forKey: .bytesDown)) ?? 0
        let rawHooks = (try? c.decodeIfPresent([String: [String: Lenient<Double>]].self, forKey: .hooks)) ?? nil
        hooks = rawHooks?.mapValues { $0.compactMapValues(\.value) } ?? [:]
        eval = ((try? c.decodeIfPresent([String: Lenient<Double>].self, forKey: .eval)) ?? nil)?.compactMapValues(\.value)
        seconds = (try? c.decodeIfPresent(Double.self, forKey: .seconds)) ?? 0
        rejections = ((try? c.decodeIfPresent([String: Lenient<Int>].self, forKey: .rejections)) ?? nil)?
            .compactMapValues(\.value) ?? [:]
        strategy = ((try? c.decodeIfPresent([String: Lenient<Double>].self, forKey: .strategy)) ?? nil)?
            .compactMapValues(\.value) ?? [:]
    }

    /// Bytes sent by clients: the round's total, or the sum over clients when the total is 0.
    public var totalBytesUp: Int { bytesUp > 0 ? bytesUp : clients.reduce(0) { $0 + $1.bytesUp } }
    /// Bytes sent to clients: the round's total, or the sum over clients when the total is 0.
    public var totalBytesDown: Int { bytesDown > 0 ? bytesDown : clients.reduce(0) { $0 + $1.bytesDown } }

    /// The record as one JSON line (sorted keys, newline-terminated). Non-finite metrics and losses
    /// are dropped (JSON has no NaN).
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

/// A value, or nil when the JSON there is something else.
struct Lenient<Value: Decodable>: Decodable {
    let value: Value?
    init(from decoder: Decoder) throws { value = try? Value(from: decoder) }
}
