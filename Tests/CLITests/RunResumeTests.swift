import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `fedguard run` and `fedguard run --resume` on the tiny model: a run killed with SIGKILL at
/// any moment and resumed ends with the adapter bytes of an uninterrupted run.
@Suite(.serialized)
struct RunResumeTests {
    static let tinyModel = CLITests.packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.f32.gguf").path

    /// A temporary directory holding client data for 3 clients.
    static func workspace(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-resume-\(name)-\(UUID().uuidString.prefix(8))")
        let data = url.appendingPathComponent("clients")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for client in 0..<3 {
            let lines = (0..<(4 + client)).map { j in
                #"{"messages": [{"role": "user", "content": "q\#(j) from \#(client): what is two plus \#(j)?"}, "#
                    + #"{"role": "assistant", "content": "two plus \#(j) is \#(2 + j), says client \#(client)"}]}"#
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: data.appendingPathComponent("client-00\(client).jsonl"))
        }
        return url
    }

    /// Arguments of a 3-round SCAFFOLD run (stateful strategy and client controls).
    static func runArguments(workspace: URL, out: String) -> [String] {
        ["run", "--out", workspace.appendingPathComponent(out).path,
         "--set", "model=\(tinyModel)", "--set", "data.directory=\(workspace.appendingPathComponent("clients").path)",
         "--set", "clients=3", "--set", "clients_per_round=2", "--set", "rounds=3", "--set", "strategy=scaffold",
         "--set", "local.steps=2", "--set", "local.tokens_per_batch=256", "--set", "data.max_sequence_length=256",
         "--set", "threads=1", "--set", "evaluation.every=0"]
    }

    static func finalAdapter(_ run: URL) throws -> Data {
        try Data(contentsOf: run.appendingPathComponent("adapters/round-0003/adapter_model.safetensors"))
    }

    /// Starts the binary without waiting.
    static func start(_ args: [String], environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Resumes until the run completes and checks its records and adapter.
    static func resumeAndCompare(_ run: URL, reference: Data) throws {
        let resumed = try CLITests.run(["run", "--resume", run.path])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("final adapter:"))
        #expect(try finalAdapter(run) == reference, "resumed adapter differs from the uninterrupted run")
        let lines = try String(contentsOf: run.appendingPathComponent("rounds.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        for (index, line) in lines.enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["round"] as? Int == index + 1)
        }
    }

    @Test func killedAnywhereAndResumedGivesTheSameAdapter() throws {
        let workspace = try Self.workspace("points")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let reference = try CLITests.run(Self.runArguments(workspace: workspace, out: "reference"))
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(reference.stdout.contains("communication:"))
        let expected = try Self.finalAdapter(workspace.appendingPathComponent("reference"))

        // Self-kill at named points: mid-round, mid-checkpoint write, between checkpoint and record.
        let points = ["client-trained@2", "adapter-written@1", "checkpoint-partial@2", "checkpoint-renamed@2",
                      "checkpoint-committed@1", "record-partial@2", "record-appended@2", "checkpoint-partial@3"]
        for (index, point) in points.enumerated() {
            let out = "killed-\(index)"
            let killed = try CLITests.run(Self.runArguments(workspace: workspace, out: out),
                                          environment: ["FEDGUARD_TEST_FAULT": point])
            #expect(killed.status == SIGKILL, "\(point): expected a SIGKILL, got \(killed.status)")
            try Self.resumeAndCompare(workspace.appendingPathComponent(out), reference: expected)
        }

        // Killed again while resuming.
        let twice = workspace.appendingPathComponent("twice")
        _ = try CLITests.run(Self.runArguments(workspace: workspace, out: "twice"), environment: ["FEDGUARD_TEST_FAULT": "client-trained@1"])
        let second = try CLITests.run(["run", "--resume", twice.path], environment: ["FEDGUARD_TEST_FAULT": "checkpoint-partial@2"])
        #expect(second.status == SIGKILL)
        try Self.resumeAndCompare(twice, reference: expected)
    }

    @Test func externalKillsAfterADelayAndWhenRecordsGrow() throws {
        let workspace = try Self.workspace("external")
        defer { try? FileManager.default.removeItem(at: workspace) }
        _ = try CLITests.run(Self.runArguments(workspace: workspace, out: "reference"))
        let expected = try Self.finalAdapter(workspace.appendingPathComponent("reference"))

        // After rounds.jsonl grows.
        let grown = workspace.appendingPathComponent("grown")
        let process = try Self.start(Self.runArguments(workspace: workspace, out: "grown"))
        let records = grown.appendingPathComponent("rounds.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: records.path)[.size] as? NSNumber)?.intValue ?? 0
            if size > 0 { break }
            usleep(500)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try Self.resumeAndCompare(grown, reference: expected)

        // After delays (wherever they land).
        for (index, delay) in [0.15, 0.3, 0.5].enumerated() {
            let run = workspace.appendingPathComponent("delay-\(index)")
            let p = try Self.start(Self.runArguments(workspace: workspace, out: "delay-\(index)"))
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if FileManager.default.fileExists(atPath: run.appendingPathComponent("config.yaml").path) {
                try Self.resumeAndCompare(run, reference: expected)
            }
        }

        // While a checkpoint is being written: paused half-way, killed from outside.
        let paused = workspace.appendingPathComponent("paused")
        let p = try Self.start(Self.runArguments(workspace: workspace, out: "paused"),
                               environment: ["FEDGUARD_TEST_FAULT": "checkpoint-partial@2:pause=60"])
        let checkpoint = paused.appendingPathComponent("checkpoint")
        let limit = Date().addingTimeInterval(60)
        var sawPartial = false
        while p.isRunning, Date() < limit, !sawPartial {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoint.path)) ?? []
            sawPartial = names.contains { $0.hasPrefix(".round-0002.tmp-") }
            if !sawPartial { usleep(1000) }
        }
        #expect(sawPartial, "the run should pause inside the round-2 checkpoint write")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try Self.resumeAndCompare(paused, reference: expected)
    }

    @Test func configShowPrintsCommentedDefaults() throws {
        let r = try CLITests.run(["config", "show"])
        #expect(r.status == 0, "\(r.stderr)")
        for key in ["clients: 4", "clients_per_round: 2", "rounds: 2", "strategy: {name: fedavg}", "lora:", "  rank: 8"] {
            #expect(r.stdout.contains(key), "missing \(key)")
        }
        #expect(r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.allSatisfy { $0.contains(" # ") })
        let bad = try CLITests.run(["config", "show", "--set", "strategy=fedmagic"])
        #expect(bad.status != 0 && bad.stderr.contains("strategy.name") && bad.stderr.contains("fedadam"))
    }

    @Test func resumeRefusesOverridesAndNonRuns() throws {
        let r = try CLITests.run(["run", "--resume", "/nonexistent-run", "--set", "rounds=3"])
        #expect(r.status != 0 && r.stderr.contains("--resume"))
        let missing = try CLITests.run(["run", "--resume", "/nonexistent-run"])
        #expect(missing.status != 0 && missing.stderr.contains("not a run directory"))
    }
}
