import Assets
import Foundation
import Logging
import Simulation
import Testing

struct EvaluationHookTests {
    /// An offline machine without the evaluation data: the hook fails when it is built (before the
    /// run's first round), not after the first round's training.
    @Test func missingEvaluationDataFailsWhenTheHookIsBuilt() throws {
        let home = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let store = AssetStore(home: home, environment: ["FEDGUARD_PIP": "/bin/false", "PATH": "/usr/bin:/bin"],
                               logger: Logger(label: "test"))
        var settings = RunConfiguration.EvaluationSettings()
        settings.suite = "advbench"
        do {
            _ = try SuiteEvaluationHook(configuration: settings, modelURL: SimulationFixtures.tinyModelURL, store: store)
            Issue.record("expected the hook to fail without its data")
        } catch {
            #expect("\(error)".contains("pyrit"))
        }
    }
}
