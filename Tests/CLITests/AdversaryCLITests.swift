import Foundation
import Testing

/// Poisoned clients from the command line.
struct AdversaryCLITests {
    /// Adversaries are simulated clients: a deployment's server refuses a configuration naming
    /// them, and writes no run directory.
    @Test func serverInitRefusesAdversaries() throws {
        let directory = try PaperCutCLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = directory.appendingPathComponent("run")
        let r = try CLITests.run(["server", "init", "--run", run.path, "--set", "adversaries=[{clients: [0], attack: scale}]"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("poisoned clients exist in the simulation only"))
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("config.yaml").path))
        // A bad entry names its key.
        let bad = try CLITests.run(["config", "show", "--set", "adversaries=[{clients: [9], attack: nan}]"])
        #expect(bad.status != 0 && bad.stderr.contains("adversaries.0.clients"))
    }
}
