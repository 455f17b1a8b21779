import CKernels
import Engine

// Shape legend: T = rows of the packed batch, C = hidden size, H / KVH = query / key-value heads,
// D = head size, QD = H·D, KVD = KVH·D, F = MLP width, V = vocabulary, R = head rows, r = LoRA rank.

/// The training forward and backward passes of a Llama model with a frozen base and an optional
/// LoRA adapter, over a packed batch. The forward mirrors `LlamaModel.forward` (Forward.swift)
/// operation by operation and keeps in a `TrainingWorkspace` what the backward needs; the backward
/// is in LoRABackward.swift.
enum TrainingPass {
    /// Runs the packed batch through the model and the output head at the head rows.
    ///
    /// Afterwards the workspace holds the kept activations and, per head row, the target
    /// log-probability (`ws.targetLogProbabilities`, (R)). With `dropout` > 0 and an adapter, each
    /// adapted projection draws one 64-bit seed from `rng` (layer order, then q k v o gate up down)
    /// for its dropout mask; with `dropout` = 0 nothing is drawn.
    ///
    /// With `headRowWeights` (the loss is Σ_r −headRowWeights[r]·logprob[r], known in advance as in
    /// SFT), the head's gradient is taken here, block by block, and the (R, V) logits are never held.
    static func forward(model: LlamaModel, adapter: LoRAWeights?, batch: PackedBatch, dropout: Float,
                        rng: inout SeededGenerator, workspace ws: TrainingWorkspace, headRowWeights: [Float]? = nil) {
        let cfg = model.configuration
        let T = batch.rowCount, R = batch.headRowCount
        let C = cfg.hiddenSize, H = cfg.headCount, KVH = cfg.kvHeadCount, D = cfg.headDimension
        let F = cfg.intermediateSize, V = cfg.vocabularySize, eps = cfg.rmsNormEpsilon
        let L = model.layers.count
        ws.prepare(rows: T, headRows: R, adapter: adapter)
        let scratch = LoRALinear.Scratch(mask: ws.mask.pointer, dropped: ws.dropped.pointer,
                                         inputGradient: ws.loraInputGradient.pointer)

        // stream[0] (T, C) = embedding rows
        let rope = RotaryAngles(positions: batch.positions, headDimension: D, inverseFrequencies: model.inverseFrequencies)
        ws.rope = rope
        let embedding = model.tokenEmbedding.dense.pointer
        let x0 = ws.stream[0].pointer
        for (t, id) in batch.tokens.enumerated() { (x0 + t * C).update(from: embedding + id * C, count: C) }

        for (l, layer) in model.layers.enumerated() {
            let a = ws.layers[l]
            let xIn = ws.stream[2 * l].pointer, xMid = ws.stream[2 * l + 1].pointer, xOut = ws.stream[2 * l + 2].pointer
            let normed = ws.normed.pointer, projected = ws.projected.pointer

            // y (T, out) += LoRA term of projection p on input x (T, in), keeping h and the dropout seed.
            func addLoRA(_ p: Projection, input x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
                guard let adapter, l < adapter.pairs.count, let pair = adapter.pairs[l][p],
                      let h = a.loraHidden[p] else { return }
                var seed: UInt64?
                if dropout > 0 {
                    seed = rng.next()
                    a.dropoutSeeds[p] = seed
                }
                LoRALinear.forward(y, x, pair: pair, rank: adapter.rank, scale: adapter.scale, rows: T,
                                   hidden: h.pointer, dropout: dropout, dropoutSeed: seed, scratch: scratch)
            }

            // Attention block: normed (T, C) = rmsnorm(xIn), rstd kept.
            RMSNormLayer.forward(normed, rstd: a.attentionRstd.pointer, xIn, weight: layer.attentionNorm.pointer,
                                 rows: T, channels: C, eps: eps)
            // q (T, QD), k and v (T, KVD)
            FrozenLinear.forward(a.q.pointer, normed, weight: layer.query, rows: T)
            FrozenLinear.forward(a.k.pointer, normed, weight: layer.key, rows: T)
            FrozenLinear.forward(a.v.pointer, normed, weight: layer.value, rows: T)
            layer.addAttentionBiases(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, rows: T)
            addLoRA(.query, input: normed, into: a.q.pointer)
            addLoRA(.key, input: normed, into: a.k.pointer)
            addLoRA(.value, input: normed, into: a.v.pointer)
            rope.rotate(a.q.pointer, heads: H)
            rope.rotate(a.k.pointer, heads: KVH)
            // attention (T, QD), kept: it is o_proj's input
            AttentionLayer.forward(a.attention.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                   spans: batch.spans,
                                   heads: H, kvHeads: KVH, headDimension: D)
            FrozenLinear.forward(projected, a.attention.pointer, weight: layer.attentionOutput, rows: T)  // (T, C)
            addLoRA(.output, input: a.attention.pointer, into: projected)
            Elementwise.add(xMid, xIn, projected, count: T * C)

            // MLP block: normed (T, C) = rmsnorm(xMid); gate and up (T, F) kept.
            RMSNormLayer.forward(normed, rstd: a.mlpRstd.pointer, xMid, weight: layer.mlpNorm.pointer,
                                 rows: T, channels: C, eps: eps)
            FrozenLinear.forward(a.gate.pointer, normed, weight: layer.gate, rows: T)
            FrozenLinear.forward(a.up.pointer, normed, weight: layer.up, rows: T)
            addLoRA(.gate, input: normed, into: a.gate.pointer)
            addLoRA(.up, input: normed, into: a.up.pointer)
            SwiGLULayer.forward(ws.activation.pointer, gate: a.gate.pointer, up: a.up.pointer, count: T * F)
            FrozenLinear.forward(projected, ws.activation.pointer, weight: layer.down, rows: T)  // (T, C)
            addLoRA(.down, input: ws.activation.pointer, into: projected)
            Elementwise.add(xOut, xMid, projected, count: T * C)
        }

        // Output head on the R head rows only: headInput (R, C) gathered from stream[2L].
        guard R > 0 else {
            ws.logSumExp = []
            ws.targetLogProbabilities = []
            return
        }
        let final = ws.stream[2 * L].pointer
        for (i, row) in batch.headRows.enumerated() {
            (ws.headInput.pointer + i * C).update(from: final + row * C, count: C)
        }
        if let headRowWeights {
            OutputHeadLayer.forwardWithGradient(
                x: ws.headInput.pointer, normWeight: model.outputNorm.pointer, eps: eps, weight: model.output.dense.pointer,
                rows: R, channels: C, vocabulary: V, targets: batch.targets, rowWeights: headRowWeights,
                normed: ws.headNormed.pointer, rstd: ws.headRstd.pointer,
                block: ws.logits(rows: min(R, OutputHeadLayer.blockRows)), dNormed: ws.headNormedGradient.pointer,
                dx: ws.headGradient.pointer, logSumExp: &ws.logSumExp, logProbabilities: &ws.targetLogProbabilities)
            ws.headGradientReady = true
        } else {
            OutputHeadLayer.forward(x: ws.headInput.pointer, normWeight: model.outputNorm.pointer, eps: eps,
                                    weight: model.output.dense.pointer, rows: R, channels: C, vocabulary: V,
                                    targets: batch.targets, normed: ws.headNormed.pointer, rstd: ws.headRstd.pointer,
                                    logits: ws.logits(rows: R), logSumExp: &ws.logSumExp,
                                    logProbabilities: &ws.targetLogProbabilities)
        }
    }

    /// A forward without dropout, then each sequence's summed target log-probability (`adapter` nil:
    /// the base model).
    static func logProbabilitySums(model: LlamaModel, adapter: LoRAWeights?, batch: PackedBatch,
                                   workspace ws: TrainingWorkspace) -> [Double] {
        var unused = SeededGenerator(seed: 0)  // not drawn from: dropout is 0
        forward(model: model, adapter: adapter, batch: batch, dropout: 0, rng: &unused, workspace: ws)
        return sequenceSums(batch, workspace: ws)
    }

    /// Sums the head rows' target log-probabilities per sequence, (sequence count).
    static func sequenceSums(_ batch: PackedBatch, workspace ws: TrainingWorkspace) -> [Double] {
        var sums = Array(repeating: 0.0, count: batch.sequenceCount)
        for (i, s) in batch.headSequence.enumerated() { sums[s] += ws.targetLogProbabilities[i] }
        return sums
    }
}
