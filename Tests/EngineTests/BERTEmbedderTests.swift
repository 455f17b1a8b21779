import Engine
import Foundation
import ModelFiles
import Testing
import Tokenizers

/// A text with the ids and embedding that transformers gave it (scripts/fixtures/bert_fixtures.py).
struct EmbeddingCase: Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int]
    let truncated: Bool
    let embedding: [Float]
    var testDescription: String { String(text.prefix(40)).debugDescription }

    static func load(_ name: String) -> [EmbeddingCase] {
        guard let root = try? Fixtures.json(name), let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.map {
            EmbeddingCase(text: $0["text"] as? String ?? "", ids: $0["ids"] as? [Int] ?? [],
                          truncated: $0["truncated"] as? Bool ?? false,
                          embedding: Fixtures.floats(base64: $0["embedding_f32_b64"] as? String ?? ""))
        }
    }
}

/// Cosine similarity in double precision.
func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

/// The tiny random BERT (2 layers, hidden 32, 4 heads, max_seq_length 16) against transformers.
struct BERTEmbedderTests {
    /// Measured max |Δ| 1.5e-7 on unit vectors of width 32 (float32 with another summation order
    /// than PyTorch); 1e-5 leaves ×65 room and still catches any real error (those move values by
    /// ≥ 1e-3).
    static let tolerance: Float = 1e-5

    static let cases = EmbeddingCase.load("tiny_bert_reference.json")

    static func embedder(maxBatchTokens: Int = 4096) throws -> SentenceEmbedder {
        try SentenceEmbedder.load(directory: Fixtures.url("tiny_bert"), maxBatchTokens: maxBatchTokens)
    }

    @Test func fixturesArePresent() throws {
        #expect(Self.cases.count >= 10)
        let embedder = try Self.embedder()
        #expect(embedder.maxSequenceLength == 16 && embedder.dimension == 32)
    }

    @Test(arguments: cases)
    func idsMatchHuggingFace(_ c: EmbeddingCase) throws {
        let embedder = try Self.embedder()
        let encoding = embedder.tokenizer.encodeForModel(c.text, maxLength: embedder.maxSequenceLength)
        #expect(encoding.ids == c.ids)
        #expect(encoding.truncated == c.truncated)
    }

    @Test func embeddingsMatchTransformers() throws {
        let result = try Self.embedder().embed(Self.cases.map(\.text))
        #expect(result.embeddings.count == Self.cases.count)
        #expect(result.truncatedCount == Self.cases.count { $0.truncated })
        #expect(result.truncatedCount == 5)
        var worst: Float = 0
        for (c, e) in zip(Self.cases, result.embeddings) {
            worst = max(worst, maxAbsDiff(e, c.embedding))
            #expect(abs(cosine(e, e) - 1) < 1e-6 && abs(e.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        }
        #expect(worst < Self.tolerance, "max |Δ| = \(worst)")
    }

    /// A text's embedding is the same bits alone, in a batch of mixed lengths (in any position) and
    /// when the batch is split into several forward passes.
    @Test func embeddingsDoNotDependOnTheBatch() throws {
        let embedder = try Self.embedder()
        let texts = Self.cases.map(\.text)
        let alone = try texts.map { try embedder.embed([$0]).embeddings[0] }
        let together = try embedder.embed(texts).embeddings
        let reversed = try embedder.embed(texts.reversed()).embeddings.reversed()
        let split = try Self.embedder(maxBatchTokens: 20).embed(texts).embeddings
        for i in texts.indices {
            #expect(together[i] == alone[i], "text \(i) in a batch")
            #expect(Array(reversed)[i] == alone[i], "text \(i) in a reversed batch")
            #expect(split[i] == alone[i], "text \(i) in small batches")
        }
        #expect(try embedder.embed([]).embeddings.isEmpty)
    }

    @Test func invalidIDsAreErrorsNotCrashes() throws {
        let model = try Self.embedder().model
        #expect(throws: EngineError.self) { try model.sentenceEmbeddings([[]]) }
        #expect(throws: EngineError.self) { try model.sentenceEmbeddings([[2, 9999, 3]]) }
        #expect(throws: EngineError.self) { try model.sentenceEmbeddings([[2, -1, 3]]) }
        #expect(throws: EngineError.self) { try model.sentenceEmbeddings([Array(repeating: 5, count: 33)]) }
    }

    // MARK: - Broken directories

    /// A copy of tiny_bert in a temporary directory, changed by `edit`.
    static func brokenCopy(_ edit: (URL) throws -> Void) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tiny_bert-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.url("tiny_bert"), to: dir)
        try edit(dir)
        return dir
    }

    /// Rewrites model.safetensors with `transform` applied to its (name, shape, values) list.
    static func rewriteWeights(_ dir: URL, _ transform: ([(name: String, shape: [Int], values: [Float])])
        -> [(name: String, shape: [Int], values: [Float])]) throws {
        let url = dir.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(url: url)
        let tensors = try file.tensorNames.map { (name: $0, shape: file.tensors[$0]!.shape, values: try file.floats(named: $0)) }
        try SafeTensorsWriter.write(transform(tensors), metadata: [:], to: url)
    }

    static func loadError(_ dir: URL) -> String? {
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try SentenceEmbedder.load(directory: dir)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func missingTensorNamesTensorAndFile() throws {
        let dir = try Self.brokenCopy { dir in
            try Self.rewriteWeights(dir) { $0.filter { $0.name != "encoder.layer.1.intermediate.dense.bias" } }
        }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("encoder.layer.1.intermediate.dense.bias") && message.contains("model.safetensors"))
    }

    @Test func wrongShapeNamesTensorAndFile() throws {
        let dir = try Self.brokenCopy { dir in
            try Self.rewriteWeights(dir) { tensors in
                tensors.map { $0.name == "encoder.layer.0.attention.self.key.weight"
                    ? (name: $0.name, shape: [16, 64], values: $0.values) : $0 }
            }
        }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("encoder.layer.0.attention.self.key.weight") && message.contains("[16, 64]")
            && message.contains("model.safetensors"))
    }

    @Test func nonGELUActivationIsRejected() throws {
        let dir = try Self.brokenCopy { dir in
            let url = dir.appendingPathComponent("config.json")
            let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"gelu\"", with: "\"gelu_new\"")
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("gelu_new") && message.contains("config.json"))
    }

    @Test func malformedTokenizerJSONNamesTheFile() throws {
        let dir = try Self.brokenCopy { dir in
            try Data("{\"model\": {\"type\": \"WordPiece\"".utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("tokenizer.json"))
    }

    @Test func nonMeanPoolingIsRejected() throws {
        let dir = try Self.brokenCopy { dir in
            let pooling = #"{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#
            try Data(pooling.utf8).write(to: dir.appendingPathComponent("1_Pooling/config.json"))
        }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("1_Pooling/config.json") && message.contains("mean pooling"))
    }

    /// `bert.`-prefixed tensor names and a plain vocab.txt in place of tokenizer.json give the same
    /// embeddings.
    @Test func prefixedNamesAndVocabularyTextLoad() throws {
        let tokenizer = try Self.embedder().tokenizer
        let dir = try Self.brokenCopy { dir in
            try Self.rewriteWeights(dir) { $0.map { (name: "bert." + $0.name, shape: $0.shape, values: $0.values) } }
            try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
            let vocabulary = (0..<tokenizer.vocabularySize).map { tokenizer.token(forID: $0) ?? "" }
            try Data(vocabulary.map { $0 + "\n" }.joined().utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let texts = Self.cases.map(\.text)
        let loaded = try SentenceEmbedder.load(directory: dir).embed(texts)
        #expect(loaded == (try Self.embedder().embed(texts)))
    }
}
