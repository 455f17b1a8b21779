import Federation
import Testing

@Suite struct SamplingTests {
    @Test func fixedCountIsDeterministicAndOrderIndependent() throws {
        // Prepare
        let sampler = try ClientSampler(population: 50, mode: .fixedCount(5), seed: 7)
        // Execute: rounds asked forwards, backwards, and from a second instance.
        let forwards = (1...10).map { sampler.sample(round: $0) }
        let backwards = (1...10).reversed().map { sampler.sample(round: $0) }.reversed()
        let other = try ClientSampler(population: 50, mode: .fixedCount(5), seed: 7)
        // Assert
        #expect(forwards == Array(backwards))
        #expect(forwards == (1...10).map { other.sample(round: $0) })
        for clients in forwards {
            #expect(clients.count == 5 && Set(clients).count == 5)
            #expect(clients.allSatisfy { (0..<50).contains($0) } && clients == clients.sorted())
        }
        #expect(Set(forwards).count > 1)  // rounds differ
        let reseeded = try ClientSampler(population: 50, mode: .fixedCount(5), seed: 8)
        #expect((1...10).map { reseeded.sample(round: $0) } != forwards)
        #expect(sampler.samplingRate == 0.1)
    }

    @Test func poissonRateIsRespected() throws {
        let sampler = try ClientSampler(population: 1000, mode: .poisson(rate: 0.2), seed: 1)
        let total = (1...20).map { sampler.sample(round: $0).count }.reduce(0, +)
        #expect(abs(Double(total) / 20_000 - 0.2) < 0.02)
        #expect(sampler.sample(round: 3) == sampler.sample(round: 3))
    }

    @Test func invalidRequestsThrow() {
        #expect(federationError { _ = try ClientSampler(population: 3, mode: .fixedCount(4), seed: 0) }
            == .invalidParameter(key: "clients_per_round", value: "4", allowed: "1...3"))
    }

    @Test func gammaSamplerHasTheRightMean() {
        // Marsaglia–Tsang: E[Gamma(k, 1)] = k, for k above and below 1.
        var generator = Xoshiro256StarStar(seed: 3)
        for shape in [0.3, 2.5] {
            let mean = (0..<20_000).map { _ in generator.nextGamma(shape: shape) }.reduce(0, +) / 20_000
            #expect(abs(mean - shape) < 0.05 * max(1, shape))
        }
    }
}

@Suite struct PartitionerTests {
    /// Every item at most once, and every index in range.
    func isDisjoint(_ parts: [[Int]], itemCount: Int) -> Bool {
        let all = parts.flatMap { $0 }
        return Set(all).count == all.count && all.allSatisfy { (0..<itemCount).contains($0) }
    }

    @Test func iidSizesDifferByAtMostOne() throws {
        let partitioner = try IIDPartitioner(clientCount: 3, seed: 1)
        let parts = try partitioner.partition(itemCount: 10)
        #expect(parts.map(\.count) == [4, 3, 3])
        #expect(isDisjoint(parts, itemCount: 10) && parts.flatMap { $0 }.count == 10)
        #expect(try partitioner.partition(itemCount: 10) == parts)
        #expect(try IIDPartitioner(clientCount: 3, seed: 2).partition(itemCount: 10) != parts)
        #expect(federationError { _ = try partitioner.partition(itemCount: 2) } != nil)
    }

    /// Mean over clients of the largest category share: 1/K for IID, 1 for one category each.
    func skew(_ parts: [[Int]], labels: [Int]) -> Double {
        let shares = parts.filter { !$0.isEmpty }.map { part -> Double in
            let counts = Dictionary(grouping: part, by: { labels[$0] }).mapValues(\.count)
            return Double(counts.values.max() ?? 0) / Double(part.count)
        }
        return shares.reduce(0, +) / Double(shares.count)
    }

    @Test func dirichletSkewReactsToAlpha() throws {
        // Prepare: 10 categories × 100 items, 10 clients.
        let labels = (0..<1000).map { $0 % 10 }
        // Execute
        let skewed = try DirichletPartitioner(clientCount: 10, alpha: 0.1, seed: 5).partition(labels: labels)
        let uniform = try DirichletPartitioner(clientCount: 10, alpha: 1000, seed: 5).partition(labels: labels)
        // Assert
        #expect(skew(skewed, labels: labels) > 0.5)
        #expect(skew(uniform, labels: labels) < 0.2)
        for parts in [skewed, uniform] {
            #expect(isDisjoint(parts, itemCount: 1000) && parts.flatMap { $0 }.count == 1000)
            #expect(parts.allSatisfy { !$0.isEmpty })
        }
        #expect(try DirichletPartitioner(clientCount: 10, alpha: 0.1, seed: 5).partition(labels: labels) == skewed)
    }

    @Test func dirichletImpossibleMinimumThrows() throws {
        let partitioner = try DirichletPartitioner(clientCount: 5, alpha: 1, seed: 0, minimumItemsPerClient: 3)
        #expect(federationError { _ = try partitioner.partition(labels: [0, 1, 2, 3]) } != nil)
        #expect(federationError { _ = try DirichletPartitioner(clientCount: 5, alpha: 0, seed: 0) }
            == .invalidParameter(key: "alpha", value: "0.0", allowed: "finite, > 0"))
    }

    @Test func harmfulFractionsWithinOneItem() throws {
        // Prepare: 100 harmful, 900 benign items interleaved.
        let isHarmful = (0..<1000).map { $0 % 10 == 3 }
        // Execute
        let parts = try HarmfulFractionPartitioner(clientCount: 10, fraction: 0.3, itemsPerClient: 25, seed: 9)
            .partition(isHarmful: isHarmful)
        // Assert: round(0.3 · 25) = 8 (7.5 rounds away from zero), i.e. within one item.
        for part in parts {
            #expect(part.count == 25)
            let harmful = part.filter { isHarmful[$0] }.count
            #expect(abs(Double(harmful) - 0.3 * 25) <= 1)
        }
        #expect(isDisjoint(parts, itemCount: 1000))
    }

    @Test func perClientFractionsAndAutomaticSize() throws {
        let isHarmful = (0..<100).map { $0 < 30 }
        let partitioner = try HarmfulFractionPartitioner(fractions: [0, 0.5, 1], seed: 2)
        let parts = try partitioner.partition(isHarmful: isHarmful)
        let size = parts[0].count
        // Largest n with round(0.5n) + n ≤ 30 harmful and n + (n − round(0.5n)) ≤ 70 benign: n = 20.
        #expect(size == 20 && parts.allSatisfy { $0.count == size })
        #expect(parts.map { $0.filter { isHarmful[$0] }.count } == [0, 10, 20])
        #expect(isDisjoint(parts, itemCount: 100))
        #expect(try partitioner.partition(isHarmful: isHarmful) == parts)
    }

    @Test func impossibleHarmfulRequestThrows() throws {
        let isHarmful = (0..<100).map { $0 < 10 }
        let partitioner = try HarmfulFractionPartitioner(clientCount: 4, fraction: 0.5, itemsPerClient: 10, seed: 0)
        let error = federationError { _ = try partitioner.partition(isHarmful: isHarmful) }
        #expect(error == .partitionImpossible(
            "4 clients × 10 items need 20 harmful and 20 benign items; have 10 harmful, 90 benign"))
        #expect(federationError { _ = try HarmfulFractionPartitioner(fractions: [1.5], seed: 0) }
            == .invalidParameter(key: "harmful_fractions[0]", value: "1.5", allowed: "[0, 1]"))
    }
}
