import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors writing or reading a training checkpoint. Each names the directory or file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// A file is missing, unreadable or cannot be written.
    case io(path: String, detail: String)
    /// A file's content is not what this version writes.
    case invalidContent(path: String, detail: String)
    /// The checkpoint does not fit the adapter or model it is restored into.
    case mismatch(path: String, detail: String)

    public var description: String {
        switch self {
        case .io(let path, let detail):
            return "checkpoint \(path): \(detail)"
        case .invalidContent(let path, let detail):
            return "checkpoint \(path): \(detail); the checkpoint is damaged or from another version; "
                + "resume from an earlier checkpoint"
        case .mismatch(let path, let detail):
            return "checkpoint \(path): \(detail); resume with the same base model and LoRA settings"
        }
    }
}

/// The exact state of a `SeededGenerator` (xoshiro256**: four 64-bit words), so a resumed run draws
/// the same numbers.
public struct RandomState: Sendable, Equatable {
    /// The generator's state words.
    public var words: [UInt64]

    /// Captures `generator`'s state.
    public init(_ generator: SeededGenerator) { words = generator.state }

    /// Restores a state read from a checkpoint.
    public init(words: [UInt64]) { self.words = words }

    /// A generator in this state.
    public func generator() throws(CheckpointError) -> SeededGenerator {
        guard let generator = SeededGenerator(state: words) else {
            throw .invalidContent(path: "(random state)", detail: "a generator state is four 64-bit words, not all zero; got \(words)")
        }
        return generator
    }
}

/// Durable file operations: fsync'd writes and an atomic directory swap.
enum DurableFiles {
    /// Writes `data` to `url` and flushes it to disk.
    static func write(_ data: Data, to url: URL) throws(CheckpointError) {
        do { try data.write(to: url) } catch {
            throw .io(path: url.path, detail: "cannot write: \(error.localizedDescription)")
        }
        try sync(url)
    }

    /// fsync on a file or directory.
    static func sync(_ url: URL) throws(CheckpointError) {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: url.path, detail: "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(path: url.path, detail: "fsync failed: \(String(cString: strerror(errno)))") }
    }

    /// Fills a fresh sibling temporary directory with `fill`, syncs every file in it, then renames it
    /// to `destination` (replacing an existing directory) and syncs the parent. A crash leaves either
    /// the old directory or the new one, plus at most a stray `.tmp` sibling.
    static func replaceDirectory(_ destination: URL, fill: (URL) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let name = destination.lastPathComponent
        let token = UUID().uuidString.prefix(8)
        let temporary = parent.appendingPathComponent(".\(name).tmp-\(token)")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw .io(path: temporary.path, detail: "cannot create: \(error.localizedDescription)")
        }
        do throws(CheckpointError) {
            try fill(temporary)
            let files = (try? fm.contentsOfDirectory(at: temporary, includingPropertiesForKeys: nil)) ?? []
            for file in files { try sync(file) }
            try sync(temporary)
            var old: URL?
            if fm.fileExists(atPath: destination.path) {
                let aside = parent.appendingPathComponent(".\(name).old-\(token)")
                guard rename(destination.path, aside.path) == 0 else {
                    throw CheckpointError.io(path: destination.path, detail: "cannot move the old checkpoint aside: \(String(cString: strerror(errno)))")
                }
                old = aside
            }
            guard rename(temporary.path, destination.path) == 0 else {
                throw CheckpointError.io(path: destination.path, detail: "cannot rename into place: \(String(cString: strerror(errno)))")
            }
            try sync(parent)
            if let old { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }
}
