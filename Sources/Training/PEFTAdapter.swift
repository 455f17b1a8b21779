import Engine
import Foundation
import ModelFiles

/// An adapter read from a PEFT directory.
public struct LoadedAdapter: Sendable {
    /// The weights, one entry of `pairs` per model layer.
    public var weights: LoRAWeights
    /// Rank, alpha, dropout and targets as the configuration states them.
    public var configuration: LoRAConfiguration
    /// `base_model_name_or_path`, if recorded.
    public var baseModel: String?
}

/// Reads and writes LoRA adapters in PEFT's format, so adapters move between FedGuard and
/// `PeftModel.from_pretrained` / `save_pretrained`.
///
/// A directory holds `adapter_config.json` and `adapter_model.safetensors` with F32 tensors
/// `base_model.model.model.layers.{i}.{self_attn|mlp}.{proj}.lora_A.weight` (r, in) and
/// `….lora_B.weight` (out, r). reference: PEFT 0.21 `save_pretrained` (keys without the adapter
/// name); keys that carry one (`lora_A.default.weight`, from a raw `state_dict()`) are read too.
public enum PEFTAdapter {
    /// The config file's name.
    public static let configFileName = "adapter_config.json"
    /// The weights file's name.
    public static let weightsFileName = "adapter_model.safetensors"

    /// The PEFT key of A (`isB` false) or B of (layer, projection).
    public static func key(layer: Int, _ projection: Projection, isB: Bool) -> String {
        "base_model.model.model.layers.\(layer).\(projection.modulePath).lora_\(isB ? "B" : "A").weight"
    }

    /// Every buffer of `weights` with its PEFT key and shape, in `orderedBuffers` order.
    public static func keyedBuffers(_ weights: LoRAWeights) -> [(key: String, shape: [Int], buffer: FloatBuffer)] {
        var out: [(key: String, shape: [Int], buffer: FloatBuffer)] = []
        for (layer, pairs) in weights.pairs.enumerated() {
            for projection in Projection.allCases {
                guard let pair = pairs[projection] else { continue }
                out.append((key(layer: layer, projection, isB: false), [weights.rank, pair.inFeatures], pair.a))
                out.append((key(layer: layer, projection, isB: true), [pair.outFeatures, weights.rank], pair.b))
            }
        }
        return out
    }

    /// Writes `weights` to `directory` (created if needed) as PEFT would: F32 safetensors with
    /// `{"format": "pt"}` metadata and a LoraConfig JSON naming `baseModel`.
    ///
    /// Every adapted layer must adapt the same projections (PEFT's `target_modules` is shared);
    /// layers without pairs are listed out via `layers_to_transform`.
    public static func save(_ weights: LoRAWeights, dropout: Float = 0, baseModel: String,
                            to directory: URL) throws(AdapterFileError) {
        let adapted = weights.pairs.indices.filter { !weights.pairs[$0].isEmpty }
        guard let first = adapted.first else {
            throw .io(file: directory.path, detail: "the adapter has no LoRA pairs to save")
        }
        let targets = Projection.allCases.filter { weights.pairs[first][$0] != nil }
        for layer in adapted where Set(weights.pairs[layer].keys) != Set(targets) {
            throw .unsupported(file: directory.path, detail: "layer \(layer) adapts \(weights.pairs[layer].keys.map(\.rawValue).sorted()) "
                + "while layer \(first) adapts \(targets.map(\.rawValue)); per-layer target sets")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(file: directory.path, detail: "cannot create the adapter directory: \(error.localizedDescription)")
        }
        let layers = adapted.count == weights.pairs.count ? nil : adapted
        let config = try PEFTAdapterConfig.json(rank: weights.rank, alpha: weights.scale * Float(weights.rank),
                                                dropout: dropout, targets: targets, layers: layers, baseModel: baseModel)
        let configURL = directory.appendingPathComponent(configFileName)
        do { try config.write(to: configURL, options: .atomic) } catch {
            throw .io(file: configURL.path, detail: "cannot write: \(error.localizedDescription)")
        }
        let tensors = keyedBuffers(weights).map { (name: $0.key, shape: $0.shape, values: $0.buffer.array) }
        let weightsURL = directory.appendingPathComponent(weightsFileName)
        do {
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: weightsURL)
        } catch {
            throw .io(file: weightsURL.path, detail: "\(error)")
        }
    }

    /// Reads the adapter in `directory`. With `model`, the adapter gets one entry per model layer and
    /// every tensor's shape is checked against the projection it adapts.
    ///
    /// Throws ``AdapterFileError`` for missing files or tensors, unexpected keys, wrong shapes, a rank
    /// that differs from `r`, and PEFT features FedGuard does not implement (DoRA, bias, patterns).
    /// With `use_rslora`, alpha is rescaled so `LoRAWeights.scale` equals PEFT's alpha/√r.
    public static func load(from directory: URL, for model: LlamaModel? = nil) throws(AdapterFileError) -> LoadedAdapter {
        let configURL = directory.appendingPathComponent(configFileName)
        let weightsURL = directory.appendingPathComponent(weightsFileName)
        guard let configData = FileManager.default.contents(atPath: configURL.path) else { throw .missingFile(configURL.path) }
        guard FileManager.default.fileExists(atPath: weightsURL.path) else { throw .missingFile(weightsURL.path) }
        let config = try PEFTAdapterConfig.parse(configData, file: configURL.path)
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: weightsURL) } catch {
            throw .io(file: weightsURL.path, detail: "\(error)")
        }
        let path = weightsURL.path

        // key → (layer, projection, isB)
        var found: [Int: [Projection: (a: String?, b: String?)]] = [:]
        for name in file.tensors.keys.sorted() {
            guard let parsed = parseKey(name) else { throw .unexpectedTensor(file: path, key: name) }
            var entry = found[parsed.layer, default: [:]][parsed.projection] ?? (nil, nil)
            if parsed.isB { entry.b = name } else { entry.a = name }
            found[parsed.layer, default: [:]][parsed.projection] = entry
        }
        let layerCount = model?.configuration.layerCount ?? ((found.keys.max() ?? -1) + 1)
        if let beyond = found.keys.first(where: { $0 >= layerCount }) {
            throw .tensorShape(file: path, key: "layer \(beyond)", expected: [layerCount], found: [beyond + 1])
        }
        let targets = config.targets.isEmpty
            ? Projection.allCases.filter { p in found.values.contains { $0[p] != nil } } : config.targets
        let layers = config.layersToTransform ?? Array(0..<layerCount)

        var pairs = Array(repeating: [Projection: LoRAPair](), count: layerCount)
        let r = config.rank
        for layer in layers where layer >= 0 && layer < layerCount {
            for projection in targets {
                let names = found[layer]?[projection]
                guard let aName = names?.a else {
                    throw .missingTensor(file: path, key: key(layer: layer, projection, isB: false))
                }
                guard let bName = names?.b else {
                    throw .missingTensor(file: path, key: key(layer: layer, projection, isB: true))
                }
                guard let aInfo = file.tensors[aName], let bInfo = file.tensors[bName] else { continue }
                guard aInfo.shape.count == 2, bInfo.shape.count == 2 else {
                    let bad = aInfo.shape.count == 2 ? bInfo : aInfo
                    throw .tensorShape(file: path, key: bad.name, expected: [-1, -1], found: bad.shape)
                }
                if aInfo.shape[0] != r { throw .rankMismatch(file: path, key: aName, configured: r, found: aInfo.shape[0]) }
                if bInfo.shape[1] != r { throw .rankMismatch(file: path, key: bName, configured: r, found: bInfo.shape[1]) }
                var inFeatures = aInfo.shape[1], outFeatures = bInfo.shape[0]
                if let model {
                    let w = projection.weight(in: model.layers[layer])
                    if inFeatures != w.inFeatures {
                        throw .tensorShape(file: path, key: aName, expected: [r, w.inFeatures], found: aInfo.shape)
                    }
                    if outFeatures != w.outFeatures {
                        throw .tensorShape(file: path, key: bName, expected: [w.outFeatures, r], found: bInfo.shape)
                    }
                    inFeatures = w.inFeatures
                    outFeatures = w.outFeatures
                }
                let a: [Float], b: [Float]
                do {
                    a = try file.floats(named: aName)
                    b = try file.floats(named: bName)
                } catch {
                    throw .io(file: path, detail: "\(error)")
                }
                pairs[layer][projection] = LoRAPair(a: FloatBuffer(a), b: FloatBuffer(b),
                                                    inFeatures: inFeatures, outFeatures: outFeatures)
            }
        }
        let alpha = config.useRSLoRA ? config.alpha * Double(r).squareRoot() : config.alpha
        let weights = LoRAWeights(rank: r, alpha: Float(alpha), pairs: pairs)
        let configuration = LoRAConfiguration(rank: r, alpha: Float(alpha), dropout: Float(config.dropout), targets: targets)
        return LoadedAdapter(weights: weights, configuration: configuration, baseModel: config.baseModel)
    }

    /// Parses `[base_model.model.]model.layers.{i}.{self_attn|mlp}.{proj}.lora_{A|B}[.{name}].weight`.
    static func parseKey(_ key: String) -> (layer: Int, projection: Projection, isB: Bool)? {
        var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.starts(with: ["base_model", "model"]) { parts.removeFirst(2) }
        guard parts.count == 7 || parts.count == 8, parts[0] == "model", parts[1] == "layers",
              let layer = Int(parts[2]), layer >= 0, parts.last == "weight",
              let projection = Projection(rawValue: parts[4]), projection.modulePath == "\(parts[3]).\(parts[4])"
        else { return nil }
        switch parts[5] {
        case "lora_A": return (layer, projection, false)
        case "lora_B": return (layer, projection, true)
        default: return nil
        }
    }
}
