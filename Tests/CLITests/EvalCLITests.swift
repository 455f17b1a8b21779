import Foundation
import Testing

/// `fedguard eval` and `fedguard report` as a user runs them (tiny model, no network).
struct EvalCLITests {
    static func temporaryHome() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-evalcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func benignSuiteJSON() throws {
        let home = try Self.temporaryHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let args = ["eval", "--suite", "benign", "--limit", "4", "--model", CLITests.tinyModel, "--max-tokens", "8",
                    "--json", "--threads", "1"]
        let r = try CLITests.run(args, environment: ["FEDGUARD_HOME": home.path])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["model"] as? String == "tiny_llama.q4_1.gguf")
        #expect(object["wall_seconds"] as? Double != nil)
        let results = try #require(object["results"] as? [String: Any])
        let over = try #require(results["over_refusal"] as? [String: Any])
        #expect(over["prompts"] as? Int == 4)
        #expect((over["judges"] as? [[String: Any]])?.count == 3)
        let help = try #require(results["helpfulness"] as? [String: Any])
        #expect(help["reference_source"] as? String == "generated")
        #expect(results["advbench"] == nil)
        #expect(r.stderr.contains("over_refusal: 4/4"))  // progress line

        // Second run: reference replies come from the cache under FEDGUARD_HOME.
        let again = try CLITests.run(args, environment: ["FEDGUARD_HOME": home.path])
        let results2 = (try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["results"] as? [String: Any]
        #expect((results2?["helpfulness"] as? [String: Any])?["reference_source"] as? String == "cache")
    }

    @Test func tableAndValidation() throws {
        let home = try Self.temporaryHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let r = try CLITests.run(["eval", "--suite", "benign", "--limit", "2", "--model", CLITests.tinyModel,
                                  "--max-tokens", "4", "--helpfulness-prompts", "2"], environment: ["FEDGUARD_HOME": home.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("over_refusal") && r.stdout.contains("openfedllm-prefix") && r.stdout.contains("helpfulness"))
        let bad = try CLITests.run(["eval", "--suite", "nope", "--model", CLITests.tinyModel])
        #expect(bad.status != 0)
        let badLimit = try CLITests.run(["eval", "--limit", "0", "--model", CLITests.tinyModel])
        #expect(badLimit.status != 0 && badLimit.stderr.contains("--limit"))
    }

    @Test func reportWritesHTMLAndJSON() throws {
        let dir = try Self.temporaryHome()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "rounds: 1\n".write(to: dir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let round = #"{"round": 1, "lr": 0.0001, "clients": [{"id": "c0", "loss": 1.5, "examples": 4, "seconds": 1, "bytes_up": 10, "bytes_down": 20, "status": "ok"}], "aggregation_seconds": 0.1, "kept_previous": false, "bytes_up": 10, "bytes_down": 20, "hooks": {}, "eval": {"advbench_harmless": 0.5, "advbench_harmless_low": 0.4, "advbench_harmless_high": 0.6, "advbench_n": 10}}"#
        try round.write(to: dir.appendingPathComponent("rounds.jsonl"), atomically: true, encoding: .utf8)
        let r = try CLITests.run(["report", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report.html").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report.json").path))
        let missing = try CLITests.run(["report", dir.appendingPathComponent("absent").path])
        #expect(missing.status != 0)
    }
}
