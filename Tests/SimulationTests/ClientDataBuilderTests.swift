import Foundation
import Logging
import SafetyData
@testable import Simulation
import Testing
import Training

struct ClientDataBuilderTests {
    typealias F = ClientDataFixtures

    func build(_ parameters: ClientDataParameters, harmful: [ClientDataSample] = F.harmful(perCategory: 30),
               benign: [ClientDataSample] = F.benign(perTask: 50),
               filter: ContaminationFilter = F.noFilter) throws -> ClientDataSet {
        try ClientDataBuilder(parameters: parameters).build(harmful: harmful, nonHarmful: benign, contamination: filter)
    }

    @Test(arguments: [ClientDataPartition.iid, .dirichlet(alpha: 0.3)])
    func everyClientHasTheHarmfulFraction(partition: ClientDataPartition) throws {
        let p = ClientDataParameters(clientCount: 10, harmfulFraction: 0.3, samplesPerClient: 20, partition: partition, seed: 7)
        let set = try build(p)
        #expect(set.clients.count == 10)
        for client in set.clients {
            #expect(client.count == 20)
            let harmful = client.filter(\.harmful).count
            #expect(abs(Double(harmful) - 0.3 * 20) <= 1)
            // No sample twice within a client (the pools are large enough here).
            #expect(Set(client).count == client.count)
        }
        // No harmful item is given to two clients when the pool suffices.
        let all = set.clients.flatMap { $0 }.filter(\.harmful)
        #expect(Set(all).count == all.count)
        #expect(!set.manifest.harmfulReuse.applied)
        #expect(set.manifest.harmfulReuse.maxCopiesPerItem == 1)
    }

    @Test func dirichletSkewsCategoriesMoreThanIID() throws {
        func meanTopShare(_ set: ClientDataSet) -> Double {
            let shares = set.clients.map { client -> Double in
                let benign = client.filter { !$0.harmful }
                let counts = Dictionary(grouping: benign, by: \.category).mapValues(\.count)
                return Double(counts.values.max() ?? 0) / Double(max(benign.count, 1))
            }
            return shares.reduce(0, +) / Double(shares.count)
        }
        let iid = try build(ClientDataParameters(clientCount: 8, harmfulFraction: 0.25, samplesPerClient: 24, seed: 3))
        let skewed = try build(ClientDataParameters(clientCount: 8, harmfulFraction: 0.25, samplesPerClient: 24,
                                                    partition: .dirichlet(alpha: 0.1), seed: 3))
        #expect(meanTopShare(skewed) > meanTopShare(iid) + 0.2)
        #expect(meanTopShare(skewed) > 0.6)
        #expect(skewed.manifest.parameters.partition == "dirichlet")
        #expect(skewed.manifest.parameters.alpha == 0.1)
    }

    @Test(arguments: [ClientDataPartition.iid, .dirichlet(alpha: 0.5)])
    func sameSeedSameOutputOtherSeedDiffers(partition: ClientDataPartition) throws {
        let p = ClientDataParameters(clientCount: 6, harmfulFraction: 0.3, samplesPerClient: 10, partition: partition, seed: 11)
        var q = p
        q.seed = 12
        let a = try build(p), b = try build(p), c = try build(q)
        #expect(a.clients == b.clients)
        #expect(a.manifest == b.manifest)
        #expect(a.clients != c.clients)
    }

    @Test func manifestCountsMatchTheSamples() throws {
        let set = try build(ClientDataParameters(clientCount: 5, harmfulFraction: 0.4, samplesPerClient: 10, seed: 1))
        let m = set.manifest
        #expect(m.parameters.samplesPerClient == 10)
        #expect(m.parameters.harmfulPerClient == 4)
        #expect(m.parameters.benignPerClient == 6)
        #expect(m.parameters.seed == 1)
        #expect(m.totals.samples == 50)
        #expect(m.totals.harmful == 20)
        #expect(m.totals.benign == 30)
        for (entry, samples) in zip(m.clients, set.clients) {
            #expect(entry.total == samples.count)
            #expect(entry.harmful == samples.filter(\.harmful).count)
            #expect(entry.harmfulCategories.values.reduce(0, +) == entry.harmful)
            #expect(entry.benignCategories.values.reduce(0, +) == entry.benign)
        }
        #expect(m.clients.map(\.file) == ["client-000.jsonl", "client-001.jsonl", "client-002.jsonl", "client-003.jsonl",
                                          "client-004.jsonl"])
        #expect(m.pools.harmfulAvailable == 120)
        #expect(m.pools.harmfulUsed == 20)
        #expect(m.contamination.droppedHarmful == 0)
    }

    @Test func advBenchCopiesAreDroppedFromBothPools() throws {
        let goals = F.advBenchGoals
        var harmful = F.harmful(perCategory: 10)
        harmful.append(ClientDataSample(prompt: goals[0], response: "Placeholder reply", harmful: true, category: "alpha",
                                        source: .manyShot))
        harmful.append(ClientDataSample(prompt: "Ignore all rules. " + goals[1].uppercased() + "!!", response: "Placeholder",
                                        harmful: true, category: "bravo", source: .manyShot))
        var benign = F.benign(perTask: 10)
        benign.append(ClientDataSample(prompt: "Please summarise this", response: "It said: " + goals[0],
                                       harmful: false, category: "writing", source: .benignGenerated))
        let p = ClientDataParameters(clientCount: 4, harmfulFraction: 0.5, samplesPerClient: nil, seed: 2)
        let set = try build(p, harmful: harmful, benign: benign, filter: ContaminationFilter(references: goals))
        let filter = ContaminationFilter(references: goals)
        for sample in set.clients.flatMap({ $0 }) {
            #expect(filter.match(sample.prompt) == nil && filter.match(sample.response) == nil)
        }
        #expect(set.manifest.contamination.droppedHarmful == 2)
        #expect(set.manifest.contamination.droppedNonHarmful == 1)
        #expect(set.manifest.contamination.references == 2)
        #expect(set.manifest.contamination.droppedByKind.values.reduce(0, +) == 3)
        // "all": 40 clean harmful items, 4 clients at 50% → 10 per client, 20 samples per client.
        #expect(set.manifest.parameters.samplesPerClientRequested == "all")
        #expect(set.manifest.parameters.samplesPerClient == 20)
        #expect(set.manifest.pools.harmfulUsed == 40)
    }

    @Test func duplicatesAreDroppedBeforeSplitting() throws {
        var harmful = F.harmful(perCategory: 5)
        harmful += harmful.prefix(3)
        let set = try build(ClientDataParameters(clientCount: 2, harmfulFraction: 0.5, samplesPerClient: 4, seed: 0),
                            harmful: harmful)
        #expect(set.manifest.contamination.duplicatesHarmful == 3)
        #expect(set.manifest.pools.harmfulAvailable == 20)
    }

    @Test(arguments: [ClientDataPartition.iid, .dirichlet(alpha: 1)])
    func shortHarmfulPoolIsReusedAcrossClientsNeverWithinOne(partition: ClientDataPartition) throws {
        let harmful = F.harmful(perCategory: 5)  // 20 items; 10 clients × 3 = 30 needed
        let p = ClientDataParameters(clientCount: 10, harmfulFraction: 0.3, samplesPerClient: 10, partition: partition, seed: 5)
        let set = try build(p, harmful: harmful)
        let reuse = set.manifest.harmfulReuse
        #expect(reuse.applied)
        #expect(reuse.needed == 30 && reuse.available == 20)
        #expect(reuse.maxCopiesPerItem == 2)
        #expect(set.manifest.pools.harmfulUsed == 20)
        for client in set.clients {
            #expect(client.filter(\.harmful).count == 3)
            #expect(Set(client).count == client.count)
        }
        var q = p
        q.shortagePolicy = .fail
        #expect(throws: ClientDataError.harmfulPoolTooSmall(needed: 30, available: 20)) { try build(q, harmful: harmful) }
    }

    @Test func invalidSettingsNameTheOption() {
        #expect(throws: ClientDataError.self) { try ClientDataBuilder(parameters: .init(clientCount: 0)) }
        do {
            _ = try ClientDataBuilder(parameters: .init(harmfulFraction: 1.5))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("--harmful-fraction"))
        }
        #expect(throws: ClientDataError.self) {
            try ClientDataBuilder(parameters: .init(partition: .dirichlet(alpha: 0)))
        }
        #expect(throws: ClientDataError.self) {
            try ClientDataBuilder(parameters: .init(harmfulFraction: 0, samplesPerClient: nil))
        }
    }

    @Test func benignShortageThrows() throws {
        let p = ClientDataParameters(clientCount: 4, harmfulFraction: 0.5, samplesPerClient: 20, seed: 0)
        #expect(throws: ClientDataError.benignPoolTooSmall(needed: 40, available: 12)) {
            try build(p, benign: F.benign(perTask: 2))
        }
    }

    @Test func writtenFilesLoadWithTheTrainersLoader() throws {
        let set = try build(ClientDataParameters(clientCount: 3, harmfulFraction: 0.3, samplesPerClient: 10, seed: 9))
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let urls = try ClientDataWriter.write(set, to: dir)
        #expect(urls.map(\.lastPathComponent) == ["client-000.jsonl", "client-001.jsonl", "client-002.jsonl"])
        for (url, samples) in zip(urls, set.clients) {
            let loaded = try DatasetLoader.loadSFT(from: url, policy: .failFast, logger: Logger(label: "test"))
            #expect(loaded.examples.count == samples.count)
            #expect(loaded.examples.first?.messages.map(\.content) == [samples[0].prompt, samples[0].response])
            // The meta block is on every line.
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            for (line, sample) in zip(lines, samples) {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                let meta = object?["meta"] as? [String: Any]
                #expect(meta?["harmful"] as? Bool == sample.harmful)
                #expect(meta?["category"] as? String == sample.category)
                #expect(meta?["source"] as? String == sample.source.rawValue)
            }
        }
        let manifest = try ClientDataWriter.readManifest(in: dir)
        #expect(manifest == set.manifest)
    }

    @Test func categoriesAreNormalised() {
        #expect(ClientDataPools.normalizeCategory("SEXUAL_CONTENT") == "sexual_content")
        #expect(ClientDataPools.normalizeCategory("info integrity") == "information_integrity")
        #expect(ClientDataPools.normalizeCategory(nil) == ClientDataPools.uncategorised)
        #expect(ClientDataPools.normalizeCategory("  ") == ClientDataPools.uncategorised)
    }

    @Test func resolvedSamplesPerClientUsesTheWholeHarmfulPool() {
        let p = ClientDataParameters(clientCount: 20, harmfulFraction: 0.3, samplesPerClient: nil)
        let k = p.resolvedSamplesPerClient(harmfulAvailable: 600)
        #expect(p.harmfulPerClient(k) * 20 <= 600)
        #expect(p.harmfulPerClient(k + 1) * 20 > 600)
    }
}
