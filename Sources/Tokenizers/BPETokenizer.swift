// Byte-level BPE tokenizer: added-token split → pre-tokenizer → BPE model → ids, and the
// byte-level decoder back to text.

/// A GPT-2 style byte-level BPE tokenizer (SmolLM2, Llama 3, GPT-2 families).
///
/// Build it from GGUF metadata (`tokenizer.ggml.tokens`, `.merges`, `.token_type`, `.pre`) or
/// from a Hugging Face `tokenizer.json`:
/// ```swift
/// let tokenizer = try BPETokenizer(tokens: tokens, merges: merges, tokenTypes: types,
///                                  preTokenizer: PreTokenizerKind(ggufName: pre) ?? .gpt2)
/// let ids = tokenizer.encode("<|im_start|>user\nHi<|im_end|>", parseSpecialTokens: true)
/// let text = tokenizer.decode(ids, skipSpecialTokens: true)
/// ```
/// Instances are immutable apart from an internal, lock-protected word cache, and may be
/// shared freely across tasks.
public final class BPETokenizer: Tokenizer {
    /// The vocabulary spelling of each id (`""` for ids the source left undefined).
    public let tokens: [String]
    /// The type of each id.
    public let tokenTypes: [TokenType]
    /// The pre-tokenizer in use.
    public let preTokenizerKind: PreTokenizerKind

    private let idsByToken: [String: Int]
    /// Decoded bytes of each id: byte-level tokens un-mapped, added tokens verbatim.
    private let tokenBytes: [[UInt8]]
    /// Ids left out by `decode(_:skipSpecialTokens: true)`.
    private let skippedOnDecode: [Bool]
    private let addedTokens: AddedTokenMatcher
    private let preTokenizer: any PreTokenizer
    private let model: BPEModel

    /// Builds a tokenizer from GGUF-style metadata.
    ///
    /// - Parameters:
    ///   - tokens: the spelling of every id, in the byte-level alphabet (`tokenizer.ggml.tokens`).
    ///   - merges: merge rules `"left right"`, highest priority first (`tokenizer.ggml.merges`).
    ///   - tokenTypes: GGUF token types (`tokenizer.ggml.token_type`); `nil` means all normal.
    ///     Control (3) and user-defined (4) tokens are matched whole before pre-tokenization
    ///     when `parseSpecialTokens` is true; control tokens are dropped by
    ///     `decode(_:skipSpecialTokens: true)`.
    ///   - preTokenizer: the pre-tokenizer (from `tokenizer.ggml.pre`). Llama 3 also enables
    ///     llama.cpp's `ignore_merges` (a word that is a token is emitted whole).
    ///   - specialTokens: extra spellings to treat as control tokens.
    /// - Throws: ``TokenizerError`` for an empty vocabulary, mismatched or invalid types, or an
    ///   unknown special token. Bytes without a single-byte token (SmolLM2 lacks 0x04, for
    ///   one) are dropped when encoding, as Hugging Face does for a BPE model without `unk`.
    public convenience init(tokens: [String], merges: [String], tokenTypes: [Int]?,
                            preTokenizer: PreTokenizerKind, specialTokens: [String]? = nil) throws {
        var types = [TokenType](repeating: .normal, count: tokens.count)
        if let tokenTypes {
            guard tokenTypes.count == tokens.count else {
                throw TokenizerError.tokenTypeCountMismatch(tokens: tokens.count, tokenTypes: tokenTypes.count)
            }
            for (id, value) in tokenTypes.enumerated() {
                guard let type = TokenType(rawValue: value) else {
                    throw TokenizerError.invalidTokenType(id: id, value: value)
                }
                types[id] = type
            }
        }
        if let specialTokens {
            for special in specialTokens {
                guard let id = tokens.firstIndex(of: special) else {
                    throw TokenizerError.unknownSpecialToken(special)
                }
                types[id] = .control
            }
        }
        try self.init(tokens: tokens, types: types, merges: merges.map(Self.splitMerge),
                      preTokenizer: preTokenizer, ignoreMerges: preTokenizer == .llama3,
                      alwaysMatched: [])
    }

    /// The designated initializer shared by the GGUF and tokenizer.json paths.
    ///
    /// - Parameter alwaysMatched: ids of added tokens matched even without special parsing.
    init(tokens: [String], types: [TokenType], merges: [(String, String)], preTokenizer: PreTokenizerKind,
         ignoreMerges: Bool, alwaysMatched: Set<Int>) throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
        var idsByToken: [String: Int] = [:]
        idsByToken.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where types[id] != .unused && idsByToken[token] == nil {
            idsByToken[token] = id
        }
        var added: [AddedToken] = []
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            switch types[id] {
            case .control, .userDefined:
                added.append(AddedToken(id: id, content: Array(token.unicodeScalars),
                                        alwaysMatched: alwaysMatched.contains(id)))
                tokenBytes.append(Array(token.utf8))
            case .unused:
                tokenBytes.append([])
            case .normal, .unknown, .byte:
                tokenBytes.append(ByteLevel.decode(token))
            }
        }
        self.tokens = tokens
        self.tokenTypes = types
        self.preTokenizerKind = preTokenizer
        self.idsByToken = idsByToken
        self.tokenBytes = tokenBytes
        self.skippedOnDecode = types.map { $0 == .control }
        self.addedTokens = AddedTokenMatcher(added)
        self.preTokenizer = preTokenizer.makePreTokenizer()
        self.model = BPEModel(idsByToken: idsByToken, merges: merges, ignoreMerges: ignoreMerges)
    }

    /// Splits a GGUF merge `"a b"` at the first space after the first character (a merge's
    /// left side may itself be a space in non-byte-level vocabularies, as llama.cpp allows).
    static func splitMerge(_ merge: String) -> (String, String) {
        let scalars = Array(merge.unicodeScalars)
        guard scalars.count > 1, let space = scalars[1...].firstIndex(of: " ") else { return (merge, "") }
        var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
        left.append(contentsOf: scalars[..<space])
        right.append(contentsOf: scalars[(space + 1)...])
        return (String(left), String(right))
    }

    // MARK: - Tokenizer

    /// The number of ids.
    public var vocabularySize: Int { tokens.count }

    /// The number of merge rules in use (merges naming unknown tokens are dropped).
    public var mergeCount: Int { model.mergeCount }

    /// The id of a vocabulary spelling such as `"Ġthe"` or `"<|im_end|>"`.
    public func id(forToken token: String) -> Int? { idsByToken[token] }

    /// The vocabulary spelling of `id` (`""` for ids the source left undefined).
    public func token(forID id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    /// `true` for control tokens (the ones `decode(_:skipSpecialTokens: true)` leaves out).
    public func isSpecial(_ id: Int) -> Bool {
        skippedOnDecode.indices.contains(id) && skippedOnDecode[id]
    }

    /// Encodes `text`: added/special tokens are split out first (leftmost, then longest
    /// match), then each stretch of text is pre-tokenized and BPE-merged. No BOS is added.
    public func encode(_ text: String, parseSpecialTokens: Bool) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        ids.reserveCapacity(scalars.count / 3 + 1)
        var pieces: [Range<Int>] = []
        let segments = addedTokens.isEmpty
            ? (scalars.isEmpty ? [] : [TextSegment.text(0..<scalars.count)])
            : addedTokens.split(scalars, includeSpecial: parseSpecialTokens)
        for segment in segments {
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                pieces.removeAll(keepingCapacity: true)
                preTokenizer.split(scalars, range, into: &pieces)
                for piece in pieces { model.encodeWord(scalars[piece], into: &ids) }
            }
        }
        return ids
    }

    /// Decodes ids to text: byte-level tokens are mapped back to bytes, added tokens are
    /// written verbatim, unknown ids are ignored and invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            bytes.append(contentsOf: self.bytes(forID: id, skipSpecialTokens: skipSpecialTokens))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes `id` contributes to decoded text (possibly part of a UTF-8 character).
    public func bytes(forID id: Int, skipSpecialTokens: Bool) -> [UInt8] {
        guard tokenBytes.indices.contains(id) else { return [] }
        if skipSpecialTokens, skippedOnDecode[id] { return [] }
        return tokenBytes[id]
    }
}
