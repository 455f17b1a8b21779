import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock on a file (`flock`), held while a closure runs.
///
/// Serialises `ensure` for one package across threads and processes sharing a cache:
/// `flock` locks belong to the open file description, so two opens conflict even in one process.
enum FileLock {
    /// Runs `body` while holding the lock on `url` (created if missing); blocks until acquired.
    static func withLock<T>(at url: URL, _ body: () throws(AssetError) -> T) throws(AssetError) -> T {
        let fd = open(url.path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else {
            throw .fileSystem(operation: "open lock file", path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var status: Int32
        repeat { status = flock(fd, LOCK_EX) } while status != 0 && errno == EINTR
        guard status == 0 else {
            throw .fileSystem(operation: "lock", path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
