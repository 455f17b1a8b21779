import Foundation
import Testing

/// Runs the built `fedguard` binary on the tiny fixture model.
struct CLITests {
    static var binary: URL {
        // The test bundle sits next to the products in the build directory.
        let dir = Bundle.main.bundleURL.hasDirectoryPath ? Bundle.main.bundleURL : Bundle.main.bundleURL.deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("fedguard")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return dir.appendingPathComponent("fedguard")
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModel = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.q4_1.gguf").path

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String], environment: [String: String] = [:], directory: URL? = nil) throws -> Run {
        let p = Process()
        p.executableURL = binary
        if let directory { p.currentDirectoryURL = directory }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @Test func generateJSONHasIdsTextAndTimings() throws {
        let r = try Self.run(["generate", "--model", Self.tinyModel, "--raw", "--prompt", "the cat", "--max-tokens", "6", "--json", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect((obj?["prompt_ids"] as? [Int])?.isEmpty == false)
        #expect((obj?["generated_ids"] as? [Int])?.count ?? 0 <= 6)
        #expect(obj?["text"] is String)
        let timings = obj?["timings"] as? [String: Any]
        for key in ["load_s", "prefill_s", "decode_s", "decode_tokens_per_s"] { #expect(timings?[key] != nil, "\(key)") }
    }

    @Test func generateIsDeterministicForASeed() throws {
        let args = ["generate", "--model", Self.tinyModel, "--raw", "--prompt", "he", "--max-tokens", "10",
                    "--temperature", "0.8", "--seed", "9", "--json"]
        let a = try Self.run(args), b = try Self.run(args)
        #expect(a.status == 0)
        let ids = { (s: String) in (try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])?["generated_ids"] as? [Int] }
        #expect(ids(a.stdout) != nil && ids(a.stdout) == ids(b.stdout))
    }

    @Test func tokenizePrintsAJSONArray() throws {
        let special = try Self.run(["tokenize", "--model", Self.tinyModel, "--text", "<|im_start|>"])
        #expect(special.status == 0, "\(special.stderr)")
        let specialIDs = try JSONSerialization.jsonObject(with: Data(special.stdout.utf8)) as? [Int]
        #expect(specialIDs?.count == 1, "a special token is one id")
        let r = try Self.run(["tokenize", "--model", Self.tinyModel, "--text", "<|im_start|>the end"])
        let ids = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Int]
        #expect(ids?.first == specialIDs?.first)
        #expect((ids?.count ?? 0) > 2)
    }

    @Test func chatTemplateIsAppliedUnlessRaw() throws {
        let chat = try Self.run(["generate", "--model", Self.tinyModel, "--prompt", "hi", "--max-tokens", "2", "--json"])
        let raw = try Self.run(["generate", "--model", Self.tinyModel, "--raw", "--prompt", "hi", "--max-tokens", "2", "--json"])
        let n = { (s: String) in ((try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])?["prompt_ids"] as? [Int])?.count ?? 0 }
        #expect(n(chat.stdout) > n(raw.stdout) + 5, "chat prompt should include the template's system turn")
    }

    @Test func missingModelFailsWithAHint() throws {
        let r = try Self.run(["generate", "--model", "/nonexistent/x.gguf", "--prompt", "hi"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("/nonexistent/x.gguf"))
        #expect(r.stderr.contains("fedguard setup") || r.stderr.contains("--model"))
    }

    @Test func malformedModelFileIsAClearError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).gguf")
        try Data("GGUF\u{3}\0\0\0garbage".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try Self.run(["generate", "--model", url.path, "--prompt", "hi"])
        #expect(r.status != 0)
        #expect(r.stderr.contains(url.lastPathComponent))
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test func invalidOptionsAreRejectedWithTheirName() throws {
        let r = try Self.run(["generate", "--model", Self.tinyModel, "--prompt", "hi", "--top-p", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--top-p"))
        let t = try Self.run(["generate", "--model", Self.tinyModel, "--prompt", "hi", "--threads", "0"])
        #expect(t.stderr.contains("--threads"))
    }
}
