@testable import Engine
import Foundation
import Testing
@testable import Training

/// Fixtures of the training tests: the tiny engine model and the PyTorch + PEFT reference written by
/// scripts/fixtures/training_fixtures.py.
enum TrainingFixtures {
    /// The tiny random Llama (HF directory, F32) shared with the engine tests.
    static let tinyModelDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EngineTests/Fixtures/tiny_llama")

    static func loadTinyModel() throws -> LlamaModel { try ModelLoader.load(from: tinyModelDirectory) }

    /// The tiny random Qwen2 (q/k/v biases, untied head) of the engine's golden tests, by name:
    /// `tiny_qwen2` (HF directory) or a GGUF beside it.
    static func loadTinyModel(named name: String) throws -> LlamaModel {
        try ModelLoader.load(from: tinyModelDirectory.deletingLastPathComponent().appendingPathComponent(name))
    }

    static func reference() throws -> [String: Any] {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let url = directory.appendingPathComponent("training_reference.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try #require(object as? [String: Any])
    }

    /// Decodes base64 little-endian float32.
    static func floats(_ value: Any?) throws -> [Float] {
        let text = try #require(value as? String)
        let data = try #require(Data(base64Encoded: text))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// An adapter over every projection of `model` from "<layer>.<proj>.A|B" entries.
    static func adapter(_ tensors: [String: Any], model: LlamaModel, rank: Int, alpha: Float) throws -> LoRAWeights {
        let pairs: [[Projection: LoRAPair]] = try model.layers.enumerated().map { l, layer in
            var perLayer: [Projection: LoRAPair] = [:]
            for p in Projection.allCases {
                let w = p.weight(in: layer)
                let a = try floats(tensors["\(l).\(p.rawValue).A"]), b = try floats(tensors["\(l).\(p.rawValue).B"])
                try #require(a.count == rank * w.inFeatures && b.count == w.outFeatures * rank)
                perLayer[p] = LoRAPair(a: FloatBuffer(a), b: FloatBuffer(b), inFeatures: w.inFeatures, outFeatures: w.outFeatures)
            }
            return perLayer
        }
        return LoRAWeights(rank: rank, alpha: alpha, pairs: pairs)
    }

    static func sequence(_ value: Any?) throws -> TrainingSequence {
        let d = try #require(value as? [String: Any])
        return try TrainingSequence(tokens: try #require(d["tokens"] as? [Int]), targetMask: try #require(d["mask"] as? [Bool]))
    }
}

/// Deterministic test values.
struct TestRandom {
    var rng: SeededGenerator
    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    /// Uniform in [-scale, scale).
    mutating func uniform(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(Double(rng.next() >> 11) * 0x1.0p-53) * 2 - 1) * scale }
    }
}

/// Result of a gradient comparison: max |numeric − analytic| relative to max |analytic|.
struct GradientComparison: CustomStringConvertible {
    var maxAbsError: Double
    var maxAnalytic: Double
    var relative: Double { maxAbsError / max(maxAnalytic, 1e-30) }
    var description: String { String(format: "max|err| %.3g, max|g| %.3g, rel %.3g", maxAbsError, maxAnalytic, relative) }
}

/// Central differences of `f` at `x`, float32 inputs, compared with `analytic`.
/// The loss is evaluated in Double from float32 outputs.
func checkGradient(_ x: [Float], analytic: [Float], eps: Float, indices: [Int]? = nil,
                   _ f: ([Float]) -> Double) -> GradientComparison {
    var x = x
    var worst = 0.0
    for i in indices ?? Array(x.indices) {
        let saved = x[i]
        x[i] = saved + eps
        let plus = f(x)
        x[i] = saved - eps
        let minus = f(x)
        x[i] = saved
        let numeric = (plus - minus) / (2 * Double(eps))
        worst = max(worst, abs(numeric - Double(analytic[i])))
    }
    let scale = (indices ?? Array(analytic.indices)).map { abs(Double(analytic[$0])) }.max() ?? 0
    return GradientComparison(maxAbsError: worst, maxAnalytic: scale)
}

/// Σ out·g in Double.
func dot(_ a: UnsafePointer<Float>, _ g: [Float]) -> Double {
    var s = 0.0
    for i in g.indices { s += Double(a[i]) * Double(g[i]) }
    return s
}

/// Max |a − b| over two equally long arrays, and max |b|.
func compare(_ a: [Float], _ b: [Float]) -> GradientComparison {
    var err = 0.0, m = 0.0
    for (x, y) in zip(a, b) {
        err = max(err, abs(Double(x) - Double(y)))
        m = max(m, abs(Double(y)))
    }
    return GradientComparison(maxAbsError: a.count == b.count ? err : .infinity, maxAnalytic: m)
}
