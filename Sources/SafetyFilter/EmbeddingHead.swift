// The embedding judge's head: one hidden layer over features of the prompt and response
// embeddings, with two outputs: P(unsafe) and a hazard category. Trained in Swift, full batch,
// AdamW, seeded, with the best epoch chosen on the validation split.
//
// Shape legend: N pairs, E embedding width, S response signals, F = 4E + S features, H hidden
// units, K = 14 categories.
// features(p, r, text) = standardise([p, r, p ⊙ r, |p − r|, signals(text)])  (the first four:
// Conneau et al. 2017, InferSent's pair features; reference: "Supervised Learning of Universal
// Sentence Representations", §3.2; the signals: ``ResponseSignals``).

import Engine
import Foundation

/// The head's weights and feature standardisation.
public struct EmbeddingHead: Sendable, Equatable {
    /// Embedding width E.
    public let embeddingWidth: Int
    /// Hidden units H.
    public let hiddenUnits: Int
    /// Per-feature mean and 1/std of the training features, (F).
    public var featureMean: [Float], featureScale: [Float]
    /// Hidden layer, (H, F) and (H).
    public var w1: [Float], b1: [Float]
    /// Unsafe logit, (H) and (1).
    public var w2: [Float], b2: [Float]
    /// Category logits, (K, H) and (K).
    public var wc: [Float], bc: [Float]

    /// Features per pair, F = 4E + S.
    public var featureWidth: Int { Self.featureWidth(embeddingWidth: embeddingWidth) }
    /// F for an embedding width E.
    public static func featureWidth(embeddingWidth: Int) -> Int { 4 * embeddingWidth + ResponseSignals.count }
    /// The feature layout's name, saved with a judge: a judge saved with another layout is refused.
    public static let featureLayout = "pair-embeddings+response-signals-v1"
    /// Categories K.
    public static let categoryCount = HazardCategory.allCases.count

    /// A randomly initialised head (He-normal hidden layer, zero outputs) with identity
    /// standardisation.
    public init(embeddingWidth: Int, hiddenUnits: Int, seed: UInt64) {
        self.embeddingWidth = embeddingWidth
        self.hiddenUnits = hiddenUnits
        let F = Self.featureWidth(embeddingWidth: embeddingWidth), H = hiddenUnits, K = Self.categoryCount
        var generator = SeededGenerator(seed: seed)
        let std = Float((2.0 / Double(F)).squareRoot())
        w1 = (0..<(H * F)).map { _ in std * Self.normal(&generator) }
        b1 = [Float](repeating: 0, count: H)
        w2 = (0..<H).map { _ in Float((1.0 / Double(H)).squareRoot()) * Self.normal(&generator) }
        b2 = [0]
        wc = (0..<(K * H)).map { _ in Float((1.0 / Double(H)).squareRoot()) * Self.normal(&generator) }
        bc = [Float](repeating: 0, count: K)
        featureMean = [Float](repeating: 0, count: F)
        featureScale = [Float](repeating: 1, count: F)
    }

    /// Creates a head from its parts (sizes are checked by ``validate()``).
    public init(embeddingWidth: Int, hiddenUnits: Int, featureMean: [Float], featureScale: [Float],
                w1: [Float], b1: [Float], w2: [Float], b2: [Float], wc: [Float], bc: [Float]) {
        self.embeddingWidth = embeddingWidth
        self.hiddenUnits = hiddenUnits
        self.featureMean = featureMean
        self.featureScale = featureScale
        self.w1 = w1; self.b1 = b1; self.w2 = w2; self.b2 = b2; self.wc = wc; self.bc = bc
    }

    /// Checks every array's size and that every weight is finite.
    public func validate() throws(FilterError) {
        let F = featureWidth, H = hiddenUnits, K = Self.categoryCount
        let expected: [(String, [Float], Int)] = [
            ("feature_mean", featureMean, F), ("feature_scale", featureScale, F), ("w1", w1, H * F), ("b1", b1, H),
            ("w2", w2, H), ("b2", b2, 1), ("wc", wc, K * H), ("bc", bc, K),
        ]
        for (name, values, count) in expected {
            guard values.count == count else {
                throw .judge("head tensor \(name) has \(values.count) values, expected \(count)")
            }
            guard values.allSatisfy(\.isFinite) else { throw .judge("head tensor \(name) has non-finite values") }
        }
    }

    /// Raw pair features (N, F) from prompt and response embeddings (N, E) each and the response
    /// texts (N) for their ``ResponseSignals``.
    public static func features(prompts: [[Float]], responses: [[Float]], responseTexts: [String]) -> [Float] {
        let E = prompts.first?.count ?? 0, F = featureWidth(embeddingWidth: E)
        var out = [Float](repeating: 0, count: prompts.count * F)
        for (i, (p, r)) in zip(prompts, responses).enumerated() {
            let base = i * F
            for e in 0..<E {
                out[base + e] = p[e]
                out[base + E + e] = r[e]
                out[base + 2 * E + e] = p[e] * r[e]
                out[base + 3 * E + e] = abs(p[e] - r[e])
            }
            for (k, value) in ResponseSignals.values(for: responseTexts[i]).enumerated() { out[base + 4 * E + k] = value }
        }
        return out
    }

    /// Standardises raw features (N, F) in place with the head's mean and scale.
    func standardise(_ x: inout [Float]) {
        let F = featureWidth
        for i in 0..<(x.count / F) {
            for f in 0..<F { x[i * F + f] = (x[i * F + f] - featureMean[f]) * featureScale[f] }
        }
    }

    /// The forward pass on standardised features x (N, F): pre-activations z (N, H), unsafe logits
    /// (N) and category logits (N, K).
    ///
    /// `pairByPair`: z is taken one pair at a time (a matrix-vector product each), so a pair's score
    /// is the same bits alone or in any batch; one product over all N rows would let OpenBLAS round a
    /// row by where it falls in the product (``BERTModel``'s products explain). Scoring uses it;
    /// training, which only needs its own gradients, takes the one product.
    func forward(_ x: [Float], count N: Int, pairByPair: Bool = false) -> (z: [Float], logits: [Float], categoryLogits: [Float]) {
        let F = featureWidth, H = hiddenUnits, K = Self.categoryCount
        var z = [Float](repeating: 0, count: N * H)
        x.withUnsafeBufferPointer { xp in
            w1.withUnsafeBufferPointer { wp in
                z.withUnsafeMutableBufferPointer { zp in
                    if pairByPair {
                        // z[i] (H) = w1 (H, F) · x[i] (F)
                        for i in 0..<N {
                            Matmul.sgemv(M: H, N: F, A: wp.baseAddress!, lda: F, x: xp.baseAddress! + i * F,
                                         y: zp.baseAddress! + i * H)
                        }
                    } else {
                        // z (N, H) = x (N, F) · w1ᵀ
                        Matmul.sgemm(transposeB: true, M: N, N: H, K: F, A: xp.baseAddress!, lda: F,
                                     B: wp.baseAddress!, ldb: F, C: zp.baseAddress!, ldc: H)
                    }
                }
            }
        }
        var logits = [Float](repeating: 0, count: N), categoryLogits = [Float](repeating: 0, count: N * K)
        for i in 0..<N {
            var logit = b2[0]
            for h in 0..<H {
                z[i * H + h] += b1[h]
                let a = max(z[i * H + h], 0)
                logit += a * w2[h]
            }
            logits[i] = logit
            for k in 0..<K {
                var c = bc[k]
                for h in 0..<H { c += max(z[i * H + h], 0) * wc[k * H + h] }
                categoryLogits[i * K + k] = c
            }
        }
        return (z, logits, categoryLogits)
    }

    /// P(unsafe) and the most likely category for each pair of raw features (N, F).
    public func predict(features raw: [Float]) -> [(unsafe: Double, category: HazardCategory)] {
        Self.predict(heads: [self], features: raw)
    }

    /// P(unsafe) (N) and category probabilities (N, K) for raw features (N, F).
    func probabilities(features raw: [Float]) -> (unsafe: [Double], categories: [Double]) {
        let N = raw.count / featureWidth, K = Self.categoryCount
        guard N > 0 else { return ([], []) }
        var x = raw
        standardise(&x)
        let (_, logits, categoryLogits) = forward(x, count: N, pairByPair: true)
        var categories = [Double](repeating: 0, count: N * K)
        for i in 0..<N {
            let row = categoryLogits[(i * K)..<((i + 1) * K)].map(Double.init)
            let top = row.max() ?? 0
            let exps = row.map { Foundation.exp($0 - top) }, sum = exps.reduce(0, +)
            for k in 0..<K { categories[i * K + k] = exps[k] / sum }
        }
        return (logits.map { Double(Self.sigmoid($0)) }, categories)
    }

    /// An ensemble's prediction: P(unsafe) is the mean of the heads', the category the one with the
    /// highest mean probability. One head gives its own P(unsafe) and most likely category.
    public static func predict(heads: [EmbeddingHead], features raw: [Float]) -> [(unsafe: Double, category: HazardCategory)] {
        guard let first = heads.first else { return [] }
        let N = raw.count / first.featureWidth, K = categoryCount
        var unsafe = [Double](repeating: 0, count: N), categories = [Double](repeating: 0, count: N * K)
        for head in heads {
            let p = head.probabilities(features: raw)
            for i in 0..<N { unsafe[i] += p.unsafe[i] / Double(heads.count) }
            for j in 0..<(N * K) { categories[j] += p.categories[j] }
        }
        return (0..<N).map { i in
            let best = (0..<K).max { categories[i * K + $0] < categories[i * K + $1] } ?? 0
            return (unsafe[i], HazardCategory.allCases[best])
        }
    }

    static func sigmoid(_ x: Float) -> Float { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }

    /// A standard normal draw (Box-Muller).
    static func normal(_ generator: inout SeededGenerator) -> Float {
        let u1 = max(Double(generator.next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(generator.next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
