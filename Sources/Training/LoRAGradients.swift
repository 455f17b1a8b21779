import CKernels
import COpenBLAS
import Engine

// Shape legend: T = rows, in / out = features of a projection, r = LoRA rank.

/// A frozen linear layer y = x·Wᵀ, W (out, in): forward and the input gradient (no weight gradient).
enum FrozenLinear {
    /// y (T, out) = x (T, in) · Wᵀ, overwriting y. The same sgemm call as the inference engine.
    static func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, weight w: LinearWeight, rows T: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(w.outFeatures), Int32(w.inFeatures),
                    1, x, Int32(w.inFeatures), w.dense.pointer, Int32(w.inFeatures), 0, y, Int32(w.outFeatures))
    }

    /// dx (T, in) = dy (T, out) · W, overwriting (accumulate: false) or adding to dx.
    static func backward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, weight w: LinearWeight,
                         rows T: Int, accumulate: Bool) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(w.inFeatures), Int32(w.outFeatures),
                    1, dy, Int32(w.outFeatures), w.dense.pointer, Int32(w.inFeatures), accumulate ? 1 : 0,
                    dx, Int32(w.inFeatures))
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(r), Int32(n),
                    1, input, Int32(n), pair.a.pointer, Int32(n), 0, h, Int32(r))
        // y (T, out) += scale · h · Bᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(m), Int32(r),
                    scale, h, Int32(r), pair.b.pointer, Int32(r), 1, y, Int32(m))
    }

    /// Given dy (T, out): accumulates dB (out, r) += scale·dyᵀ·h and dA (r, in) += dhᵀ·dropout(x) with
    /// dh = scale·dy·B (T, r, written to `dHidden`), and adds the input gradient (dh·A) ⊙ mask to dx (T, in).
    static func backward(dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
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
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(r), Int32(T),
                    scale, dy, Int32(m), h, Int32(r), 1, gradient.b.pointer, Int32(r))
        // dh (T, r) = scale · dy (T, out) · B (out, r)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(r), Int32(m),
                    scale, dy, Int32(m), pair.b.pointer, Int32(r), 0, dh, Int32(r))
        // dA (r, in) += dhᵀ (r, T) · dropout(x) (T, in)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(r), Int32(n), Int32(T),
                    1, dh, Int32(r), input, Int32(n), 1, gradient.a.pointer, Int32(n))
        if dropoutSeed != nil {
            // dx (T, in) += (dh · A) ⊙ mask
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(n), Int32(r),
                        1, dh, Int32(r), pair.a.pointer, Int32(n), 0, scratch.inputGradient, Int32(n))
            fg_mul_add(dx, scratch.inputGradient, scratch.mask, Int64(T * n))
        } else {
            // dx (T, in) += dh · A
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(n), Int32(r),
                        1, dh, Int32(r), pair.a.pointer, Int32(n), 1, dx, Int32(n))
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
