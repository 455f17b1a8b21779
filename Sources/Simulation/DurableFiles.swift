import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// fsync'd writes and atomic renames: a crash leaves either the old file or the new one.
enum Durable {
    /// Writes `data` to a temporary sibling, flushes it, renames it over `url` and flushes the directory.
    static func write(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString.prefix(8))")
        try writeFlushed(data, to: temporary)
        try rename(temporary, to: url)
    }

    /// Writes `data` to `url` (no rename) and flushes it.
    static func writeFlushed(_ data: Data, to url: URL) throws {
        do { try data.write(to: url) } catch {
            throw SimulationError.io(path: url.path, detail: "cannot write: \(error.localizedDescription)")
        }
        try sync(url)
    }

    /// Renames `source` to `destination` (replacing a file) and flushes the parent directory.
    static func rename(_ source: URL, to destination: URL) throws {
        guard posixRename(source.path, destination.path) == 0 else {
            throw SimulationError.io(path: destination.path, detail: "cannot rename \(source.lastPathComponent) into place: \(errorText())")
        }
        try sync(destination.deletingLastPathComponent())
    }

    /// fsync on a file or directory.
    static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw SimulationError.io(path: url.path, detail: "cannot open for fsync: \(errorText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SimulationError.io(path: url.path, detail: "fsync failed: \(errorText())") }
    }

    /// Flushes every file of a directory, then the directory.
    static func syncTree(_ directory: URL) throws {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        for file in files { try sync(file) }
        try sync(directory)
    }

    /// Creates a directory (and parents).
    static func makeDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw SimulationError.io(path: url.path, detail: "cannot create the directory: \(error.localizedDescription)")
        }
    }

    private static func posixRename(_ from: String, _ to: String) -> Int32 {
        #if canImport(Glibc)
        return Glibc.rename(from, to)
        #else
        return Darwin.rename(from, to)
        #endif
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Float32 tensor values as raw little-endian bytes (exact round trip).
enum FloatFile {
    static func data(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func values(_ data: Data, path: String) throws -> [Float] {
        guard data.count % 4 == 0 else {
            throw SimulationError.runDirectory(path: path, detail: "float file has \(data.count) bytes, not a multiple of 4")
        }
        var values = [Float](repeating: 0, count: data.count / 4)
        data.withUnsafeBytes { raw in
            for i in values.indices {
                values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
        return values
    }
}
