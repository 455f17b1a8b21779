import Testing
@testable import Training

struct BatchingTests {
    /// Lengths 1...100 in a fixed scramble.
    static let lengths = (0..<200).map { ($0 * 37) % 100 + 1 }

    @Test func everyItemOnceAndWithinBudget() throws {
        let planner = try BatchPlanner(lengths: Self.lengths, tokenBudget: 256, windowSize: 64, seed: 7)
        let batches = planner.batches(epoch: 0)
        #expect(batches.flatMap(\.items).sorted() == Array(Self.lengths.indices))
        #expect(batches.allSatisfy { $0.tokenCount <= 256 && $0.tokenCount == $0.items.map { Self.lengths[$0] }.reduce(0, +) })
        // Packing wastes little: within 10% of the lower bound on the number of batches.
        let lowerBound = (Self.lengths.reduce(0, +) + 255) / 256
        #expect(Double(batches.count) <= Double(lowerBound) * 1.1)
    }

    @Test func deterministicPerSeedAndEpoch() throws {
        let planner = try BatchPlanner(lengths: Self.lengths, tokenBudget: 256, seed: 7)
        let again = try BatchPlanner(lengths: Self.lengths, tokenBudget: 256, seed: 7)
        #expect(planner.batches(epoch: 0) == again.batches(epoch: 0))
        #expect(planner.batches(epoch: 0) != planner.batches(epoch: 1))
        let other = try BatchPlanner(lengths: Self.lengths, tokenBudget: 256, seed: 8)
        #expect(planner.batches(epoch: 0) != other.batches(epoch: 0))
    }

    @Test func resumesFromAPosition() throws {
        let planner = try BatchPlanner(lengths: Self.lengths, tokenBudget: 300, seed: 1)
        let all = planner.batches(epoch: 2)
        let rest = try planner.remainingBatches(from: DataPosition(epoch: 2, batch: 3))
        #expect(Array(rest) == Array(all[3...]))
        #expect(throws: BatchingError.self) { try planner.remainingBatches(from: DataPosition(epoch: 2, batch: all.count + 1)) }
    }

    @Test func rejectsItemsLongerThanTheBudget() {
        #expect(throws: BatchingError.itemTooLong(index: 1, length: 50, budget: 40)) {
            try BatchPlanner(lengths: [10, 50], tokenBudget: 40, seed: 0)
        }
        #expect(throws: BatchingError.invalidBudget(0)) { try BatchPlanner(lengths: [1], tokenBudget: 0, seed: 0) }
    }

    @Test func boundedDrawsAreUniformEnough() {
        var rng = Engine.SeededGenerator(seed: 3)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<6000 { counts[Int(BatchPlanner.bounded(6, using: &rng))] += 1 }
        #expect(counts.allSatisfy { (850...1150).contains($0) })
    }
}

import Engine
