import Foundation
import Testing

/// What a new user hit on bad input (issue: hardening, paper cuts): each message says what and where.
struct PaperCutCLITests {
    static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("fedguard-cli-\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func aConfigurationTypeErrorNamesFileLineKeyAndExpectedType() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try Data("seed: 3\nrounds: three\n".utf8).write(to: file)
        let r = try CLITests.run(["config", "show", file.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(file.path): configuration key 'rounds': expected an integer, found 'three' (line 2)"))
        #expect(!r.stderr.contains("Scalar"), "decoder internals leak: \(r.stderr)")
        // From --set there is no line; `run`'s errors do not end with the top-level usage.
        let s = try CLITests.run(["run", "--set", "local.steps=x"])
        #expect(s.stderr.contains("configuration key 'local.steps': expected an integer, found 'x' (from --set)"))
        #expect(!s.stderr.contains("Usage: fedguard <subcommand>"))
    }

    @Test func reportOnADirectoryThatIsNoRunFails() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let r = try CLITests.run(["report", directory.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("is neither a run directory"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("report.html").path))
    }

    @Test func versionNamesTheBLASKernels() throws {
        let r = try CLITests.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("fedguard "))
        #expect(r.stdout.contains("OpenBLAS kernels: "))
    }

    @Test func trainOnMalformedJSONLOffersAFlagTheCLIHas() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("chat.jsonl")
        let good = #"{"messages":[{"role":"user","content":"hi there"},{"role":"assistant","content":"hello, how can I help?"}]}"#
        try Data((good + "\n{\"messages\": [\n" + good + "\n").utf8).write(to: data)
        let arguments = ["train", "--model", CLITests.tinyModel, "--data", data.path, "--steps", "1", "--max-seq-len", "256"]
        let r = try CLITests.run(arguments + ["--out", directory.appendingPathComponent("a").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("chat.jsonl:2"))
        #expect(r.stderr.contains("--skip-malformed"))
        let s = try CLITests.run(arguments + ["--out", directory.appendingPathComponent("b").path, "--skip-malformed"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stderr.contains("1 malformed line(s) skipped"))
    }

    @Test func runTakesModelAndThreadsLikeEveryModelCommand() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A model that does not exist: the error names it, so --model reached the configuration.
        let missing = directory.appendingPathComponent("no such: model.gguf").path
        let r = try CLITests.run(["run", "--model", missing, "--threads", "1", "--out", directory.appendingPathComponent("run").path,
                                  "--set", "data.directory=\(directory.path)/absent"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no such: model.gguf"), "\(r.stderr)")
        let t = try CLITests.run(["run", "--threads", "0"])
        #expect(t.status != 0)
        #expect(t.stderr.contains("--threads must be at least 1"))
    }
}
