import CKernels

/// Weights of one transformer block.
public struct LlamaLayer: Sendable {
    /// RMSNorm weight before attention, (C).
    public let attentionNorm: FloatBuffer
    /// Projections, PyTorch layout (out, in): q (H·D, C), k and v (KVH·D, C), o (C, H·D).
    public let query, key, value, attentionOutput: LinearWeight
    /// RMSNorm weight before the MLP, (C).
    public let mlpNorm: FloatBuffer
    /// SwiGLU MLP: gate and up (F, C), down (C, F).
    public let gate, up, down: LinearWeight
    /// Biases of the q (H·D), k and v (KVH·D) projections, when the architecture has them (Qwen2).
    public var queryBias, keyBias, valueBias: FloatBuffer?

    /// Adds the q, k and v biases (if any) to `T` rows of projections, before RoPE.
    /// Runs in every layer of every forward pass; without biases (Llama) it does nothing and
    /// allocates nothing.
    public func addAttentionBiases(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                                   v: UnsafeMutablePointer<Float>, rows T: Int) {
        Self.add(queryBias, to: q, rows: T)
        Self.add(keyBias, to: k, rows: T)
        Self.add(valueBias, to: v, rows: T)
    }

    /// rows (T, n) += bias (n) on every row; nothing when there is no bias.
    private static func add(_ bias: FloatBuffer?, to rows: UnsafeMutablePointer<Float>, rows T: Int) {
        guard let bias else { return }
        let n = bias.count, b = bias.pointer
        for t in 0..<T {
            let row = rows + t * n
            for j in 0..<n { row[j] += b[j] }
        }
    }
}

/// A loaded Llama-architecture model: configuration, frozen weights and its tokenizer.
///
/// Inference goes through `forward(_:logits:)`, which runs any number of sequences of different
/// lengths in one batched pass (see `Forward.swift`).
public final class LlamaModel: @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable after init and only read;
    // forward passes own their scratch space.

    /// Hyper-parameters.
    public let configuration: LlamaConfiguration
    /// Token embedding, (V, C).
    public let tokenEmbedding: LinearWeight
    /// The blocks, in order.
    public let layers: [LlamaLayer]
    /// Final RMSNorm weight, (C).
    public let outputNorm: FloatBuffer
    /// Output head, (V, C); the same object as `tokenEmbedding` when tied.
    public let output: LinearWeight
    /// RoPE inverse frequencies, (D/2), scaling included.
    public let inverseFrequencies: [Float]
    /// Tokenizer and chat template, when the checkpoint carries one.
    public let tokenizer: ModelTokenizer?

    init(configuration: LlamaConfiguration, tokenEmbedding: LinearWeight, layers: [LlamaLayer],
         outputNorm: FloatBuffer, output: LinearWeight, inverseFrequencies: [Float], tokenizer: ModelTokenizer?) {
        self.configuration = configuration
        self.tokenEmbedding = tokenEmbedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output
        self.inverseFrequencies = inverseFrequencies
        self.tokenizer = tokenizer
    }

    /// Allocates an empty key/value cache able to hold `capacity` positions (it grows when needed).
    public func makeCache(capacity: Int, precision: KVPrecision = .float32) -> KVCache {
        KVCache(layers: configuration.layerCount, capacity: capacity, heads: configuration.kvHeadCount,
                headDimension: configuration.headDimension, precision: precision)
    }

    /// Makes the weights' float32 copies now (see ``LinearWeight/dense``), so that the time is spent
    /// loading, not inside the first step: for `.training` every copy; for `.inference` only those
    /// that prefill and batches would make (not those of K-quant and Q5_0 weights, which generation
    /// reads from their quantized rows).
    public func makeFloatCopies(for use: FloatCopyUse = .training) {
        for w in linearWeights where use == .training || !w.prefersQuantizedRows { _ = w.dense }
    }

    /// What ``makeFloatCopies(for:)`` prepares for.
    public enum FloatCopyUse: Sendable {
        /// Training: every float copy (the backward pass reads them all).
        case training
        /// Generation: the copies that products over many rows would make on first use.
        case inference
    }

    /// Every matrix: the embedding, each block's seven projections, the output head (the embedding
    /// again when tied).
    public var linearWeights: [LinearWeight] {
        [tokenEmbedding] + layers.flatMap { layer in Projection.allCases.map { $0.weight(in: layer) } } + [output]
    }

    /// The tokenizer, or an error saying the checkpoint has none.
    public func requireTokenizer() throws -> ModelTokenizer {
        guard let t = tokenizer else {
            throw EngineError.tokenizer("this checkpoint has no tokenizer; pass token ids or use a GGUF / a directory with tokenizer.json")
        }
        return t
    }
}
