import Engine
import Foundation
import Testing
@testable import Training

/// Paths of the fixtures these tests read (relative to this file, so the scratch package works too).
enum TrainIOFixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = testsDirectory.appendingPathComponent("Fixtures")
    static let tinyHF = testsDirectory.deletingLastPathComponent().appendingPathComponent("EngineTests/Fixtures/tiny_llama")
    static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(relative))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func floats(_ value: Any?) -> [Float] { (value as? [NSNumber])?.map(\.floatValue) ?? [] }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-trainio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }
}

struct OptimizerTests {
    /// Buffers shaped as the fixture's (2,6), (5,2), (2,3), (4,2): q and k pairs of rank 2.
    static func weights(_ values: [[Float]]) -> LoRAWeights {
        LoRAWeights(rank: 2, alpha: 2, pairs: [[
            .query: LoRAPair(a: FloatBuffer(values[0]), b: FloatBuffer(values[1]), inFeatures: 6, outFeatures: 5),
            .key: LoRAPair(a: FloatBuffer(values[2]), b: FloatBuffer(values[3]), inFeatures: 3, outFeatures: 4),
        ]])
    }

    @Test func adamWMatchesTorchForFiveSteps() throws {
        let reference = try #require(try TrainIOFixtures.json("optimizer/reference.json")["adamw"] as? [String: Any])
        let initial = try #require(reference["initial"] as? [Any]).map(TrainIOFixtures.floats)
        let grads = try #require(reference["grads"] as? [[Any]]).map { $0.map(TrainIOFixtures.floats) }
        let after = try #require(reference["after"] as? [[Any]]).map { $0.map(TrainIOFixtures.floats) }
        let parameters = Self.weights(initial)
        let configuration = try AdamWConfiguration(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1)
        let optimizer = AdamW(parameters: parameters, configuration: configuration)
        for step in 0..<5 {
            try optimizer.update(parameters, gradients: Self.weights(grads[step]), learningRate: 1e-2)
            for (buffer, expected) in zip(parameters.orderedBuffers, after[step]) {
                #expect(TrainIOFixtures.maxAbsDiff(buffer.array, expected) <= 1e-6, "step \(step + 1)")
            }
        }
        #expect(optimizer.step == 5)
    }

    @Test func restoredStateContinuesIdentically() throws {
        let grad = Self.weights([[Float](repeating: 0.3, count: 12), [Float](repeating: -0.2, count: 10),
                                 [Float](repeating: 0.1, count: 6), [Float](repeating: 0.05, count: 8)])
        let a = Self.weights([[Float](repeating: 1, count: 12), [Float](repeating: 1, count: 10),
                              [Float](repeating: 1, count: 6), [Float](repeating: 1, count: 8)])
        let optimizerA = AdamW(parameters: a, configuration: .torchDefaults)
        try optimizerA.update(a, gradients: grad, learningRate: 1e-3)
        let b = Self.weights(a.orderedBuffers.map(\.array))
        let optimizerB = AdamW(parameters: b, configuration: .torchDefaults)
        try optimizerB.restore(optimizerA.state)
        try optimizerA.update(a, gradients: grad, learningRate: 1e-3)
        try optimizerB.update(b, gradients: grad, learningRate: 1e-3)
        #expect(a.orderedBuffers.map(\.array) == b.orderedBuffers.map(\.array))
        #expect(optimizerB.state == optimizerA.state)
        #expect(throws: OptimizerError.self) { try optimizerB.restore(AdamWState(step: 1, firstMoments: [[0]], secondMoments: [[0]])) }
    }

    @Test func mismatchedGradientsAreRejected() throws {
        let p = Self.weights([[Float](repeating: 1, count: 12), [Float](repeating: 1, count: 10),
                              [Float](repeating: 1, count: 6), [Float](repeating: 1, count: 8)])
        let optimizer = AdamW(parameters: p, configuration: .torchDefaults)
        let wrong = LoRAWeights(rank: 2, alpha: 2, pairs: [[:]])
        #expect(throws: OptimizerError.self) { try optimizer.update(p, gradients: wrong, learningRate: 1e-3) }
        #expect(throws: OptimizerError.self) { try AdamWConfiguration(beta1: 1.0) }
    }

    @Test func clippingMatchesTorch() throws {
        let reference = try #require(try TrainIOFixtures.json("optimizer/reference.json")["clip"] as? [String: Any])
        let before = try #require(reference["before"] as? [Any]).map(TrainIOFixtures.floats)
        let after = try #require(reference["after"] as? [Any]).map(TrainIOFixtures.floats)
        let norm = try #require(reference["norm"] as? Double)
        let gradients = Self.weights(before)
        let returned = gradients.clipGlobalNorm(maxNorm: 1)
        #expect(abs(Double(returned) - norm) <= 1e-5)
        for (buffer, expected) in zip(gradients.orderedBuffers, after) {
            #expect(TrainIOFixtures.maxAbsDiff(buffer.array, expected) <= 1e-6)
        }
    }

    @Test func accumulationHelpers() throws {
        let sum = Self.weights([[Float](repeating: 0, count: 12), [Float](repeating: 0, count: 10),
                                [Float](repeating: 0, count: 6), [Float](repeating: 0, count: 8)])
        let g = Self.weights([[Float](repeating: 2, count: 12), [Float](repeating: 4, count: 10),
                              [Float](repeating: 6, count: 6), [Float](repeating: 8, count: 8)])
        try sum.accumulate(g)
        try sum.accumulate(g, weight: 3)
        sum.multiplyBuffers(by: 0.25)
        #expect(sum.orderedBuffers.map { $0.array[0] } == [2, 4, 6, 8])
        #expect(abs(g.globalNorm() - (4 * 12 + 16 * 10 + 36 * 6 + 64 * 8 as Float).squareRoot()) < 1e-4)
        sum.zeroBuffers()
        #expect(sum.globalNorm() == 0)
        #expect(throws: OptimizerError.self) { try sum.accumulate(LoRAWeights(rank: 2, alpha: 2, pairs: [])) }
    }
}

struct ScheduleTests {
    @Test func schedulesMatchTransformers() throws {
        let reference = try #require(try TrainIOFixtures.json("optimizer/reference.json")["schedules"] as? [String: Any])
        let cases: [(String, LearningRateSchedule)] = [
            ("constant", .constant(peak: 1e-3)),
            ("constant_with_warmup", .constantWithWarmup(peak: 1e-3, warmupSteps: 3)),
            ("linear", .linearWithWarmup(peak: 1e-3, warmupSteps: 3, totalSteps: 10)),
            ("cosine", .cosineWithWarmup(peak: 1e-3, warmupSteps: 3, totalSteps: 10)),
        ]
        for (name, schedule) in cases {
            let expected = try #require(reference[name] as? [Double])
            for (step, rate) in expected.enumerated() {
                #expect(abs(schedule.learningRate(atStep: step) - rate) <= 1e-12, "\(name) step \(step)")
            }
        }
    }

    @Test func roundCosineGoesFromInitialToFloor() {
        let schedule = RoundCosineSchedule(initial: 5e-5, floor: 1e-6, totalRounds: 300)
        #expect(schedule.learningRate(round: 0) == 5e-5)
        // OpenFedLLM cosine_learning_rate(150, 300, 5e-5, 1e-6) = 1e-6 + 0.5·4.9e-5·(1 + cos(π/2)).
        #expect(abs(schedule.learningRate(round: 150) - (1e-6 + 0.5 * 4.9e-5)) < 1e-15)
        #expect(abs(schedule.learningRate(round: 300) - 1e-6) < 1e-15)
        #expect(abs(schedule.learningRate(round: 1000) - 1e-6) < 1e-15)
    }

    @Test func schedulesAreCodable() throws {
        let schedule = LearningRateSchedule.cosineWithWarmup(peak: 2e-4, warmupSteps: 10, totalSteps: 100, cycles: 0.5)
        let decoded = try JSONDecoder().decode(LearningRateSchedule.self, from: JSONEncoder().encode(schedule))
        #expect(decoded == schedule)
    }
}
