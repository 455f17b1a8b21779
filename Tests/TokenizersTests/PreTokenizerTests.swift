// Hand-checked splits for the three pre-tokenizer scanners (the golden tests cover the rest).

import Testing
@testable import Tokenizers

/// The pieces `kind` splits `text` into.
func pieces(_ kind: PreTokenizerKind, _ text: String) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var ranges: [Range<Int>] = []
    kind.makePreTokenizer().split(scalars, 0..<scalars.count, into: &ranges)
    return ranges.map { range in
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[range])
        return String(view)
    }
}

@Suite struct PreTokenizerTests {
    @Test func gpt2Words() {
        #expect(pieces(.gpt2, "Hello world's 42 apples!!") == ["Hello", " world", "'s", " 42", " apples", "!!"])
        #expect(pieces(.gpt2, "IT'S") == ["IT", "'", "S"])
    }

    @Test func gpt2WhitespaceLookahead() {
        // `\s+(?!\S)` leaves the last space of a run to the following word.
        #expect(pieces(.gpt2, "a   b") == ["a", "  ", " b"])
        #expect(pieces(.gpt2, "a\n\nb") == ["a", "\n", "\n", "b"])
        #expect(pieces(.gpt2, "end   ") == ["end", "   "])
        #expect(pieces(.gpt2, "x \t y") == ["x", " \t", " y"])
    }

    @Test func smollmSplitsEveryDigit() {
        #expect(pieces(.smollm, "x 2024!") == ["x", " ", "2", "0", "2", "4", "!"])
        #expect(pieces(.smollm, "a  1") == ["a", "  ", "1"])
        #expect(pieces(.smollm, "½²") == ["½", "²"])
    }

    @Test func llama3Rules() {
        #expect(pieces(.llama3, "1234567") == ["123", "456", "7"])
        #expect(pieces(.llama3, "IT'S (word)") == ["IT", "'S", " (", "word", ")"])
        #expect(pieces(.llama3, "a.\n\nb") == ["a", ".\n\n", "b"])
        #expect(pieces(.llama3, "x  \n  y") == ["x", "  \n", " ", " y"])
        #expect(pieces(.llama3, "\tword") == ["\tword"])
    }

    @Test func unicodeCategories() {
        #expect(ScalarClass("é") == .letter)
        #expect(ScalarClass("東") == .letter)
        #expect(ScalarClass("٣") == .number)
        #expect(ScalarClass("Ⅻ") == .number)
        #expect(ScalarClass("\u{3000}") == .space)
        #expect(ScalarClass("\u{200D}") == .other)
        #expect(ScalarClass("\u{0301}") == .other)
    }

    @Test func ggufNames() {
        #expect(PreTokenizerKind(ggufName: "smollm") == .smollm)
        #expect(PreTokenizerKind(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizerKind(ggufName: "gpt-2") == .gpt2)
        #expect(PreTokenizerKind(ggufName: "qwen2") == .qwen2)
        #expect(PreTokenizerKind(ggufName: "deepseek-llm") == nil)
    }

    /// Qwen2 is Llama 3's regex with single digits: "12345" is five pieces, not "123" + "45".
    @Test func qwen2SplitsDigitsOneByOne() {
        func pieces(_ kind: PreTokenizerKind, _ text: String) -> [String] {
            let scalars = Array(text.unicodeScalars)
            var ranges: [Range<Int>] = []
            kind.makePreTokenizer().split(scalars, 0..<scalars.count, into: &ranges)
            return ranges.map { String(String.UnicodeScalarView(scalars[$0])) }
        }
        #expect(pieces(.llama3, "in 12345 days") == ["in", " ", "123", "45", " days"])
        #expect(pieces(.qwen2, "in 12345 days") == ["in", " ", "1", "2", "3", "4", "5", " days"])
        #expect(pieces(.qwen2, "It's   fine\n\n") == pieces(.llama3, "It's   fine\n\n"))
    }
}
