import Foundation

// Proportions with confidence intervals, per-category rates, and report-safe text.

/// A Wilson score interval for a binomial proportion.
/// reference: Wilson 1927, JASA 22(158); Newcombe 1998, Statistics in Medicine 17(8),
/// "Two-sided confidence intervals for the single proportion", method 3 (no continuity
/// correction).
public struct WilsonInterval: Hashable, Sendable, CustomStringConvertible {
    /// z for a two-sided 95% interval (the 0.975 quantile of the standard normal).
    public static let z95 = 1.959963984540054

    /// Successes.
    public let successes: Int
    /// Trials.
    public let trials: Int
    /// The point estimate successes / trials (0 when there are no trials).
    public let proportion: Double
    /// Lower bound, in [0, 1].
    public let lower: Double
    /// Upper bound, in [0, 1].
    public let upper: Double

    /// The interval for `successes` out of `trials` at critical value `z` (default 95%).
    /// Returns nil unless `0 <= successes <= trials` and `z > 0`; with no trials the interval
    /// is the uninformative [0, 1].
    public init?(successes: Int, trials: Int, z: Double = WilsonInterval.z95) {
        guard trials >= 0, successes >= 0, successes <= trials, z > 0, z.isFinite else { return nil }
        self.successes = successes
        self.trials = trials
        guard trials > 0 else {
            proportion = 0
            lower = 0
            upper = 1
            return
        }
        let n = Double(trials)
        let p = Double(successes) / n
        let z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let halfWidth = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        proportion = p
        // At the edges the exact bound is 0 or 1; the formula leaves rounding error there.
        lower = successes == 0 ? 0 : max(0, centre - halfWidth)
        upper = successes == trials ? 1 : min(1, centre + halfWidth)
    }

    /// `12/40 = 30.0% [95% CI 18.1%, 45.4%]`.
    public var description: String {
        func percent(_ x: Double) -> String {
            let tenths = (x * 1000).rounded()
            return "\(Int(tenths) / 10).\(Int(tenths) % 10)%"
        }
        return "\(successes)/\(trials) = \(percent(proportion)) [95% CI \(percent(lower)), \(percent(upper))]"
    }
}

/// Counts of a binary outcome (e.g. refused) per category, with Wilson intervals.
public struct CategoryRates: Sendable {
    /// Successes and trials for one category.
    public struct Tally: Hashable, Sendable {
        /// Outcomes counted as successes (e.g. refusals).
        public var successes = 0
        /// All outcomes.
        public var trials = 0

        /// The Wilson 95% interval (trials ≥ successes ≥ 0 always holds here).
        public var interval: WilsonInterval? { WilsonInterval(successes: successes, trials: trials) }
    }

    /// Tallies by category name.
    public private(set) var tallies: [String: Tally] = [:]

    /// An empty table.
    public init() {}

    /// Counts one outcome in every category of `categories` (an item may have several, as
    /// AdvBench goals do; duplicates within one call count once).
    public mutating func record(_ success: Bool, categories: [String]) {
        for category in Set(categories) {
            tallies[category, default: Tally()].trials += 1
            if success { tallies[category, default: Tally()].successes += 1 }
        }
    }

    /// Builds a table from `(categories, success)` observations.
    public init<S: Sequence>(_ observations: S) where S.Element == (categories: [String], success: Bool) {
        for observation in observations { record(observation.success, categories: observation.categories) }
    }

    /// Categories sorted by name with their intervals.
    public var sorted: [(category: String, interval: WilsonInterval)] {
        tallies.keys.sorted().compactMap { key in tallies[key]?.interval.map { (key, $0) } }
    }
}

/// Text that is safe to put in logs and reports: harmful prompts and completions are shown
/// only as short truncated snippets.
public enum ReportText {
    /// The default snippet length, in characters.
    public static let defaultLength = 60

    /// The first `length` characters of `text` on one line (line breaks and tabs become
    /// spaces, runs of spaces collapse), followed by "…" if anything was cut.
    public static func truncate(_ text: String, to length: Int = defaultLength) -> String {
        var flat = ""
        var lastWasSpace = false
        for character in text {
            let isSpace = character.isWhitespace
            if isSpace, lastWasSpace { continue }
            flat.append(isSpace ? " " : character)
            lastWasSpace = isSpace
        }
        let trimmed = flat.trimmingCharacters(in: .whitespaces)
        let limit = max(length, 0)
        guard trimmed.count > limit else { return trimmed }
        return String(trimmed.prefix(limit)).trimmingCharacters(in: .whitespaces) + "…"
    }
}

/// The exact McNemar test for two paired binary outcomes on the same items (e.g. two models'
/// refusals on the same AdvBench prompts): only the discordant pairs count, and under the null
/// hypothesis each is equally likely to go either way.
/// reference: McNemar 1947, Psychometrika 12(2); the exact (binomial) form, Fagerland, Lydersen
/// & Laake 2013, BMC Medical Research Methodology 13:91, "The McNemar test for binary
/// matched-pairs data: mid-p and asymptotic are better than exact conditional" (we report the
/// conservative exact p).
public struct McNemarTest: Hashable, Sendable {
    /// Items where the first outcome is true and the second false.
    public let onlyFirst: Int
    /// Items where the second outcome is true and the first false.
    public let onlySecond: Int
    /// Two-sided exact p-value: 2 · P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1.
    public let pValue: Double

    /// The test on discordant counts `b` and `c` (nil when either is negative).
    public init?(onlyFirst b: Int, onlySecond c: Int) {
        guard b >= 0, c >= 0 else { return nil }
        onlyFirst = b
        onlySecond = c
        let n = b + c
        guard n > 0 else {
            pValue = 1
            return
        }
        // Sum the binomial tail in log space: n reaches 520 (AdvBench), where 2^-n underflows.
        let k = min(b, c)
        let logHalf = -Double(n) * log(2.0)
        var logChoose = 0.0  // log C(n, 0)
        var tail = 0.0
        for i in 0...k {
            if i > 0 { logChoose += log(Double(n - i + 1)) - log(Double(i)) }
            tail += exp(logChoose + logHalf)
        }
        pValue = min(1, 2 * tail)
    }

    /// The test on two outcome sequences over the same items, in the same order (nil when their
    /// lengths differ).
    public init?(_ first: [Bool], _ second: [Bool]) {
        guard first.count == second.count else { return nil }
        let b = zip(first, second).filter { $0 && !$1 }.count
        let c = zip(first, second).filter { !$0 && $1 }.count
        self.init(onlyFirst: b, onlySecond: c)
    }
}

/// A percentile bootstrap interval for the difference of two paired proportions (first − second),
/// resampling items with replacement from a seeded generator.
/// reference: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13 (percentile
/// interval).
public struct PairedBootstrapInterval: Hashable, Sendable {
    /// The observed difference of proportions.
    public let difference: Double
    /// The interval's bounds.
    public let lower: Double, upper: Double
    /// Resamples drawn.
    public let resamples: Int

    /// The 95% interval (or `level`) for outcome sequences over the same items in the same order;
    /// nil when they are empty, differ in length, or `resamples` < 1.
    public init?(_ first: [Bool], _ second: [Bool], resamples: Int = 2000, level: Double = 0.95, seed: UInt64 = 1) {
        let n = first.count
        guard n > 0, second.count == n, resamples >= 1, level > 0, level < 1 else { return nil }
        // Per item: +1, 0 or −1; a resample's difference is the mean of its items' values.
        let values = zip(first, second).map { ($0 ? 1 : 0) - ($1 ? 1 : 0) }
        difference = Double(values.reduce(0, +)) / Double(n)
        var generator = SplitMix64(seed: seed)
        var differences = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var sum = 0
            for _ in 0..<n { sum += values[Int(generator.next() % UInt64(n))] }
            differences[r] = Double(sum) / Double(n)
        }
        differences.sort()
        let tail = (1 - level) / 2
        func quantile(_ q: Double) -> Double {
            let position = q * Double(resamples - 1)
            let low = Int(position.rounded(.down)), high = min(low + 1, resamples - 1)
            return differences[low] + (differences[high] - differences[low]) * (position - Double(low))
        }
        lower = quantile(tail)
        upper = quantile(1 - tail)
        self.resamples = resamples
    }
}
