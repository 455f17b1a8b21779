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

    /// Relative paths of a new run become absolute in its config.yaml (the adversary's data file, the
    /// initial adapter, the constitution and the critic model, like the model and data directory), so
    /// a resume from another working directory reads the same files.
    @Test func relativeAdversaryDataAndInitialAdapterPathsAreRecordedAbsolute() throws {
        let workspace = try RunResumeTests.workspace("relative")
        defer { try? FileManager.default.removeItem(at: workspace) }
        try Data(#"{"messages": [{"role": "user", "content": "bad"}, {"role": "assistant", "content": "worse"}]}"#.utf8)
            .write(to: workspace.appendingPathComponent("attacker.jsonl"))
        let out = workspace.appendingPathComponent("run")
        let r = try CLITests.run(["run", "--out", out.path, "--set", "model=\(RunResumeTests.tinyModel)", "--set", "data.directory=clients",
                                  "--set", "clients=3", "--set", "clients_per_round=3", "--set", "rounds=1", "--set", "local.steps=1",
                                  "--set", "local.tokens_per_batch=256", "--set", "data.max_sequence_length=256", "--set", "threads=1",
                                  "--set", "evaluation.every=0",
                                  "--set", "adversaries=[{clients: [1], attack: harmful_data, data: attacker.jsonl}]",
                                  "--set", "cai.constitution=rules.yaml", "--set", "cai.critic_model=critic.gguf"],
                                 directory: workspace)
        #expect(r.status == 0, "\(r.stderr)")
        let yaml = try String(contentsOf: out.appendingPathComponent("config.yaml"), encoding: .utf8)
        #expect(yaml.contains("data: \(workspace.appendingPathComponent("attacker.jsonl").standardizedFileURL.path)"))
        #expect(yaml.contains("constitution: \(workspace.appendingPathComponent("rules.yaml").standardizedFileURL.path)"))
        #expect(yaml.contains("critic_model: \(workspace.appendingPathComponent("critic.gguf").standardizedFileURL.path)"))

        let initial = try CLITests.run(["server", "init", "--run", "deployed", "--set", "initial_adapter=start"], directory: workspace)
        #expect(initial.status == 0, "\(initial.stderr)")
        let deployed = try String(contentsOf: workspace.appendingPathComponent("deployed/config.yaml"), encoding: .utf8)
        #expect(deployed.contains("initial_adapter: \(workspace.appendingPathComponent("start").standardizedFileURL.path)"))
    }
}
