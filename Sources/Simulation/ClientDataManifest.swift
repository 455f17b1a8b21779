// `manifest.json` of a client-data directory and the writer of `client-NN.jsonl` files.
// The manifest holds counts only (never sample text): per client and in total, per category,
// the parameters and seed, the pools' sizes, the contamination filter's drops, and whether
// harmful items were reused across clients.

import Foundation
import RunFiles

/// The contents of `manifest.json`.
public struct ClientDataManifest: Codable, Sendable, Equatable {
    /// Format tag.
    public var format = "fedguard-client-data/1"
    /// The settings as resolved.
    public var parameters: Parameters
    /// One entry per client.
    public var clients: [Client]
    /// Sums over clients.
    public var totals: Totals
    /// Pool sizes before and after screening, and how much of each was used.
    public var pools: Pools
    /// What the AdvBench contamination filter and de-duplication removed.
    public var contamination: Contamination
    /// Whether harmful items were used by more than one client.
    public var harmfulReuse: Reuse
    /// Items moved between clients to meet quotas after a Dirichlet split (0 for iid).
    public var rebalanced: Rebalanced
    /// Provenance set by the caller (input files, model, benign-response cache key, ...).
    public var inputs: [String: String]

    /// Resolved settings.
    public struct Parameters: Codable, Sendable, Equatable {
        /// Number of clients.
        public var clients: Int
        /// Requested harmful fraction F.
        public var harmfulFraction: Double
        /// As requested: a number, or "all".
        public var samplesPerClientRequested: String
        /// Samples per client K as resolved.
        public var samplesPerClient: Int
        /// round(F·K).
        public var harmfulPerClient: Int
        /// K − round(F·K).
        public var benignPerClient: Int
        /// `iid` or `dirichlet`.
        public var partition: String
        /// Dirichlet α (nil for iid).
        public var alpha: Double?
        /// The split seed.
        public var seed: UInt64
        /// Policy when the harmful pool runs out.
        public var onHarmfulShortage: HarmfulShortagePolicy

        init(_ p: ClientDataParameters, samplesPerClient: Int, harmfulPerClient: Int, benignPerClient: Int) {
            clients = p.clientCount
            harmfulFraction = p.harmfulFraction
            samplesPerClientRequested = p.samplesPerClient.map(String.init) ?? "all"
            self.samplesPerClient = samplesPerClient
            self.harmfulPerClient = harmfulPerClient
            self.benignPerClient = benignPerClient
            switch p.partition {
            case .iid: partition = "iid"; alpha = nil
            case let .dirichlet(a): partition = "dirichlet"; alpha = a
            }
            seed = p.seed
            onHarmfulShortage = p.shortagePolicy
        }
    }

    /// One client's counts.
    public struct Client: Codable, Sendable, Equatable {
        /// 0-based client index.
        public var index: Int
        /// The client's JSONL file name.
        public var file: String
        /// Samples.
        public var total: Int
        /// Harmful samples.
        public var harmful: Int
        /// Non-harmful samples.
        public var benign: Int
        /// Harmful samples per harm category.
        public var harmfulCategories: [String: Int]
        /// Non-harmful samples per category (benign task, or `refusal:<harm category>`).
        public var benignCategories: [String: Int]
        /// Samples per source.
        public var sources: [String: Int]

        init(index: Int, samples: [ClientDataSample]) {
            self.index = index
            file = ClientDataWriter.fileName(client: index)
            let counts = Counts(samples)
            total = samples.count
            harmful = counts.harmful
            benign = samples.count - counts.harmful
            harmfulCategories = counts.harmfulCategories
            benignCategories = counts.benignCategories
            sources = counts.sources
        }
    }

    /// Totals over all clients.
    public struct Totals: Codable, Sendable, Equatable {
        /// Samples over all clients.
        public var samples: Int
        /// Harmful samples.
        public var harmful: Int
        /// Non-harmful samples.
        public var benign: Int
        /// Harmful samples per harm category.
        public var harmfulCategories: [String: Int]
        /// Non-harmful samples per category.
        public var benignCategories: [String: Int]
        /// Samples per source.
        public var sources: [String: Int]

        init(samples list: [ClientDataSample]) {
            let counts = Counts(list)
            samples = list.count
            harmful = counts.harmful
            benign = list.count - counts.harmful
            harmfulCategories = counts.harmfulCategories
            benignCategories = counts.benignCategories
            sources = counts.sources
        }
    }

    /// Pool sizes.
    public struct Pools: Codable, Sendable, Equatable {
        /// Harmful items read, before screening.
        public var harmfulCandidates: Int
        /// Harmful items after screening.
        public var harmfulAvailable: Int
        /// Distinct harmful items given to at least one client.
        public var harmfulUsed: Int
        /// Non-harmful items given, before screening.
        public var nonHarmfulCandidates: Int
        /// Non-harmful items after screening.
        public var nonHarmfulAvailable: Int
        /// Non-harmful items given to a client.
        public var nonHarmfulUsed: Int
    }

    /// Screening results.
    public struct Contamination: Codable, Sendable, Equatable {
        /// Number of reference texts (AdvBench goals).
        public var references: Int
        /// Harmful items dropped as AdvBench copies.
        public var droppedHarmful: Int
        /// Non-harmful items dropped as AdvBench copies.
        public var droppedNonHarmful: Int
        /// Drops per match kind: `exact`, `nearDuplicate`, `contains`.
        public var droppedByKind: [String: Int]
        /// Harmful items dropped as (near) duplicates.
        public var duplicatesHarmful: Int
        /// Non-harmful items dropped as (near) duplicates.
        public var duplicatesNonHarmful: Int
    }

    /// Harmful reuse across clients.
    public struct Reuse: Codable, Sendable, Equatable {
        public var policy: HarmfulShortagePolicy
        /// True when the pool was smaller than `needed` and items were dealt cyclically.
        public var applied: Bool
        /// clients × harmful per client.
        public var needed: Int
        /// Harmful items after screening.
        public var available: Int
        /// Most clients holding one harmful item (1 without reuse).
        public var maxCopiesPerItem: Int
    }

    /// Quota moves after a Dirichlet split.
    public struct Rebalanced: Codable, Sendable, Equatable {
        /// Harmful items moved.
        public var harmful: Int
        /// Non-harmful items moved.
        public var benign: Int
    }

    /// Per-category tallies of a sample list.
    struct Counts {
        var harmful = 0
        var harmfulCategories: [String: Int] = [:]
        var benignCategories: [String: Int] = [:]
        var sources: [String: Int] = [:]

        init(_ samples: [ClientDataSample]) {
            for s in samples {
                if s.harmful {
                    harmful += 1
                    harmfulCategories[s.category, default: 0] += 1
                } else {
                    benignCategories[s.category, default: 0] += 1
                }
                sources[s.source.rawValue, default: 0] += 1
            }
        }
    }
}

/// Writes a ``ClientDataSet`` as `client-NNN.jsonl` files plus `manifest.json`.
public enum ClientDataWriter {
    /// `client-000.jsonl`, `client-001.jsonl`, ...: the client's id in round records, task files and
    /// reply folders, plus `.jsonl`. (Readers take any number of digits, so data built by an earlier
    /// FedGuard as `client-00.jsonl` still loads.)
    public static func fileName(client: Int) -> String { RoundRecord.Client.id(client) + ".jsonl" }

    /// Name of the manifest file.
    public static let manifestName = "manifest.json"

    /// One JSONL line: `{"messages": [user, assistant], "meta": {"harmful", "category", "source"}}`.
    public static func line(_ sample: ClientDataSample) throws -> Data {
        struct Message: Encodable { let role: String; let content: String }
        struct Meta: Encodable { let harmful: Bool; let category: String; let source: String }
        struct Record: Encodable { let messages: [Message]; let meta: Meta }
        let record = Record(messages: [Message(role: "user", content: sample.prompt),
                                       Message(role: "assistant", content: sample.response)],
                            meta: Meta(harmful: sample.harmful, category: sample.category, source: sample.source.rawValue))
        return try encoder.encode(record)
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Writes every client file and the manifest into `directory` (created if needed); each file
    /// is written to a temporary name and moved into place. Returns the client file URLs.
    @discardableResult
    public static func write(_ set: ClientDataSet, to directory: URL) throws(ClientDataError) -> [URL] {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        var urls: [URL] = []
        for (client, samples) in set.clients.enumerated() {
            let url = directory.appendingPathComponent(fileName(client: client))
            var data = Data()
            do {
                for sample in samples {
                    data.append(try line(sample))
                    data.append(0x0A)
                }
            } catch {
                throw .writeFailed(path: url.path, reason: "encoding: \(error)")
            }
            try atomicWrite(data, to: url)
            urls.append(url)
        }
        let manifestEncoder = encoder
        manifestEncoder.outputFormatting.insert(.prettyPrinted)
        let manifestURL = directory.appendingPathComponent(manifestName)
        do {
            try atomicWrite(try manifestEncoder.encode(set.manifest), to: manifestURL)
        } catch let error as ClientDataError {
            throw error
        } catch {
            throw .writeFailed(path: manifestURL.path, reason: "encoding: \(error)")
        }
        return urls
    }

    /// Writes `data` to a sibling temporary file, then renames it over `url`.
    static func atomicWrite(_ data: Data, to url: URL) throws(ClientDataError) {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw .writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Reads a manifest back.
    public static func readManifest(in directory: URL) throws -> ClientDataManifest {
        try JSONDecoder().decode(ClientDataManifest.self,
                                 from: Data(contentsOf: directory.appendingPathComponent(manifestName)))
    }
}
