import Engine
import Foundation
import ModelFiles
import Testing
@testable import Training

struct MergeTests {
    @Test func mergedModelEqualsAdapterForward() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let adapter = try PEFTAdapter.load(from: PEFTAdapterTests.peftFixture, for: model).weights
        let merged = try LoRAMerge.mergedTensors(of: model, adapter: adapter)
        #expect(merged.count == 2 * 7)

        // Export: the base checkpoint with the adapted projections replaced, loaded as a plain model.
        let source = try SafeTensorsFile(url: TrainIOFixtures.tinyHF.appendingPathComponent("model.safetensors"))
        let replacements = Dictionary(uniqueKeysWithValues: merged.map { ($0.name, $0) })
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for (name, info) in source.tensors {
            if let m = replacements[name] {
                #expect(m.shape == info.shape)
                tensors.append((name, info.shape, m.values.array))
            } else {
                tensors.append((name, info.shape, try source.floats(named: name)))
            }
        }
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: TrainIOFixtures.tinyHF.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
        let mergedModel = try ModelLoader.load(from: dir)

        let tokens = [1, 5, 9, 100, 42, 7]
        let viaAdapter = try PEFTAdapterTests.logits(model, tokens, adapter: adapter)
        let viaMerge = try PEFTAdapterTests.logits(mergedModel, tokens, adapter: nil)
        #expect(TrainIOFixtures.maxAbsDiff(viaAdapter, viaMerge) <= 1e-4)
    }

    @Test func unmergeRecoversTheBaseWeight() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let adapter = try PEFTAdapter.load(from: PEFTAdapterTests.peftFixture, for: model).weights
        let weight = model.layers[1].up
        let pair = try #require(adapter.pairs[1][.up])
        let merged = try LoRAMerge.merged(weight, pair: pair, rank: adapter.rank, scale: adapter.scale)
        #expect(TrainIOFixtures.maxAbsDiff(merged.array, weight.dense.array) > 1e-3)
        let restored = try LoRAMerge.unmerged(merged, outFeatures: weight.outFeatures, inFeatures: weight.inFeatures,
                                              pair: pair, rank: adapter.rank, scale: adapter.scale)
        #expect(TrainIOFixtures.maxAbsDiff(restored.array, weight.dense.array) <= 1e-6)
        // A pair for another projection does not fit.
        #expect(throws: MergeError.self) {
            try LoRAMerge.merged(weight, pair: try #require(adapter.pairs[1][.down]), rank: adapter.rank, scale: adapter.scale)
        }
    }
}
