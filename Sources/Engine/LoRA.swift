/// The seven linear projections of a Llama block, named as in Hugging Face / PEFT.
public enum Projection: String, CaseIterable, Sendable, Codable {
    case query = "q_proj", key = "k_proj", value = "v_proj", output = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// The module path inside a block (`self_attn.q_proj`, `mlp.up_proj`, ...).
    public var modulePath: String {
        switch self {
        case .query, .key, .value, .output: return "self_attn.\(rawValue)"
        case .gate, .up, .down: return "mlp.\(rawValue)"
        }
    }

    /// Parses PEFT's short names (`q_proj`) and FedGuard's (`q`, `k`, `v`, `o`, `gate`, `up`, `down`).
    public init?(shortName: String) {
        switch shortName {
        case "q", "q_proj": self = .query
        case "k", "k_proj": self = .key
        case "v", "v_proj": self = .value
        case "o", "o_proj": self = .output
        case "gate", "gate_proj": self = .gate
        case "up", "up_proj": self = .up
        case "down", "down_proj": self = .down
        default: return nil
        }
    }

    /// This projection's weight in a block.
    public func weight(in layer: LlamaLayer) -> LinearWeight {
        switch self {
        case .query: return layer.query
        case .key: return layer.key
        case .value: return layer.value
        case .output: return layer.attentionOutput
        case .gate: return layer.gate
        case .up: return layer.up
        case .down: return layer.down
        }
    }
}

/// One low-rank pair: the projection becomes `y = x·Wᵀ + scale · (x·Aᵀ)·Bᵀ`.
/// reference: Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"; PEFT's layout.
public struct LoRAPair: Sendable {
    /// A, (r, in).
    public let a: FloatBuffer
    /// B, (out, r).
    public let b: FloatBuffer
    /// Input and output features of the adapted projection.
    public let inFeatures, outFeatures: Int

    /// Creates a pair; `a` holds r·in floats and `b` out·r.
    public init(a: FloatBuffer, b: FloatBuffer, inFeatures: Int, outFeatures: Int) {
        self.a = a
        self.b = b
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }
}

/// LoRA adapter weights for a whole model: a pair per adapted (layer, projection).
///
/// Inference passes it to `LlamaModel.forward(_:adapter:)`; training updates the buffers in place.
public final class LoRAWeights: @unchecked Sendable {
    // @unchecked Sendable: buffers are mutated only by the trainer that owns the adapter, never
    // while a forward pass reads them.

    /// Rank r.
    public let rank: Int
    /// alpha / r.
    public let scale: Float
    /// `pairs[layer][projection]`.
    public let pairs: [[Projection: LoRAPair]]

    /// Creates adapter weights from explicit pairs.
    public init(rank: Int, alpha: Float, pairs: [[Projection: LoRAPair]]) {
        self.rank = rank
        self.scale = alpha / Float(rank)
        self.pairs = pairs
    }

    /// Adds `scale · (x·Aᵀ)·Bᵀ` to y (T, out) for the pair at (layer, projection), if any.
    func apply(layer: Int, _ projection: Projection, input x: UnsafePointer<Float>, rows T: Int,
               into y: UnsafeMutablePointer<Float>) {
        guard layer < pairs.count, let p = pairs[layer][projection] else { return }
        let r = rank
        let h = UnsafeMutablePointer<Float>.allocate(capacity: T * r)
        defer { h.deallocate() }
        if T == 1 {  // one token: matrix-vector products (sgemm with one row is several times slower)
            Matmul.sgemv(M: r, N: p.inFeatures, A: p.a.pointer, lda: p.inFeatures, x: x, y: h)
            Matmul.sgemv(M: p.outFeatures, N: r, alpha: scale, A: p.b.pointer, lda: r, x: h, beta: 1, y: y)
            return
        }
        // h (T, r) = x (T, in) · Aᵀ
        Matmul.sgemm(transposeB: true, M: T, N: r, K: p.inFeatures, A: x, lda: p.inFeatures,
                     B: p.a.pointer, ldb: p.inFeatures, C: h, ldc: r)
        // y (T, out) += scale · h · Bᵀ
        Matmul.sgemm(transposeB: true, M: T, N: p.outFeatures, K: r, alpha: scale, A: h, lda: r,
                     B: p.b.pointer, ldb: r, beta: 1, C: y, ldc: p.outFeatures)
    }
}
