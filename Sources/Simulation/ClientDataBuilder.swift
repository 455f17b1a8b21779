// Splits a harmful pool and a non-harmful pool into per-client data sets with a fixed harmful
// fraction per client, using Federation's partitioners (the project's one partitioning
// implementation):
//
// - every client gets K samples, h = round(F·K) harmful and K − h non-harmful;
// - `iid`: Federation's `HarmfulFractionPartitioner` over both pools at once;
// - `dirichlet(α)`: Federation's `DirichletPartitioner` over each pool's category labels (harm
//   category / benign task), then a quota step: each client keeps up to its quota from its own
//   Dirichlet share, surplus items go to a spare list, and clients that are short take spare
//   items of the categories they already hold most of (keeping the skew). The number of items
//   moved is recorded in the manifest;
// - when the harmful pool holds fewer than N·h items: policy `reuse` deals a fixed item order
//   cyclically (client i gets items i·h ..< i·h + h modulo the pool size), so every item is
//   used before any repeats, no client holds an item twice and copies differ by at most one;
//   policy `fail` throws. The manifest's `harmfulReuse` records what happened.
//
// Before any of this both pools are screened: items whose prompt or response copies an
// AdvBench goal (``ContaminationFilter``: exact, near-duplicate or contained) are dropped,
// then (near) duplicates within a pool. Deterministic for a seed.

import Federation
import Foundation
import SafetyData

/// Client data sets built in memory, with their manifest.
public struct ClientDataSet: Sendable {
    /// Each client's samples, in a seeded random order.
    public var clients: [[ClientDataSample]]
    /// Counts, parameters and filter results.
    public var manifest: ClientDataManifest
}

/// Builds client data sets from labelled pools (see the file header for the rules).
public struct ClientDataBuilder: Sendable {
    /// The settings.
    public let parameters: ClientDataParameters

    /// A builder; throws ``ClientDataError/invalidParameter(key:value:allowed:)`` for bad settings.
    public init(parameters: ClientDataParameters) throws(ClientDataError) {
        try parameters.validate()
        self.parameters = parameters
    }

    /// What ``screen(_:filter:)`` removed.
    public struct ScreenReport: Sendable {
        /// The items kept, in input order.
        public var kept: [ClientDataSample]
        /// Items dropped as copies of a reference (AdvBench) text.
        public var contaminated: Int
        /// Contaminated items per match kind (`exact`, `nearDuplicate`, `contains`).
        public var contaminatedByKind: [String: Int]
        /// Items dropped as (near) duplicates of an earlier item of the same pool.
        public var duplicates: Int
    }

    /// Drops items whose prompt or response copies a reference text, then near duplicates.
    public static func screen(_ items: [ClientDataSample], filter: ContaminationFilter) -> ScreenReport {
        let filtered = filter.filter(items) { [$0.prompt, $0.response] }
        var byKind: [String: Int] = [:]
        for (kind, count) in filtered.droppedByKind { byKind[kind.rawValue] = count }
        let unique = Deduplicator.unique(filtered.kept) { $0.prompt + "\n" + $0.response }
        return ScreenReport(kept: unique, contaminated: filtered.droppedCount, contaminatedByKind: byKind,
                            duplicates: filtered.kept.count - unique.count)
    }

    /// Non-harmful items needed for a harmful pool of `harmfulAvailable` (after screening).
    public func nonHarmfulNeeded(harmfulAvailable: Int) -> Int {
        let k = parameters.resolvedSamplesPerClient(harmfulAvailable: harmfulAvailable)
        return parameters.clientCount * (k - parameters.harmfulPerClient(k))
    }

    /// Screens both pools against `contamination` and splits them over the clients.
    /// - Parameters:
    ///   - harmful: harmful-compliance samples (`harmful == true`).
    ///   - nonHarmful: benign samples and, optionally, refusals (`harmful == false`).
    ///   - contamination: a filter over the AdvBench goals (or any reference texts).
    public func build(harmful: [ClientDataSample], nonHarmful: [ClientDataSample],
                      contamination: ContaminationFilter) throws(ClientDataError) -> ClientDataSet {
        if harmful.contains(where: { !$0.harmful }) || nonHarmful.contains(where: \.harmful) {
            throw .invalidParameter(key: "pools", value: "mixed labels",
                                    allowed: "harmful samples only in `harmful`, others only in `nonHarmful`")
        }
        let harmfulScreen = Self.screen(harmful, filter: contamination)
        let otherScreen = Self.screen(nonHarmful, filter: contamination)
        let harmfulPool = harmfulScreen.kept, otherPool = otherScreen.kept

        let n = parameters.clientCount
        let k = parameters.resolvedSamplesPerClient(harmfulAvailable: harmfulPool.count)
        guard k >= 1 else { throw .harmfulPoolTooSmall(needed: n, available: harmfulPool.count) }
        let h = parameters.harmfulPerClient(k), b = k - h
        let assignment = try assign(harmfulLabels: harmfulPool.map(\.category), otherLabels: otherPool.map(\.category),
                                    samplesPerClient: k, harmfulPerClient: h)

        var clients: [[ClientDataSample]] = []
        for client in 0..<n {
            var samples = assignment.harmful[client].map { harmfulPool[$0] } + assignment.other[client].map { otherPool[$0] }
            var order = SeedDerivation.generator(parameters.seed, .partitioning, Stream.clientOrder, UInt64(client))
            order.shuffle(&samples)
            clients.append(samples)
        }

        var copies = [Int](repeating: 0, count: harmfulPool.count)
        for list in assignment.harmful { for i in list { copies[i] += 1 } }
        let manifest = ClientDataManifest(
            parameters: .init(parameters, samplesPerClient: k, harmfulPerClient: h, benignPerClient: b),
            clients: clients.enumerated().map { ClientDataManifest.Client(index: $0.offset, samples: $0.element) },
            totals: .init(samples: clients.flatMap { $0 }),
            pools: .init(harmfulCandidates: harmful.count, harmfulAvailable: harmfulPool.count,
                         harmfulUsed: copies.filter { $0 > 0 }.count,
                         nonHarmfulCandidates: nonHarmful.count, nonHarmfulAvailable: otherPool.count,
                         nonHarmfulUsed: assignment.other.reduce(0) { $0 + $1.count }),
            contamination: .init(references: contamination.referenceCount,
                                 droppedHarmful: harmfulScreen.contaminated, droppedNonHarmful: otherScreen.contaminated,
                                 droppedByKind: harmfulScreen.contaminatedByKind.merging(otherScreen.contaminatedByKind, uniquingKeysWith: +),
                                 duplicatesHarmful: harmfulScreen.duplicates, duplicatesNonHarmful: otherScreen.duplicates),
            harmfulReuse: .init(policy: parameters.shortagePolicy, applied: assignment.reused,
                                needed: n * h, available: harmfulPool.count, maxCopiesPerItem: copies.max() ?? 0),
            rebalanced: .init(harmful: assignment.movedHarmful, benign: assignment.movedOther),
            inputs: [:])
        return ClientDataSet(clients: clients, manifest: manifest)
    }

    // MARK: - Assignment

    /// Indices into the screened pools, per client.
    struct Assignment {
        var harmful: [[Int]]
        var other: [[Int]]
        var reused = false
        var movedHarmful = 0
        var movedOther = 0
    }

    /// Stream tags for `SeedDerivation` (purpose `.partitioning`); the partitioners' own streams
    /// are separated further by the seeds derived here.
    enum Stream {
        static let clientOrder: UInt64 = 0x4344_4F52  // "CDOR"
        static let harmfulSeed: UInt64 = 0x4344_4841  // "CDHA"
        static let otherSeed: UInt64 = 0x4344_4F54    // "CDOT"
        static let fit: UInt64 = 0x4344_4649          // "CDFI"
        static let cyclic: UInt64 = 0x4344_4359       // "CDCY"
    }

    func assign(harmfulLabels: [String], otherLabels: [String], samplesPerClient k: Int,
                harmfulPerClient h: Int) throws(ClientDataError) -> Assignment {
        let n = parameters.clientCount, b = k - h
        let seed = parameters.seed
        guard otherLabels.count >= n * b else { throw .benignPoolTooSmall(needed: n * b, available: otherLabels.count) }
        guard h <= harmfulLabels.count else { throw .harmfulPoolTooSmall(needed: n * h, available: harmfulLabels.count) }
        let shortage = n * h > harmfulLabels.count
        if shortage, parameters.shortagePolicy == .fail {
            throw .harmfulPoolTooSmall(needed: n * h, available: harmfulLabels.count)
        }
        let harmfulSeed = SeedDerivation.derive(seed, .partitioning, Stream.harmfulSeed)
        let otherSeed = SeedDerivation.derive(seed, .partitioning, Stream.otherSeed)
        let empty = [[Int]](repeating: [], count: n)
        do {
            switch parameters.partition {
            case .iid where !shortage:
                // One draw over both pools: exactly h harmful and b other items per client.
                let count = harmfulLabels.count
                let flags = [Bool](repeating: true, count: count) + [Bool](repeating: false, count: otherLabels.count)
                let lists = try HarmfulFractionPartitioner(clientCount: n, fraction: parameters.harmfulFraction,
                                                           itemsPerClient: k, seed: seed).partition(isHarmful: flags)
                return Assignment(harmful: lists.map { $0.filter { $0 < count } },
                                  other: lists.map { $0.filter { $0 >= count }.map { $0 - count } })
            case .iid:
                var order = Array(harmfulLabels.indices)
                var rng = SeedDerivation.generator(harmfulSeed, .partitioning, Stream.cyclic)
                rng.shuffle(&order)
                let other = b == 0 ? empty
                    : try HarmfulFractionPartitioner(clientCount: n, fraction: 0, itemsPerClient: b, seed: otherSeed)
                        .partition(isHarmful: [Bool](repeating: false, count: otherLabels.count))
                return Assignment(harmful: Self.cyclicDeal(order: order, clientCount: n, quota: h), other: other, reused: true)
            case let .dirichlet(alpha):
                var result = Assignment(harmful: empty, other: empty, reused: shortage)
                if h > 0 {
                    let shares = try DirichletPartitioner(clientCount: n, alpha: alpha, seed: harmfulSeed,
                                                          minimumItemsPerClient: 0).partition(labels: harmfulLabels)
                    if shortage {
                        var order: [Int] = []
                        for (client, share) in shares.enumerated() {
                            var mine = share
                            var rng = SeedDerivation.generator(harmfulSeed, .partitioning, Stream.cyclic, UInt64(client))
                            rng.shuffle(&mine)
                            order += mine
                        }
                        result.harmful = Self.cyclicDeal(order: order, clientCount: n, quota: h)
                    } else {
                        (result.harmful, result.movedHarmful) = Self.fitQuotas(shares, quota: h, labels: harmfulLabels,
                                                                               seed: harmfulSeed)
                    }
                }
                if b > 0 {
                    let shares = try DirichletPartitioner(clientCount: n, alpha: alpha, seed: otherSeed,
                                                          minimumItemsPerClient: 0).partition(labels: otherLabels)
                    (result.other, result.movedOther) = Self.fitQuotas(shares, quota: b, labels: otherLabels, seed: otherSeed)
                }
                return result
            }
        } catch let error as ClientDataError {
            throw error
        } catch {
            throw .partitionFailed("\(error)")
        }
    }

    /// Client i gets `order[(i·quota + j) mod order.count]` for j < quota (quota ≤ order.count),
    /// so a client never holds an item twice and every item is used before any repeats.
    static func cyclicDeal(order: [Int], clientCount: Int, quota: Int) -> [[Int]] {
        guard quota > 0, !order.isEmpty else { return [[Int]](repeating: [], count: clientCount) }
        return (0..<clientCount).map { client in
            (0..<quota).map { order[(client * quota + $0) % order.count] }.sorted()
        }
    }

    /// Trims or tops up Dirichlet shares to exactly `quota` items each (the pool must hold at
    /// least `shares.count × quota` items). Each client keeps a seeded random subset of its
    /// share; short clients take spare items, preferring the categories most frequent in their
    /// own share. Returns the lists and how many items moved between clients.
    static func fitQuotas(_ shares: [[Int]], quota: Int, labels: [String], seed: UInt64) -> ([[Int]], Int) {
        var kept: [[Int]] = []
        var spare: [Int] = []
        for (client, share) in shares.enumerated() {
            var mine = share
            var rng = SeedDerivation.generator(seed, .partitioning, Stream.fit, UInt64(client))
            rng.shuffle(&mine)
            kept.append(Array(mine.prefix(quota)))
            spare += mine.dropFirst(quota)
        }
        var moved = 0
        for client in kept.indices where kept[client].count < quota {
            var weight: [String: Int] = [:]
            for i in shares[client] { weight[labels[i], default: 0] += 1 }
            // Stable order: most-held category first, then spare order.
            let ranked = spare.indices.sorted { a, c in
                let wa = weight[labels[spare[a]]] ?? 0, wc = weight[labels[spare[c]]] ?? 0
                return wa != wc ? wa > wc : a < c
            }
            let take = quota - kept[client].count
            let chosen = Set(ranked.prefix(take))
            kept[client] += ranked.prefix(take).map { spare[$0] }
            spare = spare.indices.filter { !chosen.contains($0) }.map { spare[$0] }
            moved += take
        }
        return (kept.map { $0.sorted() }, moved)
    }
}
