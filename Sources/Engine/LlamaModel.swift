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

    /// Allocates an empty key/value cache able to hold `capacity` positions.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(layers: configuration.layerCount, capacity: capacity, heads: configuration.kvHeadCount,
                headDimension: configuration.headDimension)
    }

    /// The tokenizer, or an error saying the checkpoint has none.
    public func requireTokenizer() throws -> ModelTokenizer {
        guard let t = tokenizer else {
            throw EngineError.tokenizer("this checkpoint has no tokenizer; pass token ids or use a GGUF / a directory with tokenizer.json")
        }
        return t
    }
}

/// Per-sequence key/value cache: for each layer, K and V head-major, (KVH, capacity, D), so that
/// decoding reads each kv head's keys and values as one contiguous run.
public final class KVCache: @unchecked Sendable {
    // @unchecked Sendable: a cache belongs to one sequence and is written by one forward pass at a time.

    /// Positions filled so far.
    public internal(set) var length = 0
    /// Positions the cache can hold.
    public private(set) var capacity: Int
    /// K·V row width (KVH·D).
    public var width: Int { heads * headDimension }
    /// Key/value heads (KVH) and their size (D).
    public let heads: Int, headDimension: Int
    private(set) var keys: [FloatBuffer]
    private(set) var values: [FloatBuffer]

    init(layers: Int, capacity: Int, heads: Int, headDimension: Int) {
        self.capacity = max(capacity, 1)
        self.heads = heads
        self.headDimension = headDimension
        keys = (0..<layers).map { _ in FloatBuffer(count: max(capacity, 1) * heads * headDimension) }
        values = (0..<layers).map { _ in FloatBuffer(count: max(capacity, 1) * heads * headDimension) }
    }

    /// Floats between kv head g and g + 1 in a layer's buffer.
    var headStride: Int { capacity * headDimension }

    /// Grows the cache so it holds at least `needed` positions (amortised doubling).
    func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2)
        let D = headDimension, oldStride = headStride
        func grow(_ old: FloatBuffer) -> FloatBuffer {
            let b = FloatBuffer(count: newCapacity * heads * D)
            for g in 0..<heads { (b.pointer + g * newCapacity * D).update(from: old.pointer + g * oldStride, count: length * D) }
            return b
        }
        keys = keys.map(grow)
        values = values.map(grow)
        capacity = newCapacity
    }

    /// Writes `rows` positions from `position` on in layer `layer`: k and v are (rows, KVH·D) row-major.
    func store(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, rows: Int, at position: Int) {
        precondition(position + rows <= capacity, "cache write past its capacity")
        let D = headDimension, W = width, stride = headStride
        let kb = keys[layer].pointer, vb = values[layer].pointer
        for r in 0..<rows {
            for g in 0..<heads {
                (kb + g * stride + (position + r) * D).update(from: k + r * W + g * D, count: D)
                (vb + g * stride + (position + r) * D).update(from: v + r * W + g * D, count: D)
            }
        }
    }

    /// Forgets everything after `position` (e.g. to reuse a shared prompt prefix).
    public func truncate(to position: Int) { length = min(length, max(0, position)) }

    /// Replaces this cache's contents by the first `count` positions of `source` (a prompt prefix
    /// computed once and shared by several sequences).
    public func copyPrefix(of source: KVCache, count: Int) throws {
        guard source.keys.count == keys.count, source.heads == heads, source.headDimension == headDimension else {
            throw EngineError.invalidInput("cannot copy a cache of \(source.keys.count) layers × \(source.heads) heads × \(source.headDimension) into one of \(keys.count) × \(heads) × \(headDimension)")
        }
        guard count >= 0, count <= source.length else {
            throw EngineError.invalidInput("cannot copy \(count) positions from a cache holding \(source.length)")
        }
        length = 0
        reserve(count)
        let D = headDimension
        for l in keys.indices {
            for g in 0..<heads {
                (keys[l].pointer + g * headStride).update(from: source.keys[l].pointer + g * source.headStride, count: count * D)
                (values[l].pointer + g * headStride).update(from: source.values[l].pointer + g * source.headStride, count: count * D)
            }
        }
        length = count
    }
}
