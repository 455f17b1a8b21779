import Engine
import Foundation
import Testing

/// Golden tests of the forward pass on tiny random Llamas and Qwen2s against transformers
/// (scripts/fixtures/engine_fixtures.py, scripts/fixtures/qwen2_fixtures.py). Each GGUF's reference is the HF model holding that file's
/// dequantized weights, so quantized files have exact references too.
struct TinyModelGoldenTests {
    /// Float32 with a different summation order than PyTorch: 1e-4 absolute on logits of size ~5.
    static let tolerance: Float = 1e-4

    struct Case: Sendable, CustomTestStringConvertible {
        let model: String
        let source: String
        let prompts: [[Int]]
        let logits: [[Float]]
        let greedy: [[Int]]
        var testDescription: String { model }
    }

    static let cases: [Case] = ["tiny_reference.json", "tiny_qwen2_reference.json"].flatMap { file -> [Case] in
        guard let root = try? Fixtures.json(file), let models = root["models"] as? [String: Any] else { return [] }
        return models.keys.sorted().compactMap { name in
            guard let m = models[name] as? [String: Any], let source = m["source"] as? String,
                  let prompts = m["prompts"] as? [[String: Any]] else { return nil }
            return Case(model: name, source: source,
                        prompts: prompts.map { $0["input_ids"] as? [Int] ?? [] },
                        logits: prompts.map { Fixtures.floats(base64: $0["logits_f32_b64"] as? String ?? "") },
                        greedy: prompts.map { $0["greedy_16"] as? [Int] ?? [] })
        }
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count >= 7, "tiny_reference.json should list the HF dirs and every GGUF variant")
        #expect(Self.cases.filter { $0.model.hasPrefix("tiny_qwen2") }.count == 3,
                "tiny_qwen2_reference.json should list the Qwen2 HF dir and its f32 and q8_0 GGUFs")
    }

    @Test(arguments: cases)
    func logitsMatchTransformersAtEveryPosition(_ c: Case) throws {
        let model = try ModelLoader.load(from: Fixtures.url(c.source))
        for (i, ids) in c.prompts.enumerated() {
            let cache = model.makeCache(capacity: ids.count)
            let logits = try model.forward([ForwardRequest(tokens: ids, cache: cache, logits: .all)])[0]
            #expect(maxAbsDiff(logits, c.logits[i]) < Self.tolerance, "\(c.model) prompt \(i)")
        }
    }

    @Test(arguments: cases)
    func greedyContinuationIsTokenIdentical(_ c: Case) throws {
        let model = try ModelLoader.load(from: Fixtures.url(c.source))
        var params = GenerationParameters(maxNewTokens: 16)
        params.stopAtEndTokens = false
        let results = try Generator(model: model).generate(prompts: c.prompts, parameters: params)
        for (i, r) in results.enumerated() {
            #expect(r.generatedIDs == c.greedy[i], "\(c.model) prompt \(i)")
        }
    }

    /// Feeding a prompt one token at a time (the single-token path, which reads quantized rows
    /// directly when the file has them) gives the same logits as the reference at every position.
    @Test(arguments: cases)
    func incrementalDecodeMatchesReference(_ c: Case) throws {
        let model = try ModelLoader.load(from: Fixtures.url(c.source))
        let V = model.configuration.vocabularySize
        let ids = c.prompts[c.prompts.count - 1]
        let cache = model.makeCache(capacity: 4)  // grows as needed
        for (p, id) in ids.enumerated() {
            let row = try model.forward([ForwardRequest(tokens: [id], cache: cache)])[0]
            let expected = Array(c.logits[c.prompts.count - 1][(p * V)..<((p + 1) * V)])
            #expect(maxAbsDiff(row, expected) < Self.tolerance, "\(c.model) position \(p)")
        }
    }

    /// Sequences of different lengths in one batched pass give the same logits as one at a time.
    @Test func raggedBatchEqualsSeparateRuns() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        let prompts = Self.cases.first { $0.model == "tiny_llama.q4_1.gguf" }?.prompts ?? []
        #expect(prompts.count >= 2)
        let batched = try model.forward(prompts.map { ForwardRequest(tokens: $0, cache: model.makeCache(capacity: $0.count), logits: .all) })
        for (i, ids) in prompts.enumerated() {
            let alone = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: ids.count), logits: .all)])[0]
            #expect(maxAbsDiff(batched[i], alone) < 1e-5)
        }
    }

    @Test func huggingFaceDirectoryAndGGUFAgree() throws {
        let hf = try ModelLoader.load(from: Fixtures.url("tiny_llama"))
        let gguf = try ModelLoader.load(from: Fixtures.url("tiny_llama.f32.gguf"))
        #expect(hf.configuration.hiddenSize == gguf.configuration.hiddenSize)
        #expect(hf.configuration.tiedEmbeddings && gguf.configuration.tiedEmbeddings)
        let ids = [5, 17, 250, 3, 99]
        let a = try hf.forward([ForwardRequest(tokens: ids, cache: hf.makeCache(capacity: 5), logits: .all)])[0]
        let b = try gguf.forward([ForwardRequest(tokens: ids, cache: gguf.makeCache(capacity: 5), logits: .all)])[0]
        #expect(maxAbsDiff(a, b) < 1e-4)
    }

    @Test func llama3ConfigurationIsRead() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama3"))
        let c = model.configuration
        #expect(!c.tiedEmbeddings)
        #expect(c.kvHeadCount == 1 && c.headCount == 4)
        #expect(c.ropeScaling?.factor == 8)
        var plain = c
        plain.ropeScaling = nil
        #expect(plain.ropeInverseFrequencies() != c.ropeInverseFrequencies(), "the scaling must change some frequencies")
    }

    /// Without the quantized rows (training loads), every product uses the float32 weights and
    /// still matches the reference.
    @Test func floatOnlyLoadingMatchesTheReference() throws {
        let c = try #require(Self.cases.first { $0.model == "tiny_llama.q4_1.gguf" })
        let model = try ModelLoader.load(from: Fixtures.url(c.source), options: .init(keepQuantizedWeights: false))
        #expect(!model.layers[0].query.isQuantized && !model.output.isQuantized)
        let V = model.configuration.vocabularySize
        let ids = c.prompts[0]
        let cache = model.makeCache(capacity: ids.count)
        for (p, id) in ids.enumerated() {
            let row = try model.forward([ForwardRequest(tokens: [id], cache: cache)])[0]
            #expect(maxAbsDiff(row, Array(c.logits[0][(p * V)..<((p + 1) * V)])) < Self.tolerance)
        }
    }

    @Test func outOfVocabularyTokenIsRejected() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.f32.gguf"))
        #expect(throws: EngineError.self) {
            _ = try model.forward([ForwardRequest(tokens: [1, 320], cache: model.makeCache(capacity: 2))])
        }
    }
}
