// The streaming decoder must never emit half a character, and must emit everything in the end.

import Testing
@testable import Tokenizers

/// A tokenizer whose every token is one byte (id = byte), to split characters anywhere.
struct ByteTokenizer: Tokenizer {
    func encode(_ text: String, parseSpecialTokens: Bool) -> [Int] { text.utf8.map(Int.init) }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }
    func id(forToken token: String) -> Int? { nil }
    func token(forID id: Int) -> String? { nil }
    var vocabularySize: Int { 256 }
    func bytes(forID id: Int, skipSpecialTokens: Bool) -> [UInt8] { [UInt8(truncatingIfNeeded: id)] }
}

@Suite struct StreamingDecoderTests {
    @Test(arguments: ["😀", "東京", "👨‍👩‍👧‍👦", "café", "a😀b東c"])
    func holdsBackPartialCharacters(_ text: String) {
        var stream = StreamingDecoder(tokenizer: ByteTokenizer())
        var outputs: [String] = []
        for byte in text.utf8 { outputs.append(stream.append(Int(byte))) }
        outputs.append(stream.flush())
        #expect(outputs.joined() == text)
        #expect(!outputs.joined().contains("\u{FFFD}"))
        // Every chunk is whole characters: re-encoding each gives back its bytes.
        #expect(outputs.flatMap { Array($0.utf8) } == Array(text.utf8))
    }

    @Test func emojiSplitAcrossTokens() {
        var stream = StreamingDecoder(tokenizer: ByteTokenizer())
        let bytes = Array("😀".utf8)   // F0 9F 98 80
        #expect(stream.append(Int(bytes[0])) == "")
        #expect(stream.append(Int(bytes[1])) == "")
        #expect(stream.append(Int(bytes[2])) == "")
        #expect(stream.append(Int(bytes[3])) == "😀")
        #expect(stream.flush() == "")
    }

    @Test func invalidAndTruncatedBytesBecomeReplacement() {
        var stream = StreamingDecoder(tokenizer: ByteTokenizer())
        #expect(stream.append(0xFF) == "\u{FFFD}")
        #expect(stream.append(0x41) == "A")
        #expect(stream.append(0xE6) == "")   // first byte of 東
        #expect(stream.flush() == "\u{FFFD}")
    }

    @Test func realTokensSplitCharacters() throws {
        let tokenizer = try Fixtures.tinyTokenizer(.gpt2)
        let text = "Emoji 😀👍🏽 family 👨‍👩‍👧‍👦 東京は日本の首都 🧑‍💻<|endoftext|>"
        let ids = tokenizer.encode(text, parseSpecialTokens: true)
        for skip in [false, true] {
            var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skip)
            var out = ""
            for id in ids {
                let chunk = stream.append(id)
                #expect(!chunk.contains("\u{FFFD}"))
                out += chunk
            }
            out += stream.flush()
            #expect(out == tokenizer.decode(ids, skipSpecialTokens: skip))
        }
        // Check the tiny vocabulary really splits at least one character across tokens.
        let splits = ids.contains { id in
            let bytes = tokenizer.bytes(forID: id, skipSpecialTokens: false)
            return StreamingDecoder.completePrefixLength(bytes) < bytes.count
        }
        #expect(splits)
    }
}
