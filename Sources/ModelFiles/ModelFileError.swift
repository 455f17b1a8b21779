import Foundation

/// An error raised while reading or writing a GGUF or safetensors file.
///
/// Every error says what went wrong (``kind`` and ``detail``), which field or tensor
/// it concerns (``field``), at which byte offset of the file it was detected
/// (``offset``, when the problem has a position) and in which file (``file``).
public struct ModelFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The category of a ``ModelFileError``; tests and callers match on it.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened, sized, mapped or written.
        case io
        /// A read ran past the end of the file.
        case truncated
        /// The file does not start with the expected magic bytes.
        case badMagic
        /// The GGUF version is not 2 or 3 (or the file is big-endian).
        case unsupportedVersion
        /// A count or length is larger than the rest of the file could hold.
        case countTooLarge
        /// A metadata value carries a type code this reader does not know.
        case unknownValueType
        /// A tensor carries a ggml type code this reader does not know.
        case unknownTensorType
        /// The tensor type is known but cannot be converted to floats.
        case unsupportedTensorType
        /// Two tensors share a name.
        case duplicateTensor
        /// Two metadata entries share a key.
        case duplicateKey
        /// A tensor shape is invalid: too many dimensions, a negative extent,
        /// a row not made of whole blocks, or a product that overflows.
        case invalidShape
        /// A tensor's data lies (partly) outside the file or is misaligned.
        case dataOutOfBounds
        /// A string is not valid UTF-8 where UTF-8 is required.
        case invalidString
        /// A metadata value is malformed (wrong type for a well-known key, nesting too deep).
        case invalidValue
        /// The safetensors JSON header is malformed.
        case invalidHeader
        /// No tensor has the requested name.
        case tensorNotFound
        /// Arguments given to a writer are inconsistent.
        case invalidArgument
    }

    /// What went wrong.
    public let kind: Kind
    /// A human-readable explanation, including the offending value where there is one.
    public let detail: String
    /// The field, key or tensor concerned, e.g. `"tensor_count"` or `"tensor blk.0.attn_q.weight"`.
    public let field: String
    /// Byte offset in the file where the problem was detected, if it has a position.
    public let offset: Int?
    /// Path of the file concerned.
    public let file: String

    /// Creates an error; `file` is the path of the file being read or written.
    public init(_ kind: Kind, _ detail: String, field: String, offset: Int?, file: String) {
        self.kind = kind
        self.detail = detail
        self.field = field
        self.offset = offset
        self.file = file
    }

    /// `"<file>: <detail> [field <field>, byte offset <offset>]"`.
    public var description: String {
        var where_ = "field \(field)"
        if let offset { where_ += ", byte offset \(offset)" }
        return "\(file): \(detail) [\(kind.rawValue); \(where_)]"
    }
}
