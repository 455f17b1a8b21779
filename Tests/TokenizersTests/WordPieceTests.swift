// Golden tests of the WordPiece tokenizer against Hugging Face tokenizers on a tiny BERT
// vocabulary (scripts/fixtures/bert_fixtures.py), uncased and cased, plus odd input and
// malformed files.

import Foundation
import Testing
@testable import Tokenizers

struct WordPieceFixture: Decodable, Sendable {
    let vocabSize: Int
    let uncased: [TinyCase]
    let cased: [TinyCase]
    enum CodingKeys: String, CodingKey { case vocabSize = "vocab_size", uncased, cased }
}

@Suite struct WordPieceTests {
    static let fixture: WordPieceFixture? = try? Fixtures.decode(WordPieceFixture.self, "wordpiece_cases")
    static let uncased: WordPieceTokenizer? = try? WordPieceTokenizer(tokenizerJSON: Fixtures.data("tiny_bert.tokenizer", "json"))
    static let cased: WordPieceTokenizer? = try? WordPieceTokenizer(tokenizerJSON: Fixtures.data("tiny_bert_cased.tokenizer", "json"))
    static let fromVocabText: WordPieceTokenizer? = {
        guard let data = try? Fixtures.data("tiny_bert.vocab", "txt") else { return nil }
        return try? WordPieceTokenizer(vocabularyText: String(decoding: data, as: UTF8.self))
    }()

    @Test func fixturesLoad() throws {
        let fixture = try Fixtures.decode(WordPieceFixture.self, "wordpiece_cases")
        #expect(fixture.uncased.count >= 10 && fixture.cased.count == fixture.uncased.count)
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: Fixtures.data("tiny_bert.tokenizer", "json"))
        #expect(tokenizer.vocabularySize == fixture.vocabSize)
        #expect(Self.cased != nil && Self.fromVocabText != nil)
    }

    @Test(arguments: fixture?.uncased ?? [])
    func uncasedMatchesHuggingFace(_ c: TinyCase) throws {
        let tokenizer = try #require(Self.uncased)
        #expect(tokenizer.encode(c.text) == c.idsNoSpecial)
        #expect(tokenizer.encodeForModel(c.text, maxLength: 512).ids == c.ids)
        #expect(tokenizer.decode(c.ids) == c.decoded)
        #expect(tokenizer.decode(c.ids, skipSpecialTokens: true) == c.decodedSkipSpecial)
    }

    @Test(arguments: fixture?.cased ?? [])
    func casedMatchesHuggingFace(_ c: TinyCase) throws {
        let tokenizer = try #require(Self.cased)
        #expect(tokenizer.encode(c.text) == c.idsNoSpecial)
        #expect(tokenizer.decode(c.ids) == c.decoded)
        #expect(tokenizer.decode(c.ids, skipSpecialTokens: true) == c.decodedSkipSpecial)
    }

    /// A plain `vocab.txt` (uncased) gives the same ids as the tokenizer.json it was written from.
    @Test(arguments: fixture?.uncased ?? [])
    func vocabularyTextMatchesTokenizerJSON(_ c: TinyCase) throws {
        let tokenizer = try #require(Self.fromVocabText)
        #expect(tokenizer.encode(c.text) == c.idsNoSpecial)
    }

    @Test func truncationKeepsFramingTokens() throws {
        let tokenizer = try #require(Self.uncased)
        let text = "the cat sat on the mat"
        let full = tokenizer.encodeForModel(text, maxLength: 100)
        #expect(full.ids.count == 8 && !full.truncated && full.untruncatedLength == 8)
        let cut = tokenizer.encodeForModel(text, maxLength: 5)
        #expect(cut.ids == [tokenizer.classifierID] + full.ids[1..<4] + [tokenizer.separatorID])
        #expect(cut.truncated && cut.untruncatedLength == 8)
        #expect(tokenizer.encodeForModel(text, maxLength: 8).truncated == false)
        // Lengths too small for any text still frame it, never crash.
        for maxLength in [-3, 0, 1, 2] {
            #expect(tokenizer.encodeForModel(text, maxLength: maxLength).ids == [tokenizer.classifierID, tokenizer.separatorID])
        }
    }

    @Test func oddInputNeverCrashes() throws {
        let tokenizer = try #require(Self.uncased)
        let unk = tokenizer.unknownID
        #expect(tokenizer.encode("") == [])
        #expect(tokenizer.encode(" \t\n\u{0}\u{7}\u{200B}\u{FFFD}\u{E000}") == [])
        #expect(tokenizer.encode(String(repeating: "a", count: 101)) == [unk])
        #expect(tokenizer.encode(String(repeating: "a", count: 100)).count == 100)
        #expect(tokenizer.encode(String(repeating: "🙂", count: 5000)) == [unk])
        #expect(tokenizer.encode("\u{301}\u{301}x") == tokenizer.encode("x"))  // lone combining marks are stripped
        #expect(tokenizer.encode("[SEP]", parseSpecialTokens: false) == tokenizer.encode("[ sep ]"))
        let long = String(repeating: "the cat, ", count: 20_000)
        let encoding = tokenizer.encodeForModel(long, maxLength: 16)
        #expect(encoding.ids.count == 16 && encoding.truncated)
        #expect(tokenizer.decode([-1, 10_000, 2]) == "[CLS]")
    }

    @Test func normalizerFollowsTokenizersOrder() {
        let uncased = BertNormalizer()
        #expect(String(String.UnicodeScalarView(uncased.normalize("Ça VA? İ"))) == "ca va? i")
        let lowerOnly = BertNormalizer(stripAccents: false, lowercase: true)
        #expect(String(String.UnicodeScalarView(lowerOnly.normalize("İ"))) == "i\u{307}")
        #expect(String(String.UnicodeScalarView(uncased.normalize("中a"))) == " 中 a")
        #expect(BertPreTokenizer.isPunctuation("$") && BertPreTokenizer.isPunctuation("—") && !BertPreTokenizer.isPunctuation("a"))
    }

    @Test func malformedFilesAreClearErrors() throws {
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSON: Data("{".utf8)) }
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSON: Data("{}".utf8)) }
        var json = try #require(try JSONSerialization.jsonObject(with: Fixtures.data("tiny_bert.tokenizer", "json")) as? [String: Any])
        func build(_ edit: (inout [String: Any]) -> Void) throws -> WordPieceTokenizer {
            var copy = json
            edit(&copy)
            return try WordPieceTokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: copy))
        }
        #expect(throws: TokenizerError.unsupportedModel("BPE")) {
            try build { j in
                var model = j["model"] as? [String: Any] ?? [:]
                model["type"] = "BPE"
                j["model"] = model
            }
        }
        #expect(throws: TokenizerError.unsupportedNormalizer("NFKC")) { try build { $0["normalizer"] = ["type": "NFKC"] } }
        #expect(throws: TokenizerError.unsupportedPreTokenizer("Whitespace")) { try build { $0["pre_tokenizer"] = ["type": "Whitespace"] } }
        #expect(throws: TokenizerError.unknownSpecialToken("[NOPE]")) {
            try build { j in
                var model = j["model"] as? [String: Any] ?? [:]
                model["unk_token"] = "[NOPE]"
                j["model"] = model
            }
        }
        #expect(throws: TokenizerError.emptyVocabulary) {
            try build { j in
                j["model"] = ["type": "WordPiece", "vocab": [String: Int]()]
                j["added_tokens"] = []
            }
        }
        json["post_processor"] = ["type": "RobertaProcessing"]
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: json)) }
        #expect(throws: TokenizerError.unknownSpecialToken("[CLS]")) { try WordPieceTokenizer(vocabularyText: "[UNK]\n[SEP]\na\n") }
        #expect(throws: TokenizerError.emptyVocabulary) { try WordPieceTokenizer(vocabularyText: "") }
    }
}
