import COpenBLAS
import Dispatch
import Foundation

/// Thread settings shared by BLAS and the engine's own kernels.
///
/// OpenBLAS runs the large matrix products; the engine's kernels (quantized matrix-vector products,
/// attention) split their work over `threadCount` chunks with `DispatchQueue.concurrentPerform`, which
/// blocks rather than spins, so it does not fight OpenBLAS's threads for the cores.
public enum Parallel {
    nonisolated(unsafe) private static var threads = ProcessInfoCores.count

    /// The number of threads the engine uses (defaults to the machine's active cores).
    public static var threadCount: Int { threads }

    /// Sets the thread count for both OpenBLAS and the engine's kernels.
    public static func setThreadCount(_ n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(Int32(threads))
    }

    /// The OpenBLAS kernel family in use (for the start-up log).
    public static var blasCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Runs `body(start, end)` over `0..<count` split into at most `threadCount` contiguous chunks.
    /// Small counts (below `minimumPerChunk` per chunk) run on the calling thread.
    @inlinable
    public static func forRange(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        let chunks = max(1, min(threadCount, count / max(minimumPerChunk, 1)))
        if chunks <= 1 {
            if count > 0 { body(0, count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = count * c / chunks
                let end = count * (c + 1) / chunks
                if end > start { box.value(start, end) }
            }
        }
    }
}

/// Carries a non-Sendable value into a parallel region.
/// Safe here because every use gives each worker disjoint output ranges.
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}

enum ProcessInfoCores {
    static var count: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
