@testable import Engine
import Foundation
import Testing

/// A GGUF weight kept with its quantized rows makes its float32 copy on first use: loading and
/// decoding a short prompt never make it, and when made it holds exactly the file's dequantized
/// values (the eager loader's), rows in the Hugging Face order.
struct LazyFloatCopyTests {
    @Test(arguments: ["tiny_llama.q4_1.gguf", "tiny_llama.q8_0.gguf"])
    func theFloatCopyIsMadeOnFirstUseAndEqualsTheEagerOne(file: String) throws {
        let lazy = try ModelLoader.load(from: Fixtures.url(file))
        let eager = try ModelLoader.load(from: Fixtures.url(file), options: .init(keepQuantizedWeights: false))
        let weights = { (m: LlamaModel) in [m.tokenEmbedding] + m.layers.flatMap { [$0.query, $0.key, $0.value, $0.down] } }
        #expect(weights(lazy).allSatisfy { $0.isQuantized && !$0.hasDenseCopy })
        #expect(weights(eager).allSatisfy { !$0.isQuantized && $0.hasDenseCopy })

        // A single-token step reads the quantized rows and embeds through row copies: no float copy.
        let ids = [1, 17, 42]
        let cache = lazy.makeCache(capacity: 8)
        for id in ids { _ = try lazy.forward([ForwardRequest(tokens: [id], cache: cache, logits: .last)]) }
        #expect(weights(lazy).allSatisfy { !$0.hasDenseCopy })

        // A row dequantized on its own equals that row of the float copy, before and after it exists.
        let embedding = lazy.tokenEmbedding, columns = embedding.inFeatures
        var before = [Float](repeating: .nan, count: columns)
        embedding.copyRow(17, to: &before)
        #expect(!embedding.hasDenseCopy)
        for (l, e) in zip(weights(lazy), weights(eager)) {
            #expect(Array(UnsafeBufferPointer(start: l.dense.pointer, count: l.dense.count)) ==
                    Array(UnsafeBufferPointer(start: e.dense.pointer, count: e.dense.count)))
            #expect(l.hasDenseCopy)
        }
        var after = [Float](repeating: .nan, count: columns)
        embedding.copyRow(17, to: &after)
        #expect(before == after)
        #expect(before == Array(UnsafeBufferPointer(start: embedding.dense.pointer + 17 * columns, count: columns)))

        // Prompts longer than the small-batch kernel's limit go through the float copy: the eager
        // model's logits, bit for bit (every row's, so the head is a matrix product on both).
        let long = (0..<70).map { ($0 * 7) % 300 + 3 }
        let a = try lazy.forward([ForwardRequest(tokens: long, cache: lazy.makeCache(capacity: 70), logits: .all)])
        let b = try eager.forward([ForwardRequest(tokens: long, cache: eager.makeCache(capacity: 70), logits: .all)])
        #expect(a == b)

        let fresh = try ModelLoader.load(from: Fixtures.url(file))
        fresh.makeFloatCopies()
        #expect(fresh.linearWeights.count == 1 + 7 * fresh.layers.count + 1)
        #expect(fresh.linearWeights.allSatisfy { $0.hasDenseCopy })
        // Q4_1 and Q8_0 weights read their float copies for long prompts, so inference makes them all too
        // (K-quant weights would keep only their rows: KQuantKernelTests).
        let forInference = try ModelLoader.load(from: Fixtures.url(file))
        forInference.makeFloatCopies(for: .inference)
        #expect(forInference.linearWeights.allSatisfy { $0.hasDenseCopy && !$0.prefersQuantizedRows })
    }
}
