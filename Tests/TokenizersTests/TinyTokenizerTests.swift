// Golden tests: the tiny BPE tokenizers trained by the fixture script must give exactly the
// ids Hugging Face tokenizers gives, through both construction paths.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct TinyTokenizerTests {
    /// One tokenizer per kind and construction path, built once.
    static let fromJSON: [PreTokenizerKind: BPETokenizer] = {
        var map: [PreTokenizerKind: BPETokenizer] = [:]
        for kind in PreTokenizerKind.allCases { map[kind] = try? Fixtures.tinyTokenizer(kind) }
        return map
    }()

    static let fromGGUFStyle: [PreTokenizerKind: BPETokenizer] = {
        var map: [PreTokenizerKind: BPETokenizer] = [:]
        for kind in PreTokenizerKind.allCases { map[kind] = try? ggufStyleTokenizer(kind) }
        return map
    }()

    /// Rebuilds a tiny tokenizer the way GGUF metadata describes it: a token list, merges as
    /// "a b" strings and token types (added tokens → control).
    static func ggufStyleTokenizer(_ kind: PreTokenizerKind) throws -> BPETokenizer {
        struct Raw: Decodable {
            struct Model: Decodable { let vocab: [String: Int]; let merges: [Merge] }
            struct Merge: Decodable {
                let text: String
                init(from decoder: any Decoder) throws {
                    let container = try decoder.singleValueContainer()
                    if let pair = try? container.decode([String].self) {
                        text = pair.joined(separator: " ")
                    } else {
                        text = try container.decode(String.self)
                    }
                }
            }
            struct Added: Decodable { let id: Int; let content: String }
            let model: Model
            let added_tokens: [Added]
        }
        let raw = try JSONDecoder().decode(Raw.self, from: Fixtures.data("tiny_\(kind.rawValue).tokenizer", "json"))
        var tokens = [String](repeating: "", count: raw.model.vocab.count)
        for (token, id) in raw.model.vocab { tokens[id] = token }
        var types = [Int](repeating: TokenType.normal.rawValue, count: tokens.count)
        for added in raw.added_tokens { types[added.id] = TokenType.control.rawValue }
        return try BPETokenizer(tokens: tokens, merges: raw.model.merges.map(\.text), tokenTypes: types,
                                preTokenizer: kind)
    }

    @Test(arguments: PreTokenizerKind.allCases)
    func loadsWithExpectedShape(_ kind: PreTokenizerKind) throws {
        let tokenizer = try Fixtures.tinyTokenizer(kind)
        let fixture = try #require(try Fixtures.tinyCases()[kind.rawValue])
        #expect(tokenizer.vocabularySize == fixture.vocabSize)
        #expect(tokenizer.preTokenizerKind == kind)
        #expect(tokenizer.id(forToken: "Ġ") != nil)
        let special = kind == .llama3 ? "<|eot_id|>" : "<|endoftext|>"
        let id = try #require(tokenizer.id(forToken: special))
        #expect(tokenizer.token(forID: id) == special)
        #expect(tokenizer.isSpecial(id))
        #expect(tokenizer.token(forID: tokenizer.vocabularySize) == nil)
    }

    @Test(arguments: Fixtures.tinyArguments)
    func idsMatchHuggingFace(_ kind: PreTokenizerKind, _ sample: TinyCase) throws {
        let tokenizer = try #require(Self.fromJSON[kind])
        #expect(tokenizer.encode(sample.text, parseSpecialTokens: true) == sample.ids)
        #expect(tokenizer.encode(sample.text, parseSpecialTokens: false) == sample.idsNoSpecial)
    }

    @Test(arguments: Fixtures.tinyArguments)
    func ggufStyleConstructionMatches(_ kind: PreTokenizerKind, _ sample: TinyCase) throws {
        let tokenizer = try #require(Self.fromGGUFStyle[kind])
        #expect(tokenizer.encode(sample.text, parseSpecialTokens: true) == sample.ids)
        #expect(tokenizer.encode(sample.text, parseSpecialTokens: false) == sample.idsNoSpecial)
    }

    @Test(arguments: Fixtures.tinyArguments)
    func decodeMatchesHuggingFace(_ kind: PreTokenizerKind, _ sample: TinyCase) throws {
        let tokenizer = try #require(Self.fromJSON[kind])
        #expect(tokenizer.decode(sample.ids, skipSpecialTokens: false) == sample.decoded)
        #expect(tokenizer.decode(sample.ids, skipSpecialTokens: true) == sample.decodedSkipSpecial)
        // Byte-level BPE is lossless.
        #expect(tokenizer.decode(sample.idsNoSpecial, skipSpecialTokens: true) == sample.text)
    }

    @Test func specialTokenParsingOnAndOff() throws {
        let tokenizer = try Fixtures.tinyTokenizer(.smollm)
        let start = try #require(tokenizer.id(forToken: "<|im_start|>"))
        let end = try #require(tokenizer.id(forToken: "<|im_end|>"))
        let parsed = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", parseSpecialTokens: true)
        #expect(parsed.first == start && parsed.last == end)
        let plain = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", parseSpecialTokens: false)
        #expect(!plain.contains(start) && !plain.contains(end))
        #expect(tokenizer.decode(plain, skipSpecialTokens: true) == "<|im_start|>user\nhi<|im_end|>")
        #expect(tokenizer.decode(parsed, skipSpecialTokens: true) == "user\nhi")
        // A partial marker is ordinary text.
        #expect(!tokenizer.encode("<|im_sta", parseSpecialTokens: true).contains(start))
    }

    @Test func concurrentEncodingAgrees() async throws {
        let tokenizer = try Fixtures.tinyTokenizer(.llama3)
        let fixture = try #require(try Fixtures.tinyCases()["llama3"])
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    fixture.cases.allSatisfy { tokenizer.encode($0.text, parseSpecialTokens: true) == $0.ids }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test func invalidInputsThrow() {
        #expect(throws: TokenizerError.emptyVocabulary) {
            try BPETokenizer(tokens: [], merges: [], tokenTypes: nil, preTokenizer: .gpt2)
        }
        #expect(throws: TokenizerError.tokenTypeCountMismatch(tokens: 1, tokenTypes: 2)) {
            try BPETokenizer(tokens: ["a"], merges: [], tokenTypes: [1, 1], preTokenizer: .gpt2)
        }
        #expect(throws: TokenizerError.invalidTokenType(id: 0, value: 9)) {
            try BPETokenizer(tokens: ["a"], merges: [], tokenTypes: [9], preTokenizer: .gpt2)
        }
        #expect(throws: TokenizerError.unknownSpecialToken("<x>")) {
            try BPETokenizer(tokens: ["a"], merges: [], tokenTypes: nil, preTokenizer: .gpt2, specialTokens: ["<x>"])
        }
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokenizerJSON: Data("{}".utf8)) }
        let wordPiece = #"{"model":{"type":"WordPiece","vocab":{"a":0}},"pre_tokenizer":{"type":"ByteLevel"}}"#
        #expect(throws: TokenizerError.unsupportedModel("WordPiece")) {
            try BPETokenizer(tokenizerJSON: Data(wordPiece.utf8))
        }
        let whitespace = #"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Whitespace"}}"#
        #expect(throws: TokenizerError.unsupportedPreTokenizer("sequence [\"Whitespace\"]")) {
            try BPETokenizer(tokenizerJSON: Data(whitespace.utf8))
        }
    }

    @Test func unknownIDsDecodeToNothing() throws {
        let tokenizer = try Fixtures.tinyTokenizer(.gpt2)
        #expect(tokenizer.decode([-1, 1_000_000], skipSpecialTokens: false) == "")
    }

    /// Long inputs round-trip. (Their speed was a timed release-only check; timing belongs to
    /// benchmarks, and the real tokenizer's cost shows in `fedguard bench generate` and `bench train`.)
    @Test func encodesTenKilobytesAndALongWord() throws {
        let tokenizer = try Fixtures.tinyTokenizer(.smollm)
        let paragraph = "Federated LoRA fine-tuning, 2024: café, 東京, 😀👍🏽 — it's fast!\n\tdef f(x): return x * 42  \n"
        let text = String(repeating: paragraph, count: 10_240 / paragraph.utf8.count + 1)
        // A single 10 KB "word" exercises the heap merge rather than the cache.
        let word = String(repeating: "ab", count: 5_000)
        let ids = tokenizer.encode(text, parseSpecialTokens: true) + tokenizer.encode(word, parseSpecialTokens: true)
        #expect(tokenizer.decode(ids, skipSpecialTokens: false) == text + word)
    }
}
