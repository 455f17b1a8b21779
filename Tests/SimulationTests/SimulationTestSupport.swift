import Engine
import Federation
import Foundation
import Logging
import RunFiles
import Simulation
import Testing
import Training

/// The tiny model and client data of the simulation tests.
enum SimulationFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The tiny random Llama with a tokenizer and ChatML template.
    static let tinyModelURL = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.f32.gguf")

    static func loadTinyModel() throws -> LlamaModel { try ModelLoader.load(from: tinyModelURL) }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("fedguard-sim-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `clients` client files of `examples` short chat records each.
    static func writeClientData(clients: Int, examples: Int = 5, in directory: URL) throws -> URL {
        let data = directory.appendingPathComponent("clients")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for client in 0..<clients {
            var lines = ""
            for j in 0..<(examples + client % 2) {
                let record: [String: Any] = ["messages": [
                    ["role": "user", "content": "question \(j) from client \(client) about the weather"],
                    ["role": "assistant", "content": "answer \(j): client \(client) says it is sunny today"],
                ]]
                let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
                lines += String(decoding: json, as: UTF8.self) + "\n"
            }
            try Data(lines.utf8).write(to: data.appendingPathComponent(ClientDataWriter.fileName(client: client)))
        }
        return data
    }

    /// A small configuration for the tiny model.
    static func configuration(data: URL, clients: Int = 3, perRound: Int = 2, rounds: Int = 2,
                              strategy: String = "fedavg", extra: [String] = []) throws -> RunConfiguration {
        try RunConfiguration.load(overrides: [
            "model=\(tinyModelURL.path)", "data.directory=\(data.path)", "clients=\(clients)",
            "clients_per_round=\(perRound)", "rounds=\(rounds)", "strategy=\(strategy)", "local.steps=2",
            "local.tokens_per_batch=256", "data.max_sequence_length=256", "threads=1",
        ] + extra)
    }

    /// Creates the run directory and the standard run.
    static func makeRun(_ configuration: RunConfiguration, model: LlamaModel, in directory: URL,
                        hooks: SimulationHooks = SimulationHooks(),
                        client: ((LoRAClientTrainer) -> any ClientTrainer)? = nil) throws -> FederatedRun {
        let runDirectory = RunDirectory(directory.appendingPathComponent("run"))
        let resolved = try FederatedRun.createDirectory(runDirectory, configuration: configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let standard = try FederatedRun.standard(configuration: resolved, model: model, baseModelName: "tiny",
                                                 directory: runDirectory, hooks: hooks, logger: logger)
        guard let client, let base = standard.client as? LoRAClientTrainer else { return standard }
        return FederatedRun(configuration: resolved, model: model, baseModelName: "tiny", directory: runDirectory,
                            client: client(base), hooks: hooks, layout: standard.layout, logger: logger)
    }

    static func bytes(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    static func adapterBytes(_ run: FederatedRun, round: Int) throws -> Data {
        try bytes(run.directory.adapterURL(round: round).appendingPathComponent(PEFTAdapter.weightsFileName))
    }
}

/// A client data hook that throws for one client (a client whose training fails).
struct FailingClientHook: ClientDataHook {
    var client: Int
    var name: String { "failing" }
    struct Failure: Error, CustomStringConvertible { var description: String { "simulated client crash" } }
    func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        if context.clientID == client { throw Failure() }
        return PreparedExamples(examples: examples, metrics: ["examples_seen": Double(examples.count)])
    }
}

/// A client that sends a NaN in its update.
struct CorruptingClient: ClientTrainer {
    var base: any ClientTrainer
    var client: Int
    func train(_ task: ClientTask, progress: (ClientProgress) -> Void) throws -> ClientResult {
        var result = try base.train(task, progress: progress)
        if task.clientID == client {
            var values = result.reply.parameters.values
            values[3] = .nan
            result.reply.parameters = try TensorMap(layout: result.reply.parameters.layout, values: values)
        }
        return result
    }
}

/// A server hook that records that it ran and scales nothing.
struct CountingServerHook: ServerHook {
    var name: String { "server_probe" }
    func afterAggregation(global: inout TensorMap, context: ServerHookContext) throws -> [String: Double] {
        ["norm": global.l2Norm, "aggregated": context.aggregated ? 1 : 0]
    }
}

/// An evaluation hook with a fixed metric.
struct ConstantEvaluation: EvaluationHook {
    var name: String { "constant" }
    func evaluate(_ context: EvaluationContext) throws -> [String: Double] {
        ["round_seen": Double(context.round), "limit": Double(context.settings.limit ?? -1)]
    }
}
