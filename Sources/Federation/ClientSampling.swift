/// Chooses the clients of each round as a pure function of (seed, round): the same inputs give
/// the same clients, whatever was sampled before and in whatever order rounds are asked for.
///
/// reference: McMahan et al. 2017 (a fraction C of K clients per round); Poisson sampling as
/// assumed by the DP-FedAvg accountant, McMahan et al. 2018, Algorithm 1.
public struct ClientSampler: Sendable, Equatable, Codable {
    /// How many clients a round takes.
    public enum Mode: Sendable, Equatable, Codable {
        /// Exactly `count` distinct clients, uniformly without replacement.
        case fixedCount(Int)
        /// Each client independently with probability `rate` (may give zero clients).
        case poisson(rate: Double)
    }

    /// Number of clients in the population (indices 0..<population).
    public let population: Int
    /// The sampling mode.
    public let mode: Mode
    /// The run's seed.
    public let seed: UInt64

    /// Creates a sampler; throws for an empty population, a count outside 1...population or a
    /// rate outside (0, 1].
    public init(population: Int, mode: Mode, seed: UInt64) throws {
        try require(population >= 1, key: "population", value: population, allowed: ">= 1")
        switch mode {
        case let .fixedCount(count):
            try require(count >= 1 && count <= population, key: "clients_per_round", value: count,
                        allowed: "1...\(population)")
        case let .poisson(rate):
            try require(rate > 0 && rate <= 1, key: "sampling_rate", value: rate, allowed: "(0, 1]")
        }
        self.population = population
        self.mode = mode
        self.seed = seed
    }

    /// The sampling probability of one client per round (count/population or the Poisson rate),
    /// as the privacy accountant needs it.
    public var samplingRate: Double {
        switch mode {
        case let .fixedCount(count): return Double(count) / Double(population)
        case let .poisson(rate): return rate
        }
    }

    /// The clients of `round`, ascending.
    public func sample(round: Int) -> [Int] {
        var generator = SeedDerivation.generator(seed, .clientSampling, UInt64(bitPattern: Int64(round)))
        switch mode {
        case let .fixedCount(count):
            // Partial Fisher–Yates: the first `count` slots are a uniform sample.
            var indices = Array(0..<population)
            for i in 0..<count {
                indices.swapAt(i, i + generator.nextIndex(below: population - i))
            }
            return indices.prefix(count).sorted()
        case let .poisson(rate):
            return (0..<population).filter { _ in generator.nextUnitInterval() < rate }
        }
    }
}
