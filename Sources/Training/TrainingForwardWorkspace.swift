import Engine

// Shape legend: T = rows of the packed batch, C = hidden size, H / KVH = query / key-value heads,
// D = head size, QD = H·D, KVD = KVH·D, F = MLP width, V = vocabulary, R = head rows (rows whose
// next token is a target), r = LoRA rank, L = layers.

/// Activations one layer's forward keeps for its backward.
///
/// Kept: the residual-stream input of each norm (in `TrainingWorkspace.stream`) and its rstd,
/// q and k after RoPE and v, the attention output (the input of o_proj), the SwiGLU inputs gate and
/// up, and each adapted projection's LoRA intermediate h = dropout(x)·Aᵀ with the seed of its dropout
/// mask. Recomputed in the backward instead of kept: the normalised inputs (one fg_rmsnorm), the
/// SwiGLU output silu(gate)·up, the attention probabilities (from q and k) and the dropout masks
/// (counter-based, from their seed).
final class LayerActivations {
    /// 1 / rms of the attention-norm and MLP-norm inputs, (T) each.
    let attentionRstd, mlpRstd: FloatBuffer
    /// q (T, QD), k and v (T, KVD); q and k after RoPE.
    let q, k, v: FloatBuffer
    /// Attention output, (T, QD).
    let attention: FloatBuffer
    /// gate and up projections before SwiGLU, (T, F).
    let gate, up: FloatBuffer
    /// LoRA intermediate h (T, r) per adapted projection.
    var loraHidden: [Projection: FloatBuffer] = [:]
    /// Dropout seed per adapted projection (absent when dropout is off).
    var dropoutSeeds: [Projection: UInt64] = [:]

    init(T: Int, QD: Int, KVD: Int, F: Int) {
        attentionRstd = FloatBuffer(count: T)
        mlpRstd = FloatBuffer(count: T)
        q = FloatBuffer(count: T * QD)
        k = FloatBuffer(count: T * KVD)
        v = FloatBuffer(count: T * KVD)
        attention = FloatBuffer(count: T * QD)
        gate = FloatBuffer(count: T * F)
        up = FloatBuffer(count: T * F)
    }
}

/// Buffers of one training forward/backward, reused across steps.
///
/// Sized for a number of packed tokens T (and grown when a batch is larger); create one per trainer
/// and pass it to every loss call. Memory per token is about L·(2C + 2QD + 2KVD + 2F + 7r) floats of
/// kept activations plus O(C + F) scratch. The output head keeps R·V logits when its gradient is
/// taken later (DPO, evaluation), and one block of 256·V when it is taken in the forward (SFT).
public final class TrainingWorkspace: @unchecked Sendable {
    // @unchecked Sendable: a workspace is used by one loss call at a time (the caller's trainer).

    /// Tokens the buffers hold.
    public private(set) var capacity: Int
    /// Head rows the head buffers hold.
    private(set) var headCapacity: Int
    let C, QD, KVD, F, V, layerCount: Int

    /// Residual stream, 2L + 1 buffers of (T, C): stream[2l] enters layer l (attention-norm input),
    /// stream[2l + 1] enters its MLP (MLP-norm input), stream[2L] enters the final norm.
    private(set) var stream: [FloatBuffer] = []
    /// Per-layer kept activations.
    private(set) var layers: [LayerActivations] = []

    // Head (kept): gathered final hidden rows (R, C), their rstd (R), log-sum-exp and target
    // log-probabilities (R).
    private(set) var headInput = FloatBuffer(count: 0), headRstd = FloatBuffer(count: 0)
    private(set) var headNormed = FloatBuffer(count: 0)
    /// Gradient of the gathered head rows, (R, C).
    private(set) var headGradient = FloatBuffer(count: 0)
    /// Scratch for the head's dNormed, (R, C).
    private(set) var headNormedGradient = FloatBuffer(count: 0)
    /// Whether the forward already wrote `headGradient` (SFT's fused head), so the backward skips the head.
    var headGradientReady = false
    private var logitsBuffer = FloatBuffer(count: 0)
    var logSumExp: [Double] = [], targetLogProbabilities: [Double] = []
    /// The rotary angles of the batch's positions, from the forward.
    var rope = RotaryAngles(positions: [], headDimension: 2, inverseFrequencies: [])

    // Scratch, (T, ·): normalised input, projection outputs, SwiGLU output, gradients, dropout.
    private(set) var normed = FloatBuffer(count: 0), projected = FloatBuffer(count: 0)
    private(set) var activation = FloatBuffer(count: 0)
    private(set) var dStream = FloatBuffer(count: 0), dNormed = FloatBuffer(count: 0)
    private(set) var dq = FloatBuffer(count: 0), dk = FloatBuffer(count: 0), dv = FloatBuffer(count: 0)
    private(set) var dAttention = FloatBuffer(count: 0), dGate = FloatBuffer(count: 0)
    private(set) var dUp = FloatBuffer(count: 0), dActivation = FloatBuffer(count: 0)
    /// Dropout mask, dropped input and dh·A, (T, max(C, QD, F)); LoRA dh, (T, r).
    private(set) var mask = FloatBuffer(count: 0), dropped = FloatBuffer(count: 0)
    private(set) var loraInputGradient = FloatBuffer(count: 0), dHidden = FloatBuffer(count: 0)
    private var rank = 0

    /// Creates buffers for `model` and batches of up to `tokens` packed tokens.
    public init(model: LlamaModel, tokens: Int) {
        let cfg = model.configuration
        C = cfg.hiddenSize
        QD = cfg.headCount * cfg.headDimension
        KVD = cfg.kvDimension
        F = cfg.intermediateSize
        V = cfg.vocabularySize
        layerCount = cfg.layerCount
        capacity = 0
        headCapacity = 0
        allocate(tokens: max(tokens, 1))
    }

    private func allocate(tokens T: Int) {
        capacity = T
        stream = (0...(2 * layerCount)).map { _ in FloatBuffer(count: T * C) }
        layers = (0..<layerCount).map { _ in LayerActivations(T: T, QD: QD, KVD: KVD, F: F) }
        let wide = max(C, QD, F)
        normed = FloatBuffer(count: T * C)
        projected = FloatBuffer(count: T * C)
        activation = FloatBuffer(count: T * F)
        dStream = FloatBuffer(count: T * C)
        dNormed = FloatBuffer(count: T * C)
        dq = FloatBuffer(count: T * QD)
        dk = FloatBuffer(count: T * KVD)
        dv = FloatBuffer(count: T * KVD)
        dAttention = FloatBuffer(count: T * QD)
        dGate = FloatBuffer(count: T * F)
        dUp = FloatBuffer(count: T * F)
        dActivation = FloatBuffer(count: T * F)
        mask = FloatBuffer(count: T * wide)
        dropped = FloatBuffer(count: T * wide)
        loraInputGradient = FloatBuffer(count: T * wide)
        rank = 0
        dHidden = FloatBuffer(count: 0)
    }

    /// A (rows, V) logits buffer, grown when needed and kept (R·V for the unfused head, one block
    /// for the fused one).
    func logits(rows: Int) -> UnsafeMutablePointer<Float> {
        if logitsBuffer.count < rows * V { logitsBuffer = FloatBuffer(count: rows * V) }
        return logitsBuffer.pointer
    }

    /// Grows the buffers for T rows, R head rows and LoRA rank r (nil: no adapter), and clears the
    /// per-step LoRA bookkeeping.
    func prepare(rows T: Int, headRows R: Int, adapter: LoRAWeights?) {
        if T > capacity { allocate(tokens: T) }
        if R > headCapacity {
            // R ≤ T: sized for the token capacity at once, so batches whose head rows vary (SFT on
            // chat samples) do not reallocate the (R, V) logits step after step.
            headCapacity = max(R, capacity)
            let R = headCapacity
            headInput = FloatBuffer(count: R * C)
            headRstd = FloatBuffer(count: R)
            headNormed = FloatBuffer(count: R * C)
            headGradient = FloatBuffer(count: R * C)
            headNormedGradient = FloatBuffer(count: R * C)
        }
        headGradientReady = false
        let r = adapter?.rank ?? 0
        if r != rank {
            rank = r
            for a in layers { a.loraHidden = [:] }
            dHidden = FloatBuffer(count: capacity * r)
        }
        for (l, a) in layers.enumerated() {
            a.dropoutSeeds = [:]
            guard let adapter, l < adapter.pairs.count else { continue }
            for p in adapter.pairs[l].keys where a.loraHidden[p] == nil {
                a.loraHidden[p] = FloatBuffer(count: capacity * r)
            }
        }
    }
}
