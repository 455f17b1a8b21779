/// Aggregation rules as pure functions over tensor maps. All inputs must share one layout;
/// each function throws ``FederationError/emptyInput(operation:)`` on an empty input and
/// ``FederationError/layoutMismatch(operation:detail:)`` on differing layouts.
///
/// Shapes: every `TensorMap` here is one flat vector of `P` parameters; `n` is the number of
/// clients. Coordinate-wise rules cost O(n log n · P); Krum costs O(n² · P).
public enum Aggregation {
    /// Weighted mean `Σ wᵢ xᵢ / Σ wᵢ`, accumulated in Double.
    ///
    /// reference: McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
    /// Decentralized Data" (FedAvg, weights = example counts); Flower `aggregate()`.
    public static func weightedMean(_ items: [(TensorMap, weight: Double)]) throws -> TensorMap {
        guard let first = items.first?.0 else {
            throw FederationError.emptyInput(operation: "weightedMean")
        }
        let total = items.reduce(0.0) { $0 + $1.weight }
        guard total > 0, total.isFinite else {
            throw FederationError.invalidParameter(
                key: "weights", value: "sum \(total)", allowed: "positive finite sum")
        }
        var sum = [Double](repeating: 0, count: first.elementCount)  // (P)
        for (map, weight) in items {
            try first.checkLayout(map, "weightedMean")
            for i in sum.indices { sum[i] += weight * Double(map.values[i]) }
        }
        return TensorMap(unchecked: first.layout, values: sum.map { Float($0 / total) })
    }

    /// Unweighted mean.
    public static func mean(_ maps: [TensorMap]) throws -> TensorMap {
        try weightedMean(maps.map { ($0, weight: 1.0) })
    }

    /// Coordinate-wise median (mean of the two middle values for even `n`, as `numpy.median`).
    ///
    /// reference: Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
    /// Statistical Rates"; Flower `FedMedian`.
    public static func coordinateMedian(_ maps: [TensorMap]) throws -> TensorMap {
        try coordinatewise(maps, operation: "coordinateMedian") { sorted in
            let n = sorted.count
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        }
    }

    /// Coordinate-wise trimmed mean: drop the `⌊β·n⌋` smallest and largest values of each
    /// coordinate, average the rest. `β` must be in [0, 0.5) and leave at least one value.
    ///
    /// reference: Yin et al. 2018 (trimmed mean); Flower `FedTrimmedAvg` (`beta`, `int(beta*n)`).
    public static func trimmedMean(_ maps: [TensorMap], beta: Double) throws -> TensorMap {
        try require(beta >= 0 && beta < 0.5, key: "beta", value: beta, allowed: "[0, 0.5)")
        let cut = Int((beta * Double(maps.count)).rounded(.down))
        return try coordinatewise(maps, operation: "trimmedMean") { sorted in
            let kept = sorted[cut..<(sorted.count - cut)]
            return kept.reduce(0, +) / Double(kept.count)
        }
    }

    /// Applies `reduce` to the sorted values of every coordinate (in Double).
    private static func coordinatewise(
        _ maps: [TensorMap], operation: String, _ reduce: ([Double]) -> Double
    ) throws -> TensorMap {
        guard let first = maps.first else { throw FederationError.emptyInput(operation: operation) }
        for map in maps { try first.checkLayout(map, operation) }
        var column = [Double](repeating: 0, count: maps.count)  // (n)
        var out = [Float](repeating: 0, count: first.elementCount)  // (P)
        for i in out.indices {
            for (k, map) in maps.enumerated() { column[k] = Double(map.values[i]) }
            column.sort()
            out[i] = Float(reduce(column))
        }
        return TensorMap(unchecked: first.layout, values: out)
    }

    /// Krum scores: for each map, the sum of squared distances to its `n − f − 2` nearest other
    /// maps (at least 1, as Flower clamps it). Lower is more central.
    ///
    /// reference: Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant
    /// Gradient Descent" (NeurIPS), Section 4; Flower `aggregate_krum`.
    public static func krumScores(_ maps: [TensorMap], byzantineCount f: Int) throws -> [Double] {
        guard let first = maps.first else { throw FederationError.emptyInput(operation: "krum") }
        try require(f >= 0, key: "byzantine_count", value: f, allowed: ">= 0")
        let n = maps.count
        if n == 1 { return [0] }
        var distance = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)  // (n, n)
        for i in 0..<n {
            try first.checkLayout(maps[i], "krum")
            for j in (i + 1)..<n {
                let d = try maps[i].squaredDistance(to: maps[j])
                distance[i][j] = d
                distance[j][i] = d
            }
        }
        let neighbours = min(max(1, n - f - 2), n - 1)
        return (0..<n).map { i in
            let others = (0..<n).filter { $0 != i }.map { distance[i][$0] }.sorted()
            return others.prefix(neighbours).reduce(0, +)
        }
    }

    /// Indices of the `m` maps with the lowest Krum scores, best first (ties: lower index).
    /// `m = 1` is Krum; `m > 1` is multi-Krum.
    public static func multiKrumSelection(
        _ maps: [TensorMap], byzantineCount f: Int, selectCount m: Int
    ) throws -> [Int] {
        try require(m >= 1, key: "select_count", value: m, allowed: ">= 1")
        let scores = try krumScores(maps, byzantineCount: f)
        let order = scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
        return Array(order.prefix(m))
    }

    /// Scales `delta` so that its L2 norm is at most `maxNorm`: `Δ · min(1, C / ‖Δ‖)`.
    ///
    /// reference: McMahan et al. 2018, "Learning Differentially Private Recurrent Language
    /// Models" (ICLR), flat clipping, Algorithm 1 `ClipFn`.
    public static func clipped(_ delta: TensorMap, maxNorm: Double) -> (TensorMap, wasClipped: Bool) {
        let norm = delta.l2Norm
        guard norm > maxNorm, norm > 0 else { return (delta, false) }
        return (delta.scaled(by: maxNorm / norm), true)
    }

    /// Example-weighted mean of each metric key over the entries that report it (Flower's
    /// `weighted_loss_avg`, applied per key). Entries with non-positive weight are skipped.
    public static func weightedMetrics(_ entries: [([String: Double], Int)]) -> [String: Double] {
        var sums: [String: Double] = [:]
        var weights: [String: Double] = [:]
        for (metrics, count) in entries where count > 0 {
            for (key, value) in metrics where value.isFinite {
                sums[key, default: 0] += Double(count) * value
                weights[key, default: 0] += Double(count)
            }
        }
        return sums.reduce(into: [:]) { result, pair in
            if let weight = weights[pair.key], weight > 0 { result[pair.key] = pair.value / weight }
        }
    }
}
