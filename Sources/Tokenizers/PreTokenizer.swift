// Pre-tokenization: splitting text into "words" before BPE, as hand-written scanners over
// Unicode scalars that reproduce the regexes of GPT-2, SmolLM2 and Llama 3 exactly
// (alternation order, greedy runs and the `\s+(?!\S)` backtracking included).

/// Which pre-tokenizer a byte-level BPE tokenizer uses.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM / StarCoder: every `\p{N}` scalar is its own piece, then the GPT-2 regex runs on
    /// the text between digits (Hugging Face: `Sequence[Digits(individual_digits), ByteLevel]`).
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2: Llama 3's regex with single digits (`\p{N}` in place of `\p{N}{1,3}`).
    case qwen2

    /// Maps GGUF's `tokenizer.ggml.pre` value to a kind; `nil` for names this module lacks.
    ///
    /// `"default"` and `"gpt-2"` are GPT-2; `"smollm"`, `"starcoder"` and `"refact"` split digits
    /// one by one; `"llama3"`, `"llama-bpe"` and `"llama-v3"` are Llama 3; `"qwen2"` is Qwen2.
    public init?(ggufName: String) {
        switch ggufName.lowercased() {
        case "default", "gpt2", "gpt-2": self = .gpt2
        case "smollm", "starcoder", "refact": self = .smollm
        case "llama3", "llama-bpe", "llama-v3", "llama3.1": self = .llama3
        case "qwen2": self = .qwen2
        default: return nil
        }
    }
}

/// A pre-tokenizer splits a range of scalars into consecutive, non-overlapping pieces.
protocol PreTokenizer: Sendable {
    /// Appends the pieces of `text[range]` to `pieces`, in order; together they cover `range`.
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>])
}

extension PreTokenizerKind {
    /// The scanner implementing this kind.
    func makePreTokenizer() -> any PreTokenizer {
        switch self {
        case .gpt2: return GPT2PreTokenizer()
        case .smollm: return DigitsThenGPT2PreTokenizer()
        case .llama3: return Llama3PreTokenizer(digitRun: 3)
        case .qwen2: return Llama3PreTokenizer(digitRun: 1)
        }
    }
}

/// The character classes the regexes distinguish.
enum ScalarClass: UInt8 {
    /// `\p{L}`: general categories Lu, Ll, Lt, Lm, Lo.
    case letter
    /// `\p{N}`: general categories Nd, Nl, No.
    case number
    /// `\s`: the Unicode White_Space property (Oniguruma's definition).
    case space
    /// Anything else (`[^\s\p{L}\p{N}]`): punctuation, symbols, marks, format characters.
    case other

    init(_ scalar: Unicode.Scalar) {
        let value = scalar.value
        if value < 0x80 {
            switch value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .space
            default: self = .other
            }
            return
        }
        let properties = scalar.properties
        if properties.isWhitespace { self = .space; return }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }
}

/// Scanning helpers shared by the regex scanners.
extension Array where Element == Unicode.Scalar {
    /// The class of the scalar at `index`.
    @inline(__always)
    func scalarClass(at index: Int) -> ScalarClass { ScalarClass(self[index]) }

    /// The end of the run of scalars of class `cls` starting at `start` (exclusive bound `end`).
    @inline(__always)
    func runEnd(of cls: ScalarClass, from start: Int, to end: Int) -> Int {
        var index = start
        while index < end, ScalarClass(self[index]) == cls { index += 1 }
        return index
    }

    /// The end of a whitespace run matched by `\s+(?!\S)|\s+` at `start`: the whole run when it
    /// reaches the end of the range, otherwise the run minus its last scalar (left to prefix the
    /// next word), but never less than one scalar.
    @inline(__always)
    func whitespaceEnd(from start: Int, to end: Int) -> Int {
        let runEnd = runEnd(of: .space, from: start, to: end)
        if runEnd == end || runEnd - start == 1 { return runEnd }
        return runEnd - 1
    }
}

/// GPT-2's pre-tokenizer regex.
struct GPT2PreTokenizer: PreTokenizer {
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = Self.matchEnd(text, start, range.upperBound)
            pieces.append(start..<end)
            start = end
        }
    }

    /// The end of the GPT-2 regex match starting at `i` (always `> i`).
    static func matchEnd(_ text: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let c = text[i]
        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
        if c == "'", i + 1 < end {
            let n = text[i + 1]
            if n == "s" || n == "t" || n == "m" || n == "d" { return i + 2 }
            if i + 2 < end {
                let n2 = text[i + 2]
                if (n == "r" && n2 == "e") || (n == "v" && n2 == "e") || (n == "l" && n2 == "l") { return i + 3 }
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        var body = i
        if c == " ", i + 1 < end, text.scalarClass(at: i + 1) != .space { body = i + 1 }
        let cls = text.scalarClass(at: body)
        if cls != .space { return text.runEnd(of: cls, from: body, to: end) }
        // `\s+(?!\S)|\s+`
        return text.whitespaceEnd(from: i, to: end)
    }
}

/// SmolLM2's pre-tokenizer: each `\p{N}` scalar alone, GPT-2 regex on the rest.
struct DigitsThenGPT2PreTokenizer: PreTokenizer {
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        let gpt2 = GPT2PreTokenizer()
        var segmentStart = range.lowerBound
        var index = range.lowerBound
        while index < range.upperBound {
            if text.scalarClass(at: index) == .number {
                if segmentStart < index { gpt2.split(text, segmentStart..<index, into: &pieces) }
                pieces.append(index..<(index + 1))
                segmentStart = index + 1
            }
            index += 1
        }
        if segmentStart < range.upperBound { gpt2.split(text, segmentStart..<range.upperBound, into: &pieces) }
    }
}

/// Llama 3's pre-tokenizer regex.
struct Llama3PreTokenizer: PreTokenizer {
    /// The longest digit run one piece takes: 3 for Llama 3 (`\p{N}{1,3}`), 1 for Qwen2 (`\p{N}`).
    let digitRun: Int

    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = Self.matchEnd(text, start, range.upperBound, digitRun: digitRun)
            pieces.append(start..<end)
            start = end
        }
    }

    /// `true` for scalars that `(?i:x)` matches when `x` is the ASCII lowercase letter `lower`
    /// (Unicode simple case folding: `ſ` folds to `s`).
    @inline(__always)
    static func matches(_ scalar: Unicode.Scalar, _ lower: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value == lower.value || value == lower.value - 0x20 { return true }
        return lower == "s" && value == 0x17F
    }

    @inline(__always)
    static func isNewline(_ scalar: Unicode.Scalar) -> Bool { scalar == "\r" || scalar == "\n" }

    /// The end of the Llama 3 regex match starting at `i` (always `> i`); digits run up to `digitRun`.
    static func matchEnd(_ text: [Unicode.Scalar], _ i: Int, _ end: Int, digitRun: Int) -> Int {
        let c = text[i]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == "'", i + 1 < end {
            let n = text[i + 1]
            if matches(n, "s") || matches(n, "t") || matches(n, "m") || matches(n, "d") { return i + 2 }
            if i + 2 < end {
                let n2 = text[i + 2]
                if (matches(n, "r") && matches(n2, "e")) || (matches(n, "v") && matches(n2, "e"))
                    || (matches(n, "l") && matches(n2, "l")) {
                    return i + 3
                }
            }
        }
        let cls = text.scalarClass(at: i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cls == .letter { return text.runEnd(of: .letter, from: i, to: end) }
        if cls != .number, !isNewline(c), i + 1 < end, text.scalarClass(at: i + 1) == .letter {
            return text.runEnd(of: .letter, from: i + 1, to: end)
        }
        // \p{N}{1,3} (Qwen2: \p{N})
        if cls == .number {
            var index = i + 1
            while index < end, index < i + digitRun, text.scalarClass(at: index) == .number { index += 1 }
            return index
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var body = i
        if c == " ", i + 1 < end, text.scalarClass(at: i + 1) == .other { body = i + 1 }
        if text.scalarClass(at: body) == .other {
            var index = text.runEnd(of: .other, from: body, to: end)
            while index < end, isNewline(text[index]) { index += 1 }
            return index
        }
        // \s*[\r\n]+ : up to and including the last newline of the whitespace run.
        let runEnd = text.runEnd(of: .space, from: i, to: end)
        var index = runEnd
        while index > i {
            if isNewline(text[index - 1]) { return index }
            index -= 1
        }
        // \s+(?!\S)|\s+
        return text.whitespaceEnd(from: i, to: end)
    }
}
