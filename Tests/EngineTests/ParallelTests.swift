import Engine
import Foundation
import Testing

/// The fork-join team: every index is visited exactly once, job after job, whatever the split.
struct ParallelTests {
    @Test func everyIndexIsVisitedExactlyOnceAcrossManyJobs() {
        let previous = Parallel.threadCount
        defer { Parallel.setThreadCount(previous) }
        for threads in [1, 2, 3, 4] {
            Parallel.setThreadCount(threads)
            for job in 0..<2000 {
                let count = 1 + (job * 37) % 500
                let hits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                defer { hits.deallocate() }
                let box = HitBox(hits)
                Parallel.forRange(count, minimumPerChunk: 1 + job % 7) { a, b in
                    for i in a..<b { box.pointer[i] += 1 }
                }
                let ok = (0..<count).allSatisfy { hits[$0] == 1 }
                #expect(ok, "threads \(threads) job \(job) count \(count)")
                if !ok { return }
            }
        }
    }

    /// Row splits never change a row's summation order, so logits are bit-identical for any thread count.
    @Test func logitsDoNotDependOnTheThreadCount() throws {
        let model = try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf"))
        let previous = Parallel.threadCount
        defer { Parallel.setThreadCount(previous) }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.setThreadCount(threads)
            let batch = [[5, 6, 7, 8, 9], [100, 20], [1, 2, 3, 4, 5, 6, 7]].map {
                ForwardRequest(tokens: $0, cache: model.makeCache(capacity: $0.count), logits: .all)
            }
            results.append(try model.forward(batch).flatMap { $0 })
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }

    @Test func smallCountsRunOnTheCallingThread() {
        var calls = 0
        Parallel.forRange(3, minimumPerChunk: 10) { a, b in
            calls += 1
            #expect(a == 0 && b == 3)
        }
        #expect(calls == 1)
    }
}

/// Disjoint writes from the team's threads (each index belongs to one piece).
private struct HitBox: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ p: UnsafeMutablePointer<Int32>) { pointer = p }
}
