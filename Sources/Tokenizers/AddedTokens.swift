// Splitting text on added/special tokens before pre-tokenization (Hugging Face "added
// vocabulary"): leftmost match wins, and the longest token among those starting there.

/// A token matched as a whole in raw text, before pre-tokenization.
struct AddedToken: Sendable {
    /// Its id.
    let id: Int
    /// Its spelling as scalars.
    let content: [Unicode.Scalar]
    /// `true` for tokens matched even when special-token parsing is off
    /// (Hugging Face added tokens with `special: false`).
    let alwaysMatched: Bool
}

/// A piece of input text: ordinary text to pre-tokenize, or one added token.
enum TextSegment: Equatable {
    case text(Range<Int>)
    case token(Int)
}

/// Finds added tokens in text.
struct AddedTokenMatcher: Sendable {
    /// Candidates by first scalar, longest first.
    private let byFirstScalar: [UInt32: [AddedToken]]

    init(_ tokens: [AddedToken]) {
        var table: [UInt32: [AddedToken]] = [:]
        for token in tokens {
            guard let first = token.content.first else { continue }
            table[first.value, default: []].append(token)
        }
        byFirstScalar = table.mapValues { $0.sorted { $0.content.count > $1.content.count } }
    }

    /// `true` when there is nothing to match.
    var isEmpty: Bool { byFirstScalar.isEmpty }

    /// Splits `text` into ordinary text and added tokens.
    ///
    /// - Parameter includeSpecial: when `false`, only tokens with `alwaysMatched` are found.
    func split(_ text: [Unicode.Scalar], includeSpecial: Bool) -> [TextSegment] {
        var segments: [TextSegment] = []
        var textStart = 0
        var index = 0
        while index < text.count {
            if let token = match(text, at: index, includeSpecial: includeSpecial) {
                if textStart < index { segments.append(.text(textStart..<index)) }
                segments.append(.token(token.id))
                index += token.content.count
                textStart = index
            } else {
                index += 1
            }
        }
        if textStart < text.count { segments.append(.text(textStart..<text.count)) }
        return segments
    }

    private func match(_ text: [Unicode.Scalar], at index: Int, includeSpecial: Bool) -> AddedToken? {
        guard let candidates = byFirstScalar[text[index].value] else { return nil }
        for token in candidates where includeSpecial || token.alwaysMatched {
            let length = token.content.count
            guard index + length <= text.count else { continue }
            var equal = true
            for offset in 1..<max(length, 1) where text[index + offset] != token.content[offset] {
                equal = false
                break
            }
            if equal { return token }
        }
        return nil
    }
}
