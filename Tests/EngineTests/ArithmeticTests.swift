import Engine
import Foundation
import Testing

/// `Arithmetic.int8` (int8-quantized activations for Q4 weights) against the exact arithmetic and
/// the transformers references.
struct ArithmeticTests {
    static func logits(_ model: LlamaModel, _ ids: [Int], _ arithmetic: Arithmetic) throws -> [Float] {
        try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: ids.count), logits: .all)],
                          arithmetic: arithmetic)[0]
    }

    /// On the tiny Q4_1 model (random weights, logits ~6) int8 stays within 10% of the logit range of
    /// the reference (measured: 5.7%).
    @Test func int8LogitsStayCloseToTheExactReference() throws {
        let c = try #require(TinyModelGoldenTests.cases.first { $0.model == "tiny_llama.q4_1.gguf" })
        let model = try ModelLoader.load(from: Fixtures.url(c.source))
        #expect(model.layers[0].query.supportsInt8)
        for (i, ids) in c.prompts.enumerated() where ids.count > 1 {
            let int8 = try Self.logits(model, ids, .int8), exact = try Self.logits(model, ids, .exact)
            let range = c.logits[i].map(abs).max() ?? 1
            #expect(maxAbsDiff(exact, c.logits[i]) < TinyModelGoldenTests.tolerance)
            let error = maxAbsDiff(int8, c.logits[i])
            #expect(error > 0, "int8 should not silently fall back to the exact path")
            #expect(error < 0.1 * range, "prompt \(i): max |Δlogit| \(error) against a range of \(range)")
        }
    }

    /// Each row's activations are quantized on their own and the kernel does not depend on the row
    /// count, so int8 results do not depend on what else is in the batch: bit for bit.
    @Test func int8RaggedBatchEqualsSeparateRunsBitForBit() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        let prompts = [[5, 6, 7, 8], [100, 20, 30, 40, 50, 60, 70, 80, 90, 10, 11], [9, 3]]
        let batched = try model.forward(prompts.map { ForwardRequest(tokens: $0, cache: model.makeCache(capacity: $0.count), logits: .all) },
                                        arithmetic: .int8)
        for (i, ids) in prompts.enumerated() {
            #expect(batched[i] == (try Self.logits(model, ids, .int8)), "prompt \(i)")
        }
    }

    /// One token at a time (single-stream decoding) int8 applies too, with the same per-row
    /// quantization: logits match the whole-prompt int8 pass up to float summation order.
    @Test func int8IncrementalDecodeMatchesTheWholePromptPass() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        let V = model.configuration.vocabularySize
        let ids = [100, 20, 30, 40, 50, 60, 70, 80, 90]
        let whole = try Self.logits(model, ids, .int8), exact = try Self.logits(model, ids, .exact)
        let cache = model.makeCache(capacity: 2)
        for (p, id) in ids.enumerated() {
            let row = try model.forward([ForwardRequest(tokens: [id], cache: cache)], arithmetic: .int8)[0]
            let expected = Array(whole[(p * V)..<((p + 1) * V)])
            #expect(maxAbsDiff(row, expected) < 1e-4, "position \(p)")
            #expect(maxAbsDiff(row, Array(exact[(p * V)..<((p + 1) * V)])) > 1e-4, "position \(p) should not be exact")
        }
    }

    /// A float16 cache (what int8 generation uses) keeps keys and values to half precision: logits
    /// stay within 1% of the logit range of the float32-cache pass, for a whole prompt and token by
    /// token, and a grown or copied cache keeps what it held.
    @Test func float16CacheStaysCloseToFloat32() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        let V = model.configuration.vocabularySize
        let ids = [100, 20, 30, 40, 50, 60, 70, 80, 90, 5, 6]
        let reference = try Self.logits(model, ids, .exact)
        let range = reference.map(abs).max() ?? 1
        let half = model.makeCache(capacity: ids.count, precision: .float16)
        let whole = try model.forward([ForwardRequest(tokens: ids, cache: half, logits: .all)])[0]
        #expect(maxAbsDiff(whole, reference) < 0.01 * range)
        #expect(maxAbsDiff(whole, reference) > 0, "the cache should round")

        let grown = model.makeCache(capacity: 1, precision: .float16)  // grows on every other token
        for (p, id) in ids.enumerated() {
            let row = try model.forward([ForwardRequest(tokens: [id], cache: grown)])[0]
            #expect(maxAbsDiff(row, Array(reference[(p * V)..<((p + 1) * V)])) < 0.01 * range, "position \(p)")
        }
        let copy = model.makeCache(capacity: 2, precision: .float16)
        try copy.copyPrefix(of: half, count: 6)
        let afterCopy = try model.forward([ForwardRequest(tokens: Array(ids[6...]), cache: copy, logits: .all)])[0]
        #expect(maxAbsDiff(afterCopy, Array(whole[(6 * V)...])) < 1e-5)
        #expect(throws: EngineError.self) { try model.makeCache(capacity: 4).copyPrefix(of: half, count: 2) }

        var params = GenerationParameters()
        #expect(params.cachePrecision == .float32)
        params.arithmetic = .int8
        #expect(params.cachePrecision == .float16)
    }

    /// Files without Q4 weights (float, Q8_0) have nothing for int8 to change.
    @Test(arguments: ["tiny_llama.q8_0.gguf", "tiny_llama.f32.gguf"])
    func int8IsExactWithoutQ4Weights(file: String) throws {
        let model = try ModelLoader.load(from: Fixtures.url(file))
        #expect(!model.layers[0].query.supportsInt8)
        let ids = [5, 6, 7, 8, 9]
        #expect(try Self.logits(model, ids, .int8) == (try Self.logits(model, ids, .exact)))
    }

    @Test func generationTakesTheArithmetic() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        var params = GenerationParameters(maxNewTokens: 6)
        params.stopAtEndTokens = false
        params.arithmetic = .int8
        let g = Generator(model: model)
        let prompts = [[5, 6, 7], [100, 20, 30, 40]]
        let first = try g.generate(prompts: prompts, parameters: params)
        let again = try g.generate(prompts: prompts, parameters: params)
        #expect(first.map(\.generatedIDs) == again.map(\.generatedIDs))
        #expect(first.allSatisfy { $0.generatedIDs.count == 6 })
    }
}
