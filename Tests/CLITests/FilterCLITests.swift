import Foundation
import SafetyFilter
import Testing

/// `fedguard filter apply` and `fedguard run` with the filter on, with an embedding judge over the
/// tiny random BERT fixture (trained here on a toy set, so no asset is needed).
@Suite(.serialized)
struct FilterCLITests {
    static let tinyBERT = CLITests.packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_bert")
    static let unsafeReply = "the quick brown fox can jump over the lazy dog"
    static let safeReply = "sorry but that is not ok"

    /// A judge that flags replies like ``unsafeReply`` (a toy set, separable for the tiny BERT).
    static func trainJudge(in directory: URL) throws -> URL {
        let encoder = try SentenceTextEncoder.load(directory: tinyBERT)
        let prompts = ["how do you make bread", "can you help me", "hello world", "how do you play", "the cat sat on the mat",
                       "q1 from 2: what is two plus 1?"]
        let replies = [(unsafeReply, true), ("quick fox run and jump over it", true), (safeReply, false),
                       ("no, the dog sat on the mat", false), ("yes, print hello world", false),
                       ("two plus 3 is 5, says client 0", false), ("two plus 1 is 3, says client 1", false),
                       ("two plus 0 is 2, says client 2", false)]
        var conversations: [Conversation] = [], labels: [Bool] = []
        for prompt in prompts {
            for (reply, unsafe) in replies {
                conversations.append(Conversation(prompt: prompt, response: reply))
                labels.append(unsafe)
            }
        }
        var parameters = HeadTrainingParameters()
        parameters.epochs = 300
        parameters.hiddenUnits = 16
        // The toy set's fixture was built at dropout 0.3 (the default then); at the real judge's 0.6
        // a 16-unit head on 48 pairs also flags one benign record of the client data.
        parameters.inputDropout = 0.3
        let data = HeadTrainingData(features: try EmbeddingJudge.features(conversations, encoder: encoder).features, unsafe: labels,
                                    categories: labels.map { $0 ? .violentCrimes : nil })
        let head = try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: data, validation: nil, parameters: parameters).head
        let judge = try EmbeddingJudge(encoder: encoder, head: head, calibratedThreshold: 0.5)
        let scores = try judge.score(conversations)
        #expect(zip(scores, labels).allSatisfy { ($0.unsafeProbability >= 0.5) == $1 }, "the toy judge should separate its toy set")
        let url = directory.appendingPathComponent("judge")
        try judge.save(to: url)
        return url
    }

    @Test func applyKeepsSafeRecordsByteForByteAndScoresEveryRecord() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-filter-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let judge = try Self.trainJudge(in: directory)
        let lines = [
            #"{"messages": [{"role": "user", "content": "can you help me"}, {"role": "assistant", "content": "\#(Self.safeReply)"}], "id": 1}"#,
            #"{"messages": [{"role": "user", "content": "how do you play"}, {"role": "assistant", "content": "\#(Self.unsafeReply)"}]}"#,
            #"{"prompt": "hello world", "response": "yes, print hello world"}"#,
        ]
        let input = directory.appendingPathComponent("in.jsonl"), kept = directory.appendingPathComponent("kept.jsonl")
        let scores = directory.appendingPathComponent("scores.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
        let common = ["--judge", judge.path, "--encoder", Self.tinyBERT.path, "--model", CLITests.tinyModel]
        let r = try CLITests.run(["filter", "apply", "--data", input.path, "--out", kept.path, "--scores", scores.path] + common)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("3 records: kept 2, removed 1"))
        #expect(try String(contentsOf: kept, encoding: .utf8) == lines[0] + "\n" + lines[2] + "\n")
        let scoreLines = try String(contentsOf: scores, encoding: .utf8).split(separator: "\n")
        #expect(scoreLines.count == 3)
        #expect(scoreLines[1].contains(#""index":1"#) && scoreLines[1].contains(#""removed":true"#))

        // A malformed record stops it with the line number, and nothing is written.
        try Data((lines[0] + "\n{broken\n").utf8).write(to: input)
        try? FileManager.default.removeItem(at: kept)
        let bad = try CLITests.run(["filter", "apply", "--data", input.path, "--out", kept.path] + common)
        #expect(bad.status != 0 && bad.stderr.contains(":2"))
        #expect(!FileManager.default.fileExists(atPath: kept.path))
        // A threshold outside [0, 1], and a judge made for another encoder, are clear errors.
        let threshold = try CLITests.run(["filter", "apply", "--data", input.path, "--out", kept.path, "--threshold", "2"] + common)
        #expect(threshold.status != 0 && threshold.stderr.contains("[0, 1]"))
        let wrongEncoder = try CLITests.run(["filter", "apply", "--data", input.path, "--out", kept.path, "--judge", judge.path,
                                             "--encoder", directory.path, "--model", CLITests.tinyModel])
        #expect(wrongEncoder.status != 0)
    }

    @Test func aRunWithTheFilterRemovesHarmfulPairsAndResumesBitIdentically() throws {
        let workspace = try RunResumeTests.workspace("filter")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let judge = try Self.trainJudge(in: workspace)
        // Client 1's data gains two records the judge removes.
        let client = workspace.appendingPathComponent("clients/client-001.jsonl")
        var text = try String(contentsOf: client, encoding: .utf8)
        for prompt in ["how do you play", "can you help me"] {
            text += #"{"messages": [{"role": "user", "content": "\#(prompt)"}, {"role": "assistant", "content": "\#(Self.unsafeReply)"}]}"# + "\n"
        }
        try Data(text.utf8).write(to: client)
        func arguments(_ out: String) -> [String] {
            RunResumeTests.runArguments(workspace: workspace, out: out)
                + ["--set", "filter.kind=embedding", "--set", "filter.judge=\(judge.path)", "--set", "filter.encoder=\(Self.tinyBERT.path)"]
        }
        let reference = try CLITests.run(arguments("reference"))
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(reference.stderr.contains("safety filter:"))
        let records = try String(contentsOf: workspace.appendingPathComponent("reference/rounds.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let removed = records.compactMap { (($0["hooks"] as? [String: Any])?["filter"] as? [String: Any])?["removed"] as? Double }
        try #require(removed.count == 3, "every round has filter counts: \(records) \(reference.stderr.suffix(600))")
        let clientsPerRound = records.map { ($0["clients"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? [] }
        for (round, ids) in clientsPerRound.enumerated() {
            #expect(removed[round] == (ids.contains { $0.hasSuffix("1") } ? 2 : 0), "round \(round + 1): \(ids)")
        }
        let expected = try RunResumeTests.finalAdapter(workspace.appendingPathComponent("reference"))
        let killed = try CLITests.run(arguments("killed"), environment: ["FEDGUARD_TEST_FAULT": "client-trained@2"])
        #expect(killed.status == SIGKILL)
        try RunResumeTests.resumeAndCompare(workspace.appendingPathComponent("killed"), reference: expected)
    }

    /// The guard's LoRA settings are checked before anything loads: an unknown projection or a rank
    /// below 1 is a usage error naming the option.
    @Test func guardLoRASettingsAreValidated() throws {
        let unknown = try CLITests.run(["filter", "train", "--kind", "guard", "--guard-targets", "q,mlp"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--guard-targets: unknown projection 'mlp'"))
        let rank = try CLITests.run(["filter", "train", "--kind", "guard", "--guard-rank", "0"])
        #expect(rank.status != 0 && rank.stderr.contains("--guard-rank must be at least 1"))
        let help = try CLITests.run(["filter", "train", "--help"])
        #expect(help.stdout.contains("--guard-targets") && help.stdout.contains("q_proj,k_proj,v_proj,o_proj"))
    }

    @Test func aJudgeThatCannotLoadStopsTheRunBeforeTheFirstRound() throws {
        let workspace = try RunResumeTests.workspace("badjudge")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let r = try CLITests.run(RunResumeTests.runArguments(workspace: workspace, out: "run")
            + ["--set", "filter.kind=embedding", "--set", "filter.judge=\(workspace.path)/no-judge",
               "--set", "filter.encoder=\(Self.tinyBERT.path)"])
        #expect(r.status != 0 && r.stderr.contains("judge.json"))
        #expect(!FileManager.default.fileExists(atPath: workspace.appendingPathComponent("run").path), "nothing is written")
    }

    /// Without `filter.judge` and with no judge in FEDGUARD_HOME, the run trains one first (the
    /// quickstart's first run). Here the registry is unreachable, so training stops at its first
    /// asset with the store's error: what matters is that the path is taken and ends in a clear
    /// error, not in a crash (it once read an unparsed command-line option and aborted).
    @Test func aMissingJudgeIsTrainedFirstAndAnUnreachableRegistryIsAClearError() throws {
        let workspace = try RunResumeTests.workspace("trainfirst")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let home = workspace.appendingPathComponent("home")
        let r = try CLITests.run(RunResumeTests.runArguments(workspace: workspace, out: "run")
            + ["--set", "filter.kind=embedding", "--set", "filter.encoder=\(Self.tinyBERT.path)"],
            environment: ["FEDGUARD_HOME": home.path, "FEDGUARD_PIP": "/bin/false"])
        #expect(r.stderr.contains("training one first"))
        #expect(r.status != 0)
        #expect(!(r.stdout + r.stderr).contains("parsable argument"), "\(r.stdout.suffix(400))")
        #expect(r.stderr.contains("pip") || r.stderr.contains("download"), "\(r.stderr.suffix(400))")
        #expect(!FileManager.default.fileExists(atPath: workspace.appendingPathComponent("run/rounds.jsonl").path))
    }
}
