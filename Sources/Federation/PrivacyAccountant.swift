import Foundation

/// A Rényi-DP accountant for the (Poisson-subsampled) Gaussian mechanism, over integer orders.
///
/// Per step at order α (integer ≥ 2), noise multiplier σ, sampling rate q:
/// - q = 1 (no subsampling): `ε(α) = α / (2σ²)` (Mironov 2017, Proposition 7).
/// - 0 < q < 1: `ε(α) = log A_α / (α − 1)` with
///   `A_α = Σ_{i=0}^{α} C(α,i) (1−q)^{α−i} q^i exp((i² − i) / (2σ²))`
///   (Mironov, Talwar, Zhang 2019, Section 3.3, integer α), summed in log space.
/// RDP composes additively over steps. Conversion to (ε, δ) takes the best order of
/// `ε = r + log(1 − 1/α) − (log δ + log α) / (α − 1)` (Canonne, Kamath, Steinke 2020,
/// Proposition 12; also Asoodeh et al. 2020), and ε = 0 when `δ² + expm1(−r) ≥ 0`.
///
/// reference: Mironov 2017, "Rényi Differential Privacy" (CSF); Mironov, Talwar, Zhang 2019,
/// "Rényi Differential Privacy of the Sampled Gaussian Mechanism" (arXiv:1908.10530); the
/// TF-Privacy / dp_accounting `RdpAccountant` (same formulas, integer orders).
public struct RDPAccountant: Sendable, Equatable, Codable {
    /// The integer orders 2…64, 128, 256, 512 (the integer subset of dp_accounting's defaults).
    public static let defaultOrders: [Int] = Array(2...64) + [128, 256, 512]

    /// The Rényi orders tracked.
    public let orders: [Int]
    /// Accumulated RDP at each order.
    public private(set) var rdp: [Double]
    /// Number of mechanism steps composed.
    public private(set) var steps: Int = 0

    /// Creates an empty accountant; throws if an order is below 2 or the list is empty.
    public init(orders: [Int] = RDPAccountant.defaultOrders) throws {
        try require(!orders.isEmpty && orders.allSatisfy { $0 >= 2 }, key: "orders",
                    value: "\(orders)", allowed: "non-empty, integers >= 2")
        self.orders = orders
        self.rdp = Array(repeating: 0, count: orders.count)
    }

    /// Composes `steps` runs of the Gaussian mechanism with noise multiplier σ (noise stddev /
    /// sensitivity) and Poisson sampling rate q.
    public mutating func compose(noiseMultiplier sigma: Double, samplingRate q: Double, steps count: Int = 1) throws {
        try require(sigma >= 0 && sigma.isFinite, key: "noise_multiplier", value: sigma, allowed: "finite, >= 0")
        try require(q >= 0 && q <= 1, key: "sampling_rate", value: q, allowed: "[0, 1]")
        try require(count >= 0, key: "steps", value: count, allowed: ">= 0")
        for (k, order) in orders.enumerated() {
            rdp[k] += Double(count) * Self.subsampledGaussianRDP(order: order, noiseMultiplier: sigma, samplingRate: q)
        }
        steps += count
    }

    /// The smallest ε at `delta` over the tracked orders, and the order achieving it.
    public func epsilon(delta: Double) throws -> (epsilon: Double, order: Int) {
        try Self.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    /// RDP of one Gaussian mechanism step without subsampling: `α / (2σ²)`.
    public static func gaussianRDP(order: Int, noiseMultiplier sigma: Double) -> Double {
        sigma == 0 ? .infinity : Double(order) / (2 * sigma * sigma)
    }

    /// RDP of one Poisson-subsampled Gaussian mechanism step at integer order α.
    public static func subsampledGaussianRDP(order: Int, noiseMultiplier sigma: Double, samplingRate q: Double) -> Double {
        if q == 0 { return 0 }
        if sigma == 0 { return .infinity }
        if q == 1 { return gaussianRDP(order: order, noiseMultiplier: sigma) }
        let alpha = Double(order)
        let logQ = log(q), log1mQ = log1p(-q)
        var logA = -Double.infinity
        for i in 0...order {
            let k = Double(i)
            let logBinomial = lgamma(alpha + 1) - lgamma(k + 1) - lgamma(alpha - k + 1)
            let term = logBinomial + k * logQ + (alpha - k) * log1mQ + (k * k - k) / (2 * sigma * sigma)
            logA = logAdd(logA, term)
        }
        return logA / (alpha - 1)
    }

    /// Converts RDP values at `orders` to ε at `delta` (best order).
    public static func epsilon(orders: [Int], rdp: [Double], delta: Double) throws -> (epsilon: Double, order: Int) {
        try require(delta > 0 && delta < 1, key: "delta", value: delta, allowed: "(0, 1)")
        try require(orders.count == rdp.count && !orders.isEmpty, key: "rdp", value: "\(rdp.count) values",
                    allowed: "one value per order (\(orders.count))")
        var best = (epsilon: Double.infinity, order: orders[0])
        for (order, r) in zip(orders, rdp) {
            let alpha = Double(order)
            let eps: Double
            if delta * delta + expm1(-r) >= 0 {
                eps = 0
            } else {
                eps = r + log1p(-1 / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
            }
            if eps < best.epsilon { best = (eps, order) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// log(exp(a) + exp(b)) without overflow.
    static func logAdd(_ a: Double, _ b: Double) -> Double {
        let high = max(a, b), low = min(a, b)
        if low == -.infinity { return high }
        return high + log1p(exp(low - high))
    }
}
