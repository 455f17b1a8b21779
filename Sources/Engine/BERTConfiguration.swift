import Foundation

/// The shape of a BERT encoder, decoded from a Hugging Face `config.json`
/// (`model_type` `bert`, e.g. sentence-transformers' all-MiniLM-L6-v2).
///
/// Values the engine cannot run are rejected at decode time: only the exact (erf) GELU, absolute
/// position embeddings, and a hidden size divisible by the head count.
public struct BERTConfiguration: Sendable, Equatable, Decodable {
    /// Number of token ids (`vocab_size`).
    public let vocabularySize: Int
    /// Width of every hidden state (`hidden_size`).
    public let hiddenSize: Int
    /// Number of encoder layers (`num_hidden_layers`).
    public let layerCount: Int
    /// Attention heads per layer (`num_attention_heads`).
    public let headCount: Int
    /// Width of the MLP's hidden layer (`intermediate_size`).
    public let intermediateSize: Int
    /// Rows of the position embedding table: the longest sequence (`max_position_embeddings`).
    public let maxPositions: Int
    /// Rows of the token type embedding table (`type_vocab_size`); the engine uses type 0.
    public let typeVocabularySize: Int
    /// The LayerNorm epsilon (`layer_norm_eps`).
    public let layerNormEpsilon: Float

    /// Width of one attention head.
    public var headDimension: Int { hiddenSize / headCount }

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEpsilon = "layer_norm_eps", hiddenActivation = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
    }

    /// A configuration from explicit values; throws ``EngineError/invalidConfiguration(_:)`` for
    /// non-positive sizes or a hidden size not divisible by `headCount`.
    public init(vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12) throws {
        let sizes = [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("num_hidden_layers", layerCount),
                     ("num_attention_heads", headCount), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositions), ("type_vocab_size", typeVocabularySize)]
        for (name, value) in sizes where value <= 0 || value > 1 << 24 {
            throw EngineError.invalidConfiguration("\(name) = \(value) is not a positive size")
        }
        guard hiddenSize % headCount == 0 else {
            throw EngineError.invalidConfiguration("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(headCount)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw EngineError.invalidConfiguration("layer_norm_eps \(layerNormEpsilon) is not a non-negative number")
        }
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let activation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu"
        guard activation == "gelu" else {
            throw EngineError.invalidConfiguration(
                "hidden_act '\(activation)' is not supported; only 'gelu' (the exact erf GELU) is implemented")
        }
        let positions = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        guard positions == "absolute" else {
            throw EngineError.invalidConfiguration("position_embedding_type '\(positions)' is not supported; only 'absolute'")
        }
        try self.init(vocabularySize: c.decode(Int.self, forKey: .vocabularySize),
                      hiddenSize: c.decode(Int.self, forKey: .hiddenSize),
                      layerCount: c.decode(Int.self, forKey: .layerCount),
                      headCount: c.decode(Int.self, forKey: .headCount),
                      intermediateSize: c.decode(Int.self, forKey: .intermediateSize),
                      maxPositions: c.decode(Int.self, forKey: .maxPositions),
                      typeVocabularySize: c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2,
                      layerNormEpsilon: Float(c.decodeIfPresent(Double.self, forKey: .layerNormEpsilon) ?? 1e-12))
    }

    /// Decodes `config.json` bytes; every failure is an ``EngineError/invalidConfiguration(_:)``
    /// naming `file`.
    public init(configJSON data: Data, file: String) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: data)
        } catch EngineError.invalidConfiguration(let message) {
            throw EngineError.invalidConfiguration("\(file): \(message)")
        } catch {
            throw EngineError.invalidConfiguration("\(file): not a BERT config.json: \(error)")
        }
    }
}
