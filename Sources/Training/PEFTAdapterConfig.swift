import Engine
import Foundation

/// Errors reading or writing PEFT adapter directories. Each names the file and, for tensors, the key.
public enum AdapterFileError: Error, CustomStringConvertible, Equatable {
    /// A required file is missing.
    case missingFile(String)
    /// `adapter_config.json` cannot be parsed or holds an invalid value.
    case invalidConfig(file: String, detail: String)
    /// The adapter uses a PEFT feature FedGuard does not implement.
    case unsupported(file: String, detail: String)
    /// A tensor the configuration implies is absent.
    case missingTensor(file: String, key: String)
    /// A tensor that is not a LoRA A/B matrix of a Llama projection.
    case unexpectedTensor(file: String, key: String)
    /// A tensor's shape differs from the model's projection.
    case tensorShape(file: String, key: String, expected: [Int], found: [Int])
    /// A tensor's rank differs from the configuration's `r`.
    case rankMismatch(file: String, key: String, configured: Int, found: Int)
    /// The adapter cannot be written (or read) as PEFT expects.
    case io(file: String, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let file):
            return "\(file) is missing; a PEFT adapter directory holds adapter_config.json and adapter_model.safetensors"
        case .invalidConfig(let file, let detail):
            return "\(file): \(detail); write the adapter with PEFT's save_pretrained or FedGuard"
        case .unsupported(let file, let detail):
            return "\(file): \(detail) is not supported by FedGuard (plain LoRA on Llama projections only)"
        case .missingTensor(let file, let key):
            return "\(file): tensor '\(key)' is missing; the adapter does not match its adapter_config.json"
        case .unexpectedTensor(let file, let key):
            return "\(file): tensor '\(key)' is not a LoRA A/B matrix of a Llama projection"
        case .tensorShape(let file, let key, let expected, let found):
            return "\(file): tensor '\(key)' has shape \(found) but the model implies \(expected); "
                + "the adapter was trained for a different base model"
        case .rankMismatch(let file, let key, let configured, let found):
            return "\(file): tensor '\(key)' has rank \(found) but adapter_config.json says r = \(configured)"
        case .io(let file, let detail):
            return "\(file): \(detail)"
        }
    }
}

/// The fields of PEFT's `adapter_config.json` FedGuard reads.
///
/// reference: PEFT `LoraConfig` (0.21) as `save_pretrained` writes it.
struct PEFTAdapterConfig {
    var rank: Int
    var alpha: Double
    var dropout: Double
    var targets: [Projection]
    var layersToTransform: [Int]?
    var useRSLoRA: Bool
    var baseModel: String?

    /// Parses and checks a config; unsupported features throw `.unsupported`.
    static func parse(_ data: Data, file: String) throws(AdapterFileError) -> PEFTAdapterConfig {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw AdapterFileError.invalidConfig(file: file, detail: "not a JSON object")
            }
            object = parsed
        } catch let error as AdapterFileError {
            throw error
        } catch {
            throw .invalidConfig(file: file, detail: "not valid JSON (\(DatasetLoader.shortReason(error)))")
        }
        func invalid(_ detail: String) -> AdapterFileError { .invalidConfig(file: file, detail: detail) }
        func unsupported(_ detail: String) -> AdapterFileError { .unsupported(file: file, detail: detail) }
        if let type = object["peft_type"] as? String, type != "LORA" { throw unsupported("peft_type \(type)") }
        guard let rank = (object["r"] as? NSNumber)?.intValue, rank > 0 else { throw invalid("\"r\" must be a positive integer") }
        let alpha = (object["lora_alpha"] as? NSNumber)?.doubleValue ?? 8
        let dropout = (object["lora_dropout"] as? NSNumber)?.doubleValue ?? 0
        if let bias = object["bias"] as? String, bias != "none" { throw unsupported("bias \"\(bias)\"") }
        if object["use_dora"] as? Bool == true { throw unsupported("DoRA (use_dora)") }
        if object["fan_in_fan_out"] as? Bool == true { throw unsupported("fan_in_fan_out") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = object[key] as? [String: Any], !pattern.isEmpty { throw unsupported("a non-empty \(key)") }
        }
        if let modules = object["modules_to_save"] as? [Any], !modules.isEmpty { throw unsupported("modules_to_save") }
        var targets: [Projection] = []
        if let names = object["target_modules"] as? [String] {
            for name in names {
                guard let p = Projection(shortName: name) else { throw unsupported("target module \"\(name)\"") }
                if !targets.contains(p) { targets.append(p) }
            }
            targets = Projection.allCases.filter(targets.contains)
        } else if !(object["target_modules"] is String) {
            throw invalid("\"target_modules\" must be a list of module names or a regular expression")
        }
        var layers: [Int]?
        if let one = object["layers_to_transform"] as? Int {
            layers = [one]
        } else if let many = object["layers_to_transform"] as? [Int] {
            layers = many
        }
        return PEFTAdapterConfig(rank: rank, alpha: alpha, dropout: dropout, targets: targets, layersToTransform: layers,
                                 useRSLoRA: object["use_rslora"] as? Bool ?? false,
                                 baseModel: object["base_model_name_or_path"] as? String)
    }

    /// The JSON PEFT's `PeftModel.from_pretrained` reads, with every LoraConfig field it needs.
    static func json(rank: Int, alpha: Float, dropout: Float, targets: [Projection], layers: [Int]?,
                     baseModel: String) throws(AdapterFileError) -> Data {
        let null = NSNull()
        let alphaValue: Any = alpha.rounded() == alpha && abs(alpha) < 1e9 ? Int(alpha) : Double(alpha)
        let object: [String: Any] = [
            "alpha_pattern": [String: Any](), "auto_mapping": null, "base_model_name_or_path": baseModel,
            "bias": "none", "exclude_modules": null, "fan_in_fan_out": false, "inference_mode": true,
            "init_lora_weights": true, "layer_replication": null, "layers_pattern": null,
            "layers_to_transform": layers.map { $0 as Any } ?? null, "loftq_config": [String: Any](),
            "lora_alpha": alphaValue, "lora_bias": false, "lora_dropout": Double(dropout),
            "megatron_config": null, "megatron_core": "megatron.core", "modules_to_save": null,
            "peft_type": "LORA", "r": rank, "rank_pattern": [String: Any](), "revision": null,
            "target_modules": targets.map(\.rawValue), "task_type": "CAUSAL_LM", "use_dora": false,
            "use_rslora": false,
        ]
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw .io(file: "adapter_config.json", detail: "cannot encode: \(error)")
        }
    }
}

extension PEFTAdapter {
    /// Parses and checks the text of an `adapter_config.json` (what ``load(from:for:)`` reads first),
    /// without weights; throws ``AdapterFileError`` naming `file`.
    public static func checkConfiguration(_ data: Data, file: String) throws(AdapterFileError) {
        _ = try PEFTAdapterConfig.parse(data, file: file)
    }
}
