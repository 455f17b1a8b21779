// Poisoned clients in the simulation: an `adversaries:` section names clients that misbehave
// (skip the filter, train on harmful data, scale or flip their update, send NaN/Inf or wrong
// shapes, drop out, time out), so that the server's defences can be measured against them.
// Attacks compose: several entries may name the same client.
//
// reference: Bagdasaryan et al. 2020, "How To Backdoor Federated Learning" (model replacement:
// a malicious update boosted by a factor so that it survives averaging); Blanchard et al. 2017
// (Byzantine updates: sign flips, arbitrary values).

import Federation
import Foundation
import Training

/// What a poisoned client does.
public enum Attack: String, Sendable, Codable, CaseIterable {
    /// Trains on its data without running the client data hooks (the safety filter).
    case skipFilter = "skip_filter"
    /// Trains on harmful compliance only: as many examples as its own data holds, drawn from the
    /// attacker's data (``AdversarySettings/data`` or the harmful pool of the client-data sources).
    case harmfulData = "harmful_data"
    /// Sends `global + factor · (local − global)` (model replacement; default factor 10).
    case scale
    /// Sends `global − factor · (local − global)` (default factor 1).
    case signFlip = "sign_flip"
    /// Sends a NaN in its first parameter.
    case nan
    /// Sends +Inf in its first parameter.
    case inf
    /// Sends its first tensor with one element missing (a wrong shape).
    case wrongShape = "wrong_shape"
    /// Does not reply.
    case dropOut = "drop_out"
    /// Trains, then replies after the round's deadline (the server discards the reply).
    case timeOut = "time_out"

    /// The factor an entry uses when it names none.
    public var defaultFactor: Double { self == .scale ? 10 : 1 }
}

/// One entry of the `adversaries:` section: which clients, which attack, from which round.
public struct AdversarySettings: Sendable, Equatable, Codable {
    /// The poisoned clients (indices in the population, 0-based).
    public var clients: [Int]
    /// What they do.
    public var attack: Attack
    /// The update multiplier of `scale` and `sign_flip` (nil: the attack's default).
    public var factor: Double?
    /// The first round the attack is active (1-based).
    public var fromRound: Int
    /// `harmful_data`: the attacker's chat JSONL; nil takes the harmful pool of the client-data
    /// sources (PyRIT's harmful compliance, AdvBench-screened), resolved by the command-line tool.
    public var data: String?

    /// Creates an entry.
    public init(clients: [Int], attack: Attack, factor: Double? = nil, fromRound: Int = 1, data: String? = nil) {
        self.clients = clients
        self.attack = attack
        self.factor = factor
        self.fromRound = fromRound
        self.data = data
    }

    /// The multiplier in effect.
    public var effectiveFactor: Double { factor ?? attack.defaultFactor }

    /// Whether this entry acts on `client` in `round`.
    public func applies(client: Int, round: Int) -> Bool { round >= fromRound && clients.contains(client) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case clients, attack, factor, fromRound = "from_round", data
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clients = try c.decodeIfPresent([Int].self, forKey: .clients) ?? []
        let name = try c.decode(String.self, forKey: .attack)
        guard let attack = Attack(rawValue: name) else {
            throw ConfigurationError.invalidValue(key: "adversaries.attack", value: "'\(name)'",
                                                  allowed: Attack.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self.attack = attack
        factor = try c.decodeIfPresent(Double.self, forKey: .factor)
        fromRound = try c.decodeIfPresent(Int.self, forKey: .fromRound) ?? 1
        data = try c.decodeIfPresent(String.self, forKey: .data)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clients, forKey: .clients)
        try c.encode(attack.rawValue, forKey: .attack)
        try c.encode(factor, forKey: .factor)
        try c.encode(fromRound, forKey: .fromRound)
        try c.encode(data, forKey: .data)
    }

    /// Checks the entry against the population (`index` names it in messages).
    func validate(index: Int, clientCount: Int) throws(ConfigurationError) {
        let key = "adversaries.\(index)"
        guard !clients.isEmpty, clients.allSatisfy({ (0..<clientCount).contains($0) }) else {
            throw .invalidValue(key: "\(key).clients", value: "\(clients)", allowed: "a non-empty list of client indices in 0...\(clientCount - 1)")
        }
        guard fromRound >= 1 else {
            throw .invalidValue(key: "\(key).from_round", value: "\(fromRound)", allowed: "an integer >= 1")
        }
        if let factor {
            guard factor.isFinite, factor > 0, attack == .scale || attack == .signFlip else {
                throw .invalidValue(key: "\(key).factor", value: "\(factor)",
                                    allowed: "a finite number > 0, only for scale and sign_flip (or null)")
            }
        }
        if data != nil, attack != .harmfulData {
            throw .invalidValue(key: "\(key).data", value: "\(data ?? "")", allowed: "null (data is for harmful_data only)")
        }
    }
}

/// A poisoned client's failure (no usable reply), recorded as `failed: <description>`.
public enum AdversaryFailure: Error, CustomStringConvertible {
    /// `drop_out`.
    case droppedOut
    /// `time_out`.
    case timedOut

    public var description: String {
        switch self {
        case .droppedOut: return "dropped out (adversary)"
        case .timedOut: return "timed out: the reply arrived after the round's deadline (adversary)"
        }
    }
}

/// The client side of a run with poisoned clients: honest clients train as usual; a client named
/// by an active entry has its data, its hooks or its reply changed as the entry says.
public final class AdversarialClientTrainer: ClientTrainer {
    /// The honest trainer.
    public let honest: LoRAClientTrainer
    /// The entries, in configuration order.
    public let adversaries: [AdversarySettings]
    /// The harmful examples `harmful_data` draws from, by entry index.
    public let harmfulExamples: [Int: [SFTExample]]

    /// Creates the trainer; every `harmful_data` entry needs its examples in `harmfulExamples`.
    public init(honest: LoRAClientTrainer, adversaries: [AdversarySettings], harmfulExamples: [Int: [SFTExample]]) throws {
        for (index, entry) in adversaries.enumerated() where entry.attack == .harmfulData {
            guard let examples = harmfulExamples[index], !examples.isEmpty else {
                throw SimulationError.data("adversaries.\(index) (harmful_data) has no harmful examples to train on")
            }
        }
        self.honest = honest
        self.adversaries = adversaries
        self.harmfulExamples = harmfulExamples
    }

    /// The entries active for `client` in `round`, with their indices.
    func active(client: Int, round: Int) -> [(index: Int, entry: AdversarySettings)] {
        adversaries.enumerated().filter { $0.element.applies(client: client, round: round) }.map { ($0.offset, $0.element) }
    }

    public func train(_ task: ClientTask, progress: (ClientProgress) -> Void) throws -> ClientResult {
        let entries = active(client: task.clientID, round: task.round)
        guard !entries.isEmpty else { return try honest.train(task, progress: progress) }
        let attacks = Set(entries.map(\.entry.attack))
        if attacks.contains(.dropOut) { throw AdversaryFailure.droppedOut }

        var examples = try honest.datasets.examples(client: task.clientID)
        if let (index, _) = entries.first(where: { $0.entry.attack == .harmfulData }) {
            examples = Self.draw(count: examples.count, from: harmfulExamples[index] ?? [], seed: task.hookSeed)
        }
        var result = try honest.train(task, examples: examples, applyHooks: !attacks.contains(.skipFilter), progress: progress)
        if attacks.contains(.timeOut) { throw AdversaryFailure.timedOut }

        for (_, entry) in entries {
            result.reply.parameters = try Self.poison(result.reply.parameters, global: task.global, attack: entry.attack,
                                                      factor: entry.effectiveFactor)
        }
        return result
    }

    /// `count` examples drawn without replacement from `pool` (cycled when the pool is smaller),
    /// in an order fixed by `seed`.
    static func draw(count: Int, from pool: [SFTExample], seed: UInt64) -> [SFTExample] {
        guard !pool.isEmpty, count > 0 else { return [] }
        var generator = SplitMix64(seed: seed)
        var order = Array(pool.indices)
        generator.shuffle(&order)
        return (0..<count).map { pool[order[$0 % order.count]] }
    }

    /// The reply's parameters after `attack` (attacks on data, hooks and delivery leave them as they are).
    static func poison(_ local: TensorMap, global: TensorMap, attack: Attack, factor: Double) throws -> TensorMap {
        switch attack {
        case .scale:
            return try global.adding(try local.subtracting(global), scaledBy: factor)
        case .signFlip:
            return try global.adding(try local.subtracting(global), scaledBy: -factor)
        case .nan, .inf:
            var values = local.values
            if !values.isEmpty { values[0] = attack == .nan ? .nan : .infinity }
            return try TensorMap(layout: local.layout, values: values)
        case .wrongShape:
            var tensors = local.layout.entries.map { entry in
                (name: entry.name, shape: entry.shape, values: Array(local.values(named: entry.name) ?? []))
            }
            guard var first = tensors.first, !first.values.isEmpty else { return local }
            first.values.removeLast()
            first.shape = [first.values.count]
            tensors[0] = first
            return try TensorMap(tensors)
        case .skipFilter, .harmfulData, .dropOut, .timeOut:
            return local
        }
    }
}
