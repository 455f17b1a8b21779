import SafetyData
import Testing

@Test func safetyDataModuleLinks() { _ = SafetyData.self }
