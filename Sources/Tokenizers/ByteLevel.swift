// GPT-2's reversible byte <-> printable-character mapping used by byte-level BPE.
// reference: openai/gpt-2 src/encoder.py, bytes_to_unicode()

/// The GPT-2 byte-level alphabet: each of the 256 byte values is spelled by one printable
/// Unicode scalar, so that any UTF-8 text becomes a string of "visible" characters before BPE.
///
/// Printable Latin-1 bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) map to themselves; the other 68
/// bytes map to U+0100 onwards in byte order (so a space becomes `Ġ`, a newline `Ċ`).
public enum ByteLevel {
    /// `scalars[b]` is the character that spells byte `b`.
    public static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // 256...323 are all valid scalars.
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The inverse of ``scalars``: scalar value → byte.
    public static let bytesByScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in scalars.enumerated() { map[scalar.value] = UInt8(byte) }
        return map
    }()

    /// Spells UTF-8 bytes in the byte-level alphabet.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var view = String.UnicodeScalarView()
        for byte in bytes { view.append(scalars[Int(byte)]) }
        return String(view)
    }

    /// Recovers the bytes of a byte-level spelling. Scalars outside the alphabet contribute
    /// their own UTF-8 (as Hugging Face's ByteLevel decoder does).
    public static func decode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            if let byte = bytesByScalar[scalar.value] {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        return bytes
    }

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
