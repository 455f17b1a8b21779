import Foundation
import ModelFiles

/// Hyper-parameters of a Llama-family model (Llama 2/3, SmolLM, TinyLlama, and Qwen2, which adds
/// biases to the query, key and value projections).
///
/// Read from GGUF metadata (`llama.*` or `qwen2.*` keys) or from a Hugging Face `config.json`.
public struct LlamaConfiguration: Sendable, Equatable, Codable {
    /// Vocabulary size `V`.
    public var vocabularySize: Int
    /// Model width `C`.
    public var hiddenSize: Int
    /// MLP width.
    public var intermediateSize: Int
    /// Number of transformer blocks.
    public var layerCount: Int
    /// Query heads `H`.
    public var headCount: Int
    /// Key/value heads (grouped-query attention); divides `headCount`.
    public var kvHeadCount: Int
    /// Head size `D`.
    public var headDimension: Int
    /// RoPE base frequency.
    public var ropeTheta: Double
    /// Llama 3 RoPE frequency scaling, if any.
    public var ropeScaling: RopeScaling?
    /// RMSNorm epsilon.
    public var rmsNormEpsilon: Float
    /// Longest context the model was trained for.
    public var contextLength: Int
    /// Whether the output head shares the token embedding.
    public var tiedEmbeddings: Bool
    /// Whether the query, key and value projections carry biases (Qwen2).
    public var attentionBias: Bool = false
    /// The architecture name as the checkpoint gives it: `llama` or `qwen2`.
    public var architecture: String = "llama"

    /// The architectures the engine runs: GGUF's `general.architecture` / transformers' `model_type`.
    public static let supportedArchitectures = ["llama", "qwen2"]

    /// Llama 3 frequency scaling (`rope_scaling` with `rope_type: llama3`).
    public struct RopeScaling: Sendable, Equatable, Codable {
        public var factor: Double
        public var lowFrequencyFactor: Double
        public var highFrequencyFactor: Double
        public var originalContextLength: Int
    }

    /// Width of the key/value projections: `kvHeadCount * headDimension`.
    public var kvDimension: Int { kvHeadCount * headDimension }

    /// Checks that the shapes are consistent.
    public func validate() throws(EngineError) {
        func bad(_ message: String) -> EngineError { .invalidConfiguration(message) }
        guard vocabularySize > 0, hiddenSize > 0, intermediateSize > 0, layerCount > 0 else {
            throw bad("sizes must be positive (vocab \(vocabularySize), hidden \(hiddenSize), mlp \(intermediateSize), layers \(layerCount))")
        }
        guard headCount > 0, kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw bad("head count \(headCount) must be a positive multiple of the KV head count \(kvHeadCount)")
        }
        guard headDimension > 0, headDimension % 2 == 0 else {
            throw bad("head size \(headDimension) must be positive and even")
        }
        guard ropeTheta > 0, rmsNormEpsilon > 0 else { throw bad("rope theta and RMS epsilon must be positive") }
    }

    /// RoPE inverse frequencies `theta^(-2i/D)` for `i < D/2`, with Llama 3 scaling applied.
    /// reference: Su et al. 2021 (RoPE); Llama 3 scaling as in transformers `_compute_llama3_parameters`.
    public func ropeInverseFrequencies() -> [Float] {
        let d = headDimension
        var freqs = (0..<(d / 2)).map { i in 1.0 / pow(ropeTheta, Double(2 * i) / Double(d)) }
        if let s = ropeScaling {
            let lowWavelength = Double(s.originalContextLength) / s.lowFrequencyFactor
            let highWavelength = Double(s.originalContextLength) / s.highFrequencyFactor
            freqs = freqs.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / s.factor }
                let smooth = (Double(s.originalContextLength) / wavelength - s.lowFrequencyFactor)
                    / (s.highFrequencyFactor - s.lowFrequencyFactor)
                return (1 - smooth) * f / s.factor + smooth * f
            }
        }
        return freqs.map { Float($0) }
    }
}

extension LlamaConfiguration {
    /// Reads the configuration from GGUF metadata (llama.cpp's key names).
    public init(gguf: GGUFFile) throws(EngineError) {
        let meta = gguf.metadata
        let arch = meta["general.architecture"]?.stringValue ?? "llama"
        guard Self.supportedArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(arch, file: gguf.url.path)
        }
        func int(_ key: String) throws(EngineError) -> Int {
            guard let v = meta["\(arch).\(key)"]?.intValue else {
                throw .missingMetadata("\(arch).\(key)", file: gguf.url.path)
            }
            return v
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let embedding = gguf.tensor(named: "token_embd.weight")
        let vocab = meta["\(arch).vocab_size"]?.intValue
            ?? embedding?.dimensions.last
            ?? meta["tokenizer.ggml.tokens"]?.arrayValue?.count ?? 0
        self.init(
            vocabularySize: vocab,
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"),
            headCount: heads,
            kvHeadCount: meta["\(arch).attention.head_count_kv"]?.intValue ?? heads,
            headDimension: meta["\(arch).rope.dimension_count"]?.intValue ?? hidden / max(heads, 1),
            ropeTheta: meta["\(arch).rope.freq_base"]?.doubleValue ?? 10_000,
            ropeScaling: nil,
            rmsNormEpsilon: Float(meta["\(arch).attention.layer_norm_rms_epsilon"]?.doubleValue ?? 1e-5),
            contextLength: meta["\(arch).context_length"]?.intValue ?? 2048,
            tiedEmbeddings: gguf.tensor(named: "output.weight") == nil,
            attentionBias: gguf.tensor(named: "blk.0.attn_q.bias") != nil,
            architecture: arch
        )
        try validate()
    }

    /// Reads a Hugging Face `config.json`.
    public init(huggingFaceConfig data: Data, file: String) throws(EngineError) {
        let raw: HFConfig
        do {
            raw = try JSONDecoder().decode(HFConfig.self, from: data)
        } catch {
            throw .invalidConfiguration("cannot read \(file): \(error)")
        }
        let heads = raw.num_attention_heads
        let arch = raw.model_type ?? "llama"
        guard Self.supportedArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(arch, file: file)
        }
        var scaling: RopeScaling?
        if let s = raw.rope_scaling ?? raw.rope_parameters, (s.rope_type ?? s.type) == "llama3" {
            scaling = RopeScaling(
                factor: s.factor ?? 8, lowFrequencyFactor: s.low_freq_factor ?? 1,
                highFrequencyFactor: s.high_freq_factor ?? 4,
                originalContextLength: s.original_max_position_embeddings ?? 8192)
        }
        self.init(
            vocabularySize: raw.vocab_size, hiddenSize: raw.hidden_size,
            intermediateSize: raw.intermediate_size, layerCount: raw.num_hidden_layers,
            headCount: heads, kvHeadCount: raw.num_key_value_heads ?? heads,
            headDimension: raw.head_dim ?? raw.hidden_size / max(heads, 1),
            ropeTheta: raw.rope_theta ?? raw.rope_parameters?.rope_theta ?? 10_000, ropeScaling: scaling,
            rmsNormEpsilon: Float(raw.rms_norm_eps ?? 1e-6),
            contextLength: raw.max_position_embeddings ?? 2048,
            tiedEmbeddings: raw.tie_word_embeddings ?? false,
            attentionBias: raw.attention_bias ?? (arch == "qwen2"), architecture: arch)
        try validate()
    }
}

/// The subset of a transformers `LlamaConfig` / `Qwen2Config` the engine reads.
private struct HFConfig: Decodable {
    struct Scaling: Decodable {
        var rope_type: String?
        var type: String?
        var factor: Double?
        var low_freq_factor: Double?
        var high_freq_factor: Double?
        var original_max_position_embeddings: Int?
        var rope_theta: Double?
    }
    var vocab_size: Int
    var hidden_size: Int
    var intermediate_size: Int
    var num_hidden_layers: Int
    var num_attention_heads: Int
    var num_key_value_heads: Int?
    var head_dim: Int?
    var rope_theta: Double?
    var rope_parameters: Scaling?
    var rope_scaling: Scaling?
    var rms_norm_eps: Double?
    var max_position_embeddings: Int?
    var tie_word_embeddings: Bool?
    var model_type: String?
    var attention_bias: Bool?
}
