import Engine
import Foundation
import Testing
import Training

struct LoRAInitTests {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EngineTests/Fixtures/tiny_llama.f32.gguf")

    @Test func freshAdapterLeavesTheModelUnchanged() throws {
        let model = try ModelLoader.load(from: Self.model)
        let lora = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(rank: 4, targets: Projection.allCases), seed: 1)
        let ids = [5, 9, 100, 42]
        let base = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: 4), logits: .all)])[0]
        let adapted = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: 4), logits: .all)], adapter: lora)[0]
        #expect(base == adapted)
        // A is U(-1/sqrt(in), 1/sqrt(in)) and not all zero.
        let a = try #require(lora.pairs[0][.query]).a.array
        let bound = 1 / Float(64).squareRoot()
        #expect(a.allSatisfy { abs($0) <= bound } && a.contains { $0 != 0 })
    }

    @Test func nonZeroBChangesTheOutput() throws {
        let model = try ModelLoader.load(from: Self.model)
        let lora = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(rank: 2, targets: [.down]), seed: 2)
        let b = try #require(lora.pairs[1][.down]).b
        for i in 0..<b.count { b.pointer[i] = 0.1 }
        let ids = [1, 2, 3]
        let base = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: 3))])[0]
        let adapted = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: 3))], adapter: lora)[0]
        #expect(maxAbsDiff(base, adapted) > 1e-3)
    }

    func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
}
