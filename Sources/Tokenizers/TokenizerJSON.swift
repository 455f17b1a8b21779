// Reading a Hugging Face `tokenizer.json` (BPE model, added tokens, pre-tokenizer) into a
// BPETokenizer. Only the fields byte-level BPE needs are decoded; the pre-tokenizer tree is
// matched against the three shapes this module implements.

import Foundation

/// The subset of Hugging Face's `tokenizer.json` that byte-level BPE needs.
struct TokenizerJSON: Decodable {
    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]
        let merges: [MergeRule]
        let ignoreMerges: Bool

        enum CodingKeys: String, CodingKey { case type, vocab, merges, ignoreMerges = "ignore_merges" }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            vocab = try container.decode([String: Int].self, forKey: .vocab)
            merges = try container.decodeIfPresent([MergeRule].self, forKey: .merges) ?? []
            ignoreMerges = try container.decodeIfPresent(Bool.self, forKey: .ignoreMerges) ?? false
        }
    }

    /// A merge written either as `"a b"` (older files) or `["a", "b"]` (tokenizers ≥ 0.20).
    struct MergeRule: Decodable {
        let left: String
        let right: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                (left, right) = BPETokenizer.splitMerge(text)
            } else {
                let pair = try container.decode([String].self)
                guard pair.count == 2 else {
                    throw DecodingError.dataCorruptedError(in: container,
                        debugDescription: "merge has \(pair.count) parts, expected 2")
                }
                (left, right) = (pair[0], pair[1])
            }
        }
    }

    struct AddedTokenEntry: Decodable {
        let id: Int
        let content: String
        let special: Bool
    }

    /// A node of the `pre_tokenizer` tree.
    struct PreTokenizerNode: Decodable {
        let type: String
        let pretokenizers: [PreTokenizerNode]
        let individualDigits: Bool
        let useRegex: Bool
        let regex: String?

        enum CodingKeys: String, CodingKey {
            case type, pretokenizers, pattern
            case individualDigits = "individual_digits", useRegex = "use_regex"
        }
        enum PatternKeys: String, CodingKey { case regex = "Regex", string = "String" }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            pretokenizers = try container.decodeIfPresent([PreTokenizerNode].self, forKey: .pretokenizers) ?? []
            individualDigits = try container.decodeIfPresent(Bool.self, forKey: .individualDigits) ?? false
            useRegex = try container.decodeIfPresent(Bool.self, forKey: .useRegex) ?? true
            if container.contains(.pattern) {
                let pattern = try container.nestedContainer(keyedBy: PatternKeys.self, forKey: .pattern)
                regex = try pattern.decodeIfPresent(String.self, forKey: .regex)
            } else {
                regex = nil
            }
        }

        /// The leaves of the tree, in application order.
        var steps: [PreTokenizerNode] {
            type == "Sequence" ? pretokenizers.flatMap(\.steps) : [self]
        }
    }

    let model: Model
    let addedTokens: [AddedTokenEntry]
    let preTokenizer: PreTokenizerNode?

    enum CodingKeys: String, CodingKey { case model, addedTokens = "added_tokens", preTokenizer = "pre_tokenizer" }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(Model.self, forKey: .model)
        addedTokens = try container.decodeIfPresent([AddedTokenEntry].self, forKey: .addedTokens) ?? []
        preTokenizer = try container.decodeIfPresent(PreTokenizerNode.self, forKey: .preTokenizer)
    }

    /// Recognises the pre-tokenizer tree: a Split on the Llama 3 or Qwen2 regex, Digits(individual) then
    /// ByteLevel (SmolLM), or a ByteLevel that applies the GPT-2 regex.
    func preTokenizerKind() throws -> PreTokenizerKind {
        guard let preTokenizer else { throw TokenizerError.unsupportedPreTokenizer("tokenizer.json has none") }
        let steps = preTokenizer.steps
        let types = steps.map(\.type)
        if let split = steps.first(where: { $0.type == "Split" }) {
            guard let regex = split.regex, regex.contains(#"[^\r\n\p{L}\p{N}]?\p{L}+"#),
                  types == ["Split", "ByteLevel"], steps[1].useRegex == false else {
                throw TokenizerError.unsupportedPreTokenizer("Split pattern \(split.regex ?? "(not a regex)") in \(types)")
            }
            if regex.contains(#"\p{N}{1,3}"#) { return .llama3 }
            if regex.contains(#"|\p{N}|"#) { return .qwen2 }
            throw TokenizerError.unsupportedPreTokenizer("Split pattern \(regex) in \(types)")
        }
        if types == ["Digits", "ByteLevel"], steps[0].individualDigits, steps[1].useRegex { return .smollm }
        if types == ["ByteLevel"], steps[0].useRegex { return .gpt2 }
        throw TokenizerError.unsupportedPreTokenizer("sequence \(types)")
    }
}

extension BPETokenizer {
    /// Builds a tokenizer from a Hugging Face `tokenizer.json`.
    ///
    /// Reads `model` (type `BPE`: `vocab`, `merges` as `"a b"` strings or pairs,
    /// `ignore_merges`), `added_tokens` (`special: true` → control tokens, matched only when
    /// parsing special tokens and skippable when decoding; `special: false` → always matched,
    /// always decoded) and `pre_tokenizer`, which must be one of the shapes of
    /// ``PreTokenizerKind``. Normalizers, post-processors and added-token `lstrip`/`rstrip`
    /// flags are ignored.
    /// - Throws: ``TokenizerError``.
    public convenience init(tokenizerJSON: Data) throws {
        let config: TokenizerJSON
        do {
            config = try JSONDecoder().decode(TokenizerJSON.self, from: tokenizerJSON)
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.invalidJSON(String(describing: error))
        }
        if let type = config.model.type, type != "BPE" { throw TokenizerError.unsupportedModel(type) }
        let kind = try config.preTokenizerKind()

        let maxID = max(config.model.vocab.values.max() ?? -1, config.addedTokens.map(\.id).max() ?? -1)
        guard maxID >= 0 else { throw TokenizerError.emptyVocabulary }
        try TokenizerError.checkIDRange(maxID: maxID, entries: config.model.vocab.count + config.addedTokens.count)
        var tokens = [String?](repeating: nil, count: maxID + 1)
        var types = [TokenType](repeating: .unused, count: maxID + 1)
        for (token, id) in config.model.vocab {
            guard id >= 0 else { throw TokenizerError.invalidJSON("negative id \(id) for \(token.debugDescription)") }
            if let existing = tokens[id], existing != token {
                throw TokenizerError.conflictingID(id: id, first: existing, second: token)
            }
            tokens[id] = token
            types[id] = .normal
        }
        var alwaysMatched: Set<Int> = []
        for added in config.addedTokens {
            guard added.id >= 0 else { throw TokenizerError.invalidJSON("negative added-token id \(added.id)") }
            if let existing = tokens[added.id], existing != added.content {
                throw TokenizerError.conflictingID(id: added.id, first: existing, second: added.content)
            }
            tokens[added.id] = added.content
            types[added.id] = added.special ? .control : .userDefined
            if !added.special { alwaysMatched.insert(added.id) }
        }
        try self.init(tokens: tokens.map { $0 ?? "" }, types: types,
                      merges: config.model.merges.map { ($0.left, $0.right) }, preTokenizer: kind,
                      ignoreMerges: config.model.ignoreMerges, alwaysMatched: alwaysMatched)
    }
}
