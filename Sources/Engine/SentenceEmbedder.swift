// Sentence embeddings from a sentence-transformers directory (all-MiniLM-L6-v2 layout): WordPiece
// tokenization with truncation, the BERT encoder in packed batches, mean pooling, L2 normalisation.

import Foundation
import Logging
import Tokenizers

/// Embeddings of a list of texts.
public struct SentenceEmbeddingResult: Sendable, Equatable {
    /// One unit-length vector per text, in the order given (length = the model's hidden size).
    public let embeddings: [[Float]]
    /// For each text, whether it was longer than ``SentenceEmbedder/maxSequenceLength`` tokens and
    /// lost its tail.
    public let truncated: [Bool]

    /// How many texts were truncated.
    public var truncatedCount: Int { truncated.count { $0 } }
}

/// Maps texts to sentence embeddings with a BERT encoder, as sentence-transformers'
/// `Transformer → Pooling(mean) → Normalize` pipeline does.
///
/// Each text becomes `[CLS] tokens [SEP]`, cut to ``maxSequenceLength`` ids; texts are packed into
/// batches of at most ``maxBatchTokens`` rows without padding. A text's embedding depends only on
/// the text: the same bits whether it is embedded alone or with others of any length (packing
/// keeps sequences apart and each text has its own products; `BERTEmbedderTests` checks this bit
/// for bit).
///
/// Thread-safe: immutable after `init`.
public final class SentenceEmbedder: Sendable {
    /// The encoder.
    public let model: BERTModel
    /// The tokenizer.
    public let tokenizer: WordPieceTokenizer
    /// Most ids per text, `[CLS]` and `[SEP]` included.
    public let maxSequenceLength: Int
    /// Most rows one forward pass packs (a text longer than this still runs, alone).
    public let maxBatchTokens: Int
    /// Lowercase texts before tokenizing (sentence-transformers' `do_lower_case`).
    public let lowercaseInput: Bool

    /// The length of every embedding.
    public var dimension: Int { model.configuration.hiddenSize }

    /// An embedder from parts.
    /// - Parameters:
    ///   - maxSequenceLength: defaults to the model's `maxPositions`; larger values are cut to it.
    ///   - maxBatchTokens: rows per forward pass; bounds memory (about 4·(6C + F) bytes per row).
    /// - Throws: ``EngineError/invalidConfiguration(_:)`` when the tokenizer has ids the model lacks.
    public init(model: BERTModel, tokenizer: WordPieceTokenizer, maxSequenceLength: Int? = nil,
                maxBatchTokens: Int = 4096, lowercaseInput: Bool = false) throws {
        let positions = model.configuration.maxPositions
        guard tokenizer.vocabularySize <= model.configuration.vocabularySize else {
            throw EngineError.invalidConfiguration(
                "tokenizer has \(tokenizer.vocabularySize) ids but the model's vocab_size is \(model.configuration.vocabularySize)")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.maxSequenceLength = min(max(maxSequenceLength ?? positions, 2), positions)
        self.maxBatchTokens = max(maxBatchTokens, 1)
        self.lowercaseInput = lowercaseInput
    }

    /// Loads a sentence-transformers directory: `config.json` and `model.safetensors` (the
    /// encoder), `tokenizer.json` (or, without it, `vocab.txt`, uncased unless
    /// `tokenizer_config.json` says `do_lower_case: false`), `sentence_bert_config.json`
    /// (`max_seq_length`, `do_lower_case`; optional) and `1_Pooling/config.json`, which must ask for
    /// mean pooling (when absent, mean pooling is assumed, as sentence-transformers does).
    /// - Throws: ``EngineError`` naming the file at fault.
    public static func load(directory: URL, maxBatchTokens: Int = 4096,
                            logger: Logger = Logger(label: "fedguard.engine")) throws -> SentenceEmbedder {
        let model = try BERTModel.load(directory: directory)
        let tokenizer = try loadTokenizer(directory: directory)
        let sentenceConfig = try jsonObject(directory.appendingPathComponent("sentence_bert_config.json"))
        var maxLength: Int?
        if let value = sentenceConfig?["max_seq_length"] {
            guard let n = value as? Int, n >= 2 else {
                throw EngineError.invalidConfiguration(
                    "\(directory.appendingPathComponent("sentence_bert_config.json").path): max_seq_length \(value) is not an integer ≥ 2")
            }
            maxLength = n
        }
        let poolingURL = directory.appendingPathComponent("1_Pooling/config.json")
        if let pooling = try jsonObject(poolingURL) {
            let modes = ["pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                         "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"].filter { pooling[$0] as? Bool == true }
            guard pooling["pooling_mode_mean_tokens"] as? Bool == true, modes.isEmpty else {
                throw EngineError.invalidConfiguration(
                    "\(poolingURL.path): only mean pooling (pooling_mode_mean_tokens alone) is implemented; found \(modes)")
            }
        } else {
            logger.notice("no 1_Pooling/config.json; using mean pooling", metadata: ["dir": "\(directory.path)"])
        }
        let embedder = try SentenceEmbedder(model: model, tokenizer: tokenizer, maxSequenceLength: maxLength,
                                            maxBatchTokens: maxBatchTokens,
                                            lowercaseInput: sentenceConfig?["do_lower_case"] as? Bool ?? false)
        logger.debug("sentence embedder loaded", metadata: [
            "dir": "\(directory.path)", "layers": "\(model.configuration.layerCount)",
            "hidden": "\(embedder.dimension)", "max_seq_length": "\(embedder.maxSequenceLength)",
        ])
        return embedder
    }

    /// Embeds `texts`: one unit vector per text, and how many texts were truncated.
    /// - Throws: ``EngineError/invalidInput(_:)`` only if the tokenizer produced an id the model
    ///   lacks (ruled out by `init`).
    public func embed(_ texts: [String]) throws -> SentenceEmbeddingResult {
        let encodings = texts.map { text in
            tokenizer.encodeForModel(lowercaseInput ? text.lowercased() : text, maxLength: maxSequenceLength)
        }
        var embeddings: [[Float]] = []
        embeddings.reserveCapacity(texts.count)
        var batch: [[Int]] = [], rows = 0
        for encoding in encodings {
            if !batch.isEmpty && rows + encoding.ids.count > maxBatchTokens {
                embeddings += try model.sentenceEmbeddings(batch)
                batch.removeAll(keepingCapacity: true)
                rows = 0
            }
            batch.append(encoding.ids)
            rows += encoding.ids.count
        }
        if !batch.isEmpty { embeddings += try model.sentenceEmbeddings(batch) }
        return SentenceEmbeddingResult(embeddings: embeddings, truncated: encodings.map(\.truncated))
    }

    /// `tokenizer.json`, else `vocab.txt`.
    static func loadTokenizer(directory: URL) throws -> WordPieceTokenizer {
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        if let data = FileManager.default.contents(atPath: jsonURL.path) {
            do { return try WordPieceTokenizer(tokenizerJSON: data) } catch {
                throw EngineError.tokenizer("\(jsonURL.path): \(error)")
            }
        }
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        guard let data = FileManager.default.contents(atPath: vocabURL.path) else {
            throw EngineError.tokenizer("\(directory.path) has neither tokenizer.json nor vocab.txt")
        }
        let lowercase = try jsonObject(directory.appendingPathComponent("tokenizer_config.json"))?["do_lower_case"] as? Bool ?? true
        do {
            return try WordPieceTokenizer(vocabularyText: String(decoding: data, as: UTF8.self), lowercase: lowercase)
        } catch {
            throw EngineError.tokenizer("\(vocabURL.path): \(error)")
        }
    }

    /// The JSON object in `url`, `nil` when the file does not exist.
    static func jsonObject(_ url: URL) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EngineError.invalidConfiguration("\(url.path) is not a JSON object")
        }
        return object
    }
}
