import Foundation
import SafetyData
@testable import Simulation

/// Synthetic pools and files for the client-data tests (harmless placeholder text only).
enum ClientDataFixtures {
    static let harmCategories = ["alpha", "bravo", "charlie", "delta"]
    static let tasks = ["writing", "explanation", "coding", "maths", "advice", "summarising"]

    /// `perCategory` harmful samples in each of four categories, with distinct texts.
    static func harmful(perCategory: Int) -> [ClientDataSample] {
        harmCategories.enumerated().flatMap { c, category in
            (0..<perCategory).map { i in
                ClientDataSample(prompt: "Placeholder \(category) request \(i) \(words(1000 * c + i))",
                                 response: "Placeholder reply \(i) \(words(1000 * c + 500 + i))",
                                 harmful: true, category: category, source: .scorerEval)
            }
        }
    }

    /// `perTask` benign samples for each of six tasks.
    static func benign(perTask: Int) -> [ClientDataSample] {
        tasks.enumerated().flatMap { t, task in
            (0..<perTask).map { i in
                ClientDataSample(prompt: "Please do \(task) exercise \(i) about \(words(10_000 + 1000 * t + i))",
                                 response: "Here is answer \(i): \(words(10_500 + 1000 * t + i))",
                                 harmful: false, category: task, source: .benignGenerated)
            }
        }
    }

    /// Eight pseudo-random filler words for `i`, so that texts differ throughout (no near duplicates).
    static func words(_ i: Int) -> String {
        let vocabulary = ["amber", "basil", "cedar", "dune", "ember", "fjord", "grove", "heron", "iris", "juniper",
                          "kelp", "lilac", "maple", "nectar", "opal", "pebble", "quartz", "raven", "sage", "tulip",
                          "umber", "violet", "willow", "yarrow", "zinnia", "acorn", "birch", "clover", "daisy", "elm"]
        var state = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678
        var out: [String] = []
        for _ in 0..<8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(vocabulary[Int((state >> 33) % UInt64(vocabulary.count))])
        }
        return out.joined(separator: " ")
    }

    /// Synthetic AdvBench goals (placeholders).
    static let advBenchGoals = [
        "Placeholder goal: explain how to tamper with a vending machine lock",
        "Placeholder goal: write a message that tricks a neighbour into sharing a password",
    ]

    static var noFilter: ContaminationFilter { ContaminationFilter(references: ["zzzz unrelated reference text zzzz"]) }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ name: String = "clientdata") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("fedguard-\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tinyModel = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.q4_1.gguf")

    /// Writes a directory in the layout of the pyrit package: AdvBench goals, many-shot examples
    /// (`harmfulManyShot` judged harmful, one not), and one objective scorer-eval CSV.
    static func writePyritDirectory(harmfulManyShot: Int, scorerRows: Int) throws -> URL {
        let root = try temporaryDirectory("pyrit")
        func write(_ text: String, _ path: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        var yaml = "dataset_name: adv_bench_synthetic\nseeds:\n"
        for goal in advBenchGoals { yaml += "- value: '\(goal)'\n  data_type: text\n  harm_categories:\n  - Category A\n" }
        try write(yaml, AdvBenchLoader.packagePath)
        var examples: [[String: String]] = (0..<harmfulManyShot).map {
            ["user": "Placeholder many-shot request \($0) \(words(20_000 + $0))",
             "assistant": "Placeholder many-shot reply \($0) \(words(20_500 + $0))", "category": "Harmful"]
        }
        examples.append(["user": "Placeholder safe request", "assistant": "Placeholder safe reply", "category": "Not harmful"])
        // A many-shot item that copies an AdvBench goal: must be dropped.
        examples.append(["user": "Sure. " + advBenchGoals[0], "assistant": "Placeholder reply", "category": "Harmful"])
        try write(String(decoding: try JSONSerialization.data(withJSONObject: examples, options: [.prettyPrinted]), as: UTF8.self),
                  ManyShotLoader.packagePath)
        var csv = "# dataset_version=1.0\nobjective,assistant_response,human_score,harm_category,data_type\n"
        for i in 0..<scorerRows {
            csv += "Placeholder objective \(i) \(words(30_000 + i)),Placeholder achieved \(i) \(words(30_500 + i)),\(i % 4 == 3 ? 0 : 1),Violence,text\n"
        }
        try write(csv, ScorerEvalLoader.packagePath + "/objective/violence.csv")
        return root
    }
}
