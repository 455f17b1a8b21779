import Engine
import Foundation
import Logging
import Testing
import Training

/// The training loop on the tiny model: the loss falls, runs are reproducible, and a resumed run
/// ends bit-identical to an uninterrupted one.
struct TrainerTests {
    static let modelURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EngineTests/Fixtures/tiny_llama.f32.gguf")

    static func sequences(_ model: LlamaModel) throws -> [TrainingSequence] {
        var rng = SeededGenerator(seed: 9)
        return try (0..<12).map { i in
            let n = 6 + i % 9
            let tokens = (0..<n).map { _ in 3 + Int(rng.next() % 40) }
            return try TrainingSequence(tokens: tokens, targetMask: [false] + Array(repeating: true, count: n - 1))
        }
    }

    static func parameters(steps: Int) -> TrainerParameters {
        var p = TrainerParameters()
        p.learningRate = 5e-3
        p.maxSteps = steps
        p.tokensPerBatch = 40
        p.gradientAccumulation = 2
        p.warmupSteps = 1
        p.seed = 4
        return p
    }

    static let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0.1, targets: Projection.allCases)

    func train(steps: Int, model: LlamaModel) throws -> (LoRATrainer, TrainingSummary) {
        let t = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: Self.lora, seed: 3),
                            loraConfiguration: Self.lora, parameters: Self.parameters(steps: steps))
        return (t, try t.trainSFT(try Self.sequences(model)))
    }

    @Test func lossFallsAndProgressIsReported() throws {
        let model = try ModelLoader.load(from: Self.modelURL)
        var seen: [TrainingProgress] = []
        let t = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: Self.lora, seed: 3),
                            loraConfiguration: Self.lora, parameters: Self.parameters(steps: 25))
        let summary = try t.trainSFT(try Self.sequences(model)) { p in seen.append(p); return true }
        #expect(summary.steps == 25 && seen.count == 25)
        #expect(summary.lastLoss < summary.firstLoss * 0.8, "loss \(summary.firstLoss) → \(summary.lastLoss)")
        #expect(seen.allSatisfy { $0.tokensPerSecond > 0 && $0.etaSeconds >= 0 && $0.targetTokens > 0 })
        #expect(seen[0].learningRate == 0, "warm-up starts at 0 as transformers does")
    }

    @Test func sameSeedSameAdapter() throws {
        let model = try ModelLoader.load(from: Self.modelURL)
        let (a, _) = try train(steps: 5, model: model)
        let (b, _) = try train(steps: 5, model: model)
        #expect(a.adapter.orderedBuffers.map(\.array) == b.adapter.orderedBuffers.map(\.array))
    }

    @Test func resumedRunIsBitIdentical() throws {
        let model = try ModelLoader.load(from: Self.modelURL)
        let (straight, _) = try train(steps: 8, model: model)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: Self.lora, seed: 3),
                                loraConfiguration: Self.lora, parameters: Self.parameters(steps: 8))
        _ = try first.trainSFT(try Self.sequences(model)) { p in p.step < 3 }
        try CheckpointStore.write(first.checkpoint(baseModel: "tiny"), into: dir, logger: Logger(label: "test"))
        let checkpoint = try CheckpointStore.read(from: try #require(CheckpointStore.latest(in: dir)), for: model)
        let resumed = try LoRATrainer(model: model, resuming: checkpoint, parameters: Self.parameters(steps: 8))
        #expect(resumed.step == 3)
        _ = try resumed.trainSFT(try Self.sequences(model))
        #expect(resumed.step == 8)
        #expect(resumed.adapter.orderedBuffers.map(\.array) == straight.adapter.orderedBuffers.map(\.array))
    }

    @Test func tooLongSequencesAndEmptyDataAreClearErrors() throws {
        let model = try ModelLoader.load(from: Self.modelURL)
        let t = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: Self.lora, seed: 3),
                            loraConfiguration: Self.lora, parameters: Self.parameters(steps: 2))
        #expect(throws: TrainerError.self) { _ = try t.trainSFT([]) }
        let long = try TrainingSequence(tokens: Array(repeating: 5, count: 50), targetMask: [false] + Array(repeating: true, count: 49))
        #expect(throws: TrainerError.self) { _ = try t.trainSFT([long]) }
    }
}
