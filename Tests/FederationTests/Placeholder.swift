import Federation
import Testing

@Test func federationModuleLinks() { _ = Federation.self }
