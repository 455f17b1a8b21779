// The embedding judge: prompt and response embedded by a sentence encoder (all-MiniLM-L6-v2 in
// the engine), pair features through trained ``EmbeddingHead``s, averaged. Saved as a directory:
// `judge.json` (kind, encoder identity, threshold, training record, head count) and
// `head.safetensors` (one head's tensors unprefixed; an ensemble's as `0.w1`, `1.w1`, ...).

import Foundation
import ModelFiles

/// Texts → fixed-width vectors. The engine's sentence embedder is the real one; tests use small
/// stand-ins.
public protocol TextEncoder: AnyObject {
    /// Vector width E.
    var dimension: Int { get }
    /// Identifies the encoder's weights (a judge trained on one encoder refuses another).
    var identity: String { get }
    /// One vector per text, and whether each text was truncated to fit.
    func encode(_ texts: [String]) throws -> (vectors: [[Float]], truncated: [Bool])
}

/// A judge over sentence embeddings of prompt and response.
public final class EmbeddingJudge: SafetyJudge {
    /// The encoder.
    public let encoder: any TextEncoder
    /// The trained heads (one, or an ensemble whose predictions are averaged).
    public let heads: [EmbeddingHead]
    /// The threshold chosen on the validation split when the judge was trained.
    public let calibratedThreshold: Double
    /// The saved description (training record, data counts) when loaded from a directory.
    public let record: JudgeRecord?

    public var kind: JudgeKind { .embedding }
    public var summary: String {
        let head = heads[0]
        return "embedding judge (\(encoder.identity), \(heads.count == 1 ? "head" : "\(heads.count) heads") "
            + "\(head.featureWidth)→\(head.hiddenUnits)→1+\(EmbeddingHead.categoryCount))"
    }

    /// Creates a judge with one head; its embedding width must match the encoder's.
    public convenience init(encoder: any TextEncoder, head: EmbeddingHead, calibratedThreshold: Double,
                            record: JudgeRecord? = nil) throws(FilterError) {
        try self.init(encoder: encoder, heads: [head], calibratedThreshold: calibratedThreshold, record: record)
    }

    /// Creates a judge whose `heads` are averaged; each head's embedding width must match the encoder's.
    public init(encoder: any TextEncoder, heads: [EmbeddingHead], calibratedThreshold: Double,
                record: JudgeRecord? = nil) throws(FilterError) {
        guard !heads.isEmpty else { throw .judge("an embedding judge needs at least one head") }
        for head in heads {
            guard head.embeddingWidth == encoder.dimension else {
                throw .judge("head expects \(head.embeddingWidth)-wide embeddings, encoder \(encoder.identity) gives \(encoder.dimension)")
            }
            try head.validate()
        }
        _ = try FilterThreshold(calibratedThreshold)
        self.encoder = encoder
        self.heads = heads
        self.calibratedThreshold = calibratedThreshold
        self.record = record
    }

    /// Raw pair features (N, F) for `conversations`, and which were truncated.
    public func features(_ conversations: [Conversation]) throws -> (features: [Float], truncated: [Bool]) {
        try Self.features(conversations, encoder: encoder)
    }

    /// Raw pair features (N, F) of `conversations` under `encoder` (no head needed: training uses
    /// this before a head exists), and which were truncated.
    public static func features(_ conversations: [Conversation], encoder: any TextEncoder) throws
        -> (features: [Float], truncated: [Bool]) {
        guard !conversations.isEmpty else { return ([], []) }
        let encoded = try encoder.encode(conversations.map(\.prompt) + conversations.map(\.response))
        let N = conversations.count
        guard encoded.vectors.count == 2 * N, encoded.vectors.allSatisfy({ $0.count == encoder.dimension }) else {
            throw FilterError.judge("encoder \(encoder.identity) returned \(encoded.vectors.count) vectors for \(2 * N) texts")
        }
        let features = EmbeddingHead.features(prompts: Array(encoded.vectors[0..<N]), responses: Array(encoded.vectors[N...]),
                                              responseTexts: conversations.map(\.response))
        guard features.allSatisfy(\.isFinite) else { throw FilterError.judge("encoder \(encoder.identity) returned non-finite values") }
        let truncated = (0..<N).map { encoded.truncated[$0] || encoded.truncated[N + $0] }
        return (features, truncated)
    }

    public func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
        let (features, truncated) = try features(conversations)
        return zip(EmbeddingHead.predict(heads: heads, features: features), truncated).map {
            JudgeScore(unsafeProbability: $0.0.unsafe, category: $0.0.category, truncated: $0.1)
        }
    }

    // MARK: - Files

    /// The head's weights file inside a judge directory.
    public static let headFileName = "head.safetensors"

    /// Writes `judge.json` and `head.safetensors` into `directory`.
    public func save(to directory: URL, training: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for (m, head) in heads.enumerated() {
            let prefix = heads.count == 1 ? "" : "\(m)."
            tensors += [
                ("feature_mean", [head.featureWidth], head.featureMean), ("feature_scale", [head.featureWidth], head.featureScale),
                ("w1", [head.hiddenUnits, head.featureWidth], head.w1), ("b1", [head.hiddenUnits], head.b1),
                ("w2", [1, head.hiddenUnits], head.w2), ("b2", [1], head.b2),
                ("wc", [EmbeddingHead.categoryCount, head.hiddenUnits], head.wc), ("bc", [EmbeddingHead.categoryCount], head.bc),
            ].map { (prefix + $0.0, $0.1, $0.2) }
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "fedguard-embedding-head"],
                                    to: directory.appendingPathComponent(Self.headFileName))
        let record = JudgeRecord(kind: .embedding, base: encoder.identity, threshold: calibratedThreshold,
                                 details: training.merging(["hidden_units": String(heads[0].hiddenUnits),
                                                            "heads": String(heads.count),
                                                            "embedding_width": String(heads[0].embeddingWidth),
                                                            "features": EmbeddingHead.featureLayout]) { a, _ in a })
        try record.write(to: directory)
    }

    /// Loads a judge saved by ``save(to:training:)`` onto `encoder`; a judge made for another
    /// encoder, a missing file or a malformed head is a ``FilterError/judgeFile(path:reason:)``.
    public static func load(from directory: URL, encoder: any TextEncoder) throws -> EmbeddingJudge {
        let record = try JudgeRecord.read(from: directory, expecting: .embedding)
        guard record.base == encoder.identity else {
            throw FilterError.judgeFile(path: directory.path,
                                        reason: "made for encoder '\(record.base)', not '\(encoder.identity)'; train it again")
        }
        guard record.details["features"] == EmbeddingHead.featureLayout else {
            throw FilterError.judgeFile(path: directory.path, reason: "its head reads features '\(record.details["features"] ?? "pair-embeddings-v0")', "
                                        + "this FedGuard makes '\(EmbeddingHead.featureLayout)'; train it again")
        }
        let url = directory.appendingPathComponent(headFileName)
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch {
            throw FilterError.judgeFile(path: url.path, reason: "\(error)")
        }
        func tensor(_ name: String) throws -> [Float] {
            do { return try file.floats(named: name) } catch {
                throw FilterError.judgeFile(path: url.path, reason: "tensor \(name): \(error)")
            }
        }
        let hidden = Int(record.details["hidden_units"] ?? "") ?? 0
        // Judges saved before ensembles have no `heads` entry: one head, unprefixed.
        let count = Int(record.details["heads"] ?? "1") ?? 0
        guard (1...64).contains(count) else {
            throw FilterError.judgeFile(path: directory.path, reason: "judge.json gives \(record.details["heads"] ?? "") heads, expected 1-64")
        }
        let heads = try (0..<count).map { m in
            let prefix = count == 1 ? "" : "\(m)."
            return EmbeddingHead(embeddingWidth: encoder.dimension, hiddenUnits: hidden,
                                 featureMean: try tensor(prefix + "feature_mean"), featureScale: try tensor(prefix + "feature_scale"),
                                 w1: try tensor(prefix + "w1"), b1: try tensor(prefix + "b1"), w2: try tensor(prefix + "w2"),
                                 b2: try tensor(prefix + "b2"), wc: try tensor(prefix + "wc"), bc: try tensor(prefix + "bc"))
        }
        do {
            return try EmbeddingJudge(encoder: encoder, heads: heads, calibratedThreshold: record.threshold, record: record)
        } catch {
            throw FilterError.judgeFile(path: url.path, reason: error.description)
        }
    }
}

/// `judge.json`: what a saved judge is and what it was trained on.
public struct JudgeRecord: Sendable, Codable, Equatable {
    /// Always `fedguard-judge`.
    public var format = "fedguard-judge"
    /// The file format version.
    public var version = 1
    /// Which judge.
    public var kind: JudgeKind
    /// What it runs on: the encoder's or the base model's identity.
    public var base: String
    /// The threshold chosen on the validation split.
    public var threshold: Double
    /// Training settings and figures (strings, for reports).
    public var details: [String: String]

    /// The record's file name.
    public static let fileName = "judge.json"

    /// Creates a record.
    public init(kind: JudgeKind, base: String, threshold: Double, details: [String: String]) {
        self.kind = kind
        self.base = base
        self.threshold = threshold
        self.details = details
    }

    /// Writes `judge.json` into `directory`.
    public func write(to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: directory.appendingPathComponent(Self.fileName), options: .atomic)
    }

    /// Reads `judge.json` from `directory`, checking its format and kind.
    public static func read(from directory: URL, expecting kind: JudgeKind) throws(FilterError) -> JudgeRecord {
        let url = directory.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else {
            throw .judgeFile(path: url.path, reason: "missing or unreadable (train one with `fedguard filter train --kind \(kind.rawValue)`)")
        }
        let record: JudgeRecord
        do { record = try JSONDecoder().decode(JudgeRecord.self, from: data) } catch {
            throw .judgeFile(path: url.path, reason: "not a judge record: \(error)")
        }
        guard record.format == "fedguard-judge", record.version == 1 else {
            throw .judgeFile(path: url.path, reason: "format \(record.format) v\(record.version), expected fedguard-judge v1")
        }
        guard record.kind == kind else {
            throw .judgeFile(path: url.path, reason: "a \(record.kind.rawValue) judge, expected \(kind.rawValue)")
        }
        guard record.threshold.isFinite, (0...1).contains(record.threshold) else {
            throw .judgeFile(path: url.path, reason: "threshold \(record.threshold) is outside [0, 1]")
        }
        return record
    }
}
