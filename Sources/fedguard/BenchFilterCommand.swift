import ArgumentParser
import Engine
import Foundation
import Logging
import SafetyFilter
import Simulation
import Tokenizers
import Training

/// `fedguard bench filter`: the safety filter's speed, and its cost next to a client's local training.
struct BenchFilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Pairs/s of each judge, and the filter's time as a share of a client's local training in the default run.",
        discussion: """
        Judges: the trained embedding judge and the fine-tuned guard from $FEDGUARD_HOME/filter (the zero-shot \
        guard when none is trained). A client of the default run holds 12 examples (30% harmful) and trains 4 steps \
        of 512-token batches, LoRA rank 8 on q and v; the bench trains such a client on 12 labelled train-split pairs \
        and filters the same 12, in the same process.
        """)

    @OptionGroup var engine: EngineOptions

    @Option(help: "Test-split pairs judged to measure pairs/s.")
    var pairs: Int = 64

    @Option(help: "Seed of the labelled set.")
    var seed: UInt64 = 1

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1 (got \(pairs))") }
    }

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let modelURL = try engine.modelURL(logger: logger)
        let data = try workspace.data(modelURL: modelURL, seed: seed)
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        let conversations = Array(data.pairs.split(.test).map(\.conversation).prefix(pairs))

        // A default-run client: 12 examples, 30% harmful.
        let train = data.pairs.split(.train)
        let client = Array(train.filter(\.unsafe).prefix(4)) + Array(train.filter { $0.source == .benignExchange }.prefix(8))
        let examples = client.map {
            SFTExample(messages: [ChatMessage(role: .user, content: $0.conversation.prompt),
                                  ChatMessage(role: .assistant, content: $0.conversation.response)])
        }
        let trainingSeconds = try Self.localTraining(model: model, examples: examples, logger: logger)
        Console.out(String(format: "client local training (default run: %d examples, 4 steps x 512 tokens, r8 q,v): %.2f s",
                           examples.count, trainingSeconds))
        Console.out(KernelReport.current().isaLine)
        Console.out("")
        Console.out(EvalTable.pad("judge", 44) + EvalTable.pad("pairs/s", 10) + EvalTable.pad("filter s/client", 17)
            + EvalTable.pad("share of training", 19) + "target")

        var judges: [(String, any SafetyJudge, String)] = []
        if workspace.hasJudge(.embedding) {
            judges.append(("embedding", try workspace.loadJudge(.embedding, directory: workspace.judgeDirectory(.embedding),
                                                                  modelURL: modelURL).0, "<= 5%"))
        } else {
            Console.err("no embedding judge in \(workspace.judgeDirectory(.embedding).path): run `fedguard filter train --kind embedding`")
        }
        if workspace.hasJudge(.guard) {
            judges.append(("guard (fine-tuned)", try workspace.loadJudge(.guard, directory: workspace.judgeDirectory(.guard),
                                                                           modelURL: modelURL, model: model).0, "<= 50%"))
        } else {
            judges.append(("guard (zero-shot)", try GuardJudge(model: model, name: modelURL.lastPathComponent, logger: logger), "<= 50%"))
        }
        for (name, judge, target) in judges {
            _ = try judge.score(Array(conversations.prefix(2)))  // warm-up (the guard's shared prefix, caches)
            let start = Date()
            _ = try judge.score(conversations)
            let rate = Double(conversations.count) / Date().timeIntervalSince(start)
            let filterStart = Date()
            _ = try ExampleFilter(judge: judge, threshold: try FilterThreshold(0.5)).decide(examples)
            let filterSeconds = Date().timeIntervalSince(filterStart)
            Console.out(EvalTable.pad(name, 44) + EvalTable.pad(String(format: "%.1f", rate), 10)
                + EvalTable.pad(String(format: "%.2f", filterSeconds), 17)
                + EvalTable.pad(String(format: "%.1f%%", 100 * filterSeconds / trainingSeconds), 19) + target)
        }
    }

    /// Seconds of one default-run client's local training on `examples`.
    static func localTraining(model: LlamaModel, examples: [SFTExample], logger: Logger) throws -> Double {
        let configuration = RunConfiguration.defaults
        let builder = try SequenceBuilder(modelTokenizer: try model.requireTokenizer(), maxLength: configuration.data.maxSequenceLength)
        let sequences = try builder.sequences(for: examples, logger: logger).items
        let parameters = try LoRAClientTrainer.trainerParameters(configuration, learningRate: configuration.learningRate, seed: 1)
        let lora = configuration.lora.configuration
        let trainer = LoRATrainer(model: model, adapter: .initialized(for: model, configuration: lora, seed: 1),
                                  loraConfiguration: lora, parameters: parameters, logger: logger)
        let start = Date()
        _ = try trainer.trainSFT(sequences)
        return Date().timeIntervalSince(start)
    }
}
