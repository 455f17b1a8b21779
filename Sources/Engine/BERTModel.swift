// A BERT encoder for sentence embeddings (all-MiniLM-L6-v2 and other `BertModel` checkpoints):
// post-LayerNorm transformer layers with bidirectional attention, exact GELU, mean pooling and L2
// normalisation.
// reference: Devlin et al. 2018, "BERT" (arXiv:1810.04805); Hugging Face transformers
// models/bert/modeling_bert.py (BertEmbeddings, BertSelfAttention, BertSelfOutput,
// BertIntermediate, BertOutput) and sentence-transformers' Pooling(mean) + Normalize.
//
// Shapes: S sequences of lengths L_s packed as T = Σ L_s rows (no padding rows), C hidden size,
// H heads of width D = C / H, F intermediate size. Linear layers run one product per sequence over
// its L_s rows (so a sequence's bits do not depend on the batch: see `linear`), the sequences spread
// over the team; attention runs per (sequence, head) on that sequence's rows only.

import CKernels
import Foundation
import ModelFiles

/// One encoder layer's weights, PyTorch layout (out, in).
struct BERTLayer: Sendable {
    /// (3C, C): query, key and value rows stacked, so one product gives all three.
    let qkv: FloatBuffer
    /// (3C)
    let qkvBias: FloatBuffer
    /// (C, C) and (C)
    let attentionOutput: FloatBuffer, attentionOutputBias: FloatBuffer
    /// (C) each: LayerNorm after the attention residual.
    let attentionNormWeight: FloatBuffer, attentionNormBias: FloatBuffer
    /// (F, C) and (F)
    let intermediate: FloatBuffer, intermediateBias: FloatBuffer
    /// (C, F) and (C)
    let output: FloatBuffer, outputBias: FloatBuffer
    /// (C) each: LayerNorm after the MLP residual.
    let outputNormWeight: FloatBuffer, outputNormBias: FloatBuffer
}

/// A BERT encoder (`BertModel` without the pooler) with float32 weights.
///
/// Thread-safe: the weights are immutable and every call allocates its own activations.
public final class BERTModel: Sendable {
    /// The model's shape.
    public let configuration: BERTConfiguration
    let wordEmbeddings: FloatBuffer        // (V, C)
    let positionEmbeddings: FloatBuffer    // (P, C)
    let tokenTypeEmbedding: FloatBuffer    // (C): row 0 of the token type table; every token has type 0
    let embeddingNormWeight: FloatBuffer, embeddingNormBias: FloatBuffer  // (C)
    let layers: [BERTLayer]

    /// Loads `config.json` and `model.safetensors` (F32; F16/BF16 are widened) from `directory`.
    ///
    /// Tensor names are those of transformers' `BertModel` (`embeddings.word_embeddings.weight`,
    /// `encoder.layer.N.attention.self.query.weight`, ...), optionally prefixed with `bert.`.
    /// Other tensors (the pooler, `position_ids`) are ignored.
    /// - Throws: ``EngineError`` naming the file and, for weights, the tensor.
    public static func load(directory: URL) throws -> BERTModel {
        let configURL = directory.appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw EngineError.modelFile("\(configURL.path) is missing; a BERT directory needs config.json and model.safetensors")
        }
        let configuration = try BERTConfiguration(configJSON: configData, file: configURL.path)
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw EngineError.modelFile("\(weightsURL.path) is missing; a BERT directory needs config.json and model.safetensors")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: weightsURL) } catch { throw EngineError.modelFile("\(error)") }
        return try BERTModel(configuration: configuration, weights: file)
    }

    /// Builds the model from an open safetensors file, checking every tensor's shape.
    public init(configuration: BERTConfiguration, weights file: SafeTensorsFile) throws {
        let path = file.url.path
        let prefix = file.tensors["embeddings.word_embeddings.weight"] == nil
            && file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let info = file.tensors[prefix + name] else { throw EngineError.missingTensor(prefix + name, file: path) }
            guard info.shape == shape else {
                throw EngineError.tensorShape(prefix + name, expected: shape, found: info.shape, file: path)
            }
            do { return try file.floats(named: prefix + name) } catch { throw EngineError.modelFile("\(error)") }
        }
        func buffer(_ name: String, _ shape: [Int]) throws -> FloatBuffer { FloatBuffer(try tensor(name, shape)) }
        let c = configuration.hiddenSize, f = configuration.intermediateSize
        self.configuration = configuration
        wordEmbeddings = try buffer("embeddings.word_embeddings.weight", [configuration.vocabularySize, c])
        positionEmbeddings = try buffer("embeddings.position_embeddings.weight", [configuration.maxPositions, c])
        tokenTypeEmbedding = FloatBuffer(Array(try tensor("embeddings.token_type_embeddings.weight",
                                                          [configuration.typeVocabularySize, c])[0..<c]))
        embeddingNormWeight = try buffer("embeddings.LayerNorm.weight", [c])
        embeddingNormBias = try buffer("embeddings.LayerNorm.bias", [c])
        layers = try (0..<configuration.layerCount).map { i in
            let p = "encoder.layer.\(i)."
            let attention = p + "attention.self."
            return BERTLayer(
                qkv: FloatBuffer(try ["query", "key", "value"].flatMap { try tensor(attention + $0 + ".weight", [c, c]) }),
                qkvBias: FloatBuffer(try ["query", "key", "value"].flatMap { try tensor(attention + $0 + ".bias", [c]) }),
                attentionOutput: try buffer(p + "attention.output.dense.weight", [c, c]),
                attentionOutputBias: try buffer(p + "attention.output.dense.bias", [c]),
                attentionNormWeight: try buffer(p + "attention.output.LayerNorm.weight", [c]),
                attentionNormBias: try buffer(p + "attention.output.LayerNorm.bias", [c]),
                intermediate: try buffer(p + "intermediate.dense.weight", [f, c]),
                intermediateBias: try buffer(p + "intermediate.dense.bias", [f]),
                output: try buffer(p + "output.dense.weight", [c, f]),
                outputBias: try buffer(p + "output.dense.bias", [c]),
                outputNormWeight: try buffer(p + "output.LayerNorm.weight", [c]),
                outputNormBias: try buffer(p + "output.LayerNorm.bias", [c]))
        }
    }

    // MARK: - Forward

    /// Mean-pooled, L2-normalised embeddings of id sequences (each with its `[CLS]`/`[SEP]`),
    /// one (C) vector per sequence, in order. All sequences run as one packed batch.
    ///
    /// A sequence's result depends only on its own ids: rows of different sequences never mix,
    /// and each row of a product sees the same arithmetic whatever the batch (see
    /// ``SentenceEmbedder`` for what the tests check).
    /// - Throws: ``EngineError/invalidInput(_:)`` for an empty sequence, one longer than
    ///   `maxPositions`, or an id outside the vocabulary.
    public func sentenceEmbeddings(_ sequences: [[Int]]) throws -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        let c = configuration.hiddenSize
        let hidden = try hiddenStates(sequences)  // (T, C)
        var embeddings: [[Float]] = []
        var row = 0
        for ids in sequences {
            // Mean over the sequence's rows, then x / max(‖x‖, 1e-12) (torch.nn.functional.normalize).
            var sum = [Double](repeating: 0, count: c)
            for t in row..<(row + ids.count) {
                let x = hidden.pointer + t * c
                for j in 0..<c { sum[j] += Double(x[j]) }
            }
            row += ids.count
            let mean = sum.map { $0 / Double(ids.count) }
            let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            embeddings.append(mean.map { Float($0 / norm) })
        }
        return embeddings
    }

    /// The last layer's hidden states of the packed sequences: (T, C), sequence after sequence.
    func hiddenStates(_ sequences: [[Int]]) throws -> FloatBuffer {
        let cfg = configuration
        let c = cfg.hiddenSize, f = cfg.intermediateSize
        var tokens: [Int32] = [], positions: [Int32] = [], starts: [Int] = []
        for (s, ids) in sequences.enumerated() {
            guard !ids.isEmpty, ids.count <= cfg.maxPositions else {
                throw EngineError.invalidInput("sequence \(s) has \(ids.count) tokens; BERT takes 1...\(cfg.maxPositions)")
            }
            starts.append(tokens.count)
            for (p, id) in ids.enumerated() {
                guard id >= 0, id < cfg.vocabularySize else {
                    throw EngineError.invalidInput("token id \(id) at position \(p) of sequence \(s) is outside the vocabulary of \(cfg.vocabularySize)")
                }
                tokens.append(Int32(id))
                positions.append(Int32(p))
            }
        }
        let t = tokens.count
        let x = FloatBuffer(count: t * c)              // (T, C) the residual stream
        let qkv = FloatBuffer(count: t * 3 * c)        // (T, 3C)
        let context = FloatBuffer(count: t * c)        // (T, C)
        let projected = FloatBuffer(count: t * c)      // (T, C)
        let intermediate = FloatBuffer(count: t * f)   // (T, F)

        // x = LayerNorm((word + token type 0) + position), the order BertEmbeddings adds them in.
        let word = wordEmbeddings.pointer, position = positionEmbeddings.pointer, type = tokenTypeEmbedding.pointer
        tokens.withUnsafeBufferPointer { tokens in
            positions.withUnsafeBufferPointer { positions in
                Parallel.forRange(tokens.count, minimumPerChunk: 64) { lo, hi in
                    for r in lo..<hi {
                        let out = x.pointer + r * c
                        let w = word + Int(tokens[r]) * c, p = position + Int(positions[r]) * c
                        for j in 0..<c { out[j] = (w[j] + type[j]) + p[j] }
                    }
                }
            }
        }
        Self.layerNorm(x.pointer, adding: nil, rows: t, width: c, weight: embeddingNormWeight,
                       bias: embeddingNormBias, epsilon: cfg.layerNormEpsilon)

        let lengths = sequences.map(\.count)
        let rows = (starts: starts, lengths: lengths)
        for layer in layers {
            Self.linear(x.pointer, rows: rows, in: c, out: 3 * c, weight: layer.qkv, bias: layer.qkvBias, into: qkv.pointer)
            attention(qkv: qkv.pointer, starts: starts, lengths: lengths, into: context.pointer)
            Self.linear(context.pointer, rows: rows, in: c, out: c, weight: layer.attentionOutput,
                        bias: layer.attentionOutputBias, into: projected.pointer)
            Self.layerNorm(x.pointer, adding: projected.pointer, rows: t, width: c, weight: layer.attentionNormWeight,
                           bias: layer.attentionNormBias, epsilon: cfg.layerNormEpsilon)
            Self.linear(x.pointer, rows: rows, in: c, out: f, weight: layer.intermediate, bias: layer.intermediateBias,
                        into: intermediate.pointer)
            Self.gelu(intermediate.pointer, count: t * f)
            Self.linear(intermediate.pointer, rows: rows, in: f, out: c, weight: layer.output, bias: layer.outputBias,
                        into: projected.pointer)
            Self.layerNorm(x.pointer, adding: projected.pointer, rows: t, width: c, weight: layer.outputNormWeight,
                           bias: layer.outputNormBias, epsilon: cfg.layerNormEpsilon)
        }
        return x
    }

    /// context (T, C) = per sequence s and head h: softmax(Q Kᵀ / √D) V over the L_s rows of s,
    /// with Q, K, V the (L_s, D) slices of qkv (T, 3C). Every token attends to every token of its
    /// own sequence (bidirectional; packing means there is no padding to mask).
    func attention(qkv: UnsafeMutablePointer<Float>, starts: [Int], lengths: [Int], into context: UnsafeMutablePointer<Float>) {
        let c = configuration.hiddenSize, h = configuration.headCount, d = configuration.headDimension
        let scale = 1 / Float(d).squareRoot()
        let longest = lengths.max() ?? 0
        Parallel.forRange(lengths.count * h) { lo, hi in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: longest * longest)  // (L, L)
            defer { scores.deallocate() }
            for item in lo..<hi {
                let s = item / h, head = item % h
                let l = lengths[s]
                let q = qkv + starts[s] * 3 * c + head * d, k = q + c, v = q + 2 * c
                Matmul.sgemm(transposeB: true, M: l, N: l, K: d, alpha: scale, A: q, lda: 3 * c, B: k, ldb: 3 * c,
                             C: scores, ldc: l)
                for i in 0..<l { fg_softmax(scores + i * l, Int64(l)) }
                Matmul.sgemm(transposeB: false, M: l, N: d, K: l, A: scores, lda: l, B: v, ldb: 3 * c,
                             C: context + starts[s] * c + head * d, ldc: c)
            }
        }
    }

    /// out (T, N) = x (T, K) · Wᵀ + b with W (N, K), one product per sequence over its rows (bias
    /// written first, the product added), the sequences spread over the team.
    ///
    /// One product per sequence, not one over all T rows: OpenBLAS rounds a row differently
    /// depending on where it falls in a product (its Haswell/Zen kernels by the row's place in a
    /// 12-row tile and whether that tile is the last, partial one; its SkylakeX kernels in products
    /// of few rows), so in a shared product a sequence's bits would depend on the other sequences.
    /// With its own product a sequence computes the same bits alone or in any batch, on any kernel
    /// family. What it costs: each product packs W again (≈ 1/L_s of the product's work).
    static func linear(_ x: UnsafePointer<Float>, rows: (starts: [Int], lengths: [Int]), in k: Int, out n: Int,
                       weight: FloatBuffer, bias: FloatBuffer, into out: UnsafeMutablePointer<Float>) {
        let b = bias.pointer, w = weight.pointer
        Parallel.forRange(rows.lengths.count) { lo, hi in
            for s in lo..<hi {
                let start = rows.starts[s], length = rows.lengths[s]
                for r in start..<(start + length) { (out + r * n).update(from: b, count: n) }
                Matmul.sgemm(transposeB: true, M: length, N: n, K: k, A: x + start * k, lda: k, B: w, ldb: k, beta: 1,
                             C: out + start * n, ldc: n)
            }
        }
    }

    /// x[r] = LayerNorm(x[r] + y[r]) · weight + bias for each of the T rows of width C (y optional),
    /// with the biased variance. reference: Ba et al. 2016, "Layer Normalization"; torch.nn.LayerNorm.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, adding y: UnsafePointer<Float>?, rows t: Int, width c: Int,
                          weight: FloatBuffer, bias: FloatBuffer, epsilon: Float) {
        let w = weight.pointer, b = bias.pointer
        Parallel.forRange(t, minimumPerChunk: 32) { lo, hi in
            for r in lo..<hi {
                let row = x + r * c
                if let y {
                    let add = y + r * c
                    for j in 0..<c { row[j] += add[j] }
                }
                let mean = Self.sum(row, c) / Float(c)
                var variance: Float = 0
                var sq = SIMD8<Float>(repeating: 0)
                var j = 0
                while j + 8 <= c {
                    let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) - SIMD8(repeating: mean)
                    sq.addProduct(v, v)
                    j += 8
                }
                variance = sq.sum()
                while j < c { variance += (row[j] - mean) * (row[j] - mean); j += 1 }
                let rstd = 1 / (variance / Float(c) + epsilon).squareRoot()
                for j in 0..<c { row[j] = (row[j] - mean) * rstd * w[j] + b[j] }
            }
        }
    }

    /// Σ x[0..<n], in eight lanes then the tail.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var j = 0
        while j + 8 <= n {
            lanes += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var total = lanes.sum()
        while j < n { total += x[j]; j += 1 }
        return total
    }

    /// x = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)) in place: the exact GELU of `hidden_act: gelu`.
    /// reference: Hendrycks & Gimpel 2016, "Gaussian Error Linear Units"; torch.nn.functional.gelu.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        Parallel.forRange(n, minimumPerChunk: 4096) { lo, hi in
            for i in lo..<hi {
                let v = x[i]
                x[i] = v * 0.5 * (1 + erf(v * 0.70710678118654752))
            }
        }
    }
}
