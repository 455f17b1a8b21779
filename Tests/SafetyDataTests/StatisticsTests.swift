import Testing

@testable import SafetyData

/// Wilson intervals against Newcombe (1998), Table I, method 3; per-category rates; snippets.
@Suite struct StatisticsTests {
    @Test(arguments: [
        (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
        (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634),
    ])
    func wilsonMatchesPublishedValues(x: Int, n: Int, lower: Double, upper: Double) throws {
        let interval = try #require(WilsonInterval(successes: x, trials: n))
        #expect(abs(interval.lower - lower) < 5e-5)
        #expect(abs(interval.upper - upper) < 5e-5)
        #expect(interval.lower <= interval.proportion && interval.proportion <= interval.upper)
    }

    @Test func wilsonEdgesAndSymmetry() throws {
        let n = 17
        for x in 0 ... n {
            let a = try #require(WilsonInterval(successes: x, trials: n))
            let b = try #require(WilsonInterval(successes: n - x, trials: n))
            #expect(abs(a.lower - (1 - b.upper)) < 1e-12)
            #expect(a.lower >= 0 && a.upper <= 1)
        }
        #expect(WilsonInterval(successes: 0, trials: n)?.lower == 0)
        #expect(WilsonInterval(successes: n, trials: n)?.upper == 1)
        let none = try #require(WilsonInterval(successes: 0, trials: 0))
        #expect(none.lower == 0 && none.upper == 1)
        #expect(WilsonInterval(successes: 3, trials: 2) == nil)
        #expect(WilsonInterval(successes: -1, trials: 2) == nil)
        #expect(WilsonInterval(successes: 1, trials: 2, z: 0) == nil)
        #expect(WilsonInterval(successes: 12, trials: 40)?.description == "12/40 = 30.0% [95% CI 18.1%, 45.4%]")
    }

    @Test func categoryRatesCountEveryCategoryOnce() throws {
        var rates = CategoryRates()
        rates.record(true, categories: ["a", "b", "a"])
        rates.record(false, categories: ["a"])
        #expect(rates.tallies["a"] == CategoryRates.Tally(successes: 1, trials: 2))
        #expect(rates.tallies["b"] == CategoryRates.Tally(successes: 1, trials: 1))
        #expect(rates.sorted.map(\.category) == ["a", "b"])
        let built = CategoryRates([(categories: ["x"], success: true), (categories: ["x"], success: true)])
        #expect(built.sorted.first?.interval.upper == 1)
    }

    @Test func truncateNeverShowsMoreThanTheSnippet() {
        let long = String(repeating: "abcdefghij", count: 20)
        let snippet = ReportText.truncate(long)
        #expect(snippet == String(long.prefix(60)) + "…")
        #expect(ReportText.truncate("short\n\ttext  here") == "short text here")
        #expect(ReportText.truncate("exactly five", to: 12) == "exactly five")
        #expect(ReportText.truncate("a b c d e f", to: 4) == "a b…")
        #expect(ReportText.truncate("anything", to: 0) == "…")
    }
}
