// Incremental decoding for generation: byte-level tokens may end in the middle of a UTF-8
// character (an emoji or CJK character often spans two or three tokens), so bytes are held
// back until the character they begin is complete.

/// Turns a stream of token ids into text, emitting only complete UTF-8 characters.
///
/// ```swift
/// var stream = StreamingDecoder(tokenizer: tokenizer)
/// for id in generated { print(stream.append(id), terminator: "") }
/// print(stream.flush())
/// ```
/// The concatenation of every `append` result and the final `flush` equals
/// `tokenizer.decode(ids, skipSpecialTokens:)` for the same ids.
public struct StreamingDecoder: Sendable {
    private let tokenizer: any Tokenizer
    private let skipSpecialTokens: Bool
    /// Bytes received but not yet emitted: at most the start of one incomplete character.
    private var pending: [UInt8] = []

    /// Creates a decoder.
    ///
    /// - Parameter skipSpecialTokens: leave control tokens out of the text.
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the text that is now complete (possibly empty).
    /// Invalid byte sequences become U+FFFD.
    public mutating func append(_ id: Int) -> String {
        pending.append(contentsOf: tokenizer.bytes(forID: id, skipSpecialTokens: skipSpecialTokens))
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is still held back (an incomplete character becomes U+FFFD) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` that does not end inside a character which
    /// later bytes could still complete.
    ///
    /// Looks back at most three bytes for a lead byte whose sequence is longer than what
    /// follows it (with only continuation bytes after it); everything before it is emitted.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var index = count - 1
        while index >= 0, index >= count - 3 {
            let byte = bytes[index]
            if byte & 0xC0 == 0x80 {   // continuation byte: keep looking for its lead
                index -= 1
                continue
            }
            let length: Int
            switch byte {
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return count      // ASCII or a byte that can never start a sequence
            }
            return count - index < length ? index : count
        }
        return count
    }
}
