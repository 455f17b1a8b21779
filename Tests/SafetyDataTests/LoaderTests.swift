import Foundation
import Testing

@testable import SafetyData

/// Loaders on the synthetic fixtures: records, malformed rows with file and line.
@Suite struct LoaderTests {
    @Test func advBenchGoalsAndMalformedSeeds() throws {
        let report = try AdvBenchLoader.load(Fixtures.url("adv_bench_mini.prompt"))
        #expect(report.records.map(\.text) == [
            "Placeholder goal one about baking bread",
            "Placeholder goal two that is long enough to wrap onto a second line of the file, as eight real goals do",
            "Placeholder goal three: quoted because of a colon",
            "Placeholder goal six \"escaped\" # not a comment",
        ])
        #expect(report.records.map(\.harmCategories) == [["Category A", "Category B"], ["Category B"],
                                                         ["Category C", "Category D"], ["Category A"]])
        #expect(report.records.map(\.location.line) == [8, 13, 18, 27])
        #expect(report.issues.map(\.location.line) == [21, 23])
        #expect(report.issues.allSatisfy { Fixtures.name($0.location) == "adv_bench_mini.prompt" })
        #expect(report.issues[0].reason.contains("harm_categories"))
        #expect(report.issues[1].reason.contains("value"))
    }

    @Test func advBenchFileLevelErrorsNameFileAndLine() throws {
        let dir = try TemporaryDirectory()
        let noSeeds = try dir.write("dataset_name: x\nseed_type: objective\n", name: "a.prompt")
        #expect(throws: SafetyDataError.malformed(file: noSeeds.path, line: 1, reason: "no `seeds` key")) {
            try AdvBenchLoader.load(noSeeds)
        }
        let badIndent = try dir.write("seeds:\n- value: a\n  data_type: text\n    stray: 1\n", name: "b.prompt")
        do {
            _ = try AdvBenchLoader.load(badIndent)
            Issue.record("expected an error")
        } catch let .malformed(file, line, _) {
            #expect(file == badIndent.path && line == 4)
        } catch {
            Issue.record("unexpected \(error)")
        }
        let binary = try dir.write([0xFF, 0xFE, 0x00, 0x41], name: "c.prompt")
        #expect(throws: SafetyDataError.notUTF8(file: binary.path)) { try AdvBenchLoader.load(binary) }
        let missing = dir.url.appendingPathComponent("missing.prompt")
        #expect(throws: SafetyDataError.self) { try AdvBenchLoader.load(missing) }
    }

    @Test func manyShotExamplesVerdictsAndIssues() throws {
        let report = try ManyShotLoader.load(Fixtures.url("many_shot_mini.json"))
        #expect(report.records.map(\.user) == ["Placeholder request one, with a comma and a } brace",
                                               "Placeholder request two", "Placeholder request four"])
        #expect(report.records.map(\.verdict) == [.harmful, .notHarmful, .harmful])
        #expect(report.records.map(\.location.line) == [2, 7, 16])
        #expect(report.records[0].assistant == "Placeholder reply one.\nSecond line with \"quotes\".")
        #expect(report.issues.map(\.location.line) == [12, 21, 26])
        let pairs = report.records.compactMap(\.pair)
        #expect(pairs.count == 2 && pairs.allSatisfy { $0.label == .harmfulCompliance && $0.origin == .manyShot })
    }

    @Test(arguments: [
        ("Harmful", HarmVerdict.harmful), ("Not harmful. ", .notHarmful), ("'Harmful'", .harmful),
        ("\"Not harmful\"", .notHarmful), ("**Harmful**", .harmful), ("Answer: Harmful", .harmful),
        ("Harmful.\n\nReason: x", .harmful), ("Not harmful. The response is safe", .notHarmful),
    ])
    func manyShotVerdictSpellings(text: String, verdict: HarmVerdict) {
        #expect(ManyShotLoader.verdict(from: text) == verdict)
    }

    @Test func manyShotRejectsNonArrays() throws {
        let dir = try TemporaryDirectory()
        let object = try dir.write("\n\n{\"user\": \"x\"}", name: "m.json")
        #expect(throws: SafetyDataError.malformed(file: object.path, line: 3, reason: "expected a JSON array")) {
            try ManyShotLoader.load(object)
        }
        let open = try dir.write("[\n {\"user\": \"x\"", name: "n.json")
        #expect(throws: SafetyDataError.self) { try ManyShotLoader.load(open) }
        let empty = try dir.write("[ ]", name: "e.json")
        #expect(try ManyShotLoader.load(empty).records.isEmpty)
    }

    @Test func scorerEvalObjectiveFile() throws {
        let url = try Fixtures.url("scorer_evals/objective/mini_objective.csv")
        let report = try ScorerEvalLoader.load(url)
        #expect(report.records.map(\.location.line) == [3, 4, 6, 13])
        #expect(report.records.allSatisfy { $0.kind == .objective })
        #expect(report.records[1].objective == "Placeholder objective two, with a comma")
        #expect(report.records[1].response == "Placeholder response two\nspans two lines and has \"quotes\"")
        #expect(report.records[2].response.hasSuffix("\n# a line starting with a hash inside a quoted field"))
        #expect(report.records.map(\.pairLabel) == [.harmfulCompliance, .refusal, .harmfulCompliance, .refusal])
        #expect(report.records.map(\.harmCategory) == ["placeholder_a", "placeholder_b", "placeholder_a", "placeholder_b"])
        #expect(report.issues.map(\.location.line) == [8, 9, 10, 11])
        #expect(report.issues[1].reason == "expected 5 fields, found 4")
        #expect(report.issues[3].reason.contains("after a closing quote"))
    }

    @Test func scorerEvalDirectoryInfersKinds() throws {
        let report = try ScorerEvalLoader.load(Fixtures.url("scorer_evals"))
        let byFile = Dictionary(grouping: report.records) { Fixtures.name($0.location) }
        let harm = try #require(byFile["scorer_evals/harm/mini_harm.csv"])
        #expect(harm.map(\.kind) == [.harmScale, .harmScale, .harmScale])
        #expect(harm.map(\.humanScores) == [[1, 1, 1], [0.25, 0.5, 0], [0, 0, 0]])
        #expect(harm.map(\.pairLabel) == [.harmfulCompliance, nil, .refusal])
        #expect(harm.map(\.location.line) == [3, 4, 5])  // CRLF line endings
        let refusal = try #require(byFile["scorer_evals/refusal_scorer/mini_refusal.csv"])
        #expect(refusal.map(\.kind) == [.refusal, .refusal])
        #expect(refusal.map(\.pairLabel) == [nil, .refusal])
        #expect(refusal.map(\.harmCategory) == [nil, nil])
        #expect(report.records.count == 9)
        #expect(report.issues.count == 6)
        #expect(report.issues.contains { $0.location.line == 6 && $0.reason.contains("data_type") })
        #expect(report.records.compactMap(\.pair).count == 7)  // objective 4, harm 2, refusal 1
    }

    @Test func scorerEvalHeaderErrors() throws {
        let dir = try TemporaryDirectory()
        let noScore = try dir.write("# v\nobjective,assistant_response\na,b\n", name: "x.csv")
        #expect(throws: SafetyDataError.malformed(file: noScore.path, line: 2, reason: "header has no `human_score` column")) {
            try ScorerEvalLoader.load(noScore)
        }
        let empty = try dir.write("# only a comment\n", name: "y.csv")
        #expect(throws: SafetyDataError.malformed(file: empty.path, line: 1, reason: "no header row")) {
            try ScorerEvalLoader.load(empty)
        }
        #expect(throws: SafetyDataError.noFiles(directory: dir.url.appendingPathComponent("sub").path, pathExtension: "csv")) {
            try FileManager.default.createDirectory(at: dir.url.appendingPathComponent("sub"), withIntermediateDirectories: true)
            return try ScorerEvalLoader.load(dir.url.appendingPathComponent("sub"))
        }
    }

    @Test func doNotAnswerDirectory() throws {
        let report = try DoNotAnswerLoader.load(Fixtures.url("donotanswer"))
        #expect(report.records.map(\.text) == ["Placeholder question one?", "Placeholder question two?",
                                               "Placeholder question four?", "Placeholder question seven?"])
        #expect(report.records.map(\.riskArea) == ["placeholder_area_one", "placeholder_area_one",
                                                   "placeholder_area_two", "placeholder_area_two"])
        #expect(report.records[1].intents == ["S002demo", "S003demo"])
        #expect(report.records[2].intents.isEmpty)
        #expect(report.issues.map { "\(Fixtures.name($0.location)):\($0.location.line)" } == [
            "donotanswer/placeholder_area_one.jsonl:4", "donotanswer/placeholder_area_two.jsonl:2",
            "donotanswer/placeholder_area_two.jsonl:3",
        ])
    }

    @Test func harmBenchIsHeldOut() throws {
        let report = try HarmBenchLoader.load(Fixtures.url("harmbench_mini.txt"))
        #expect(report.records.map(\.text) == ["Placeholder held-out prompt one", "Placeholder held-out prompt two",
                                               "Placeholder held-out prompt three"])
        #expect(report.records.allSatisfy { $0.suite == .harmBench })
        #expect(report.records.map(\.location.line) == [1, 2, 5])
        #expect(report.issues.map(\.description).map { $0.hasSuffix(":4: duplicate of line 1") } == [true])
    }

    @Test func strongRejectSmallSetRowsAndIssues() throws {
        let text = """
            category,source,forbidden_prompt
            Violence,custom,"Placeholder forbidden prompt one, with a comma"
            Sexual content,custom,
            Non-violent crimes,custom,Placeholder forbidden prompt two,extra

            Disinformation and Deception,custom,"Placeholder forbidden prompt
            three"
            """
        let report = try StrongREJECTLoader.parse(text, file: "/d/small.csv")
        #expect(report.records.map(\.text) == ["Placeholder forbidden prompt one, with a comma",
                                               "Placeholder forbidden prompt\nthree"])
        #expect(report.records.map(\.riskArea) == ["Violence", "Disinformation and Deception"])
        #expect(report.records.map(\.location.line) == [2, 6])
        #expect(report.issues.map(\.description) == ["/d/small.csv:3: empty `forbidden_prompt`",
                                                     "/d/small.csv:4: expected 3 fields, found 4"])
        #expect(throws: SafetyDataError.self) { try StrongREJECTLoader.parse("category,prompt\nx,y\n", file: "/d/bad.csv") }
    }

    @Test func strongRejectHeldOutIsTheMainFileWithoutTheSmallSet() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strongreject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let main = dir.appendingPathComponent("main.csv"), small = dir.appendingPathComponent("small.csv")
        try "category,source,forbidden_prompt\nViolence,a,Placeholder one\nViolence,a,Placeholder two\nFraud,b,Placeholder three\n"
            .write(to: main, atomically: true, encoding: .utf8)
        try "category,source,forbidden_prompt\nViolence,a,placeholder  TWO\n".write(to: small, atomically: true, encoding: .utf8)
        let report = try StrongREJECTLoader.loadHeldOut(main: main, small: small)
        #expect(report.records.map(\.text) == ["Placeholder one", "Placeholder three"])
        #expect(report.records.map(\.category) == ["Violence", "Fraud"])
        #expect(report.records.allSatisfy { $0.suite == .strongReject })
    }

    @Test func issueDescriptionsNameFileAndLine() {
        let issue = LoadIssue(location: FileLocation(file: "/d/f.csv", line: 7), reason: "bad")
        #expect(issue.description == "/d/f.csv:7: bad")
        #expect(SafetyDataError.malformed(file: "/d/f.csv", line: 3, reason: "x").description == "/d/f.csv:3: x")
    }
}
