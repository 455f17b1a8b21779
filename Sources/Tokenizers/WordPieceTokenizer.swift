// BERT's WordPiece tokenizer: BertNormalizer, BertPreTokenizer, then greedy longest-match-first
// subwords with a `##` continuation prefix; [CLS] ... [SEP] framing and truncation for models.
// reference: Wu et al. 2016, "Google's Neural Machine Translation System" (WordPiece); Hugging
// Face tokenizers models/wordpiece and decoders/wordpiece (behaviour, not code).

import Foundation

/// The ids a BERT model reads for one text, with the framing tokens.
public struct WordPieceEncoding: Sendable, Equatable {
    /// `[CLS]`, the text's tokens (possibly truncated), `[SEP]`.
    public let ids: [Int]
    /// `true` when tokens of the text were dropped to fit the maximum length.
    public let truncated: Bool
    /// The length `ids` would have had without truncation (tokens + 2).
    public let untruncatedLength: Int
}

/// A BERT WordPiece tokenizer (e.g. `bert-base-uncased`, `all-MiniLM-L6-v2`).
///
/// Matches Hugging Face tokenizers on the same `tokenizer.json`: added tokens (`[CLS]`, `[SEP]`,
/// ...) are found in the raw text first, the rest is normalized, split into words, and each word
/// becomes the longest vocabulary prefixes in turn, later pieces spelt with `##`. A word longer
/// than ``maxInputCharsPerWord`` scalars, or with any piece missing from the vocabulary, becomes
/// the single unknown token. Vocabulary lookups compare UTF-8 bytes (not Swift's canonical
/// equivalence), as the Rust implementation does.
///
/// Immutable after `init`, so one instance may be shared across tasks.
public final class WordPieceTokenizer: Tokenizer {
    /// The normalizer applied before splitting into words.
    public let normalizer: BertNormalizer
    /// Words longer than this (in Unicode scalars, after normalization) become ``unknownID``.
    public let maxInputCharsPerWord: Int
    /// The spelling that marks a word-continuing piece (`##`).
    public let continuingPrefix: String
    /// The unknown token's id.
    public let unknownID: Int
    /// The id put first by ``encodeForModel(_:maxLength:)`` (`[CLS]`).
    public let classifierID: Int
    /// The id put last by ``encodeForModel(_:maxLength:)`` (`[SEP]`).
    public let separatorID: Int

    private let tokens: [String]
    private let types: [TokenType]
    /// Every token by UTF-8 spelling (word-initial pieces are looked up here).
    private let initialPieces: [[UInt8]: Int]
    /// Continuing pieces by UTF-8 spelling without the prefix.
    private let continuingPieces: [[UInt8]: Int]
    /// Longest piece in scalars, which bounds the match search.
    private let longestPiece: Int
    private let addedTokens: AddedTokenMatcher
    private let cleanupDecoding: Bool

    /// Builds a tokenizer from a vocabulary indexed by id.
    ///
    /// - Parameters:
    ///   - vocabulary: token spellings; index = id. A spelling listed twice keeps its last id,
    ///     as in Hugging Face's `vocab.txt` loader.
    ///   - specialTokens: spellings matched as whole tokens in raw text (when parsing special
    ///     tokens) and skippable when decoding; each must be in `vocabulary`.
    ///   - unknownToken, classifierToken, separatorToken: must be in `vocabulary`.
    ///   - cleanupDecoding: remove the space before `.`, `?`, `!` and `,` when decoding.
    /// - Throws: ``TokenizerError``.
    public convenience init(vocabulary: [String], normalizer: BertNormalizer = BertNormalizer(),
                            specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                            unknownToken: String = "[UNK]", classifierToken: String = "[CLS]",
                            separatorToken: String = "[SEP]", continuingPrefix: String = "##",
                            maxInputCharsPerWord: Int = 100, cleanupDecoding: Bool = true) throws {
        guard !vocabulary.isEmpty else { throw TokenizerError.emptyVocabulary }
        var lastID: [String: Int] = [:]
        for (id, token) in vocabulary.enumerated() { lastID[token] = id }
        func lookup(_ token: String) throws -> Int {
            guard let id = lastID[token], vocabulary[id].utf8.elementsEqual(token.utf8) else {
                throw TokenizerError.unknownSpecialToken(token)
            }
            return id
        }
        try self.init(vocabulary: vocabulary, normalizer: normalizer,
                      added: try specialTokens.map { (id: try lookup($0), special: true) },
                      unknownID: try lookup(unknownToken), classifierID: try lookup(classifierToken),
                      separatorID: try lookup(separatorToken), continuingPrefix: continuingPrefix,
                      maxInputCharsPerWord: maxInputCharsPerWord, cleanupDecoding: cleanupDecoding)
    }

    /// The designated initializer; `added` lists added tokens by id (`special: false` ones are
    /// matched in text even when special-token parsing is off, and always decoded).
    init(vocabulary: [String], normalizer: BertNormalizer, added: [(id: Int, special: Bool)], unknownID: Int,
         classifierID: Int, separatorID: Int, continuingPrefix: String, maxInputCharsPerWord: Int,
         cleanupDecoding: Bool) throws {
        guard !vocabulary.isEmpty else { throw TokenizerError.emptyVocabulary }
        var initial: [[UInt8]: Int] = [:], continuing: [[UInt8]: Int] = [:]
        var longest = 1
        let prefixBytes = Array(continuingPrefix.utf8)
        for (id, token) in vocabulary.enumerated() {
            let bytes = Array(token.utf8)
            if !prefixBytes.isEmpty, bytes.starts(with: prefixBytes) {
                continuing[Array(bytes.dropFirst(prefixBytes.count))] = id
            }
            initial[bytes] = id
            longest = max(longest, token.unicodeScalars.count)
        }
        var types = [TokenType](repeating: .normal, count: vocabulary.count)
        var matched: [AddedToken] = []
        for (id, special) in added {
            guard vocabulary.indices.contains(id) else {
                throw TokenizerError.invalidJSON("added token id \(id) is outside the vocabulary of \(vocabulary.count)")
            }
            types[id] = special ? .control : .userDefined
            matched.append(AddedToken(id: id, content: Array(vocabulary[id].unicodeScalars), alwaysMatched: !special))
        }
        for id in [unknownID, classifierID, separatorID] where !vocabulary.indices.contains(id) {
            throw TokenizerError.invalidJSON("special token id \(id) is outside the vocabulary of \(vocabulary.count)")
        }
        if types[unknownID] == .normal { types[unknownID] = .unknown }
        self.unknownID = unknownID
        self.classifierID = classifierID
        self.separatorID = separatorID
        self.normalizer = normalizer
        self.maxInputCharsPerWord = max(0, maxInputCharsPerWord)
        self.continuingPrefix = continuingPrefix
        self.cleanupDecoding = cleanupDecoding
        tokens = vocabulary
        self.types = types
        initialPieces = initial
        continuingPieces = continuing
        longestPiece = longest
        addedTokens = AddedTokenMatcher(matched)
    }

    /// Builds an uncased tokenizer from a BERT `vocab.txt` (one token per line, line number = id):
    /// lowercasing and accent stripping, the usual special tokens (those present among `[PAD]`,
    /// `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`; the middle three are required).
    /// - Parameter lowercase: `false` for a cased vocabulary (no lowercasing, no accent stripping).
    /// - Throws: ``TokenizerError``.
    public convenience init(vocabularyText: String, lowercase: Bool = true) throws {
        var lines = vocabularyText.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if lines.last == "" { lines.removeLast() }
        let present = Set(lines)
        try self.init(vocabulary: lines, normalizer: BertNormalizer(lowercase: lowercase),
                      specialTokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter { present.contains($0) })
    }

    // MARK: - Encoding

    /// Encodes `text` into WordPiece ids without `[CLS]`/`[SEP]`.
    ///
    /// - Parameter parseSpecialTokens: when `true` (Hugging Face's behaviour), special-token
    ///   spellings in the text such as `[SEP]` become their ids; when `false` they are ordinary text.
    public func encode(_ text: String, parseSpecialTokens: Bool) -> [Int] {
        let raw = Array(text.unicodeScalars)
        var ids: [Int] = []
        for segment in addedTokens.split(raw, includeSpecial: parseSpecialTokens) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let normalized = normalizer.normalize(scalars: raw[range])
                for word in BertPreTokenizer.split(normalized, in: normalized.indices) {
                    appendPieces(of: normalized[word], to: &ids)
                }
            }
        }
        return ids
    }

    /// Encodes `text` for a BERT model: `[CLS]`, the text's ids, `[SEP]`, keeping at most
    /// `maxLength` ids in all (the text's last tokens are dropped; `[CLS]` and `[SEP]` stay).
    /// Special-token spellings in the text are parsed, as Hugging Face does.
    /// - Parameter maxLength: at least 2 is used, room for the framing tokens.
    public func encodeForModel(_ text: String, maxLength: Int) -> WordPieceEncoding {
        let body = encode(text, parseSpecialTokens: true)
        let room = max(maxLength, 2) - 2
        let kept = body.count > room ? body[..<room] : body[...]
        return WordPieceEncoding(ids: [classifierID] + kept + [separatorID], truncated: kept.count < body.count,
                                 untruncatedLength: body.count + 2)
    }

    /// Appends the pieces of one word: greedy longest match from the left, all or nothing.
    private func appendPieces(of word: ArraySlice<Unicode.Scalar>, to ids: inout [Int]) {
        guard word.count <= maxInputCharsPerWord else {
            ids.append(unknownID)
            return
        }
        // offsets[i] = UTF-8 offset of scalar i (and of the end, at word.count).
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        for scalar in word {
            if let encoded = UTF8.encode(scalar) { bytes.append(contentsOf: encoded) }
            offsets.append(bytes.count)
        }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            let table = start == 0 ? initialPieces : continuingPieces
            var end = min(word.count, start + longestPiece)
            var found: Int?
            while end > start {
                if let id = table[Array(bytes[offsets[start]..<offsets[end]])] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.append(unknownID)
                return
            }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }

    // MARK: - Decoding and vocabulary

    /// Joins tokens with spaces, gluing `##` pieces to the previous one; with cleanup, removes the
    /// space before `.`, `?`, `!` and `,` tokens (tokenizers' WordPiece decoder, token by token).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var out = ""
        var first = true
        for id in ids {
            guard let token = token(forID: id) else { continue }
            if skipSpecialTokens && types[id] == .control { continue }
            var piece: String
            if !first && token.hasPrefix(continuingPrefix) {
                piece = String(token.dropFirst(continuingPrefix.count))
            } else {
                piece = first ? token : " " + token
            }
            if cleanupDecoding { piece = Self.cleanup(piece) }
            out += piece
            first = false
        }
        return out
    }

    private static func cleanup(_ piece: String) -> String {
        var piece = piece
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]
        where piece.contains(from) {
            piece = piece.replacingOccurrences(of: from, with: to)
        }
        return piece
    }

    /// The id of a vocabulary spelling (`"##ing"` for a continuing piece).
    public func id(forToken token: String) -> Int? {
        initialPieces[Array(token.utf8)]
    }

    /// The spelling of `id`, or `nil` when out of range.
    public func token(forID id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    /// The number of ids.
    public var vocabularySize: Int { tokens.count }
}
