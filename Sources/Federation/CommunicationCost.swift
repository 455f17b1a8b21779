/// Bytes exchanged in one round, counted as FlowerTune does: parameters sent as float32, down to
/// every sampled client and up from every reply received.
///
/// reference: Flower "FlowerTune LLM Leaderboard" communication budget (parameter bytes, both
/// directions, summed over rounds), https://flower.ai/benchmarks/llm-leaderboard
public struct RoundCommunication: Sendable, Equatable, Codable {
    /// The round.
    public var round: Int
    /// Bytes sent from server to clients.
    public var downloadBytes: Int
    /// Bytes sent from clients to server.
    public var uploadBytes: Int

    /// Download plus upload.
    public var totalBytes: Int { downloadBytes + uploadBytes }

    /// The cost of one round: each of `sampledClients` receives the global map (plus any extra
    /// tensors of the configuration, e.g. SCAFFOLD's control variate); each reply sends its
    /// parameters (plus its control-variate delta), whether or not it is later accepted.
    public init(round: Int, global: TensorMap, configuration: RoundConfiguration, sampledClients: Int,
                replies: [ClientReply]) {
        self.round = round
        let perClient = (global.elementCount + configuration.extraDownloadElementCount) * MemoryLayout<Float>.size
        downloadBytes = perClient * sampledClients
        uploadBytes = replies.reduce(0) {
            $0 + $1.parameters.float32ByteCount + ($1.controlVariateDelta?.float32ByteCount ?? 0)
        }
    }

    /// Creates a record from byte counts.
    public init(round: Int, downloadBytes: Int, uploadBytes: Int) {
        self.round = round
        self.downloadBytes = downloadBytes
        self.uploadBytes = uploadBytes
    }
}

/// Communication per round and in total over a run (serialisable with the run's checkpoint).
public struct CommunicationLedger: Sendable, Equatable, Codable {
    /// Every round recorded so far.
    public private(set) var rounds: [RoundCommunication] = []

    /// Creates an empty ledger.
    public init() {}

    /// Appends a round.
    public mutating func record(_ round: RoundCommunication) { rounds.append(round) }

    /// Total bytes sent down.
    public var totalDownloadBytes: Int { rounds.reduce(0) { $0 + $1.downloadBytes } }
    /// Total bytes sent up.
    public var totalUploadBytes: Int { rounds.reduce(0) { $0 + $1.uploadBytes } }
    /// Total bytes both ways.
    public var totalBytes: Int { totalDownloadBytes + totalUploadBytes }
    /// Total in MB (10⁶ bytes), the unit of the FlowerTune leaderboard.
    public var totalMegabytes: Double { Double(totalBytes) / 1_000_000 }
}
