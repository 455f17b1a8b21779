// Reading a Hugging Face `tokenizer.json` with a WordPiece model (BERT family) into a
// WordPieceTokenizer. Parts this module does not implement are rejected, never ignored, except
// the file's own `truncation`/`padding` settings (callers choose a maximum length instead).

import Foundation

/// The subset of `tokenizer.json` that a BERT WordPiece tokenizer needs.
struct WordPieceJSON: Decodable {
    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]
        let unkToken: String
        let continuingSubwordPrefix: String
        let maxInputCharsPerWord: Int

        enum CodingKeys: String, CodingKey {
            case type, vocab
            case unkToken = "unk_token", continuingSubwordPrefix = "continuing_subword_prefix"
            case maxInputCharsPerWord = "max_input_chars_per_word"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decodeIfPresent(String.self, forKey: .type)
            vocab = try c.decode([String: Int].self, forKey: .vocab)
            unkToken = try c.decodeIfPresent(String.self, forKey: .unkToken) ?? "[UNK]"
            continuingSubwordPrefix = try c.decodeIfPresent(String.self, forKey: .continuingSubwordPrefix) ?? "##"
            maxInputCharsPerWord = try c.decodeIfPresent(Int.self, forKey: .maxInputCharsPerWord) ?? 100
        }
    }

    struct Normalizer: Decodable {
        let type: String
        let cleanText: Bool
        let handleChineseChars: Bool
        let stripAccents: Bool?
        let lowercase: Bool

        enum CodingKeys: String, CodingKey {
            case type, lowercase
            case cleanText = "clean_text", handleChineseChars = "handle_chinese_chars", stripAccents = "strip_accents"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decode(String.self, forKey: .type)
            cleanText = try c.decodeIfPresent(Bool.self, forKey: .cleanText) ?? true
            handleChineseChars = try c.decodeIfPresent(Bool.self, forKey: .handleChineseChars) ?? true
            stripAccents = try c.decodeIfPresent(Bool.self, forKey: .stripAccents)
            lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase) ?? true
        }
    }

    struct Typed: Decodable { let type: String }

    /// `TemplateProcessing` (`single` = [SpecialToken, Sequence, SpecialToken]) or `BertProcessing`
    /// (`cls`/`sep` as [token, id] pairs).
    struct PostProcessor: Decodable {
        let type: String
        let framing: (first: String, last: String)?

        enum CodingKeys: String, CodingKey { case type, single, cls, sep }
        struct Piece: Decodable {
            struct Special: Decodable { let id: String }
            let SpecialToken: Special?
        }
        enum Element: Decodable {
            case string(String), int(Int)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .string(s) } else { self = .int(try c.decode(Int.self)) }
            }
            var string: String? { if case .string(let s) = self { s } else { nil } }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decode(String.self, forKey: .type)
            switch type {
            case "TemplateProcessing":
                let single = try c.decodeIfPresent([Piece].self, forKey: .single) ?? []
                if single.count == 3, let first = single[0].SpecialToken?.id, single[1].SpecialToken == nil,
                   let last = single[2].SpecialToken?.id {
                    framing = (first, last)
                } else {
                    framing = nil
                }
            case "BertProcessing":
                let cls = try c.decode([Element].self, forKey: .cls), sep = try c.decode([Element].self, forKey: .sep)
                if let first = cls.first?.string, let last = sep.first?.string { framing = (first, last) } else { framing = nil }
            default:
                framing = nil
            }
        }
    }

    struct DecoderNode: Decodable {
        let type: String
        let cleanup: Bool?
    }

    let model: Model
    let addedTokens: [TokenizerJSON.AddedTokenEntry]
    let normalizer: Normalizer?
    let preTokenizer: Typed?
    let postProcessor: PostProcessor?
    let decoder: DecoderNode?

    enum CodingKeys: String, CodingKey {
        case model, normalizer, decoder
        case addedTokens = "added_tokens", preTokenizer = "pre_tokenizer", postProcessor = "post_processor"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(Model.self, forKey: .model)
        addedTokens = try c.decodeIfPresent([TokenizerJSON.AddedTokenEntry].self, forKey: .addedTokens) ?? []
        normalizer = try c.decodeIfPresent(Normalizer.self, forKey: .normalizer)
        preTokenizer = try c.decodeIfPresent(Typed.self, forKey: .preTokenizer)
        postProcessor = try c.decodeIfPresent(PostProcessor.self, forKey: .postProcessor)
        self.decoder = try c.decodeIfPresent(DecoderNode.self, forKey: .decoder)
    }
}

extension WordPieceTokenizer {
    /// Builds a tokenizer from a Hugging Face `tokenizer.json` whose model is `WordPiece`.
    ///
    /// Reads `model` (`vocab`, `unk_token`, `continuing_subword_prefix`,
    /// `max_input_chars_per_word`), `added_tokens` (`special: true` → control tokens),
    /// `normalizer` (`BertNormalizer` or none), `pre_tokenizer` (must be `BertPreTokenizer`),
    /// `post_processor` (`TemplateProcessing` [CLS] $A [SEP], `BertProcessing`, or none: then
    /// `[CLS]`/`[SEP]` from the vocabulary) and the `WordPiece` decoder's `cleanup`. The file's
    /// `truncation` and `padding` are ignored: ``encodeForModel(_:maxLength:)`` takes the length.
    /// - Throws: ``TokenizerError``.
    public convenience init(tokenizerJSON: Data) throws {
        let config: WordPieceJSON
        do {
            config = try JSONDecoder().decode(WordPieceJSON.self, from: tokenizerJSON)
        } catch {
            throw TokenizerError.invalidJSON(String(describing: error))
        }
        if let type = config.model.type, type != "WordPiece" { throw TokenizerError.unsupportedModel(type) }
        guard let pre = config.preTokenizer, pre.type == "BertPreTokenizer" else {
            throw TokenizerError.unsupportedPreTokenizer(config.preTokenizer?.type ?? "none (BertPreTokenizer expected)")
        }
        var normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        if let n = config.normalizer {
            guard n.type == "BertNormalizer" else { throw TokenizerError.unsupportedNormalizer(n.type) }
            normalizer = BertNormalizer(cleanText: n.cleanText, handleChineseChars: n.handleChineseChars,
                                        stripAccents: n.stripAccents, lowercase: n.lowercase)
        }

        let maxID = max(config.model.vocab.values.max() ?? -1, config.addedTokens.map(\.id).max() ?? -1)
        guard maxID >= 0 else { throw TokenizerError.emptyVocabulary }
        try TokenizerError.checkIDRange(maxID: maxID, entries: config.model.vocab.count + config.addedTokens.count)
        var tokens = [String?](repeating: nil, count: maxID + 1)
        for (token, id) in config.model.vocab {
            guard id >= 0 else { throw TokenizerError.invalidJSON("negative id \(id) for \(token.debugDescription)") }
            if let existing = tokens[id], existing != token {
                throw TokenizerError.conflictingID(id: id, first: existing, second: token)
            }
            tokens[id] = token
        }
        for added in config.addedTokens {
            guard added.id >= 0 else { throw TokenizerError.invalidJSON("negative added-token id \(added.id)") }
            if let existing = tokens[added.id], existing != added.content {
                throw TokenizerError.conflictingID(id: added.id, first: existing, second: added.content)
            }
            tokens[added.id] = added.content
        }
        let vocabulary = tokens.map { $0 ?? "" }
        func id(_ token: String) throws -> Int {
            if let added = config.addedTokens.first(where: { $0.content == token }) { return added.id }
            guard let id = config.model.vocab[token] else { throw TokenizerError.unknownSpecialToken(token) }
            return id
        }
        var framing = ("[CLS]", "[SEP]")
        if let post = config.postProcessor {
            guard let f = post.framing else {
                throw TokenizerError.unsupportedPostProcessor("\(post.type) (expected [CLS] $A [SEP])")
            }
            framing = f
        }
        if let d = config.decoder, d.type != "WordPiece" { throw TokenizerError.unsupportedDecoder(d.type) }
        try self.init(vocabulary: vocabulary, normalizer: normalizer,
                      added: config.addedTokens.map { (id: $0.id, special: $0.special) },
                      unknownID: try id(config.model.unkToken), classifierID: try id(framing.0),
                      separatorID: try id(framing.1), continuingPrefix: config.model.continuingSubwordPrefix,
                      maxInputCharsPerWord: config.model.maxInputCharsPerWord,
                      cleanupDecoding: config.decoder?.cleanup ?? true)
    }
}
