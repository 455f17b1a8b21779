import CKernels
import COpenBLAS
import Foundation

/// Thread settings shared by BLAS and the engine's own kernels.
///
/// Everything parallel runs on one small fork-join team (`fg_pool.h`): the engine's kernels
/// (quantized products, attention, element-wise work) and the OpenBLAS products, which `Matmul`
/// splits into single-threaded OpenBLAS calls. The workers spin briefly between the closely spaced
/// jobs of a step and then sleep; OpenBLAS's own threads are never woken.
public enum Parallel {
    nonisolated(unsafe) private static var threads: Int = {
        let n = ProcessInfoCores.count
        fg_pool_set_threads(Int32(n))
        openblas_set_num_threads(1)  // products are split over the team by `Matmul`
        return n
    }()

    /// The number of threads the engine uses (defaults to the machine's active cores).
    public static var threadCount: Int { threads }

    /// Sets the team's thread count (OpenBLAS stays single-threaded: `Matmul` splits its products
    /// over the team).
    public static func setThreadCount(_ n: Int) {
        threads = max(1, n)
        fg_pool_set_threads(Int32(threads))
    }

    /// The OpenBLAS kernel family in use (for the start-up log), after ``BLASKernels``' selection.
    public static var blasCoreName: String { BLASKernels.selection.core }

    /// Runs `body(start, end)` over `0..<count` split into contiguous pieces that the team's threads
    /// claim. Pieces hold at least `minimumPerChunk` items; a count too small to split runs here.
    @inlinable
    public static func forRange(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        // A few pieces per thread, claimed dynamically: a thread the OS deschedules holds up one piece.
        let chunks = threadCount <= 1 ? 1 : max(1, min(threadCount * 4, count / max(minimumPerChunk, 1)))
        if chunks <= 1 {
            if count > 0 { body(0, count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let job = PoolJob(body)
            withExtendedLifetime(job) {
                fg_pool_parallel_for(Int64(count), Int64(chunks), { context, begin, end in
                    guard let context else { return }
                    Unmanaged<PoolJob>.fromOpaque(context).takeUnretainedValue().body(Int(begin), Int(end))
                }, Unmanaged.passUnretained(job).toOpaque())
            }
        }
    }
}

/// The closure of one parallel job, handed to the C team through an opaque pointer.
@usableFromInline
final class PoolJob {
    @usableFromInline let body: (Int, Int) -> Void
    @usableFromInline init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
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
