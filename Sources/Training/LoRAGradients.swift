import CKernels
import Engine

// Shape legend: T = rows, in / out = features of a projection, r = LoRA rank.

/// A frozen linear layer y = x·Wᵀ, W (out, in): forward and the input gradient (no weight gradient).
enum FrozenLinear {
    /// y (T, out) = x (T, in) · Wᵀ, overwriting y. The same sgemm call as the inference engine.
    static func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, weight w: LinearWeight, rows T: Int) {
        Matmul.sgemm(transposeB: true, M: T, N: w.outFeatures, K: w.inFeatures, A: x, lda: w.inFeatures,
                     B: w.dense.pointer, ldb: w.inFeatures, C: y, ldc: w.outFeatures)
    }

    /// dx (T, in) = dy (T, out) · W, overwriting (accumulate: false) or adding to dx.
    static func backward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, weight w: LinearWeight,
                         rows T: Int, accumulate: Bool) {
        Matmul.sgemm(transposeB: false, M: T, N: w.inFeatures, K: w.outFeatures, A: dy, lda: w.outFeatures,
                     B: w.dense.pointer, ldb: w.inFeatures, beta: accumulate ? 1 : 0, C: dx, ldc: w.inFeatures)
    }
}

/// The LoRA branch of an adapted projection: y += scale · (dropout(x)·Aᵀ)·Bᵀ, as PEFT computes
/// `lora_B(lora_A(lora_dropout(x))) * scaling`.
/// reference: Hu et al. 2021, "LoRA"; PEFT `peft/tuners/lora/layer.py` `Linear.forward`.
enum LoRALinear {
    /// Scratch for the dropout path: mask and dropped input (T, in) each, and dh·A (T, in).
    struct Scratch {
        let mask, dropped, inputGradient: UnsafeMutablePointer<Float>
    }

    /// Adds the LoRA term to y (T, out) and keeps h (T, r) = dropout(x)·Aᵀ. With a `dropoutSeed`,
    /// the inverted-dropout mask (probability p) comes from `fg_dropout_mask(seed)`; without one, no dropout.
    static func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, pair: LoRAPair, rank r: Int,
                        scale: Float, rows T: Int, hidden h: UnsafeMutablePointer<Float>,
                        dropout p: Float, dropoutSeed: UInt64?, scratch: Scratch) {
        let n = pair.inFeatures, m = pair.outFeatures
        var input = x
        if let seed = dropoutSeed {
            fg_dropout_mask(scratch.mask, Int64(T * n), p, seed)
            fg_mul(scratch.dropped, x, scratch.mask, Int64(T * n))
            input = UnsafePointer(scratch.dropped)
        }
        // h (T, r) = dropout(x) (T, in) · Aᵀ
        Matmul.sgemm(transposeB: true, M: T, N: r, K: n, A: input, lda: n, B: pair.a.pointer, ldb: n, C: h, ldc: r)
        // y (T, out) += scale · h · Bᵀ
        Matmul.sgemm(transposeB: true, M: T, N: m, K: r, alpha: scale, A: h, lda: r, B: pair.b.pointer, ldb: r,
                     beta: 1, C: y, ldc: m)
    }

    /// Given dy (T, out): accumulates dB (out, r) += scale·dyᵀ·h and dA (r, in) += dhᵀ·dropout(x) with
    /// dh = scale·dy·B (T, r, written to `dHidden`), and adds the input gradient (dh·A) ⊙ mask to dx (T, in)
    /// unless dx is nil (nothing below needs it).
    static func backward(dx: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         pair: LoRAPair, gradient: LoRAPair, rank r: Int, scale: Float, rows T: Int,
                         hidden h: UnsafePointer<Float>, dHidden dh: UnsafeMutablePointer<Float>,
                         dropout p: Float, dropoutSeed: UInt64?, scratch: Scratch) {
        let n = pair.inFeatures, m = pair.outFeatures
        var input = x
        if let seed = dropoutSeed {
            fg_dropout_mask(scratch.mask, Int64(T * n), p, seed)
            fg_mul(scratch.dropped, x, scratch.mask, Int64(T * n))
            input = UnsafePointer(scratch.dropped)
        }
        // dB (out, r) += scale · dyᵀ (out, T) · h (T, r)
        Matmul.sgemm(transposeA: true, transposeB: false, M: m, N: r, K: T, alpha: scale, A: dy, lda: m,
                     B: h, ldb: r, beta: 1, C: gradient.b.pointer, ldc: r)
        // dh (T, r) = scale · dy (T, out) · B (out, r)
        Matmul.sgemm(transposeB: false, M: T, N: r, K: m, alpha: scale, A: dy, lda: m, B: pair.b.pointer, ldb: r,
                     C: dh, ldc: r)
        // dA (r, in) += dhᵀ (r, T) · dropout(x) (T, in)
        Matmul.sgemm(transposeA: true, transposeB: false, M: r, N: n, K: T, A: dh, lda: r, B: input, ldb: n,
                     beta: 1, C: gradient.a.pointer, ldc: n)
        guard let dx else { return }
        if dropoutSeed != nil {
            // dx (T, in) += (dh · A) ⊙ mask
            Matmul.sgemm(transposeB: false, M: T, N: n, K: r, A: dh, lda: r, B: pair.a.pointer, ldb: n,
                         C: scratch.inputGradient, ldc: n)
            fg_mul_add(dx, scratch.inputGradient, scratch.mask, Int64(T * n))
        } else {
            // dx (T, in) += dh · A
            Matmul.sgemm(transposeB: false, M: T, N: n, K: r, A: dh, lda: r, B: pair.a.pointer, ldb: n,
                         beta: 1, C: dx, ldc: n)
        }
    }
}

extension LoRAWeights {
    /// Throws unless the adapter fits `model`: a pair list per layer (or fewer) whose shapes match the
    /// projections they adapt.
    func validate(for model: LlamaModel) throws(TrainingInputError) {
        guard pairs.count <= model.layers.count else {
            throw .adapterMismatch("the adapter has \(pairs.count) layers, the model \(model.layers.count)")
        }
        guard rank > 0 else { throw .adapterMismatch("rank \(rank) must be positive") }
        for (l, layer) in pairs.enumerated() {
            for (p, pair) in layer {
                let w = p.weight(in: model.layers[l])
                guard pair.inFeatures == w.inFeatures, pair.outFeatures == w.outFeatures,
                      pair.a.count == rank * w.inFeatures, pair.b.count == w.outFeatures * rank else {
                    throw .adapterMismatch("layer \(l) \(p.rawValue): pair shapes do not match the (\(w.outFeatures), \(w.inFeatures)) weight at rank \(rank)")
                }
            }
        }
    }

    /// Throws unless `self` (a gradient holder) has exactly the pairs and shapes of `adapter`.
    func validateAsGradient(of adapter: LoRAWeights) throws(TrainingInputError) {
        guard rank == adapter.rank, pairs.count == adapter.pairs.count else {
            throw .adapterMismatch("the gradient holder's rank or layer count differs from the adapter's; make it with adapter.zerosLike()")
        }
        for (l, layer) in adapter.pairs.enumerated() {
            guard Set(layer.keys) == Set(pairs[l].keys) else {
                throw .adapterMismatch("layer \(l): the gradient holder adapts other projections than the adapter")
            }
            for (p, pair) in layer {
                guard let g = pairs[l][p], g.a.count == pair.a.count, g.b.count == pair.b.count else {
                    throw .adapterMismatch("layer \(l) \(p.rawValue): gradient buffer sizes differ from the adapter's")
                }
            }
        }
    }
}
