/// Partitioners split a dataset's items among clients. They work on item indices (0..<itemCount)
/// and per-item labels, and return one index list per client, ascending. Every item is assigned
/// at most once; the result depends only on the inputs and the seed; impossible requests throw
/// ``FederationError/partitionImpossible(_:)`` or ``FederationError/invalidParameter(key:value:allowed:)``.

/// IID: shuffle all items, deal them into `clientCount` contiguous slices whose sizes differ by
/// at most one (the first `itemCount % clientCount` clients get one more).
///
/// reference: McMahan et al. 2017, Section 3 ("IID" partition); flwr-datasets `IidPartitioner`.
public struct IIDPartitioner: Sendable, Equatable, Codable {
    /// Number of clients.
    public let clientCount: Int
    /// The seed.
    public let seed: UInt64

    /// Creates a partitioner; throws if `clientCount < 1`.
    public init(clientCount: Int, seed: UInt64) throws {
        try require(clientCount >= 1, key: "clients", value: clientCount, allowed: ">= 1")
        self.clientCount = clientCount
        self.seed = seed
    }

    /// Partitions items 0..<itemCount; throws if some client would get no item.
    public func partition(itemCount: Int) throws -> [[Int]] {
        guard itemCount >= clientCount else {
            throw FederationError.partitionImpossible(
                "\(itemCount) items cannot give each of \(clientCount) clients at least one")
        }
        var generator = SeedDerivation.generator(seed, .partitioning, 1)
        var items = Array(0..<itemCount)
        generator.shuffle(&items)
        let base = itemCount / clientCount, extra = itemCount % clientCount
        var start = 0
        return (0..<clientCount).map { client in
            let size = base + (client < extra ? 1 : 0)
            defer { start += size }
            return items[start..<(start + size)].sorted()
        }
    }
}

/// Label-skewed non-IID split: for each category k, draw client proportions p_k ~ Dir(α·1_N) and
/// deal that category's (shuffled) items by the cumulative proportions. Small α gives each
/// client few categories; large α approaches IID. Draws repeat (continuing the same seeded
/// stream) until every client has at least ``minimumItemsPerClient`` items, up to
/// ``maximumAttempts`` times.
///
/// reference: Hsu, Qi, Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for
/// Federated Visual Classification", Section 3; flwr-datasets `DirichletPartitioner`
/// (`min_partition_size`). Gamma draws: Marsaglia–Tsang (see ``RandomNumberGenerator``).
public struct DirichletPartitioner: Sendable, Equatable, Codable {
    /// Number of clients N.
    public let clientCount: Int
    /// Concentration α > 0.
    public let alpha: Double
    /// Each client must receive at least this many items.
    public let minimumItemsPerClient: Int
    /// Redraws allowed before giving up.
    public let maximumAttempts: Int
    /// The seed.
    public let seed: UInt64

    /// Creates a partitioner; throws on non-positive α or client count.
    public init(clientCount: Int, alpha: Double, seed: UInt64, minimumItemsPerClient: Int = 1,
                maximumAttempts: Int = 100) throws {
        try require(clientCount >= 1, key: "clients", value: clientCount, allowed: ">= 1")
        try require(alpha > 0 && alpha.isFinite, key: "alpha", value: alpha, allowed: "finite, > 0")
        try require(minimumItemsPerClient >= 0, key: "min_items_per_client", value: minimumItemsPerClient,
                    allowed: ">= 0")
        try require(maximumAttempts >= 1, key: "max_attempts", value: maximumAttempts, allowed: ">= 1")
        self.clientCount = clientCount
        self.alpha = alpha
        self.minimumItemsPerClient = minimumItemsPerClient
        self.maximumAttempts = maximumAttempts
        self.seed = seed
    }

    /// Partitions items by their category labels (`labels[i]` is item i's category).
    public func partition<Label: Hashable & Comparable>(labels: [Label]) throws -> [[Int]] {
        guard labels.count >= clientCount * minimumItemsPerClient else {
            throw FederationError.partitionImpossible(
                "\(labels.count) items cannot give each of \(clientCount) clients \(minimumItemsPerClient)")
        }
        var byCategory: [Label: [Int]] = [:]
        for (index, label) in labels.enumerated() { byCategory[label, default: []].append(index) }
        let categories = byCategory.keys.sorted()
        var generator = SeedDerivation.generator(seed, .partitioning, 2)
        var smallest = 0
        for _ in 0..<maximumAttempts {
            var clients = [[Int]](repeating: [], count: clientCount)
            for category in categories {
                var items = byCategory[category] ?? []
                generator.shuffle(&items)
                let proportions = generator.nextDirichlet(alpha: alpha, count: clientCount)
                var cumulative = 0.0, start = 0
                for client in 0..<clientCount {
                    cumulative += proportions[client]
                    let end = client == clientCount - 1
                        ? items.count
                        : min(items.count, Int((cumulative * Double(items.count)).rounded(.down)))
                    if end > start { clients[client].append(contentsOf: items[start..<end]) }
                    start = max(start, end)
                }
            }
            smallest = clients.map(\.count).min() ?? 0
            if smallest >= minimumItemsPerClient { return clients.map { $0.sorted() } }
        }
        throw FederationError.partitionImpossible(
            "after \(maximumAttempts) Dirichlet(α=\(alpha)) draws some client still had \(smallest) "
                + "items (< \(minimumItemsPerClient)); raise alpha or lower the minimum")
    }
}

/// Gives each client a chosen fraction of harmful items: client i receives `n` items, of which
/// `round(F_i · n)` are harmful, drawn without replacement from the harmful and benign pools.
/// The harmful count is therefore within ±½ item of `F_i · n`.
///
/// When `itemsPerClient` is nil, `n` is the largest size the pools allow.
public struct HarmfulFractionPartitioner: Sendable, Equatable, Codable {
    /// The harmful fraction F_i of each client, in [0, 1].
    public let fractions: [Double]
    /// Items per client n (nil: as many as possible).
    public let itemsPerClient: Int?
    /// The seed.
    public let seed: UInt64

    /// Creates a partitioner with one fraction per client.
    public init(fractions: [Double], itemsPerClient: Int? = nil, seed: UInt64) throws {
        try require(!fractions.isEmpty, key: "harmful_fractions", value: "[]", allowed: "one value per client")
        for (client, fraction) in fractions.enumerated() {
            try require(fraction >= 0 && fraction <= 1, key: "harmful_fractions[\(client)]", value: fraction,
                        allowed: "[0, 1]")
        }
        if let n = itemsPerClient {
            try require(n >= 1, key: "items_per_client", value: n, allowed: ">= 1")
        }
        self.fractions = fractions
        self.itemsPerClient = itemsPerClient
        self.seed = seed
    }

    /// Creates a partitioner where all `clientCount` clients share one fraction.
    public init(clientCount: Int, fraction: Double, itemsPerClient: Int? = nil, seed: UInt64) throws {
        try require(clientCount >= 1, key: "clients", value: clientCount, allowed: ">= 1")
        try self.init(fractions: Array(repeating: fraction, count: clientCount),
                      itemsPerClient: itemsPerClient, seed: seed)
    }

    /// Harmful items wanted by each client for size `n`.
    func harmfulTargets(_ n: Int) -> [Int] {
        fractions.map { Int(($0 * Double(n)).rounded(.toNearestOrAwayFromZero)) }
    }

    /// Partitions items labelled harmful (`true`) or benign (`false`).
    public func partition(isHarmful: [Bool]) throws -> [[Int]] {
        var harmful = isHarmful.indices.filter { isHarmful[$0] }
        var benign = isHarmful.indices.filter { !isHarmful[$0] }
        func fits(_ n: Int) -> Bool {
            let targets = harmfulTargets(n)
            let wantHarmful = targets.reduce(0, +)
            return wantHarmful <= harmful.count && n * fractions.count - wantHarmful <= benign.count
        }
        let size: Int
        if let n = itemsPerClient {
            guard fits(n) else {
                let wantHarmful = harmfulTargets(n).reduce(0, +)
                throw FederationError.partitionImpossible(
                    "\(fractions.count) clients × \(n) items need \(wantHarmful) harmful and "
                        + "\(n * fractions.count - wantHarmful) benign items; have \(harmful.count) harmful, "
                        + "\(benign.count) benign")
            }
            size = n
        } else {
            var n = isHarmful.count / fractions.count
            while n > 0 && !fits(n) { n -= 1 }
            guard n > 0 else {
                throw FederationError.partitionImpossible(
                    "\(harmful.count) harmful and \(benign.count) benign items cannot give "
                        + "\(fractions.count) clients even one item at the requested fractions")
            }
            size = n
        }
        var generator = SeedDerivation.generator(seed, .partitioning, 3)
        generator.shuffle(&harmful)
        generator.shuffle(&benign)
        var nextHarmful = 0, nextBenign = 0
        return harmfulTargets(size).map { target in
            let mine = Array(harmful[nextHarmful..<(nextHarmful + target)])
                + benign[nextBenign..<(nextBenign + size - target)]
            nextHarmful += target
            nextBenign += size - target
            return mine.sorted()
        }
    }
}
