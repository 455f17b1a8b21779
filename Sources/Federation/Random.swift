import Foundation

// Seeded generators: every random choice in the module derives from an explicit seed; nothing
// uses the system generator. Streams for different purposes and rounds are separated by hashing
// (seed, purpose, round, ...) through SplitMix64, so a draw never depends on call order.

/// SplitMix64: a tiny generator used to expand seeds and to hash seed components.
///
/// reference: Steele, Lea, Flood 2014, "Fast Splittable Pseudorandom Number Generators"
/// (OOPSLA); constants as in Vigna's `splitmix64.c`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The internal state.
    public private(set) var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective 64-bit mix.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256**: the module's general-purpose generator (seeded through SplitMix64).
///
/// reference: Blackman, Vigna 2021, "Scrambled Linear Pseudorandom Number Generators" (TOMS).
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Creates a generator whose 256-bit state is expanded from `seed` with SplitMix64.
    public init(seed: UInt64) {
        var expander = SplitMix64(seed: seed)
        s0 = expander.next(); s1 = expander.next(); s2 = expander.next(); s3 = expander.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }
}

/// Derives independent seeds from a base seed and context (purpose, round, client, ...).
public enum SeedDerivation {
    /// Purpose tags that keep the module's random streams apart.
    public enum Purpose: UInt64, Sendable {
        /// Client sampling per round.
        case clientSampling = 0x5341_4D50
        /// DP Gaussian noise per round.
        case privacyNoise = 0x4E4F_4953
        /// Dataset partitioning.
        case partitioning = 0x5041_5254
    }

    /// A seed that depends on every component, in order.
    public static func derive(_ seed: UInt64, _ purpose: Purpose, _ components: UInt64...) -> UInt64 {
        derive(seed, purpose, components)
    }

    static func derive(_ seed: UInt64, _ purpose: Purpose, _ components: [UInt64]) -> UInt64 {
        var h = SplitMix64.mix(seed ^ 0x6A09_E667_F3BC_C908)
        h = SplitMix64.mix(h ^ purpose.rawValue)
        for component in components { h = SplitMix64.mix(h &+ 0x9E37_79B9_7F4A_7C15 ^ component) }
        return h
    }

    /// A generator for the given context.
    public static func generator(_ seed: UInt64, _ purpose: Purpose, _ components: UInt64...) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: derive(seed, purpose, components))
    }
}

extension RandomNumberGenerator {
    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform integer in 0..<bound by rejection (toolchain-independent, unlike the standard
    /// library's `random(in:using:)` whose algorithm is unspecified). Returns 0 when `bound ≤ 1`.
    public mutating func nextIndex(below bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        let n = UInt64(bound)
        let limit = UInt64.max - UInt64.max % n  // values ≥ limit would bias the result
        while true {
            let r = next()
            if r < limit { return Int(r % n) }
        }
    }

    /// Fisher–Yates shuffle with ``nextIndex(below:)``.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, nextIndex(below: i + 1))
        }
    }

    /// A standard normal draw (Box–Muller, cosine branch).
    ///
    /// reference: Box, Muller 1958, "A Note on the Generation of Random Normal Deviates".
    public mutating func nextStandardNormal() -> Double {
        let u1 = 1 - nextUnitInterval()  // (0, 1]
        let u2 = nextUnitInterval()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// log of a Gamma(shape, 1) draw; stable for tiny shapes, where the draw itself underflows.
    /// Marsaglia–Tsang for shape ≥ 1; for shape < 1 the boost `G(a) = G(a+1) · U^(1/a)`.
    ///
    /// reference: Marsaglia, Tsang 2000, "A Simple Method for Generating Gamma Variables"
    /// (ACM TOMS 26(3)), Section 6 (boost for a < 1).
    public mutating func nextLogGamma(shape: Double) -> Double {
        if shape < 1 {
            let u = 1 - nextUnitInterval()  // (0, 1]
            return nextLogGamma(shape: shape + 1) + log(u) / shape
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = nextStandardNormal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = 1 - nextUnitInterval()
            if u < 1 - 0.0331 * x * x * x * x { return log(d * v) }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return log(d * v) }
        }
    }

    /// A Gamma(shape, 1) draw (see ``nextLogGamma(shape:)``).
    public mutating func nextGamma(shape: Double) -> Double { exp(nextLogGamma(shape: shape)) }

    /// A symmetric Dirichlet(α, …, α) draw of dimension `count`, normalised in log space.
    public mutating func nextDirichlet(alpha: Double, count: Int) -> [Double] {
        let logs = (0..<count).map { _ in nextLogGamma(shape: alpha) }
        let top = logs.max() ?? 0
        let weights = logs.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }
}
