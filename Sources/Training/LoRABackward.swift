import CKernels
import Engine

// Shape legend: T = rows of the packed batch, C = hidden size, H / KVH = query / key-value heads,
// D = head size, QD = H·D, KVD = KVH·D, F = MLP width, V = vocabulary, R = head rows, r = LoRA rank.

extension TrainingPass {
    /// Back-propagates Σ_r −rowWeights[r]·logprob[r] (R head rows) through the whole network after a
    /// `forward` with the same model, adapter, batch and workspace, and ACCUMULATES the LoRA gradients
    /// into `gradients` (dA (r, in) and dB (out, r) per pair). The base weights are frozen and get no
    /// gradient; activation gradients flow down to the first layer's q, k and v projections, where
    /// the pass stops (below them lies only the frozen embedding).
    ///
    /// Consumes the kept logits (they become dlogits in place), so run it once per forward. After a
    /// forward given `headRowWeights`, pass the same weights here.
    static func backward(model: LlamaModel, adapter: LoRAWeights, gradients: LoRAWeights, batch: PackedBatch,
                         rowWeights: [Float], dropout: Float, workspace ws: TrainingWorkspace) {
        let cfg = model.configuration
        let T = batch.rowCount, R = batch.headRowCount
        let C = cfg.hiddenSize, H = cfg.headCount, KVH = cfg.kvHeadCount, D = cfg.headDimension
        let F = cfg.intermediateSize, V = cfg.vocabularySize, eps = cfg.rmsNormEpsilon
        let L = model.layers.count
        let scratch = LoRALinear.Scratch(mask: ws.mask.pointer, dropped: ws.dropped.pointer,
                                         inputGradient: ws.loraInputGradient.pointer)
        let dx = ws.dStream.pointer, normed = ws.normed.pointer, dNormed = ws.dNormed.pointer
        dx.update(repeating: 0, count: T * C)
        guard R > 0 else { return }

        // Head: dlogits (R, V) in place, headGradient (R, C) (unless the forward already took it with
        // these row weights), scattered into dx (T, C).
        if !ws.headGradientReady {
            OutputHeadLayer.backward(dx: ws.headGradient.pointer, rowWeights: rowWeights, x: ws.headInput.pointer,
                                     normWeight: model.outputNorm.pointer, weight: model.output.dense.pointer,
                                     rows: R, channels: C, vocabulary: V, targets: batch.targets,
                                     rstd: ws.headRstd.pointer, logits: ws.logits(rows: R), logSumExp: ws.logSumExp,
                                     dNormed: ws.headNormedGradient.pointer)
        }
        for (i, row) in batch.headRows.enumerated() {
            fg_add(dx + row * C, ws.headGradient.pointer + i * C, Int64(C))
        }

        for l in (0..<L).reversed() {
            let layer = model.layers[l], a = ws.layers[l]
            let xIn = ws.stream[2 * l].pointer, xMid = ws.stream[2 * l + 1].pointer

            // dInput (T, in) += LoRA input gradient of projection p; dA, dB accumulated.
            func loraBackward(_ p: Projection, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                              into dInput: UnsafeMutablePointer<Float>?) {
                guard l < adapter.pairs.count, let pair = adapter.pairs[l][p], let g = gradients.pairs[l][p],
                      let h = a.loraHidden[p] else { return }
                LoRALinear.backward(dx: dInput, dy, x: x, pair: pair, gradient: g, rank: adapter.rank,
                                    scale: adapter.scale, rows: T, hidden: h.pointer, dHidden: ws.dHidden.pointer,
                                    dropout: dropout, dropoutSeed: a.dropoutSeeds[p], scratch: scratch)
            }

            // MLP block; dx holds d(stream[2l + 2]). Recompute normed (T, C) and the SwiGLU output (T, F).
            RMSNormLayer.forward(normed, rstd: a.mlpRstd.pointer, xMid, weight: layer.mlpNorm.pointer,
                                 rows: T, channels: C, eps: eps)
            SwiGLULayer.forward(ws.activation.pointer, gate: a.gate.pointer, up: a.up.pointer, count: T * F)
            // dActivation (T, F) = dx · W_down, plus the LoRA term
            FrozenLinear.backward(ws.dActivation.pointer, dx, weight: layer.down, rows: T, accumulate: false)
            loraBackward(.down, input: ws.activation.pointer, outputGradient: dx, into: ws.dActivation.pointer)
            // dGate, dUp (T, F)
            SwiGLULayer.backward(dGate: ws.dGate.pointer, dUp: ws.dUp.pointer, ws.dActivation.pointer,
                                 gate: a.gate.pointer, up: a.up.pointer, count: T * F)
            // dNormed (T, C) = dGate · W_gate + dUp · W_up, plus the LoRA terms
            FrozenLinear.backward(dNormed, ws.dGate.pointer, weight: layer.gate, rows: T, accumulate: false)
            FrozenLinear.backward(dNormed, ws.dUp.pointer, weight: layer.up, rows: T, accumulate: true)
            loraBackward(.gate, input: normed, outputGradient: ws.dGate.pointer, into: dNormed)
            loraBackward(.up, input: normed, outputGradient: ws.dUp.pointer, into: dNormed)
            // residual: dx becomes d(stream[2l + 1]) = dx + norm backward
            RMSNormLayer.backward(dx, dNormed, x: xMid, weight: layer.mlpNorm.pointer, rstd: a.mlpRstd.pointer,
                                  rows: T, channels: C)

            // Attention block. dAttention (T, QD) = dx · W_o, plus the LoRA term.
            FrozenLinear.backward(ws.dAttention.pointer, dx, weight: layer.attentionOutput, rows: T, accumulate: false)
            loraBackward(.output, input: a.attention.pointer, outputGradient: dx, into: ws.dAttention.pointer)
            // dq (T, QD), dk and dv (T, KVD) after RoPE, then rotated back.
            AttentionLayer.backward(dq: ws.dq.pointer, dk: ws.dk.pointer, dv: ws.dv.pointer, ws.dAttention.pointer,
                                    q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                    spans: batch.spans,
                                    heads: H, kvHeads: KVH, headDimension: D)
            ws.rope.rotate(ws.dq.pointer, heads: H, sign: -1)
            ws.rope.rotate(ws.dk.pointer, heads: KVH, sign: -1)
            // dNormed (T, C) = dq · W_q + dk · W_k + dv · W_v, plus the LoRA terms, on recomputed normed.
            // The first layer's input is the frozen embedding's output: nothing needs its gradient, so
            // only the LoRA gradients of q, k and v are taken there.
            let needsInputGradient = l > 0
            RMSNormLayer.forward(normed, rstd: a.attentionRstd.pointer, xIn, weight: layer.attentionNorm.pointer,
                                 rows: T, channels: C, eps: eps)
            if needsInputGradient {
                FrozenLinear.backward(dNormed, ws.dq.pointer, weight: layer.query, rows: T, accumulate: false)
                FrozenLinear.backward(dNormed, ws.dk.pointer, weight: layer.key, rows: T, accumulate: true)
                FrozenLinear.backward(dNormed, ws.dv.pointer, weight: layer.value, rows: T, accumulate: true)
            }
            let into = needsInputGradient ? dNormed : nil
            loraBackward(.query, input: normed, outputGradient: ws.dq.pointer, into: into)
            loraBackward(.key, input: normed, outputGradient: ws.dk.pointer, into: into)
            loraBackward(.value, input: normed, outputGradient: ws.dv.pointer, into: into)
            // residual: dx becomes d(stream[2l])
            if needsInputGradient {
                RMSNormLayer.backward(dx, dNormed, x: xIn, weight: layer.attentionNorm.pointer,
                                      rstd: a.attentionRstd.pointer, rows: T, channels: C)
            }
        }
        // dx holds d(stream[1]) (after the first attention block), not the embedding output's gradient
        // (frozen, so never needed).
    }
}
