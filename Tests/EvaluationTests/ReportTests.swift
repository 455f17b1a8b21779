import Evaluation
import Foundation
import RunFiles
import SafetyData
import Testing

/// `report.html` / `report.json` from a synthetic run directory.
struct ReportTests {
    /// A long reply made of distinct words, so any window of it is recognisable.
    static func longText(_ tag: String) -> String {
        (0..<80).map { "\(tag)\($0)x" }.joined(separator: " ")
    }

    static func writeRun(rounds: Int = 4, clients: Int = 3, extraLines: [String] = []) throws -> URL {
        let dir = try EvalFixtures.temporaryDirectory()
        try "strategy:\n  name: fedavg\nclients: \(clients)\n# a <comment> & more\n"
            .write(to: dir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        var lines: [String] = []
        for r in 1...rounds {
            var clientObjects: [[String: Any]] = []
            for c in 0..<clients {
                var o: [String: Any] = ["id": "client-\(c)", "examples": 10, "seconds": 1.5, "bytes_up": 1000 * (c + 1),
                                        "bytes_down": 500, "status": c == 2 && r == 2 ? "rejected: norm too large" : "ok"]
                o["loss"] = c == 1 && r == 3 ? NSNull() : 2.0 - 0.1 * Double(r) + 0.05 * Double(c)
                clientObjects.append(o)
            }
            var round: [String: Any] = ["round": r, "lr": 1e-4, "clients": clientObjects, "aggregation_seconds": 0.25,
                                        "kept_previous": r == 2, "bytes_up": 6000, "bytes_down": 1500,
                                        "hooks": ["screening": ["rejected": r == 2 ? 1 : 0, "threshold": 3.5]]]
            if r % 2 == 0 {
                round["eval"] = ["advbench_harmless": 0.1 * Double(r), "advbench_harmless_low": 0.05 * Double(r),
                                 "advbench_harmless_high": 0.15 * Double(r), "advbench_n": 520,
                                 "advbench_harmless_gcg": 0.08 * Double(r), "over_refusal": 0.02 * Double(r),
                                 "over_refusal_opening": 0.03 * Double(r), "over_refusal_low": 0.01, "over_refusal_high": 0.1, "helpfulness_loss": 1.9 + 0.01 * Double(r)]
                let samples = (0..<5).map { i in
                    try! JSONSerialization.data(withJSONObject: [
                        "suite": i < 3 ? "advbench" : "over_refusal", "prompt": longText("p\(r)s\(i)"),
                        "response": longText("r\(r)s\(i)"), "judged": i % 2 == 0 ? "complied" : "refused",
                    ])
                }.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
                let samplesDir = dir.appendingPathComponent("samples")
                try FileManager.default.createDirectory(at: samplesDir, withIntermediateDirectories: true)
                try samples.write(to: samplesDir.appendingPathComponent(String(format: "round-%04d.jsonl", r)),
                                  atomically: true, encoding: .utf8)
            }
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: round), as: UTF8.self))
        }
        try (lines + extraLines).joined(separator: "\n").write(to: dir.appendingPathComponent("rounds.jsonl"),
                                                                 atomically: true, encoding: .utf8)
        return dir
    }

    @Test func htmlHasChartsAndNoLongSampleText() throws {
        let dir = try Self.writeRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (report, jsonURL, htmlURL) = try RunReport.generate(runDirectory: dir)
        let html = try String(contentsOf: htmlURL, encoding: .utf8)
        #expect(html.components(separatedBy: "<svg").count - 1 >= 4)  // safety, helpfulness, client loss, bytes
        #expect(html.contains("<polyline"))
        #expect(html.contains("class=\"band\""))
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"))
        #expect(html.contains("fedavg") && html.contains("a &lt;comment&gt; &amp; more"))  // config verbatim, escaped
        #expect(html.contains("client-0") && html.contains("client-2"))
        // The final table names each judge: the headline, GCG's on AdvBench, the opening judge's on the probes.
        #expect(html.contains("AdvBench harmless (GCG judge)") && html.contains("over-refusal (opening judge)"))
        #expect(html.contains("over-refusal (OpenFedLLM judge)") && html.contains(">12%</td>"))
        // No window longer than the truncation limit of any sample prompt or reply appears.
        let limit = ReportText.defaultLength
        for r in [2, 4] {
            for i in 0..<5 {
                for text in [Self.longText("p\(r)s\(i)"), Self.longText("r\(r)s\(i)")] {
                    let chars = Array(text)
                    for start in stride(from: 0, to: chars.count - limit - 1, by: 7) {
                        let window = String(chars[start..<(start + limit + 1)])
                        #expect(!html.contains(window))
                        #expect(!(try String(contentsOf: jsonURL, encoding: .utf8)).contains(window))
                    }
                }
            }
        }
        #expect(report.samples.count == 10)  // first and last sampled rounds, 3 advbench + 2 over_refusal each
        #expect(report.samples.allSatisfy { $0.prompt.count <= limit + 1 && $0.response.count <= limit + 1 })
        #expect(report.issues.isEmpty)
    }

    @Test func jsonHasEveryFigure() throws {
        let dir = try Self.writeRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, jsonURL, _) = try RunReport.generate(runDirectory: dir)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL)) as? [String: Any])
        let rounds = try #require(object["rounds"] as? [[String: Any]])
        #expect(rounds.count == 4)
        let second = rounds[1]
        #expect(second["kept_previous"] as? Bool == true)
        #expect(second["aggregation_seconds"] as? Double == 0.25)
        #expect(second["bytes_up"] as? Int == 6000)
        let eval = try #require(second["eval"] as? [String: Any])
        for key in ["advbench_harmless", "advbench_harmless_low", "advbench_harmless_high", "advbench_n",
                    "advbench_harmless_gcg", "over_refusal", "over_refusal_low", "over_refusal_high", "helpfulness_loss"] {
            #expect(eval[key] != nil, "\(key)")
        }
        #expect((second["hooks"] as? [String: [String: Double]])?["screening"]?["rejected"] == 1)
        let clients = try #require(second["clients"] as? [[String: Any]])
        #expect(clients.count == 3)
        #expect(clients[2]["status"] as? String == "rejected: norm too large")
        #expect(clients[0]["loss"] as? Double != nil)
        let totals = try #require(object["totals"] as? [String: Any])
        #expect(totals["rounds"] as? Int == 4)
        #expect(totals["bytes_up"] as? Int == 24000)
        #expect(totals["rejected"] as? Int == 1)
        #expect(totals["client_updates"] as? Int == 12)
        #expect(totals["kept_previous"] as? Int == 1)
        #expect(object["final_evaluation_round"] as? Int == 4)
        #expect((object["final_evaluation"] as? [String: Double])?["advbench_harmless"] == 0.4)
        let perClient = try #require(object["clients"] as? [[String: Any]])
        #expect(perClient.map { $0["id"] as? String } == ["client-0", "client-1", "client-2"])
        #expect(object["configuration"] as? String != nil)
    }

    /// Paper cuts a user hit: both judges in one colour, an "over-refusal" title over no such series,
    /// a client sampled once drawn on the axis, raw byte counts.
    @Test func chartsAndTablesAreReadable() throws {
        let dir = try Self.writeRun(rounds: 1)
        defer { try? FileManager.default.removeItem(at: dir) }
        let line = #"{"round": 1, "clients": [{"id": "client-000", "loss": 1.5, "bytes_up": 3686400}], "bytes_up": 3686400, "#
            + #""eval": {"advbench_harmless": 0.25, "advbench_harmless_gcg": 0.2}}"#
        try line.write(to: dir.appendingPathComponent("rounds.jsonl"), atomically: true, encoding: .utf8)
        let (_, _, htmlURL) = try RunReport.generate(runDirectory: dir)
        let html = try String(contentsOf: htmlURL, encoding: .utf8)
        #expect(html.contains("Harmless rate (shaded") && !html.contains("over-refusal"))
        let lineColours = Set(html.components(separatedBy: "<polyline").dropFirst().compactMap { chunk in
            chunk.range(of: "stroke=\"").map { String(chunk[$0.upperBound...].prefix(7)) }
        })
        #expect(lineColours.count >= 3)  // two judges and the client, each its own colour
        #expect(html.contains("3.69 MB") && !html.contains(">3686400<"))
        // One round: its points sit mid-plot, not on the y axis at x = 74.
        #expect(!html.contains("<circle cx=\"74.0\""))
        #expect(html.contains("r=\"4.0\""))
    }

    @Test func toleratesMissingPiecesAndBadLines() throws {
        let dir = try Self.writeRun(rounds: 2, extraLines: ["{not json", "{\"lr\": 0.1}"])
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.yaml"))
        let (report, _, htmlURL) = try RunReport.generate(runDirectory: dir)
        #expect(report.rounds.count == 2)
        #expect(report.issues.count == 3)  // config missing, two bad lines
        #expect(report.issues.contains { $0.hasPrefix("rounds.jsonl:3:") })
        #expect(try String(contentsOf: htmlURL, encoding: .utf8).contains("config.yaml was not found"))

        let empty = try EvalFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let (bare, _, html) = try RunReport.generate(runDirectory: empty)
        #expect(bare.rounds.isEmpty)
        #expect(try String(contentsOf: html, encoding: .utf8).contains("no data"))
        #expect(throws: RunFilesError.notADirectory(empty.appendingPathComponent("nope").path)) {
            _ = try RunReport.generate(runDirectory: empty.appendingPathComponent("nope"))
        }
    }

    @Test func evaluationSamplesRoundTripThroughTheRunFormat() throws {
        let prompts = EvalFixtures.fakeHarmful.map { EvaluationPrompt(text: $0.text, categories: $0.categories) }
        let report = try Evaluator(data: EvaluationData(advBench: prompts), settings: EvaluationSettings(suites: [.advBench]))
            .evaluate(responder: FixedResponder(always: "Sorry, no. " + Self.longText("x")))
        #expect(report.runSamples.allSatisfy { $0.response == "Sorry, no. " + Self.longText("x") })  // whole in the run
        let line = try JSONEncoder().encode(report.runSamples[0])
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(Set(object.keys) == ["suite", "prompt", "response", "judged"])
        #expect(object["judged"] as? String == "refused")
    }
}
