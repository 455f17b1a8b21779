import Logging

/// A strategy choice as written in a run configuration (YAML/JSON), e.g.
/// `{"name": "fedadam", "eta": 0.01}`. Decoding looks the name up in ``StrategyRegistry``;
/// an unknown name throws ``FederationError/unknownName(key:value:allowed:)`` naming the key
/// and the allowed values, and an out-of-range value throws
/// ``FederationError/invalidParameter(key:value:allowed:)``. Missing values take Flower's defaults.
public enum StrategyConfiguration: Sendable, Equatable, Codable {
    /// ``FedAvg``.
    case fedAvg
    /// ``FedProx`` (`mu`).
    case fedProx(FedProx.Parameters)
    /// ``Scaffold`` (`global_learning_rate`, `total_clients`).
    case scaffold(Scaffold.Parameters)
    /// ``FedAvgM`` (`server_learning_rate`, `server_momentum`).
    case fedAvgM(FedAvgM.Parameters)
    /// ``FedAdagrad`` (`eta`, `tau`).
    case fedAdagrad(AdaptiveParameters)
    /// ``FedYogi`` (`eta`, `tau`, `beta_1`, `beta_2`).
    case fedYogi(AdaptiveParameters)
    /// ``FedAdam`` (`eta`, `tau`, `beta_1`, `beta_2`, `bias_correction`).
    case fedAdam(AdaptiveParameters, biasCorrection: Bool)

    /// The registry key of this configuration.
    public var name: String {
        switch self {
        case .fedAvg: return "fedavg"
        case .fedProx: return "fedprox"
        case .scaffold: return "scaffold"
        case .fedAvgM: return "fedavgm"
        case .fedAdagrad: return "fedadagrad"
        case .fedYogi: return "fedyogi"
        case .fedAdam: return "fedadam"
        }
    }

    /// Degenerate settings worth a warning (the caller logs them).
    public var warnings: [String] {
        switch self {
        case let .fedProx(p): return p.warnings
        case let .fedAvgM(p): return p.warnings
        default: return []
        }
    }

    /// Builds the strategy, logging any ``warnings`` at warning level.
    public func makeStrategy(logger: Logger? = nil) -> any Strategy {
        for warning in warnings { logger?.warning("\(warning)", metadata: ["strategy": "\(name)"]) }
        switch self {
        case .fedAvg: return FedAvg()
        case let .fedProx(p): return FedProx(p)
        case let .scaffold(p): return Scaffold(p)
        case let .fedAvgM(p): return FedAvgM(p)
        case let .fedAdagrad(p): return FedAdagrad(p)
        case let .fedYogi(p): return FedYogi(p)
        case let .fedAdam(p, biasCorrection): return FedAdam(p, biasCorrection: biasCorrection)
        }
    }

    private enum NameKey: String, CodingKey { case name }
    private enum AdamKey: String, CodingKey { case biasCorrection = "bias_correction" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: NameKey.self)
        let name = try container.decode(String.self, forKey: .name)
        guard let decode = StrategyRegistry.decoders[name] else {
            throw FederationError.unknownName(key: "strategy.name", value: name, allowed: StrategyRegistry.names)
        }
        self = try decode(decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NameKey.self)
        try container.encode(name, forKey: .name)
        switch self {
        case .fedAvg: break
        case let .fedProx(p): try p.encode(to: encoder)
        case let .scaffold(p): try p.encode(to: encoder)
        case let .fedAvgM(p): try p.encode(to: encoder)
        case let .fedAdagrad(p), let .fedYogi(p): try p.encode(to: encoder)
        case let .fedAdam(p, biasCorrection):
            try p.encode(to: encoder)
            var adam = encoder.container(keyedBy: AdamKey.self)
            try adam.encode(biasCorrection, forKey: .biasCorrection)
        }
    }

    fileprivate static func decodeFedAdam(_ decoder: any Decoder) throws -> StrategyConfiguration {
        let parameters = try AdaptiveParameters.decode(from: decoder, defaults: .fedAdamDefaults)
        let container = try decoder.container(keyedBy: AdamKey.self)
        return .fedAdam(parameters, biasCorrection: try container.decodeIfPresent(Bool.self, forKey: .biasCorrection) ?? true)
    }
}

/// The registry from strategy name to configuration decoder (and hence constructor). Adding an
/// algorithm means adding one entry here, not a branch in a string switch.
public enum StrategyRegistry {
    /// Decodes the parameters of one algorithm from the same JSON/YAML object as its name.
    public typealias Decoder = @Sendable (any Swift.Decoder) throws -> StrategyConfiguration

    /// Name → decoder.
    public static let decoders: [String: Decoder] = [
        "fedavg": { _ in .fedAvg },
        "fedprox": { .fedProx(try FedProx.Parameters(from: $0)) },
        "scaffold": { .scaffold(try Scaffold.Parameters(from: $0)) },
        "fedavgm": { .fedAvgM(try FedAvgM.Parameters(from: $0)) },
        "fedadagrad": { .fedAdagrad(try AdaptiveParameters.decode(from: $0, defaults: .fedAdagradDefaults)) },
        "fedyogi": { .fedYogi(try AdaptiveParameters.decode(from: $0, defaults: .fedYogiDefaults)) },
        "fedadam": { try StrategyConfiguration.decodeFedAdam($0) },
    ]

    /// The registered names, sorted.
    public static var names: [String] { decoders.keys.sorted() }
}
