import Simulation
import Testing

@Test func simulationModuleLinks() { _ = Simulation.self }
