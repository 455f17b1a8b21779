import Engine
import Federation
import Foundation
import Training

/// Converts between engine adapters (`LoRAWeights`) and the tensor maps the federated core
/// exchanges. Tensor names are PEFT's keys (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`),
/// in `LoRAWeights.orderedBuffers` order, so a map's flat values are the adapter's buffers back to back.
public struct AdapterLayout {
    /// Shapes and ranks of the adapter (values unused).
    public let template: LoRAWeights
    /// Names and shapes of the tensors.
    public let layout: TensorLayout
    /// LoRA alpha (so rebuilt adapters keep exactly `alpha / rank` as their scale).
    public let alpha: Float

    /// The layout of the adapter `configuration` describes for `model`.
    public init(model: LlamaModel, configuration: LoRAConfiguration) throws {
        try self.init(template: LoRAWeights.initialized(for: model, configuration: configuration, seed: 0).zerosLike(),
                      alpha: configuration.alpha)
    }

    /// The layout of adapters shaped like `template`, with LoRA `alpha`.
    public init(template: LoRAWeights, alpha: Float) throws {
        self.template = template
        self.alpha = alpha
        layout = try TensorLayout(PEFTAdapter.keyedBuffers(template).map { .init(name: $0.key, shape: $0.shape) })
    }

    /// The adapter's values as a tensor map.
    public func tensorMap(_ weights: LoRAWeights) throws -> TensorMap {
        var values: [Float] = []
        values.reserveCapacity(layout.elementCount)
        for buffer in weights.orderedBuffers { values.append(contentsOf: UnsafeBufferPointer(start: buffer.pointer, count: buffer.count)) }
        return try TensorMap(layout: layout, values: values)
    }

    /// A new adapter holding `map`'s values; throws when the layouts differ.
    public func weights(_ map: TensorMap) throws -> LoRAWeights {
        if let difference = layout.firstDifference(from: map.layout) {
            throw FederationError.layoutMismatch(operation: "AdapterLayout.weights", detail: difference)
        }
        let weights = LoRAWeights(rank: template.rank, alpha: alpha, pairs: template.zerosLike().pairs)
        copy(map.values, into: weights)
        return weights
    }

    /// Copies flat values (in `orderedBuffers` order) into `weights`.
    func copy(_ values: [Float], into weights: LoRAWeights) {
        var offset = 0
        values.withUnsafeBufferPointer { source in
            for buffer in weights.orderedBuffers {
                guard let base = source.baseAddress else { return }
                buffer.pointer.update(from: base + offset, count: buffer.count)
                offset += buffer.count
            }
        }
    }
}
