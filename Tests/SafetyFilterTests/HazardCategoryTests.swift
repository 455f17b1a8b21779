import SafetyFilter
import Testing

struct HazardCategoryTests {
    @Test func codesRoundTripAndParseLoosely() {
        #expect(HazardCategory.allCases.count == 14)
        for (i, c) in HazardCategory.allCases.enumerated() {
            #expect(c.number == i + 1)
            #expect(HazardCategory(code: c.code) == c)
        }
        #expect(HazardCategory(code: " s11,") == .suicideAndSelfHarm)
        #expect(HazardCategory(code: "S15") == nil)
    }

    @Test func sourceCategoriesMap() {
        #expect(HazardCategory.from(sourceCategory: "self_harm") == .suicideAndSelfHarm)
        #expect(HazardCategory.from(sourceCategory: "Hate Speech") == .hate)
        #expect(HazardCategory.from(sourceCategory: "misinformation") == nil)
    }

    @Test func thresholdRejectsValuesOutsideTheUnitInterval() {
        #expect(throws: FilterError.invalidThreshold(1.5)) { try FilterThreshold(1.5) }
        #expect(throws: FilterError.self) { try FilterThreshold(.nan) }
        let t = try? FilterThreshold(0.5)
        #expect(t?.isUnsafe(JudgeScore(unsafeProbability: 0.5)) == true)
        #expect(t?.isUnsafe(JudgeScore(unsafeProbability: 0.49)) == false)
    }
}
