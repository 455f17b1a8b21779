import ArgumentParser
import Engine
import Foundation
import Logging
import Training

/// `fedguard train`: fine-tune a LoRA adapter with SFT or DPO on a JSONL file.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a LoRA adapter (SFT or DPO) on a JSONL file; writes a PEFT adapter.",
        discussion: """
        SFT data: {"messages": [...]}, {"prompt", "response"} or Alpaca {"instruction", "input", "output"}.
        DPO data: {"prompt", "chosen", "rejected"}. The loss covers assistant tokens only.
        The output directory gets adapter_config.json + adapter_model.safetensors (loadable by
        PeftModel.from_pretrained), metrics.jsonl, and checkpoints/ for --resume.
        """)

    @OptionGroup var engine: EngineOptions

    @Option(help: "Training data (JSONL).")
    var data: String

    @Flag(help: "Drop malformed JSONL lines (counted and the first few logged) instead of stopping.")
    var skipMalformed = false

    @Option(help: "Output directory for the adapter, metrics and checkpoints.")
    var out: String

    @Option(help: "Objective: sft or dpo.")
    var mode: String = "sft"

    @Option(help: "LoRA rank.")
    var rank: Int = 8

    @Option(help: "LoRA alpha (the update is scaled by alpha / rank).")
    var alpha: Float = 16

    @Option(help: "LoRA dropout.")
    var dropout: Float = 0.05

    @Option(help: "Adapted projections, comma-separated: q,k,v,o,gate,up,down.")
    var targets: String = "q,v"

    @Option(help: "Peak learning rate (cosine decay after warm-up).")
    var lr: Double = 2e-4

    @Option(help: "Warm-up steps.")
    var warmup: Int = 0

    @Option(help: "Passes over the data.")
    var epochs: Int = 1

    @Option(help: "Optimizer steps (overrides --epochs).")
    var steps: Int?

    @Option(help: "Sequences per micro-batch budget: the token budget is batch-size × max-seq-len, packed without padding.")
    var batchSize: Int = 4

    @Option(help: "Micro-batches per optimizer step.")
    var gradientAccumulation: Int = 1

    @Option(help: "Longest sequence in tokens; longer samples are truncated and counted.")
    var maxSeqLen: Int = 512

    @Option(help: "DPO beta.")
    var beta: Double = 0.1

    @Option(help: "Write a checkpoint every N steps (0: only at the end).")
    var saveEvery: Int = 0

    @Option(help: "Resume from the latest checkpoint in this run directory (usually the same as --out).")
    var resume: String?

    @Option(help: "Seed for data order and dropout.")
    var seed: UInt64 = 0

    func validate() throws {
        guard TrainingObjective(rawValue: mode) != nil else { throw ValidationError("--mode must be sft or dpo (got '\(mode)')") }
        guard rank > 0 else { throw ValidationError("--rank must be positive") }
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard epochs > 0, batchSize > 0, maxSeqLen > 1, gradientAccumulation > 0 else {
            throw ValidationError("--epochs, --batch-size, --gradient-accumulation must be positive and --max-seq-len > 1")
        }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
        _ = try parsedTargets()
    }

    func parsedTargets() throws -> [Projection] { try parseProjections(targets, option: "--targets") }

    func run() throws {
        let logger = engine.prepare()
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let modelURL = try engine.modelURL(logger: logger)
        let model = try ModelLoader.load(from: modelURL, options: .init(keepQuantizedWeights: false), logger: logger)
        let builder = try SequenceBuilder(modelTokenizer: try model.requireTokenizer(), maxLength: maxSeqLen)
        let objective = TrainingObjective(rawValue: mode) ?? .sft

        var parameters = TrainerParameters()
        parameters.objective = objective
        parameters.learningRate = lr
        parameters.warmupSteps = warmup
        parameters.epochs = epochs
        parameters.maxSteps = steps
        parameters.tokensPerBatch = batchSize * maxSeqLen * (objective == .dpo ? 2 : 1)
        parameters.gradientAccumulation = gradientAccumulation
        parameters.dpoBeta = beta
        parameters.seed = seed
        let lora = LoRAConfiguration(rank: rank, alpha: alpha, dropout: dropout, targets: try parsedTargets())

        let trainer: LoRATrainer
        if let resume, let latest = CheckpointStore.latest(in: URL(fileURLWithPath: resume)) {
            let checkpoint = try CheckpointStore.read(from: latest, for: model)
            trainer = try LoRATrainer(model: model, resuming: checkpoint, parameters: parameters, logger: logger)
            Console.err("resuming from \(latest.path) at step \(checkpoint.step)")
        } else {
            if let resume { Console.err("no checkpoint in \(resume); starting a new run") }
            trainer = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: lora, seed: seed),
                                  loraConfiguration: lora, parameters: parameters, logger: logger)
        }

        let metricsURL = outURL.appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: metricsURL.path),
           !FileManager.default.createFile(atPath: metricsURL.path, contents: nil) {
            throw ValidationError("cannot create \(metricsURL.path); check that --out is a writable folder")
        }
        let metrics = try FileHandle(forWritingTo: metricsURL)
        defer { try? metrics.close() }
        _ = try metrics.seekToEnd()
        let baseName = modelURL.lastPathComponent
        let afterStep: (TrainingProgress) throws -> Bool = { p in
            Console.progress(String(format: "step %d/%d  loss %.4f  lr %.2e  |g| %.3f  %.0f tok/s  ",
                                    p.step, p.totalSteps, p.loss, p.learningRate, p.gradientNorm, p.tokensPerSecond)
                             + "ETA \(Console.duration(p.etaSeconds))")
            var record: [String: Any] = ["step": p.step, "loss": p.loss, "lr": p.learningRate, "grad_norm": Double(p.gradientNorm),
                                         "tokens_per_s": p.tokensPerSecond, "target_tokens_per_s": p.targetTokensPerSecond]
            if let a = p.accuracy { record["reward_accuracy"] = a }
            metrics.write(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) + Data("\n".utf8))
            if saveEvery > 0 && p.step % saveEvery == 0 {
                try CheckpointStore.write(trainer.checkpoint(baseModel: baseName), into: outURL, logger: logger)
            }
            return true
        }

        let malformedPolicy: MalformedLinePolicy = skipMalformed ? .skip : .default
        let summary: TrainingSummary
        switch objective {
        case .sft:
            let loaded = try DatasetLoader.loadSFT(from: URL(fileURLWithPath: data), policy: malformedPolicy, logger: logger)
            if loaded.skippedLines > 0 { Console.err("\(loaded.skippedLines) malformed line(s) skipped (--skip-malformed)") }
            let built = try builder.sequences(for: loaded.examples, logger: logger)
            Console.err("\(built.items.count) training sequences (\(built.truncated) truncated to \(maxSeqLen) tokens, \(built.dropped) without assistant tokens dropped)")
            summary = try trainer.trainSFT(built.items, afterStep: afterStep)
        case .dpo:
            let loaded = try DatasetLoader.loadPreferences(from: URL(fileURLWithPath: data), policy: malformedPolicy, logger: logger)
            if loaded.skippedLines > 0 { Console.err("\(loaded.skippedLines) malformed line(s) skipped (--skip-malformed)") }
            let built = try builder.sequences(for: loaded.examples, logger: logger)
            Console.err("\(built.items.count) preference pairs (\(built.truncated) truncated, \(built.dropped) dropped)")
            summary = try trainer.trainDPO(built.items, afterStep: afterStep)
        }
        Console.progressDone()
        try CheckpointStore.write(trainer.checkpoint(baseModel: baseName), into: outURL, logger: logger)
        try PEFTAdapter.save(trainer.adapter, dropout: dropout, baseModel: baseName, to: outURL)
        Console.err("done: \(summary.steps) steps in \(Console.duration(summary.seconds)), "
            + String(format: "loss %.4f → %.4f", summary.firstLoss, summary.lastLoss) + "; adapter in \(outURL.path)")
        Console.err("try: fedguard generate --adapter \(outURL.path) --prompt \"...\"")
    }
}
