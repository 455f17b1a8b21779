import Federation
import Foundation
import RunFiles

/// What a deployed client receives besides the global adapter (`client-NNN.json` in a round
/// directory; a Flower ClientApp carries it as text in a ConfigRecord).
///
/// The client trains exactly as the simulation's client would: same configuration, seeds,
/// learning rate and strategy objective, so the replies (and the global adapter after the round)
/// are bit-identical to an in-process run's.
public struct ClientTaskFile: Codable, Sendable, Equatable {
    /// The version of this format.
    public static let formatVersion = 1

    /// What the local objective adds to the loss.
    public enum Objective: String, Codable, Sendable {
        /// Plain local training.
        case plain
        /// FedProx with ``ClientTaskFile/mu``.
        case proximal
        /// SCAFFOLD: the server control travels as `server_control.safetensors`.
        case scaffold
    }

    /// ``formatVersion`` of the writer.
    public var format: Int
    /// The client's index in the population.
    public var client: Int
    /// The round (1-based).
    public var round: Int
    /// The round's learning rate.
    public var learningRate: Double
    /// Trainer seed.
    public var seed: UInt64
    /// Client data hook seed.
    public var hookSeed: UInt64
    /// The local objective.
    public var objective: Objective
    /// FedProx's mu.
    public var mu: Double?
    /// SCAFFOLD: the round whose control variate (kept by the client) to start from; nil: zeros.
    public var controlRound: Int?
    /// The adapter's tensors (names and shapes), so a client checks what it receives.
    public var layout: TensorLayout
    /// The run's resolved configuration (YAML), for the LoRA, local-training and filter settings.
    public var configuration: String

    enum CodingKeys: String, CodingKey {
        case format, client, round, learningRate = "learning_rate", seed, hookSeed = "hook_seed", objective, mu
        case controlRound = "control_round", layout, configuration
    }
}

/// What a deployed client sends back besides its adapter (`reply.json`).
public struct ClientReplyFile: Codable, Sendable, Equatable {
    /// The version of this format.
    public static let formatVersion = 1

    /// ``formatVersion`` of the writer.
    public var format: Int
    /// The client's index.
    public var client: Int
    /// The round it trained in.
    public var round: Int
    /// Why the client did not train (nil: it trained and `adapter.safetensors` holds the result).
    public var failure: String?
    /// Training examples (the FedAvg weight).
    public var exampleCount: Int
    /// Training metrics (`loss`, `steps`, `tokens`).
    public var metrics: [String: Double]
    /// The client data hooks' metrics, by hook (e.g. the filter's counts; never examples).
    public var hookMetrics: [String: [String: Double]]
    /// Wall time of the client's work.
    public var seconds: Double
    /// SCAFFOLD: whether `control_delta.safetensors` accompanies the adapter.
    public var hasControlDelta: Bool

    enum CodingKeys: String, CodingKey {
        case format, client, round, failure, exampleCount = "num_examples", metrics, hookMetrics = "hook_metrics", seconds
        case hasControlDelta = "has_control_delta"
    }
}

/// File names and JSON coding shared by the deployed server and clients.
public enum DeploymentFiles {
    /// The global adapter in a round directory.
    public static let global = "global.safetensors"
    /// SCAFFOLD's server control in a round directory.
    public static let serverControl = "server_control.safetensors"
    /// The round's plan in a round directory.
    public static let plan = "plan.json"
    /// The replies' folder in a round directory (one `client-NNN/` each).
    public static let replies = "replies"
    /// A client's task file in a round directory.
    public static func task(client: Int) -> String { RoundRecord.Client.id(client) + ".json" }
    /// A client's reply folder.
    public static func reply(client: Int) -> String { RoundRecord.Client.id(client) }
    /// The reply's JSON in a reply folder.
    public static let replyJSON = "reply.json"
    /// The client's adapter in a reply folder.
    public static let adapter = "adapter.safetensors"
    /// SCAFFOLD's control delta in a reply folder.
    public static let controlDelta = "control_delta.safetensors"
    /// A deployed client's control variate after `round`, in its state directory.
    public static func control(round: Int) -> String { "control-" + RunDirectory.roundName(round) + ".safetensors" }

    /// JSON with sorted keys; NaN and infinities as strings (a client that took no step reports a NaN loss).
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(value)
    }

    /// Decodes `T` from the file at `url`, with an error naming the file.
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SimulationError.io(path: url.path, detail: "missing or unreadable")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(T.self, from: data) } catch {
            throw SimulationError.io(path: url.path, detail: "malformed \(T.self): \(error)")
        }
    }
}

/// The plan of a deployed round (`plan.json`): what the server asked, so it can check the replies.
public struct DeployedRoundPlan: Codable, Sendable, Equatable {
    /// The round.
    public var round: Int
    /// The run's number of rounds.
    public var rounds: Int
    /// The sampled clients.
    public var clients: [Int]
    /// When the round was planned (seconds since 1970), for the round's wall time.
    public var plannedAt: Double
    /// Whether `server_control.safetensors` is part of the round (SCAFFOLD).
    public var hasServerControl: Bool

    enum CodingKeys: String, CodingKey {
        case round, rounds, clients, plannedAt = "planned_at", hasServerControl = "has_server_control"
    }
}
