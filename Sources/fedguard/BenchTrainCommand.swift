import ArgumentParser
import Engine
import Foundation
import Logging
import Training

/// `fedguard bench train`: LoRA training throughput beside PyTorch + PEFT.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "LoRA training throughput: (a) padded shapes 4 x 256, rank 8 on q,v, AdamW; (b) real SFT samples, loss tokens/s.")

    @OptionGroup var engine: EngineOptions

    @Option(help: "Optimizer steps to time in (a) (after one warm-up step).")
    var steps: Int = 5

    @Option(help: "SFT samples (JSONL prompt/response) for (b).")
    var sftData: String = "benchmarks/sft_samples.jsonl"

    @Option(help: "Optimizer steps to time in (b).")
    var sftSteps: Int = 8

    @Flag(help: "Also run the PyTorch + PEFT peer (scripts/peer_train.py) and print the ratios.")
    var peer = false

    @Option(help: "Python interpreter for the peer.")
    var python: String = "python3"

    /// Trains on the padded batch for `parameters.maxSteps` steps; tokens/s over all but the first.
    private func timePadded(model: LlamaModel, sequences: [TrainingSequence], lora: LoRAConfiguration,
                            parameters: TrainerParameters, logger: Logger) throws -> Double {
        let trainer = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: lora, seed: 1),
                                  loraConfiguration: lora, parameters: parameters, logger: logger)
        var start = Date()
        _ = try trainer.trainSFT(sequences) { p in
            if p.step == 1 { start = Date() }  // the first step is the warm-up
            Console.progress("(a) step \(p.step)/\(p.totalSteps) loss \(String(format: "%.3f", p.loss))")
            return true
        }
        Console.progressDone()
        return Double(4 * 256 * steps) / Date().timeIntervalSince(start)
    }

    func run() throws {
        let logger = engine.prepare()
        let modelURL = try engine.modelURL(logger: logger)
        let model = try ModelLoader.load(from: modelURL, options: .init(keepQuantizedWeights: false), logger: logger)
        let lora = LoRAConfiguration(rank: 8, alpha: 16, dropout: 0, targets: [.query, .value])
        var parameters = TrainerParameters()
        parameters.learningRate = 1e-4
        parameters.cosine = false
        parameters.maxGradientNorm = nil
        parameters.tokensPerBatch = 4 * 256

        // (a) 4 sequences of 256 seeded random tokens, every position after the first a target.
        var rng = SeededGenerator(seed: 1)
        let V = UInt64(model.configuration.vocabularySize)
        let padded = try (0..<4).map { _ in
            try TrainingSequence(tokens: (0..<256).map { _ in Int(rng.next() % V) }, targetMask: [false] + Array(repeating: true, count: 255))
        }
        parameters.maxSteps = steps + 1
        // In a function, so trainer (a) and its buffers are released before (b); the peak is (a)'s.
        let paddedRate = try timePadded(model: model, sequences: padded, lora: lora, parameters: parameters, logger: logger)
        let peak = PeakMemory.residentMB()

        // (b) real chat samples, packed, counting loss-carrying tokens.
        var sftRate = Double.nan
        if FileManager.default.fileExists(atPath: sftData) {
            let builder = try SequenceBuilder(modelTokenizer: try model.requireTokenizer(), maxLength: 256)
            let examples = try DatasetLoader.loadSFT(from: URL(fileURLWithPath: sftData), logger: logger).examples
            let sequences = try builder.sequences(for: examples, logger: logger).items
            parameters.maxSteps = sftSteps + 1
            let trainerB = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: lora, seed: 2),
                                       loraConfiguration: lora, parameters: parameters, logger: logger)
            var targets = 0
            var t0 = Date()
            _ = try trainerB.trainSFT(sequences) { p in
                if p.step == 1 { t0 = Date() } else { targets += p.targetTokens }  // step 1 is the warm-up
                Console.progress("(b) step \(p.step)/\(p.totalSteps) loss \(String(format: "%.3f", p.loss))")
                return true
            }
            Console.progressDone()
            sftRate = Double(targets) / Date().timeIntervalSince(t0)
        } else {
            Console.err("(b) skipped: \(sftData) not found (run from the repository root)")
        }
        Console.out(KernelReport.current().isaLine)
        Console.out("threads: \(Parallel.threadCount)  model: \(modelURL.lastPathComponent)  LoRA r=8 on q,v, AdamW")
        Console.out(String(format: "fedguard      (a) padded 4x256: %7.1f tok/s   (b) SFT samples: %7.1f loss tok/s   peak %6.0f MiB",
                           paddedRate, sftRate, peak))
        guard peer else { return }
        Console.err("running the PyTorch + PEFT peer (a few minutes) ...")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "scripts/peer_train.py", "--gguf", modelURL.path, "--threads", "\(Parallel.threadCount)",
                       "--steps", "\(steps)", "--sft-data", sftData, "--sft-steps", "\(sftSteps)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("the peer script failed (exit \(p.terminationStatus)); it needs torch, transformers, peft and gguf")
        }
        let theirA = (obj["padded_tokens_per_s"] as? NSNumber)?.doubleValue ?? .nan
        let theirB = (obj["sft_loss_tokens_per_s"] as? NSNumber)?.doubleValue ?? .nan
        let theirPeak = (obj["peak_rss_mb"] as? NSNumber)?.doubleValue ?? .nan
        Console.out(String(format: "pytorch+peft  (a) padded 4x256: %7.1f tok/s   (b) SFT samples: %7.1f loss tok/s   peak %6.0f MiB",
                           theirA, theirB, theirPeak))
        Console.out(String(format: "ratio fedguard/pytorch+peft: (a) %.1f vs %.1f tok/s = %.2fx; (b) %.1f vs %.1f loss tok/s = %.2fx",
                           paddedRate, theirA, paddedRate / theirA, sftRate, theirB, sftRate / theirB))
    }
}
