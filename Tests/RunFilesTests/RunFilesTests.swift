import Foundation
import RunFiles
import Testing

/// The run directory's one definition: records written by the simulation read back identically,
/// odd lines read leniently by reports and strictly (with file and line) by `records()`.
struct RunFilesTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("runfiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static let record = RoundRecord(
        round: 3, lr: 2e-4,
        clients: [RoundRecord.Client(id: RoundRecord.Client.id(0), loss: 1.25, examples: 12, seconds: 7.5, bytesUp: 4096,
                                     bytesDown: 4096, status: "ok"),
                  RoundRecord.Client(id: RoundRecord.Client.id(7), loss: .nan, examples: 0, seconds: 0.5, bytesUp: 0,
                                     bytesDown: 4096, status: "failed: dropped out")],
        aggregationSeconds: 0.02, keptPrevious: false, bytesUp: 4096, bytesDown: 8192,
        hooks: ["filter": ["seen": 24, "removed": 3, "bad": .infinity]], eval: ["advbench_harmless": 0.5],
        seconds: 9.25, rejections: ["norm": 1], strategy: ["loss": 1.25, "epsilon": .nan])

    @Test func aWrittenRecordReadsBackWithoutItsNonFiniteValues() throws {
        let line = try Self.record.jsonLine()
        #expect(line.last == 0x0A)
        let text = String(decoding: line, as: UTF8.self)
        #expect(!text.contains("nan") && !text.contains("inf") && text.contains("\"client-007\""))
        let decoded = try JSONDecoder().decode(RoundRecord.self, from: line)
        var expected = Self.record
        expected.clients[1].loss = nil
        expected.hooks["filter"]?["bad"] = nil
        expected.strategy["epsilon"] = nil
        #expect(decoded == expected)
        #expect(decoded.clients.map(\.accepted) == [true, false])
    }

    @Test func decodingIsLenientButNeedsTheRound() throws {
        let odd = #"{"round": 2, "lr": "fast", "clients": [{"id": 4, "examples": 3.5, "status": 1}, {"loss": 2}], "#
            + #""hooks": {"screen": {"rejected": 1, "note": "text"}}, "eval": {"advbench_harmless": 1}, "rejections": {"nan": "x"}}"#
        let record = try JSONDecoder().decode(RoundRecord.self, from: Data(odd.utf8))
        #expect(record.round == 2 && record.lr == 0)
        #expect(record.clients == [RoundRecord.Client(id: "4", examples: 0, status: "ok")])  // no id: left out
        #expect(record.hooks == ["screen": ["rejected": 1]])
        #expect(record.eval == ["advbench_harmless": 1])
        #expect(record.rejections.isEmpty)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RoundRecord.self, from: Data(#"{"lr": 1}"#.utf8)) }
    }

    @Test func totalsFallBackToTheClientsSums() {
        var record = Self.record
        record.bytesUp = 0
        record.bytesDown = 0
        #expect(record.totalBytesUp == 4096 && record.totalBytesDown == 8192)
    }

    @Test func recordsThrowWithFileAndLineWhileContentsSkipAndList() throws {
        let url = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: url) }
        let run = RunDirectory(url)
        #expect(try run.records().isEmpty)  // no rounds.jsonl yet
        var data = try Self.record.jsonLine()
        data += Data("{not json\n\n".utf8)
        try data.write(to: run.recordsURL)
        #expect(throws: RunFilesError.malformed("\(run.recordsURL.path):2: not a valid record (not JSON)")) {
            try run.records()
        }
        try FileManager.default.createDirectory(at: run.samplesURL, withIntermediateDirectories: true)
        let sample = try JSONEncoder().encode(RunSample(suite: "advbench", prompt: "p", response: "r", judged: "refused"))
        try (sample + Data("\n{\"suite\": 1}\n".utf8)).write(to: run.samplesURL(round: 2))
        try Data().write(to: run.samplesURL.appendingPathComponent("notes.txt"))
        let contents = try run.contents()
        #expect(contents.configuration == nil)
        #expect(contents.rounds.map(\.round) == [3])
        #expect(contents.samples.map(\.round) == [2] && contents.samples[0].samples.count == 1)
        #expect(contents.issues == ["config.yaml: missing", "rounds.jsonl:2: not a valid record (not JSON)",
                                    "samples/round-0002.jsonl:2: not a valid record (wrong type at `suite`)"])
        #expect(throws: RunFilesError.notADirectory(url.appendingPathComponent("nope").path)) {
            try RunDirectory(url.appendingPathComponent("nope")).contents()
        }
    }

    @Test func samplesAreWrittenWholeAndReadBack() throws {
        let url = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: url) }
        let run = RunDirectory(url)
        let long = (0..<400).map { "word\($0)" }.joined(separator: " ") + " / ünïcode \"quoted\"\nnext line"
        let samples = [RunSample(suite: "advbench", prompt: "p1", response: long, judged: "complied"),
                       RunSample(suite: "over_refusal", prompt: long, response: "r2", judged: "refused")]
        try run.writeSamples(samples, round: 7)
        try run.writeSamples(samples, round: 7)  // a resumed run rewrites the file
        let read = try run.contents().samples
        #expect(read.map(\.round) == [7])
        #expect(read.first?.samples == samples)
    }

    @Test func layoutNamesRounds() {
        let run = RunDirectory(URL(fileURLWithPath: "/runs/a/../b"))
        #expect(run.url.path == "/runs/b")
        #expect(run.adapterURL(round: 12).path == "/runs/b/adapters/round-0012")
        #expect(run.samplesURL(round: 3).path == "/runs/b/samples/round-0003.jsonl")
        #expect(run.constitutionalAIURL(round: 1).path == "/runs/b/cai/round-0001.jsonl")
        #expect(RunDirectory.round(ofName: "round-0012") == 12)
        #expect(RunDirectory.round(ofName: "round-0003.jsonl", extension: ".jsonl") == 3)
        #expect(RunDirectory.round(ofName: ".round-0003.tmp-ab") == nil)
    }
}
