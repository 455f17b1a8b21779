import Engine

/// Errors of merging an adapter into base weights.
public enum MergeError: Error, CustomStringConvertible, Equatable {
    /// The pair's shape differs from the weight's.
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let detail):
            return "merge: \(detail); merge an adapter only into the base model it was trained for"
        }
    }
}

/// Folds a LoRA update into dense base weights and back, for exporting merged checkpoints.
///
/// reference: Hu et al. 2021, §4.1: `W' = W + scale·B·A` leaves inference latency unchanged; PEFT
/// `merge_and_unmerge` does the same in float. `LinearWeight` is immutable, so these return new arrays.
public enum LoRAMerge {
    /// `W + sign·scale·B·A`, (out, in) row-major.
    static func fold(_ weight: FloatBuffer, out: Int, in inFeatures: Int, pair: LoRAPair, rank r: Int,
                     scale: Float) throws(MergeError) -> FloatBuffer {
        guard pair.outFeatures == out, pair.inFeatures == inFeatures, weight.count == out * inFeatures,
              pair.a.count == r * inFeatures, pair.b.count == out * r else {
            throw .shapeMismatch("LoRA pair (\(pair.outFeatures)×\(r), \(r)×\(pair.inFeatures)) does not fit "
                + "a \(out)×\(inFeatures) weight")
        }
        let result = FloatBuffer(count: out * inFeatures)
        result.pointer.update(from: weight.pointer, count: out * inFeatures)
        // result (out, in) += scale · B (out, r) · A (r, in)
        Matmul.sgemm(transposeB: false, M: out, N: inFeatures, K: r, alpha: scale, A: pair.b.pointer, lda: r,
                     B: pair.a.pointer, ldb: inFeatures, beta: 1, C: result.pointer, ldc: inFeatures)
        return result
    }

    /// A new (out, in) float32 matrix `W + scale·B·A` for `weight` and `pair`.
    public static func merged(_ weight: LinearWeight, pair: LoRAPair, rank: Int, scale: Float) throws(MergeError) -> FloatBuffer {
        try fold(weight.dense, out: weight.outFeatures, in: weight.inFeatures, pair: pair, rank: rank, scale: scale)
    }

    /// A new (out, in) matrix `W' − scale·B·A`: recovers the base weight from a merged one (up to rounding).
    public static func unmerged(_ merged: FloatBuffer, outFeatures: Int, inFeatures: Int, pair: LoRAPair, rank: Int,
                                scale: Float) throws(MergeError) -> FloatBuffer {
        try fold(merged, out: outFeatures, in: inFeatures, pair: pair, rank: rank, scale: -scale)
    }

    /// Merged matrices of every adapted projection of `model`, keyed by their Hugging Face tensor
    /// names (`model.layers.{i}.self_attn.q_proj.weight`, shape (out, in)), ready to replace those
    /// tensors in a `model.safetensors`. Unadapted projections are not listed.
    public static func mergedTensors(of model: LlamaModel, adapter: LoRAWeights) throws(MergeError)
        -> [(name: String, shape: [Int], values: FloatBuffer)] {
        guard adapter.pairs.count <= model.layers.count else {
            throw .shapeMismatch("the adapter has \(adapter.pairs.count) layers, the model \(model.layers.count)")
        }
        var out: [(name: String, shape: [Int], values: FloatBuffer)] = []
        for (layer, pairs) in adapter.pairs.enumerated() {
            for projection in Projection.allCases {
                guard let pair = pairs[projection] else { continue }
                let w = projection.weight(in: model.layers[layer])
                out.append(("model.layers.\(layer).\(projection.modulePath).weight", [w.outFeatures, w.inFeatures],
                            try merged(w, pair: pair, rank: adapter.rank, scale: adapter.scale)))
            }
        }
        return out
    }
}
