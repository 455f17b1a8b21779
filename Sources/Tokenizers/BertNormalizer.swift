// The BERT text pipeline before WordPiece: the normalizer (clean text, space out CJK ideographs,
// strip accents, lowercase) and the pre-tokenizer (split on whitespace, isolate punctuation).
// reference: huggingface/tokenizers normalizers/bert.rs and pre_tokenizers/bert.rs (behaviour
// checked against tokenizers 0.23 by scripts/fixtures/bert_fixtures.py), and Devlin et al. 2018,
// BERT's BasicTokenizer.

import Foundation

/// Hugging Face's `BertNormalizer`, applied in its order: clean text, CJK spacing, accent
/// stripping, lowercasing. Works on Unicode scalars, as the Rust implementation works on `char`s.
public struct BertNormalizer: Sendable, Equatable {
    /// Removes NUL, U+FFFD and control/format/private-use scalars (keeping tab, newline and
    /// carriage return) and turns every whitespace scalar into a space.
    public var cleanText: Bool
    /// Puts a space on each side of CJK ideographs, so each becomes its own word.
    public var handleChineseChars: Bool
    /// Decomposes (NFD) and drops nonspacing marks (`Mn`).
    public var stripAccents: Bool
    /// Lowercases scalar by scalar (full, context-free mappings: `İ` → `i̇`).
    public var lowercase: Bool

    /// A normalizer; `stripAccents` defaults to `lowercase`, as in tokenizers when the
    /// JSON field is `null`.
    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil,
                lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalized scalars of `text`.
    public func normalize(_ text: some StringProtocol) -> [Unicode.Scalar] {
        normalize(scalars: text.unicodeScalars)
    }

    /// The normalized form of a run of scalars.
    func normalize(scalars input: some Collection<Unicode.Scalar>) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(input.count)
        for scalar in input {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseChars && Self.isChineseCharacter(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        if stripAccents, scalars.contains(where: { !$0.isASCII }) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for scalar in scalars {
                if scalar.isASCII {
                    let v = scalar.value
                    lowered.append((0x41...0x5A).contains(v) ? Unicode.Scalar(UInt8(v + 32)) : scalar)
                } else {
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Tab, newline and carriage return count as whitespace; otherwise Unicode's `White_Space`.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// Control (`Cc`), format (`Cf`), private use (`Co`) and surrogate (`Cs`) scalars, except tab,
    /// newline and carriage return. Unassigned scalars (`Cn`) are kept, as tokenizers keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks (and compatibility ideographs) BERT treats as words.
    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

/// Hugging Face's `BertPreTokenizer`: words are the runs between whitespace, and every
/// punctuation scalar (ASCII punctuation, which includes `$+<=>^`|~`, or Unicode category `P*`)
/// is a word of its own.
enum BertPreTokenizer {
    /// The words of `scalars` as ranges into it.
    static func split(_ scalars: [Unicode.Scalar], in range: Range<Int>) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start = range.lowerBound
        for i in range {
            let s = scalars[i]
            if BertNormalizer.isWhitespace(s) {
                if start < i { words.append(start..<i) }
                start = i + 1
            } else if isPunctuation(s) {
                if start < i { words.append(start..<i) }
                words.append(i..<(i + 1))
                start = i + 1
            }
        }
        if start < range.upperBound { words.append(start..<range.upperBound) }
        return words
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }
}
