import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, private memory mapping of a whole file, unmapped in `deinit`.
///
/// `@unchecked Sendable`: the mapping is created once in `init`, never written
/// (`PROT_READ`) and only released in `deinit`, so sharing it across threads is safe.
/// As with any mmap, a file truncated by another process while mapped can raise SIGBUS;
/// model files are treated as immutable while open.
final class MappedFile: @unchecked Sendable {
    /// Path of the mapped file (used in error messages).
    let path: String
    /// The mapped bytes; empty (nil base) for a zero-length file.
    let bytes: UnsafeRawBufferPointer

    /// Maps `url` read-only. Throws ``ModelFileError`` of kind `.io` when the file
    /// cannot be opened, is not a regular file, or cannot be mapped.
    init(url: URL) throws {
        let path = url.path
        self.path = path
        func failure(_ what: String) -> ModelFileError {
            ModelFileError(.io, "\(what): \(String(cString: strerror(errno)))", field: "file", offset: nil, file: path)
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure("cannot open file") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure("cannot stat file") }
        // S_IFMT / S_IFREG spelled out: the macros do not import on every libc.
        guard (status.st_mode & 0o170000) == 0o100000 else {
            throw ModelFileError(.io, "not a regular file", field: "file", offset: nil, file: path)
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw failure("cannot map \(size) bytes")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    /// The bytes `offset ..< offset + count`, or nil when that range is not inside the file.
    func slice(offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
    }
}

/// A forward reader over a byte buffer where every read is bounds-checked and
/// throws ``ModelFileError`` (`.truncated`) instead of reading past the end.
/// All multi-byte values are little-endian.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    /// Absolute byte offset of the next read.
    var offset: Int = 0

    init(bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    /// Bytes left after ``offset``.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` more bytes can be read.
    func require(_ count: Int, field: String) throws {
        guard count >= 0, count <= remaining else {
            throw ModelFileError(
                .truncated, "need \(count) bytes but only \(max(remaining, 0)) remain in a \(bytes.count)-byte file",
                field: field, offset: offset, file: file)
        }
    }

    /// Reads a little-endian integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type, field: String) throws -> T {
        let size = MemoryLayout<T>.size
        try require(size, field: field)
        let raw = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: raw)
    }

    /// Reads a little-endian IEEE binary32.
    mutating func readFloat(field: String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, field: field))
    }

    /// Reads a little-endian IEEE binary64.
    mutating func readDouble(field: String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, field: field))
    }

    /// Reads `count` raw bytes.
    mutating func readBytes(_ count: Int, field: String) throws -> UnsafeRawBufferPointer {
        try require(count, field: field)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
        offset += count
        return slice
    }

    /// Reads a GGUF string: a u64 byte length then that many UTF-8 bytes.
    /// With `strict`, invalid UTF-8 throws `.invalidString`; otherwise it is repaired
    /// with U+FFFD (token texts of odd vocabularies must not make a file unreadable).
    mutating func readGGUFString(field: String, strict: Bool) throws -> String {
        let start = offset
        let length = try read(UInt64.self, field: "\(field) (length)")
        guard length <= UInt64(max(remaining, 0)) else {
            throw ModelFileError(
                .countTooLarge,
                "the file is truncated or corrupt: a string of \(length) bytes, \(remaining) are left of the file's \(bytes.count)",
                field: field, offset: start, file: file)
        }
        let body = try readBytes(Int(length), field: field)
        if strict {
            guard let string = String(validating: body, as: UTF8.self) else {
                throw ModelFileError(.invalidString, "string is not valid UTF-8", field: field, offset: start + 8, file: file)
            }
            return string
        }
        return String(decoding: body, as: UTF8.self)
    }
}
