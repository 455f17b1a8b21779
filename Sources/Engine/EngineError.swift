/// Errors of the inference engine. Each says what went wrong, where, and what to do next.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)
    case unsupportedArchitecture(String, file: String)
    case missingMetadata(String, file: String)
    case missingTensor(String, file: String)
    case tensorShape(String, expected: [Int], found: [Int], file: String)
    case modelFile(String)
    case tokenizer(String)
    case invalidInput(String)
    case numeric(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let m):
            return "invalid model configuration: \(m)"
        case .unsupportedArchitecture(let a, let f):
            return "\(f): architecture '\(a)' is not supported (the engine runs 'llama' and 'qwen2'); use a Llama, SmolLM, TinyLlama or Qwen2 checkpoint"
        case .missingMetadata(let k, let f):
            return "\(f): metadata key '\(k)' is missing; the file may not be a complete llama.cpp GGUF conversion"
        case .missingTensor(let n, let f):
            return "\(f): tensor '\(n)' is missing; the checkpoint is incomplete or not the architecture being loaded"
        case .tensorShape(let n, let e, let found, let f):
            return "\(f): tensor '\(n)' has shape \(found) but the configuration implies \(e)"
        case .modelFile(let m):
            return m
        case .tokenizer(let m):
            return "tokenizer: \(m)"
        case .invalidInput(let m):
            return "invalid input: \(m)"
        case .numeric(let m):
            return "numeric error: \(m)"
        }
    }
}
