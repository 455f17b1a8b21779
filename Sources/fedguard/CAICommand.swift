import ArgumentParser
import Assets
import ConstitutionalAI
import Engine
import Evaluation
import Foundation
import Logging
import SafetyData
import SafetyFilter
import Simulation
import Training

/// `fedguard cai`: one constitutional-AI step on a model or adapter, standalone.
struct CAICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cai",
        abstract: "Run constitutional AI on a model or adapter: answer, critique, revise, train on the revisions.",
        discussion: """
        Draws prompts from the server's pool (DoNotAnswer and PyRIT many-shot red-team requests, generated \
        benign requests; never AdvBench, HarmBench or client data), answers them with the adapter, critiques \
        and revises each answer against a principle of the constitution, picks the best and worst answer by AI \
        feedback (refusal judge, plus the safety filter's judge with --judge), and trains: SFT on the best, DPO \
        best over worst with the starting adapter as reference. Writes a PEFT adapter, cai-data.jsonl (every \
        prompt's answers, critiques and verdicts) and metrics.json. Settings are the run configuration's cai \
        section (`--set cai.candidates=8`); `fedguard config show` lists them. Harmful text is only shown truncated.
        """
    )

    @OptionGroup var engine: EngineOptions

    @Option(help: "Output directory for the adapter, cai-data.jsonl and metrics.json.")
    var out: String

    @Option(help: "Starting PEFT adapter (default: a fresh adapter, i.e. the base model).")
    var adapter: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a cai key, or a lora key that shapes the fresh adapter (repeatable), e.g. lora.targets=[q_proj,v_proj,gate_proj].", valueName: "cai.key=value|lora.key=value"))
    var overrides: [String] = []

    @Option(help: "The safety filter's judge in AI feedback: none, embedding, guard or both (trained ones, from $FEDGUARD_HOME/filter).")
    var judge: String = "none"

    @Option(help: "Seed of the prompt draw, the principles, sampling and training.")
    var seed: UInt64 = 1

    @Option(help: "CAI steps run one after another, each from the previous one's adapter with the next seed (as rounds would).")
    var iterations: Int = 1

    @Flag(help: "Also write each step's adapter to OUT/step-N (to evaluate every step on the held-out suites).")
    var saveSteps = false

    @Option(help: "Truncated samples shown.")
    var samples: Int = 3

    func validate() throws {
        guard ["none", "embedding", "guard", "both"].contains(judge) else {
            throw ValidationError("--judge must be none, embedding, guard or both (got '\(judge)')")
        }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        if let bad = overrides.first(where: { !$0.hasPrefix("cai.") && !$0.hasPrefix("lora.") }) {
            throw ValidationError("--set takes cai and lora keys only (got '\(bad)')")
        }
        if adapter != nil, let shape = overrides.first(where: { $0.hasPrefix("lora.") }) {
            throw ValidationError("--set \(shape): lora keys shape a fresh adapter; the one given with --adapter keeps its own configuration")
        }
    }

    func run() throws {
        let logger = engine.prepare()
        var configuration = try RunConfiguration.load(overrides: overrides)
        if configuration.cai.mode == .off { configuration.cai.mode = .full }
        let settings = configuration.cai
        let (constitution, pool, critic) = try CAIInputs.load(settings, logger: logger)
        let modelURL = try engine.modelURL(logger: logger)
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        let start: LoRAWeights
        var lora = configuration.lora.configuration
        if let adapter {
            let loaded = try PEFTAdapter.load(from: URL(fileURLWithPath: (adapter as NSString).expandingTildeInPath, isDirectory: true), for: model)
            start = loaded.weights
            lora = loaded.configuration
        } else {
            start = LoRAWeights.initialized(for: model, configuration: lora, seed: seed)
        }
        var answerJudge = AnswerJudge()
        if judge != "none", let kind = JudgeKind(rawValue: judge) {
            let workspace = FilterWorkspace(logger: logger)
            let (safety, threshold) = try workspace.loadJudge(kind, directory: workspace.judgeDirectory(kind), modelURL: modelURL, model: model)
            answerJudge = AnswerJudge(safety: safety, unsafeThreshold: threshold)
        }
        let step = try ConstitutionalAIStep(model: model, critic: critic, lora: lora, settings: settings, constitution: constitution,
                                            pool: pool, judge: answerJudge, logger: logger)
        Console.err("constitutional AI: \(settings.promptsPerStep) prompts (\(Int(settings.harmfulShare * 100))% red-team) × \(iterations), "
            + "\(settings.candidates) candidates, objective \(settings.objective.rawValue); pool \(pool.harmful.count) red-team + "
            + "\(pool.benign.count) benign + \(pool.riskyBenign.count) risky-looking benign (\(pool.droppedAsBenchmark) benchmark copies dropped); constitution \(constitution.name) "
            + "(\(constitution.principles.count) principles, \(constitution.exemplars.count) exemplars)")
        let outURL = URL(fileURLWithPath: (out as NSString).expandingTildeInPath, isDirectory: true)
        let (_, records) = try CAIInputs.runSteps(step, from: start, iterations: iterations, seed: seed, progressLabel: "",
                                                  dropout: lora.dropout, baseModel: modelURL.lastPathComponent, to: outURL,
                                                  saveEachStep: saveSteps)
        for r in records.filter({ $0.chosen != nil }).prefix(samples) {
            Console.out("  \(r.prompt.harmful ? "red-team" : "benign") [\(r.principle)] \(ReportText.truncate(r.prompt.text, to: 60))\n"
                + "    initial: \(ReportText.truncate(r.initial, to: 80))\n    chosen:  \(ReportText.truncate(r.answers[r.chosen!].text, to: 80))")
        }
        Console.out("adapter written to \(outURL.path); evaluate it with `fedguard eval --adapter \(outURL.path)`")
    }

    static func summary(_ m: [String: Double], iteration: Int) -> String {
        func pct(_ k: String) -> String { String(format: "%.0f%%", 100 * (m[k] ?? 0)) }
        return "iteration \(iteration): harmful prompts with a safe answer \(pct("harmful_safe_share")), benign with a helpful one "
            + "\(pct("benign_helpful_share")); revisions: refusals of harmful \(pct("revisions_safe_share")), degenerate "
            + "\(pct("revisions_degenerate_share")); chosen from revisions \(pct("chosen_revision_share"))"
            + (m["chosen_reference_share", default: 0] > 0 ? ", from the start's answers \(pct("chosen_reference_share")); " : "; ")
            + "sft \(Int(m["sft_examples"] ?? 0)) examples, dpo \(Int(m["dpo_pairs"] ?? 0)) pairs; "
            + String(format: "%.0f s (answers %.0f, critiques %.0f, revisions %.0f, training %.0f)", m["seconds"] ?? 0,
                     m["seconds_answers"] ?? 0, m["seconds_critiques"] ?? 0, m["seconds_revisions"] ?? 0, m["seconds_training"] ?? 0)
    }
}

/// What a CAI step needs besides the model, as `fedguard cai` and `fedguard run` load it: the
/// constitution (`cai.constitution` or FedGuard's), the server's prompt pool (fetched assets) and
/// the critic model (`cai.critic_model`: a path, or the file name of an optional model such as
/// `qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`, fetched on first use).
enum CAIInputs {
    static func load(_ settings: CAISettings, logger: Logger) throws -> (Constitution, PromptPool, LlamaModel?) {
        func path(_ p: String) -> URL { URL(fileURLWithPath: (p as NSString).expandingTildeInPath) }
        let constitution = try settings.constitution.map { try Constitution.load(path($0)) } ?? Constitution.standard()
        let store = AssetStore(logger: logger)
        func file(_ f: AssetFile) throws -> URL { try store.url(for: f) { Console.reportAsset($0) } }
        let pool = try PromptPool.load(doNotAnswer: try file(AssetCatalog.doNotAnswerDirectory), manyShot: try file(AssetCatalog.manyShotExamples),
                                       advBench: try file(AssetCatalog.advBench), harmBench: try file(AssetCatalog.harmBenchPrompts),
                                       edgyBenign: try file(AssetCatalog.edgyBenignDirectory),
                                       uncensorBench: try file(AssetCatalog.uncensorBenchPrompts),
                                       strongRejectSmall: try file(AssetCatalog.strongRejectSmall),
                                       imperativeRewrites: settings.imperativeRewrites,
                                       excludedAreas: Set(settings.donotanswerExcluded))
        let critic = try settings.criticModel.map { name -> LlamaModel in
            // An optional model's file name (e.g. qwen2.5-coder-1.5b-instruct-q4_k_m.gguf) fetches it on first use.
            if let optional = AssetCatalog.optionalModels.first(where: { $0.fileName == name }) {
                Console.err("critic: \(optional.provenance)")
                return try ModelLoader.load(from: try store.joined(optional) { Console.reportAsset($0) }, logger: logger)
            }
            return try ModelLoader.load(from: path(name), logger: logger)
        }
        return (constitution, pool, critic)
    }

    /// Runs `iterations` steps one after another from `start` (each from the previous one's adapter,
    /// with the next seed, as rounds would), showing progress and each step's summary, and writes
    /// the final PEFT adapter, `cai-data.jsonl` and `metrics.json` to `directory` (with
    /// `saveEachStep`, also each step's adapter to `directory/step-N`).
    @discardableResult
    static func runSteps(_ step: ConstitutionalAIStep, from start: LoRAWeights, iterations: Int, seed: UInt64, progressLabel: String,
                         dropout: Float, baseModel: String, to directory: URL,
                         saveEachStep: Bool = false) throws -> (adapter: LoRAWeights, records: [CAIRecord]) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var adapter = start
        var allMetrics: [[String: Double]] = []
        var records: [CAIRecord] = []
        for iteration in 1...iterations {
            let prefix = "\(progressLabel)[\(iteration)/\(iterations)]"
            // The first step's start is the reference only in name: its answers are the initial ones.
            let reference = step.settings.benignAnswers == .start && iteration > 1 ? start : nil
            let result = try step.run(adapter: adapter, seed: seed &+ UInt64(iteration - 1) &* 0x9E37_79B9,
                                      benignReference: reference) { p in
                switch p {
                case .generating(let phase, let done, let total): Console.progress("\(prefix) \(phase) \(done)/\(total)")
                case .training(let objective, let t):
                    Console.progress("\(prefix) \(objective) step \(t.step)/\(t.totalSteps)  "
                        + String(format: "loss %.4f  %.0f tok/s", t.loss, t.tokensPerSecond) + "  ETA \(Console.duration(t.etaSeconds))")
                }
            }
            Console.progressDone()
            adapter = result.adapter
            allMetrics.append(result.metrics)
            records += result.records
            Console.err(CAICommand.summary(result.metrics, iteration: iteration))
            if saveEachStep {
                try PEFTAdapter.save(adapter, dropout: dropout, baseModel: baseModel,
                                     to: directory.appendingPathComponent("step-\(iteration)", isDirectory: true))
            }
        }
        try PEFTAdapter.save(adapter, dropout: dropout, baseModel: baseModel, to: directory)
        try writeRecords(records, to: directory.appendingPathComponent("cai-data.jsonl"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(allMetrics).write(to: directory.appendingPathComponent("metrics.json"), options: .atomic)
        return (adapter, records)
    }

    /// Writes a step's records as JSON lines (the run's `cai/round-NNNN.jsonl`, the command's
    /// `cai-data.jsonl`).
    static func writeRecords(_ records: [CAIRecord], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for r in records { lines += try encoder.encode(r); lines.append(0x0A) }
        try lines.write(to: url, options: .atomic)
    }
}
