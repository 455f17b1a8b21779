// Federated client data: the value types shared by the pools, the builder, the writer and the
// pipeline. A client's data set is a list of ``ClientDataSample``s written as chat JSONL
// (`{"messages": [...], "meta": {...}}`), which Training's `DatasetLoader.loadSFT` reads (it
// ignores keys it does not know, such as `meta`).
//
// Harmful text may sit in these values: never log or print a sample's prompt or response
// beyond a truncated snippet (SafetyData's `ReportText`).

import Foundation

/// Where a client sample came from.
public enum ClientDataSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// PyRIT's many-shot jailbreak examples judged harmful (harmful compliance).
    case manyShot = "pyrit-many-shot"
    /// PyRIT scorer-eval rows whose human scores are all 1 (harmful compliance).
    case scorerEval = "pyrit-scorer-eval"
    /// PyRIT scorer-eval refusals (human scores all 0): a harmful request answered safely.
    case refusal = "pyrit-scorer-eval-refusal"
    /// A generated benign prompt answered by the base model.
    case benignGenerated = "benign-generated"
}

/// One (prompt, response) training sample with its labels.
public struct ClientDataSample: Sendable, Hashable, Codable {
    /// The user's request.
    public var prompt: String
    /// The assistant's reply (harmful when ``harmful``: never log it in full).
    public var response: String
    /// Whether the reply complies with a harmful request.
    public var harmful: Bool
    /// Harm category (harmful and refusal samples) or benign task (benign samples).
    public var category: String
    /// The data set it came from.
    public var source: ClientDataSource

    /// Creates a sample.
    public init(prompt: String, response: String, harmful: Bool, category: String, source: ClientDataSource) {
        self.prompt = prompt
        self.response = response
        self.harmful = harmful
        self.category = category
        self.source = source
    }
}

/// How items are spread over clients (within the harmful pool and within the benign pool).
public enum ClientDataPartition: Sendable, Equatable, CustomStringConvertible {
    /// Uniformly at random.
    case iid
    /// Label skew: Dirichlet(α) client proportions per category (harm category / benign task).
    case dirichlet(alpha: Double)

    /// `iid` or `dirichlet(alpha=A)`.
    public var description: String {
        switch self {
        case .iid: "iid"
        case let .dirichlet(alpha): "dirichlet(alpha=\(alpha))"
        }
    }
}

/// What to do when the harmful pool holds fewer items than `clients × harmful-per-client`.
public enum HarmfulShortagePolicy: String, Sendable, Equatable, Codable, CaseIterable {
    /// Deal the pool cyclically: every item is used before any is used again, copies go to
    /// different clients, and no client holds the same item twice. Recorded in the manifest.
    case reuse
    /// Throw ``ClientDataError/harmfulPoolTooSmall(needed:available:)``.
    case fail
}

/// Settings of a client-data build.
public struct ClientDataParameters: Sendable, Equatable {
    /// Number of clients N (≥ 1).
    public var clientCount: Int
    /// Harmful fraction F of every client's samples, in [0, 1]; each client gets round(F·K)
    /// harmful samples (the rounding of Federation's `HarmfulFractionPartitioner`).
    public var harmfulFraction: Double
    /// Samples per client K; nil uses as much of the harmful pool as the fraction allows
    /// (needs F > 0).
    public var samplesPerClient: Int?
    /// How items are spread over clients.
    public var partition: ClientDataPartition
    /// The seed of every random choice.
    public var seed: UInt64
    /// What to do when the harmful pool runs out.
    public var shortagePolicy: HarmfulShortagePolicy

    /// Default samples per client: 24 (20 clients × 24 × 70% benign ≈ 340 model responses,
    /// a few minutes on two cores).
    public static let defaultSamplesPerClient = 24

    /// Creates parameters (the paper's setting by default: 20 clients, 30% harmful).
    public init(clientCount: Int = 20, harmfulFraction: Double = 0.3,
                samplesPerClient: Int? = ClientDataParameters.defaultSamplesPerClient,
                partition: ClientDataPartition = .iid, seed: UInt64 = 0,
                shortagePolicy: HarmfulShortagePolicy = .reuse) {
        self.clientCount = clientCount
        self.harmfulFraction = harmfulFraction
        self.samplesPerClient = samplesPerClient
        self.partition = partition
        self.seed = seed
        self.shortagePolicy = shortagePolicy
    }

    /// Throws ``ClientDataError/invalidParameter(key:value:allowed:)`` for a value out of range.
    public func validate() throws(ClientDataError) {
        guard clientCount >= 1 else { throw .invalidParameter(key: "clients", value: "\(clientCount)", allowed: ">= 1") }
        guard harmfulFraction >= 0, harmfulFraction <= 1 else {
            throw .invalidParameter(key: "harmful-fraction", value: "\(harmfulFraction)", allowed: "a number in [0, 1]")
        }
        if let k = samplesPerClient, k < 1 {
            throw .invalidParameter(key: "samples-per-client", value: "\(k)", allowed: ">= 1, or all")
        }
        if samplesPerClient == nil, harmfulFraction == 0 {
            throw .invalidParameter(key: "samples-per-client", value: "all",
                                    allowed: "a number >= 1 when harmful-fraction is 0 (all is sized by the harmful pool)")
        }
        if case let .dirichlet(alpha) = partition, !(alpha > 0 && alpha.isFinite) {
            throw .invalidParameter(key: "alpha", value: "\(alpha)", allowed: "a finite number > 0")
        }
    }

    /// Harmful samples per client for `samplesPerClient` = k: round(F·k), halves away from zero.
    public func harmfulPerClient(_ k: Int) -> Int {
        Int((harmfulFraction * Double(k)).rounded(.toNearestOrAwayFromZero))
    }

    /// K: ``samplesPerClient``, or (when nil) the largest k with N·round(F·k) ≤ `harmfulAvailable`.
    /// Returns 0 when not even one sample per client fits.
    public func resolvedSamplesPerClient(harmfulAvailable: Int) -> Int {
        if let k = samplesPerClient { return k }
        guard harmfulFraction > 0 else { return 0 }
        var k = Int((Double(harmfulAvailable) / Double(clientCount) / harmfulFraction).rounded(.up)) + 1
        while k > 0, harmfulPerClient(k) * clientCount > harmfulAvailable { k -= 1 }
        return k
    }
}

/// Errors of a client-data build; each names the setting or file and what to change.
public enum ClientDataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A setting is out of range.
    case invalidParameter(key: String, value: String, allowed: String)
    /// The harmful pool is smaller than needed and the policy is ``HarmfulShortagePolicy/fail``,
    /// or a single client needs more distinct harmful items than exist.
    case harmfulPoolTooSmall(needed: Int, available: Int)
    /// Fewer benign samples than needed.
    case benignPoolTooSmall(needed: Int, available: Int)
    /// A required input is missing or unreadable.
    case missingInput(String)
    /// Writing the output failed.
    case writeFailed(path: String, reason: String)
    /// Benign response generation failed.
    case generationFailed(String)
    /// The Federation partitioner refused the request.
    case partitionFailed(String)

    /// A message a person can act on.
    public var description: String {
        switch self {
        case let .invalidParameter(key, value, allowed):
            "--\(key) \(value) is invalid; allowed: \(allowed)"
        case let .harmfulPoolTooSmall(needed, available):
            "the harmful pool has \(available) items after filtering but \(needed) are needed; lower "
                + "--samples-per-client or --harmful-fraction, or allow reuse with --on-harmful-shortage reuse"
        case let .benignPoolTooSmall(needed, available):
            "only \(available) benign samples are available but \(needed) are needed; lower --samples-per-client"
        case let .missingInput(detail):
            "missing input: \(detail)"
        case let .writeFailed(path, reason):
            "\(path): cannot write: \(reason)"
        case let .generationFailed(detail):
            "benign response generation failed: \(detail)"
        case let .partitionFailed(detail):
            "partitioning failed: \(detail)"
        }
    }
}
