// Reading a federation run directory, as the simulation runner writes it:
//
//   config.yaml               the resolved configuration (shown verbatim)
//   rounds.jsonl              one JSON object per round (see ``RoundRecord``)
//   samples/round-NNNN.jsonl  {"suite", "prompt", "response", "judged"} per line
//
// Reading is tolerant: missing files give empty sections, unknown keys are ignored, a
// malformed line is skipped and reported with its file and line number.

import Foundation

/// One client's part in a round.
public struct ClientRecord: Codable, Sendable, Hashable {
    /// Client id.
    public var id: String
    /// Mean training loss (nil when the client did not train or did not report it).
    public var loss: Double?
    /// Training examples used.
    public var examples: Int?
    /// Seconds the client took.
    public var seconds: Double?
    /// Bytes the client sent to the server.
    public var bytesUp: Int?
    /// Bytes the server sent to the client.
    public var bytesDown: Int?
    /// `ok`, `rejected: <reason>` or `failed: <message>`.
    public var status: String?

    enum CodingKeys: String, CodingKey {
        case id, loss, examples, seconds, status
        case bytesUp = "bytes_up", bytesDown = "bytes_down"
    }

    /// Creates a record.
    public init(id: String, loss: Double? = nil, examples: Int? = nil, seconds: Double? = nil, bytesUp: Int? = nil,
                bytesDown: Int? = nil, status: String? = nil) {
        self.id = id
        self.loss = loss
        self.examples = examples
        self.seconds = seconds
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.status = status
    }
}

/// One line of `rounds.jsonl`.
public struct RoundRecord: Codable, Sendable {
    /// Round number.
    public var round: Int
    /// Client learning rate of the round.
    public var lr: Double?
    /// The sampled clients.
    public var clients: [ClientRecord]
    /// Server aggregation time.
    public var aggregationSeconds: Double?
    /// Whether the server kept the previous global model (e.g. every update was rejected).
    public var keptPrevious: Bool?
    /// Bytes sent by clients in the round.
    public var bytesUp: Int?
    /// Bytes sent to clients in the round.
    public var bytesDown: Int?
    /// Per-hook metrics: hook name → metric → value.
    public var hooks: [String: [String: Double]]
    /// Evaluation figures (on evaluated rounds): `advbench_harmless`, `over_refusal`, ...
    public var eval: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case round, lr, clients, hooks, eval
        case aggregationSeconds = "aggregation_seconds", keptPrevious = "kept_previous"
        case bytesUp = "bytes_up", bytesDown = "bytes_down"
    }

    /// Creates a record.
    public init(round: Int, lr: Double? = nil, clients: [ClientRecord] = [], aggregationSeconds: Double? = nil,
                keptPrevious: Bool? = nil, bytesUp: Int? = nil, bytesDown: Int? = nil,
                hooks: [String: [String: Double]] = [:], eval: [String: Double]? = nil) {
        self.round = round
        self.lr = lr
        self.clients = clients
        self.aggregationSeconds = aggregationSeconds
        self.keptPrevious = keptPrevious
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.hooks = hooks
        self.eval = eval
    }

    /// Decodes leniently: only `round` is required; numbers may be integers or reals; a `hooks`
    /// or `eval` entry that is not a number is ignored.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        round = try c.decode(Int.self, forKey: .round)
        lr = try? c.decodeIfPresent(Double.self, forKey: .lr)
        clients = (try? c.decodeIfPresent([LenientClient].self, forKey: .clients))?.compactMap(\.record) ?? []
        aggregationSeconds = try? c.decodeIfPresent(Double.self, forKey: .aggregationSeconds)
        keptPrevious = try? c.decodeIfPresent(Bool.self, forKey: .keptPrevious)
        bytesUp = try? c.decodeIfPresent(Int.self, forKey: .bytesUp)
        bytesDown = try? c.decodeIfPresent(Int.self, forKey: .bytesDown)
        let rawHooks = (try? c.decodeIfPresent([String: [String: LenientNumber]].self, forKey: .hooks)) ?? nil
        hooks = rawHooks?.mapValues { $0.compactMapValues(\.value) } ?? [:]
        eval = ((try? c.decodeIfPresent([String: LenientNumber].self, forKey: .eval)) ?? nil)?.compactMapValues(\.value)
    }

    /// Bytes sent by clients: the round's total, or the sum over clients.
    public var totalBytesUp: Int { bytesUp ?? clients.reduce(0) { $0 + ($1.bytesUp ?? 0) } }
    /// Bytes sent to clients: the round's total, or the sum over clients.
    public var totalBytesDown: Int { bytesDown ?? clients.reduce(0) { $0 + ($1.bytesDown ?? 0) } }
}

/// A number, or anything else (decoded as nil) so one odd value does not lose a whole round.
struct LenientNumber: Decodable {
    let value: Double?
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        value = try? c.decode(Double.self)
    }
}

/// A client entry that may lack fields; entries without an id are dropped.
struct LenientClient: Decodable {
    let record: ClientRecord?
    init(from decoder: Decoder) throws {
        guard let c = try? decoder.container(keyedBy: ClientRecord.CodingKeys.self),
              let id = (try? c.decode(String.self, forKey: .id)) ?? (try? c.decode(Int.self, forKey: .id)).map(String.init)
        else { record = nil; return }
        record = ClientRecord(
            id: id, loss: try? c.decodeIfPresent(Double.self, forKey: .loss),
            examples: try? c.decodeIfPresent(Int.self, forKey: .examples),
            seconds: try? c.decodeIfPresent(Double.self, forKey: .seconds),
            bytesUp: try? c.decodeIfPresent(Int.self, forKey: .bytesUp),
            bytesDown: try? c.decodeIfPresent(Int.self, forKey: .bytesDown),
            status: try? c.decodeIfPresent(String.self, forKey: .status))
    }
}

/// A sample file's lines with the round it belongs to.
public struct RoundSamples: Sendable {
    /// Round number from the file name.
    public var round: Int
    /// The samples (full text as written; report writers truncate them).
    public var samples: [RunSample]
}

/// Everything read from a run directory.
public struct RunDirectory: Sendable {
    /// The directory.
    public let url: URL
    /// `config.yaml`, verbatim (nil when absent).
    public var configuration: String?
    /// Rounds in file order.
    public var rounds: [RoundRecord] = []
    /// Sample files, by round.
    public var samples: [RoundSamples] = []
    /// Lines or files that could not be read, with where.
    public var issues: [String] = []

    /// Reads `url`. Throws only when `url` is not a directory.
    public static func read(_ url: URL) throws -> RunDirectory {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EvaluationError.io(file: url.path, detail: "not a run directory")
        }
        var run = RunDirectory(url: url)
        let config = url.appendingPathComponent("config.yaml")
        if let data = FileManager.default.contents(atPath: config.path) {
            run.configuration = String(decoding: data, as: UTF8.self)
        } else {
            run.issues.append("config.yaml: missing")
        }
        let rounds = url.appendingPathComponent("rounds.jsonl")
        if let data = FileManager.default.contents(atPath: rounds.path) {
            run.rounds = Self.decodeLines(data, as: RoundRecord.self, file: "rounds.jsonl", issues: &run.issues)
        } else {
            run.issues.append("rounds.jsonl: missing")
        }
        let samplesDirectory = url.appendingPathComponent("samples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory.path)) ?? []
        for name in names.sorted() where name.hasPrefix("round-") && name.hasSuffix(".jsonl") {
            guard let round = Int(name.dropFirst("round-".count).dropLast(".jsonl".count)),
                  let data = FileManager.default.contents(atPath: samplesDirectory.appendingPathComponent(name).path)
            else { continue }
            let lines = Self.decodeLines(data, as: RunSample.self, file: "samples/\(name)", issues: &run.issues)
            run.samples.append(RoundSamples(round: round, samples: lines))
        }
        return run
    }

    static func decodeLines<T: Decodable>(_ data: Data, as type: T.Type, file: String, issues: inout [String]) -> [T] {
        let decoder = JSONDecoder()
        var out: [T] = []
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated() where !line.allSatisfy(\.isWhitespace) {
            do { out.append(try decoder.decode(T.self, from: Data(line.utf8))) } catch {
                issues.append("\(file):\(index + 1): not a valid record (\(Self.reason(error)))")
            }
        }
        return out
    }

    static func reason(_ error: Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?: "missing `\(key.stringValue)`"
        case let .typeMismatch(_, context)?: "wrong type at `\(context.codingPath.map(\.stringValue).joined(separator: "."))`"
        case .dataCorrupted?: "not JSON"
        default: "unreadable"
        }
    }
}
