import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `fedguard experiment` as a user runs it, on the tiny model with prepared client data and the
/// built-in evaluation suites (no network): a cell killed mid-run resumes to the adapter of an
/// uninterrupted experiment; a restart skips finished cells; a bad grid names its key.
@Suite(.serialized)
struct ExperimentCLITests {
    static let tinyModel = CLITests.packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.f32.gguf").path

    /// A workspace with a grid file of one SCAFFOLD cell (3 rounds) and its client data in place.
    static func workspace(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-expcli-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let grid = """
            base:
              model: \(tinyModel)
              threads: 1
              clients: 3
              clients_per_round: 2
              rounds: 3
              local: {steps: 2, tokens_per_batch: 256}
              data: {max_sequence_length: 256}
              evaluation: {every: 0}
            methods: [none]
            strategies: [scaffold]
            harmful_fractions: [0.3]
            seeds: [1]
            references: false
            evaluation: {suites: [benign], limit: 2, max_tokens: 4, helpfulness_prompts: 2}
            """
        try Data(grid.utf8).write(to: url.appendingPathComponent("grid.yaml"))
        return url
    }

    /// Client data where the experiment looks for it (it would build it otherwise).
    static func writeData(_ experiment: URL) throws {
        let data = experiment.appendingPathComponent("data/h0.30-s1")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for client in 0..<3 {
            let lines = (0..<(4 + client)).map { j in
                #"{"messages": [{"role": "user", "content": "q\#(j) from \#(client): what is two plus \#(j)?"}, "#
                    + #"{"role": "assistant", "content": "two plus \#(j) is \#(2 + j), says client \#(client)"}]}"#
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: data.appendingPathComponent("client-00\(client).jsonl"))
        }
    }

    static let cell = "base/scaffold/h0.30/s1/none"

    static func adapter(_ experiment: URL) throws -> Data {
        try Data(contentsOf: experiment.appendingPathComponent("cells/\(cell)/run/adapters/round-0003/adapter_model.safetensors"))
    }

    @Test func aKilledCellResumesToTheUninterruptedAdapterAndARestartSkipsIt() throws {
        let workspace = try Self.workspace("resume")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let home = workspace.appendingPathComponent("home").path
        let grid = workspace.appendingPathComponent("grid.yaml").path

        let reference = workspace.appendingPathComponent("reference")
        try Self.writeData(reference)
        let r = try CLITests.run(["experiment", grid, "--out", reference.path], environment: ["FEDGUARD_HOME": home])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1 of 1 cells finished"))
        #expect(r.stdout.contains("| \(Self.cell) | "))
        #expect(r.stderr.contains("[1/1] \(Self.cell): done"))
        let expected = try Self.adapter(reference)

        let killed = workspace.appendingPathComponent("killed")
        try Self.writeData(killed)
        let first = try CLITests.run(["experiment", grid, "--out", killed.path],
                                     environment: ["FEDGUARD_HOME": home, "FEDGUARD_TEST_FAULT": "checkpoint-committed@1"])
        #expect(first.status == SIGKILL, "expected a SIGKILL, got \(first.status): \(first.stderr)")
        // The restart names no grid: it continues the experiment's own.
        let second = try CLITests.run(["experiment", "--out", killed.path], environment: ["FEDGUARD_HOME": home])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("\(Self.cell): resuming"))
        #expect(try Self.adapter(killed) == expected, "the resumed cell's adapter differs from the uninterrupted one")

        let third = try CLITests.run(["experiment", "--out", killed.path], environment: ["FEDGUARD_HOME": home])
        #expect(third.status == 0 && third.stderr.contains("finished before, kept"), "\(third.stderr)")
        let list = try CLITests.run(["experiment", "--out", killed.path, "--list"])
        #expect(list.stdout.contains(Self.cell) && list.stdout.contains("done"))

        let report = try CLITests.run(["report", killed.path])
        #expect(report.status == 0 && report.stdout.contains("cells: 1 of 1 finished") && report.stdout.contains("report.csv"),
                "\(report.stderr)")

        // Another grid over the same directory is refused.
        let other = try CLITests.run(["experiment", "--out", killed.path, "--preset", "smoke"], environment: ["FEDGUARD_HOME": home])
        #expect(other.status != 0 && other.stderr.contains("another grid"), "\(other.stderr)")
    }

    @Test func badGridsAndPresetsAreRefusedWithTheKey() throws {
        let workspace = try Self.workspace("bad")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let bad = workspace.appendingPathComponent("bad.yaml")
        try Data("harmful_fractions: [0.3, 2]\n".utf8).write(to: bad)
        let r = try CLITests.run(["experiment", bad.path, "--out", workspace.appendingPathComponent("x").path, "--list"])
        #expect(r.status != 0 && r.stderr.contains("harmful_fractions") && r.stderr.contains("'2'"), "\(r.stderr)")
        let p = try CLITests.run(["experiment", "--out", workspace.appendingPathComponent("y").path, "--preset", "huge"])
        #expect(p.status != 0 && p.stderr.contains("--preset must be one of quickstart, smoke, paper, full"), "\(p.stderr)")
        let show = try CLITests.run(["experiment", "--out", workspace.appendingPathComponent("z").path, "--preset", "paper", "--show-grid"])
        #expect(show.status == 0 && show.stdout.contains("- scaffold") && show.stdout.contains("clients: 20"), "\(show.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace.appendingPathComponent("z").path), "--show-grid writes nothing")
    }
}
