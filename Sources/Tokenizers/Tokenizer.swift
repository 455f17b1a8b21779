// The tokenizer contract shared by the engine, the CLI and the tests, and the module's errors.

/// Turns text into token ids and back.
///
/// Implementations are immutable values or thread-safe classes: one instance may be shared
/// across tasks. Encoding never adds a beginning-of-sequence token; callers that need one
/// prepend it themselves.
public protocol Tokenizer: Sendable {
    /// Encodes `text` into token ids, without adding any BOS/EOS token.
    ///
    /// - Parameter parseSpecialTokens: when `true`, special tokens written in the text
    ///   (such as `<|im_start|>`) become their single ids; when `false`, they are encoded as
    ///   ordinary text.
    func encode(_ text: String, parseSpecialTokens: Bool) -> [Int]

    /// Decodes token ids into text. Unknown ids are ignored; byte sequences that are not
    /// valid UTF-8 become U+FFFD.
    ///
    /// - Parameter skipSpecialTokens: when `true`, control tokens are left out of the text.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String

    /// The id of a token given its vocabulary spelling (for byte-level BPE, e.g. `"Ġthe"`).
    func id(forToken token: String) -> Int?

    /// The vocabulary spelling of a token id, or `nil` when the id is out of range.
    func token(forID id: Int) -> String?

    /// The number of ids in the vocabulary (one more than the largest id).
    var vocabularySize: Int { get }

    /// The raw bytes a token contributes to decoded text; may be an incomplete UTF-8 sequence.
    ///
    /// Used by ``StreamingDecoder``. The default implementation decodes the single token,
    /// which is correct only for tokenizers whose tokens are whole characters.
    func bytes(forID id: Int, skipSpecialTokens: Bool) -> [UInt8]
}

extension Tokenizer {
    /// Default: the UTF-8 of the token decoded on its own.
    public func bytes(forID id: Int, skipSpecialTokens: Bool) -> [UInt8] {
        Array(decode([id], skipSpecialTokens: skipSpecialTokens).utf8)
    }

    /// Encodes `text`, treating special-token spellings as special tokens.
    public func encode(_ text: String) -> [Int] {
        encode(text, parseSpecialTokens: true)
    }

    /// Decodes `ids`, keeping special tokens in the output.
    public func decode(_ ids: [Int]) -> String {
        decode(ids, skipSpecialTokens: false)
    }
}

/// The role of a token in the vocabulary, numbered as GGUF's `tokenizer.ggml.token_type`.
public enum TokenType: Int, Sendable, CaseIterable {
    /// An ordinary BPE token.
    case normal = 1
    /// The unknown token.
    case unknown = 2
    /// A control token such as `<|im_end|>`: matched as a whole, skipped when decoding with
    /// `skipSpecialTokens`.
    case control = 3
    /// A user-defined token: matched as a whole, always kept when decoding.
    case userDefined = 4
    /// A placeholder id that never appears in encoded text.
    case unused = 5
    /// A byte-fallback token such as `<0x0A>` (not used by byte-level BPE).
    case byte = 6
}

/// Errors raised while building a tokenizer.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The vocabulary has no tokens.
    case emptyVocabulary
    /// `tokenTypes` has a different length from `tokens`.
    case tokenTypeCountMismatch(tokens: Int, tokenTypes: Int)
    /// A token type value outside GGUF's 1...6.
    case invalidTokenType(id: Int, value: Int)
    /// A special token named by the caller is not in the vocabulary.
    case unknownSpecialToken(String)
    /// The tokenizer.json could not be parsed.
    case invalidJSON(String)
    /// The tokenizer.json describes a model other than the one the tokenizer implements
    /// (BPE for ``BPETokenizer``, WordPiece for ``WordPieceTokenizer``).
    case unsupportedModel(String)
    /// The normalizer is not one this module implements (WordPiece reads `BertNormalizer`).
    case unsupportedNormalizer(String)
    /// The post-processor does not frame a text as `[CLS] text [SEP]`.
    case unsupportedPostProcessor(String)
    /// The decoder is not one this module implements (WordPiece reads `WordPiece`).
    case unsupportedDecoder(String)
    /// The pre-tokenizer is not one this module implements.
    case unsupportedPreTokenizer(String)
    /// Two different tokens claim the same id in tokenizer.json.
    case conflictingID(id: Int, first: String, second: String)

    /// A message a person can act on.
    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "tokenizer vocabulary is empty"
        case let .tokenTypeCountMismatch(tokens, tokenTypes):
            return "tokenizer has \(tokens) tokens but \(tokenTypes) token types"
        case let .invalidTokenType(id, value):
            return "token \(id) has token type \(value), expected 1...6"
        case let .unknownSpecialToken(token):
            return "special token \(token.debugDescription) is not in the vocabulary"
        case let .invalidJSON(detail):
            return "tokenizer.json could not be parsed: \(detail)"
        case let .unsupportedModel(type):
            return "tokenizer.json model type \(type.debugDescription) is not supported by this tokenizer "
                + "(BPETokenizer reads BPE, WordPieceTokenizer reads WordPiece)"
        case let .unsupportedNormalizer(type):
            return "unsupported normalizer \(type.debugDescription) (only BertNormalizer)"
        case let .unsupportedPostProcessor(detail):
            return "unsupported post-processor: \(detail)"
        case let .unsupportedDecoder(type):
            return "unsupported decoder \(type.debugDescription) (only WordPiece)"
        case let .unsupportedPreTokenizer(detail):
            return "unsupported pre-tokenizer: \(detail)"
        case let .conflictingID(id, first, second):
            return "tokenizer.json gives id \(id) to both \(first.debugDescription) and \(second.debugDescription)"
        }
    }
}

extension TokenizerError {
    /// Token tables are indexed by id, so a file's largest id sizes them. Real vocabularies are dense
    /// (ids 0..<n, a few gaps); a 10 kB file claiming id 600,000,000 asked for 4.8 GB (found by
    /// fuzzing). The bound: at most 16 ids per entry plus 65,536, and never 10 million or more.
    static func checkIDRange(maxID: Int, entries: Int) throws(TokenizerError) {
        let bound = min(10_000_000, 16 * entries + 65_536)
        guard maxID < bound else {
            throw .invalidJSON("token id \(maxID) is implausibly large for a vocabulary of \(entries) entries "
                + "(ids must stay below \(bound))")
        }
    }
}
