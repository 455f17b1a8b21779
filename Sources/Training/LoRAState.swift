import Engine

/// Settings of a LoRA adapter (PEFT's `LoraConfig` subset that FedGuard uses).
public struct LoRAConfiguration: Sendable, Equatable, Codable {
    /// Rank r.
    public var rank: Int = 8
    /// Scaling numerator: the update is scaled by alpha / r.
    public var alpha: Float = 16
    /// Dropout applied to the adapter's input during training (PEFT `lora_dropout`).
    public var dropout: Float = 0.05
    /// Adapted projections.
    public var targets: [Projection] = [.query, .value]

    /// Creates a configuration.
    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0.05, targets: [Projection] = [.query, .value]) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
    }
}

extension LoRAWeights {
    /// A fresh adapter for `model`, initialised as PEFT does: A ~ kaiming_uniform(a = √5), i.e.
    /// U(-1/√in, 1/√in); B = 0, so the adapted model starts equal to the base model.
    /// reference: PEFT `LoraLayer.reset_lora_parameters` (init_lora_weights=True).
    public static func initialized(for model: LlamaModel, configuration c: LoRAConfiguration, seed: UInt64) -> LoRAWeights {
        var rng = SeededGenerator(seed: seed)
        let pairs: [[Projection: LoRAPair]] = model.layers.map { layer in
            var perLayer: [Projection: LoRAPair] = [:]
            for p in Projection.allCases where c.targets.contains(p) {
                let w = p.weight(in: layer)
                let bound = 1 / Float(w.inFeatures).squareRoot()
                let a = FloatBuffer(count: c.rank * w.inFeatures)
                for i in 0..<a.count {
                    let u = Float(Double(rng.next() >> 11) * 0x1.0p-53)
                    a.pointer[i] = (2 * u - 1) * bound
                }
                perLayer[p] = LoRAPair(a: a, b: FloatBuffer(count: w.outFeatures * c.rank),
                                       inFeatures: w.inFeatures, outFeatures: w.outFeatures)
            }
            return perLayer
        }
        return LoRAWeights(rank: c.rank, alpha: c.alpha, pairs: pairs)
    }

    /// Zeroed buffers of the same shapes (gradients, optimizer moments).
    public func zerosLike() -> LoRAWeights {
        LoRAWeights(rank: rank, alpha: scale * Float(rank), pairs: pairs.map { layer in
            layer.mapValues { p in
                LoRAPair(a: FloatBuffer(count: p.a.count), b: FloatBuffer(count: p.b.count),
                         inFeatures: p.inFeatures, outFeatures: p.outFeatures)
            }
        })
    }

    /// An independent copy (same shapes and values).
    public func copy() -> LoRAWeights {
        let result = zerosLike()
        for (target, source) in zip(result.orderedBuffers, orderedBuffers) {
            target.pointer.update(from: source.pointer, count: source.count)
        }
        return result
    }

    /// Every buffer in a fixed order (layer, then `Projection.allCases` order, A before B), for
    /// optimizers, norms and serialisation.
    public var orderedBuffers: [FloatBuffer] {
        pairs.flatMap { layer in Projection.allCases.compactMap { layer[$0] }.flatMap { [$0.a, $0.b] } }
    }
}
