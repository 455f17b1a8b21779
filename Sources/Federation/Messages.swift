/// What a client sends back after local training in one round.
public struct ClientReply: Sendable, Equatable, Codable {
    /// The client's index in the population (as returned by ``ClientSampler``).
    public var clientID: Int
    /// The client's parameters after local training (same layout as the global map). Strategies
    /// derive the update as `parameters - global` where they need it (clipping, screening, DP).
    public var parameters: TensorMap
    /// Number of local training examples; the FedAvg weight. Must be positive.
    public var exampleCount: Int
    /// Training metrics reported by the client (e.g. `"loss"`); aggregated example-weighted.
    public var metrics: [String: Double]
    /// SCAFFOLD only: the change of the client's control variate, `c_i⁺ − c_i`.
    public var controlVariateDelta: TensorMap?

    /// Creates a reply.
    public init(
        clientID: Int, parameters: TensorMap, exampleCount: Int,
        metrics: [String: Double] = [:], controlVariateDelta: TensorMap? = nil
    ) {
        self.clientID = clientID
        self.parameters = parameters
        self.exampleCount = exampleCount
        self.metrics = metrics
        self.controlVariateDelta = controlVariateDelta
    }
}

/// What the local objective of a round must add to the plain training loss.
public enum LocalObjective: Sendable, Equatable, Codable {
    /// Plain local training (FedAvg and the server-optimiser strategies).
    case plain
    /// FedProx: add `mu/2 · ‖w − w_global‖²`; see ``FedProx/proximalGradient(local:global:mu:)``.
    case proximal(mu: Double)
    /// SCAFFOLD: correct every local gradient by `c − c_i`, with `c` this server control variate;
    /// see ``Scaffold/correctedGradient(_:serverControl:clientControl:)``.
    case scaffold(serverControl: TensorMap)
}

/// The instructions for the clients of one round (Flower's `configure_fit`).
public struct RoundConfiguration: Sendable, Equatable, Codable {
    /// The round number, starting at 1.
    public var round: Int
    /// What the clients' local objective adds to the loss.
    public var objective: LocalObjective

    /// Creates a configuration.
    public init(round: Int, objective: LocalObjective = .plain) {
        self.round = round
        self.objective = objective
    }

    /// Number of float32 values sent down to each client besides the parameters.
    public var extraDownloadElementCount: Int {
        if case let .scaffold(control) = objective { return control.elementCount }
        return 0
    }
}

/// Why a reply was left out of aggregation.
public enum RejectionReason: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A NaN or infinite value in `tensor` at flat `index`.
    case nonFinite(tensor: String, index: Int)
    /// The reply lacks a tensor of the global map.
    case missingTensor(String)
    /// The reply has a tensor the global map does not have.
    case unexpectedTensor(String)
    /// A tensor's shape differs from the global one (or the order of tensors differs).
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    /// The update norm `‖parameters − global‖` exceeds the configured bound.
    case normExceeded(norm: Double, bound: Double)
    /// The example count is zero or negative.
    case nonPositiveExampleCount(Int)
    /// A second reply from the same client in one round.
    case duplicateClient
    /// SCAFFOLD: the control-variate delta is missing or has the wrong layout.
    case invalidControlVariate(String)

    /// The reason without its data, for counting.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case nonFinite, missingTensor, unexpectedTensor, shapeMismatch, normExceeded
        case nonPositiveExampleCount, duplicateClient, invalidControlVariate
    }

    /// The kind of this reason.
    public var kind: Kind {
        switch self {
        case .nonFinite: return .nonFinite
        case .missingTensor: return .missingTensor
        case .unexpectedTensor: return .unexpectedTensor
        case .shapeMismatch: return .shapeMismatch
        case .normExceeded: return .normExceeded
        case .nonPositiveExampleCount: return .nonPositiveExampleCount
        case .duplicateClient: return .duplicateClient
        case .invalidControlVariate: return .invalidControlVariate
        }
    }

    public var description: String {
        switch self {
        case let .nonFinite(tensor, index): return "non-finite value in '\(tensor)' at \(index)"
        case let .missingTensor(name): return "missing tensor '\(name)'"
        case let .unexpectedTensor(name): return "unexpected tensor '\(name)'"
        case let .shapeMismatch(tensor, expected, found):
            return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .normExceeded(norm, bound): return "update norm \(norm) exceeds bound \(bound)"
        case let .nonPositiveExampleCount(count): return "example count \(count) is not positive"
        case .duplicateClient: return "duplicate reply from the same client"
        case let .invalidControlVariate(detail): return "invalid control variate: \(detail)"
        }
    }
}

/// One rejected reply.
public struct Rejection: Sendable, Equatable, Codable {
    /// The client whose reply was rejected.
    public var clientID: Int
    /// Why.
    public var reason: RejectionReason

    /// Creates a rejection.
    public init(clientID: Int, reason: RejectionReason) {
        self.clientID = clientID
        self.reason = reason
    }
}

/// The (ε, δ) guarantee spent so far, reported by ``DPFedAvgStrategy`` after each round.
public struct PrivacySpent: Sendable, Equatable, Codable {
    /// ε at ``delta``.
    public var epsilon: Double
    /// The target δ.
    public var delta: Double
    /// The Rényi order that gave the smallest ε.
    public var optimalOrder: Int
    /// Number of noisy rounds composed.
    public var rounds: Int
}

/// The result of aggregating one round (Flower's `aggregate_fit`), including "no update".
public struct AggregationOutcome: Sendable, Equatable {
    /// Whether the global parameters changed.
    public enum Status: Sendable, Equatable {
        /// A new global was computed.
        case updated
        /// The previous global is kept; the reason says why.
        case keptPrevious(KeptPreviousReason)
    }

    /// Why a round kept the previous global.
    public enum KeptPreviousReason: Sendable, Equatable, CustomStringConvertible {
        /// Fewer valid replies than the configured minimum.
        case tooFewValidReplies(valid: Int, required: Int)

        public var description: String {
            switch self {
            case let .tooFewValidReplies(valid, required):
                return "only \(valid) valid replies, \(required) required; previous global kept"
            }
        }
    }

    /// The global parameters after the round (the previous ones if kept).
    public var global: TensorMap
    /// Updated or kept.
    public var status: Status
    /// Clients whose replies were aggregated, in reply order.
    public var acceptedClientIDs: [Int]
    /// Replies left out, with reasons.
    public var rejections: [Rejection]
    /// Example-weighted client metrics plus policy metrics (e.g. `"clip.clipped_count"`).
    public var metrics: [String: Double]
    /// Privacy spent so far, when a DP policy is active.
    public var privacy: PrivacySpent?

    /// Creates an outcome.
    public init(
        global: TensorMap, status: Status, acceptedClientIDs: [Int], rejections: [Rejection] = [],
        metrics: [String: Double] = [:], privacy: PrivacySpent? = nil
    ) {
        self.global = global
        self.status = status
        self.acceptedClientIDs = acceptedClientIDs
        self.rejections = rejections
        self.metrics = metrics
        self.privacy = privacy
    }

    /// True when a new global was computed.
    public var isUpdated: Bool { status == .updated }

    /// Number of rejections per kind of reason.
    public var rejectionCounts: [RejectionReason.Kind: Int] {
        rejections.reduce(into: [:]) { $0[$1.reason.kind, default: 0] += 1 }
    }
}

/// A client's evaluation result (Flower's `EvaluateRes`).
public struct ClientEvaluation: Sendable, Equatable, Codable {
    /// The client.
    public var clientID: Int
    /// Number of evaluation examples; the weight.
    public var exampleCount: Int
    /// Metric values, e.g. `"loss"`, `"refusal_rate"`.
    public var metrics: [String: Double]

    /// Creates an evaluation result.
    public init(clientID: Int, exampleCount: Int, metrics: [String: Double]) {
        self.clientID = clientID
        self.exampleCount = exampleCount
        self.metrics = metrics
    }
}
