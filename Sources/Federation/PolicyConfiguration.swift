import Logging

/// A policy as written in a run configuration, e.g. `{"name": "krum", "byzantine_count": 1}`.
/// A run lists policies innermost first; ``wrap(_:logger:)`` applies one around a strategy.
/// Unknown names throw ``FederationError/unknownName(key:value:allowed:)`` listing
/// ``PolicyRegistry/names``; out-of-range values throw
/// ``FederationError/invalidParameter(key:value:allowed:)``.
public enum PolicyConfiguration: Sendable, Equatable, Codable {
    /// ``ScreenedStrategy`` (`minimum_replies`, `max_update_norm`).
    case screen(ReplyScreen)
    /// ``ClippedStrategy`` (`max_norm`).
    case clip(maxNorm: Double)
    /// ``MedianStrategy``.
    case median
    /// ``TrimmedMeanStrategy`` (`beta`, default 0.2 as Flower).
    case trimmedMean(beta: Double)
    /// ``KrumStrategy`` (`byzantine_count`, `select_count`; name `krum` or `multi_krum`).
    case krum(byzantineCount: Int, selectCount: Int)
    /// ``DPFedAvgStrategy`` (`clipping_norm`, `noise_multiplier`, `sampling_rate`, `delta`,
    /// `noise_denominator`, `seed`).
    case dpFedAvg(DPFedAvgParameters)

    /// The registry key of this configuration.
    public var name: String {
        switch self {
        case .screen: return "screen"
        case .clip: return "clip"
        case .median: return "median"
        case .trimmedMean: return "trimmed_mean"
        case let .krum(_, selectCount): return selectCount == 1 ? "krum" : "multi_krum"
        case .dpFedAvg: return "dp_fedavg"
        }
    }

    /// Wraps `base` in this policy, logging degenerate settings.
    public func wrap(_ base: any Strategy, logger: Logger? = nil) throws -> any Strategy {
        try wrapOpened(base, logger: logger)
    }

    private func wrapOpened<Base: Strategy>(_ base: Base, logger: Logger?) throws -> any Strategy {
        switch self {
        case let .screen(screen): return ScreenedStrategy(base: base, screen: screen)
        case let .clip(maxNorm): return try ClippedStrategy(base: base, maxNorm: maxNorm)
        case .median: return MedianStrategy(base: base)
        case let .trimmedMean(beta): return try TrimmedMeanStrategy(base: base, beta: beta)
        case let .krum(byzantineCount, selectCount):
            return try KrumStrategy(base: base, byzantineCount: byzantineCount, selectCount: selectCount)
        case let .dpFedAvg(parameters):
            for warning in parameters.warnings { logger?.warning("\(warning)", metadata: ["policy": "\(name)"]) }
            return try DPFedAvgStrategy(base: base, parameters: parameters)
        }
    }

    fileprivate enum Keys: String, CodingKey {
        case name, maxNorm = "max_norm", beta, byzantineCount = "byzantine_count", selectCount = "select_count"
        case minimumReplies = "minimum_replies", maxUpdateNorm = "max_update_norm"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let name = try container.decode(String.self, forKey: .name)
        guard let decode = PolicyRegistry.decoders[name] else {
            throw FederationError.unknownName(key: "policy.name", value: name, allowed: PolicyRegistry.names)
        }
        self = try decode(decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .name)
        switch self {
        case let .screen(screen):
            try c.encode(screen.minimumReplies, forKey: .minimumReplies)
            try c.encodeIfPresent(screen.maxUpdateNorm, forKey: .maxUpdateNorm)
        case let .clip(maxNorm): try c.encode(maxNorm, forKey: .maxNorm)
        case .median: break
        case let .trimmedMean(beta): try c.encode(beta, forKey: .beta)
        case let .krum(byzantineCount, selectCount):
            try c.encode(byzantineCount, forKey: .byzantineCount)
            try c.encode(selectCount, forKey: .selectCount)
        case let .dpFedAvg(parameters): try parameters.encode(to: encoder)
        }
    }
}

/// The registry from policy name to configuration decoder.
public enum PolicyRegistry {
    /// Decodes one policy from the same JSON/YAML object as its name.
    public typealias Decoder = @Sendable (any Swift.Decoder) throws -> PolicyConfiguration
    private typealias Keys = PolicyConfiguration.Keys

    /// Name → decoder.
    public static let decoders: [String: Decoder] = [
        "screen": { decoder in
            let c = try decoder.container(keyedBy: Keys.self)
            let minimum = try c.decodeIfPresent(Int.self, forKey: .minimumReplies) ?? 1
            try require(minimum >= 1, key: "minimum_replies", value: minimum, allowed: ">= 1")
            let bound = try c.decodeIfPresent(Double.self, forKey: .maxUpdateNorm)
            if let bound { try require(bound > 0, key: "max_update_norm", value: bound, allowed: "> 0") }
            return .screen(ReplyScreen(minimumReplies: minimum, maxUpdateNorm: bound))
        },
        "clip": { decoder in
            let c = try decoder.container(keyedBy: Keys.self)
            let maxNorm = try c.decode(Double.self, forKey: .maxNorm)
            try require(maxNorm > 0 && maxNorm.isFinite, key: "max_norm", value: maxNorm, allowed: "finite, > 0")
            return .clip(maxNorm: maxNorm)
        },
        "median": { _ in .median },
        "trimmed_mean": { decoder in
            let beta = try decoder.container(keyedBy: Keys.self).decodeIfPresent(Double.self, forKey: .beta) ?? 0.2
            try require(beta >= 0 && beta < 0.5, key: "beta", value: beta, allowed: "[0, 0.5)")
            return .trimmedMean(beta: beta)
        },
        "krum": { try decodeKrum($0, defaultSelect: 1) },
        "multi_krum": { try decodeKrum($0, defaultSelect: 2) },
        "dp_fedavg": { .dpFedAvg(try DPFedAvgParameters(from: $0)) },
    ]

    /// The registered names, sorted.
    public static var names: [String] { decoders.keys.sorted() }

    private static func decodeKrum(_ decoder: any Swift.Decoder, defaultSelect: Int) throws -> PolicyConfiguration {
        let c = try decoder.container(keyedBy: Keys.self)
        let f = try c.decodeIfPresent(Int.self, forKey: .byzantineCount) ?? 0
        let m = try c.decodeIfPresent(Int.self, forKey: .selectCount) ?? defaultSelect
        try require(f >= 0, key: "byzantine_count", value: f, allowed: ">= 0")
        try require(m >= 1, key: "select_count", value: m, allowed: ">= 1")
        return .krum(byzantineCount: f, selectCount: m)
    }
}
