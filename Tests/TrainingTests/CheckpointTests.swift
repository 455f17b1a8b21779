import Engine
import Foundation
import Logging
import Testing
@testable import Training

struct CheckpointTests {
    /// A small run's moving parts: adapter, optimizer, random generator, data plan and position.
    final class Run {
        let adapter: LoRAWeights
        let optimizer: AdamW
        var rng: SeededGenerator
        let planner: BatchPlanner
        var position: DataPosition
        var step: Int
        let schedule = LearningRateSchedule.cosineWithWarmup(peak: 1e-2, warmupSteps: 2, totalSteps: 20)

        init(adapter: LoRAWeights, optimizer: AdamW, rng: SeededGenerator, planner: BatchPlanner, position: DataPosition, step: Int) {
            self.adapter = adapter
            self.optimizer = optimizer
            self.rng = rng
            self.planner = planner
            self.position = position
            self.step = step
        }

        /// One step with stand-in gradients that depend on the weights, the batch and random draws.
        func trainStep() throws {
            var batches = planner.batches(epoch: position.epoch)
            if position.batch >= batches.count {
                position = DataPosition(epoch: position.epoch + 1, batch: 0)
                batches = planner.batches(epoch: position.epoch)
            }
            let batch = batches[position.batch]
            let gradients = adapter.zerosLike()
            let noise = Float(Double(rng.next() >> 40) / Double(1 << 24))
            for (g, w) in zip(gradients.orderedBuffers, adapter.orderedBuffers) {
                for i in 0..<g.count { g.pointer[i] = w.pointer[i] * 0.5 + Float(batch.items[i % batch.items.count]) * 0.01 + noise }
            }
            gradients.clipGlobalNorm(maxNorm: 1)
            try optimizer.update(adapter, gradients: gradients, learningRate: schedule.learningRate(atStep: step))
            position.batch += 1
            step += 1
        }

        func checkpoint() throws -> TrainingCheckpoint {
            TrainingCheckpoint(step: step, adapter: adapter, loraConfiguration: LoRAConfiguration(rank: 2, alpha: 8, targets: [.query, .down]),
                               baseModel: "tiny", optimizerConfiguration: optimizer.configuration, optimizerState: optimizer.state,
                               schedule: schedule, random: RandomState(rng), dataSeed: planner.seed, dataPosition: position)
        }

        static func resume(_ c: TrainingCheckpoint, lengths: [Int]) throws -> Run {
            let optimizer = AdamW(parameters: c.adapter, configuration: c.optimizerConfiguration)
            try optimizer.restore(c.optimizerState)
            return Run(adapter: c.adapter, optimizer: optimizer, rng: try c.random.generator(),
                       planner: try BatchPlanner(lengths: lengths, tokenBudget: 40, seed: c.dataSeed),
                       position: c.dataPosition, step: c.step)
        }
    }

    static let lengths = [12, 30, 7, 19, 25, 3, 40, 11, 16, 9]

    static func freshRun(_ model: LlamaModel) throws -> Run {
        let adapter = PEFTAdapterTests.randomAdapter(model, rank: 2, targets: [.query, .down], seed: 9)
        let optimizer = AdamW(parameters: adapter, configuration: try AdamWConfiguration(weightDecay: 0.05))
        return Run(adapter: adapter, optimizer: optimizer, rng: SeededGenerator(seed: 123),
                   planner: try BatchPlanner(lengths: lengths, tokenBudget: 40, seed: 77), position: DataPosition(), step: 0)
    }

    @Test func roundTripIsBitExact() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let run = try Self.freshRun(model)
        for _ in 0..<3 { try run.trainStep() }
        let saved = try run.checkpoint()
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try CheckpointStore.write(saved, into: dir, logger: Logger(label: "test"))
        #expect(path.lastPathComponent == "checkpoint-00000003")
        let back = try CheckpointStore.read(from: path, for: model)
        #expect(back.step == 3 && back.baseModel == "tiny" && back.dataSeed == 77 && back.dataPosition == saved.dataPosition)
        #expect(back.adapter.orderedBuffers.map { $0.array.map(\.bitPattern) } == saved.adapter.orderedBuffers.map { $0.array.map(\.bitPattern) })
        #expect(back.optimizerState == saved.optimizerState && back.optimizerState.step == 3)
        #expect(back.optimizerConfiguration == saved.optimizerConfiguration && back.schedule == saved.schedule)
        #expect(back.random == saved.random && back.loraConfiguration == saved.loraConfiguration)
        var a = try back.random.generator(), b = run.rng
        #expect((0..<8).map { _ in a.next() } == (0..<8).map { _ in b.next() })
        // The adapter in the checkpoint is a plain PEFT adapter.
        #expect(try PEFTAdapter.load(from: path, for: model).weights.orderedBuffers.count == 8)
    }

    @Test func resumedRunMatchesAnUninterruptedOne() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let straight = try Self.freshRun(model)
        for _ in 0..<12 { try straight.trainStep() }

        let first = try Self.freshRun(model)
        for _ in 0..<5 { try first.trainStep() }
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try CheckpointStore.write(try first.checkpoint(), into: dir, logger: Logger(label: "test"))
        let resumed = try Run.resume(try CheckpointStore.read(from: path, for: model), lengths: Self.lengths)
        for _ in 0..<7 { try resumed.trainStep() }

        #expect(resumed.adapter.orderedBuffers.map { $0.array.map(\.bitPattern) }
            == straight.adapter.orderedBuffers.map { $0.array.map(\.bitPattern) })
        #expect(resumed.optimizer.state == straight.optimizer.state)
        #expect(resumed.position == straight.position && resumed.position.epoch >= 1)
        #expect(resumed.rng.next() == straight.rng.next())
    }

    @Test func writesAtomicallyAndFindsTheLatest() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let run = try Self.freshRun(model)
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let logger = Logger(label: "test")
        try CheckpointStore.write(try run.checkpoint(), into: dir, logger: logger)
        try run.trainStep()
        try CheckpointStore.write(try run.checkpoint(), into: dir, logger: logger)
        try CheckpointStore.write(try run.checkpoint(), into: dir, logger: logger)  // replaces step 1 in place
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["checkpoint-00000000", "checkpoint-00000001"])
        #expect(CheckpointStore.latest(in: dir)?.lastPathComponent == "checkpoint-00000001")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("checkpoint-00000001").path))
            == ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json"])
        // A damaged state file is a clear error.
        let state = dir.appendingPathComponent("checkpoint-00000001/trainer_state.json")
        try Data("{\"format_version\": 99}".utf8).write(to: state)
        #expect(throws: CheckpointError.self) { try CheckpointStore.read(from: state.deletingLastPathComponent(), for: model) }
    }
}
