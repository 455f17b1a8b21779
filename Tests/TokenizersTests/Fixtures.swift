// Loading the golden fixtures written by scripts/fixtures/tokenizer_fixtures.py.

import Foundation
import Testing
@testable import Tokenizers

/// One text with the ids and decoded text Hugging Face tokenizers produced for it.
struct TinyCase: Decodable, Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int]
    let idsNoSpecial: [Int]
    let decoded: String
    let decodedSkipSpecial: String

    enum CodingKeys: String, CodingKey {
        case text, ids, decoded
        case idsNoSpecial = "ids_no_special", decodedSkipSpecial = "decoded_skip_special"
    }

    var testDescription: String { text.debugDescription }
}

struct TinyFixture: Decodable, Sendable {
    let vocabSize: Int
    let cases: [TinyCase]
    enum CodingKeys: String, CodingKey { case vocabSize = "vocab_size", cases }
}

/// A conversation and its rendering by transformers' `apply_chat_template`.
struct ChatCase: Decodable, Sendable, CustomTestStringConvertible {
    let template: String
    let messages: [ChatMessage]
    let addGenerationPrompt: Bool
    let rendered: String

    enum CodingKeys: String, CodingKey {
        case template, messages, rendered, addGenerationPrompt = "add_generation_prompt"
    }

    var testDescription: String {
        "\(template) \(messages.map(\.role.rawValue)) gen=\(addGenerationPrompt)"
    }
}

/// A text and the ids the real SmolLM2 tokenizer gives it.
struct IDCase: Decodable, Sendable {
    let text: String
    let ids: [Int]
}

enum FixtureError: Error { case missing(String) }

enum Fixtures {
    static func url(_ name: String, _ ext: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures") else {
            throw FixtureError.missing("\(name).\(ext)")
        }
        return url
    }

    static func data(_ name: String, _ ext: String) throws -> Data {
        try Data(contentsOf: url(name, ext))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name, "json"))
    }

    /// The tiny tokenizer of a pre-tokenizer kind, from its tokenizer.json.
    static func tinyTokenizer(_ kind: PreTokenizerKind) throws -> BPETokenizer {
        try BPETokenizer(tokenizerJSON: data("tiny_\(kind.rawValue).tokenizer", "json"))
    }

    static func tinyCases() throws -> [String: TinyFixture] {
        try decode([String: TinyFixture].self, "tiny_cases")
    }

    /// (kind, case) pairs for parameterized tests. Loading errors surface in `fixturesLoad`.
    static let tinyArguments: [(PreTokenizerKind, TinyCase)] = {
        guard let all = try? tinyCases() else { return [] }
        return PreTokenizerKind.allCases.flatMap { kind in
            (all[kind.rawValue]?.cases ?? []).map { (kind, $0) }
        }
    }()

    static let chatCases: [ChatCase] = (try? decode([ChatCase].self, "chat_template_cases")) ?? []
}

@Test func fixturesLoad() throws {
    let all = try Fixtures.tinyCases()
    #expect(Set(all.keys) == Set(PreTokenizerKind.allCases.map(\.rawValue)))
    for fixture in all.values { #expect(fixture.cases.count >= 30) }
    #expect(Fixtures.tinyArguments.count == all.values.map(\.cases.count).reduce(0, +))
    #expect(Fixtures.chatCases.count >= 20)
}
