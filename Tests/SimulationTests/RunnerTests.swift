import Engine
import Federation
import Foundation
import Logging
import RunFiles
import Simulation
import Testing
import Training

struct RunnerTests {
    @Test func twoRoundRunWritesTheRunDirectory() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 3, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data)
        let hooks = SimulationHooks(clientData: [FailingClientHook(client: -1)], server: [CountingServerHook()],
                                    evaluation: ConstantEvaluation())
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary, hooks: hooks)
        let summary = try run.run()

        let directory = run.directory
        #expect(summary.rounds == 2)
        #expect(try RunConfiguration.load(file: directory.configurationURL) == run.configuration)
        // rounds.jsonl: the agreed keys.
        let lines = try String(contentsOf: directory.recordsURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let elementBytes = run.layout.layout.elementCount * 4
        for (index, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in ["round", "lr", "clients", "aggregation_seconds", "kept_previous", "bytes_up", "bytes_down", "hooks", "eval"] {
                #expect(object[key] != nil, "round record lacks \(key)")
            }
            #expect(object["round"] as? Int == index + 1)
            #expect(object["kept_previous"] as? Bool == false)
            #expect(object["bytes_down"] as? Int == 2 * elementBytes)
            #expect(object["bytes_up"] as? Int == 2 * elementBytes)
            let clients = try #require(object["clients"] as? [[String: Any]])
            #expect(clients.count == 2)
            for client in clients {
                for key in ["id", "loss", "examples", "seconds", "bytes_up", "bytes_down", "status"] {
                    #expect(client[key] != nil, "client record lacks \(key)")
                }
                #expect(client["status"] as? String == "ok")
                #expect((client["loss"] as? Double).map { $0.isFinite && $0 > 0 } == true)
                #expect((client["examples"] as? Int ?? 0) >= 5)
            }
            let hooks = try #require(object["hooks"] as? [String: [String: Double]])
            #expect(hooks["failing"]?["examples_seen"] ?? 0 >= 10, "client hook metrics are summed over the round")
            #expect(hooks["server_probe"]?["aggregated"] == 1)
            let eval = try #require(object["eval"] as? [String: Double])
            #expect(eval["round_seen"] == Double(index + 1) && eval["limit"] == 20)
        }
        let lr1 = try #require(try directory.records().first?.lr)
        #expect(lr1 == configuration.learningRate)
        // Adapters in PEFT format after every round; checkpoint of the last round.
        for round in 1...2 {
            let loaded = try PEFTAdapter.load(from: directory.adapterURL(round: round), for: model)
            #expect(loaded.configuration.rank == 8 && loaded.configuration.targets == [.query, .value])
        }
        let latest = try String(contentsOf: directory.checkpointURL.appendingPathComponent("LATEST"), encoding: .utf8)
        #expect(latest.trimmingCharacters(in: .whitespacesAndNewlines) == "round-0002")
        #expect(summary.ledger.rounds.count == 2 && summary.ledger.totalBytes == 8 * elementBytes)
        #expect(summary.finalAdapter == directory.adapterURL(round: 2))
        // The adapter moved away from the initial one.
        let first = try SimulationFixtures.adapterBytes(run, round: 1), second = try SimulationFixtures.adapterBytes(run, round: 2)
        #expect(first != second)
    }

    @Test func fedAvgWithOneClientEqualsLocalTraining() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 1, examples: 6, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 1, perRound: 1, rounds: 1,
                                                                 extra: ["local.steps=3"])
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary)
        try run.run()

        // Plain local training from the same seed.
        let c = run.configuration
        let adapter = LoRAWeights.initialized(for: model, configuration: c.lora.configuration, seed: RunSeeds.initialAdapter(c.seed))
        let tokenizer = try #require(model.tokenizer)
        let builder = try SequenceBuilder(modelTokenizer: tokenizer, maxLength: c.data.maxSequenceLength)
        let examples = try DatasetLoader.loadSFT(from: data.appendingPathComponent(ClientDataWriter.fileName(client: 0)), logger: Logger(label: "t")).examples
        let sequences = try builder.sequences(for: examples, logger: Logger(label: "t")).items
        let parameters = try LoRAClientTrainer.trainerParameters(c, learningRate: c.learningRate(round: 1),
                                                                 seed: RunSeeds.training(c.seed, round: 1, client: 0))
        let trainer = LoRATrainer(model: model, adapter: adapter, loraConfiguration: c.lora.configuration, parameters: parameters)
        let summary = try trainer.trainSFT(sequences)
        #expect(summary.steps == 3)
        let local = temporary.appendingPathComponent("local")
        try PEFTAdapter.save(adapter, dropout: Float(c.lora.dropout), baseModel: "tiny", to: local)
        let expected = try SimulationFixtures.bytes(local.appendingPathComponent(PEFTAdapter.weightsFileName))
        #expect(try SimulationFixtures.adapterBytes(run, round: 1) == expected, "bit-identical adapters")
    }

    @Test(arguments: ["fedprox", "scaffold", "fedavgm", "fedadagrad", "fedyogi", "fedadam"])
    func everyStrategyRunsFromTheConfiguration(strategy: String) throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory("strategy\(strategy)")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 3, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, strategy: strategy)
        #expect(configuration.strategy.name == strategy)
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary)
        try run.run()
        let records = try run.directory.records()
        #expect(records.count == 2)
        for record in records {
            #expect(!record.keptPrevious)
            #expect(record.clients.allSatisfy { $0.status == "ok" && ($0.loss ?? .nan).isFinite })
        }
        // SCAFFOLD sends its control variate both ways.
        let elementBytes = run.layout.layout.elementCount * 4
        let perClient = strategy == "scaffold" ? 2 * elementBytes : elementBytes
        #expect(records[0].clients[0].bytesDown == perClient && records[0].clients[0].bytesUp == perClient)
        let loaded = try PEFTAdapter.load(from: run.directory.adapterURL(round: 2), for: model)
        #expect(loaded.weights.orderedBuffers.allSatisfy { $0.array.allSatisfy(\.isFinite) })
    }

    @Test func aClientThatThrowsIsDroppedAndRecorded() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1)
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary,
                                                 hooks: SimulationHooks(clientData: [FailingClientHook(client: 1)]))
        try run.run()
        let record = try #require(try run.directory.records().first)
        #expect(record.clients.map(\.status) == ["ok", "failed: simulated client crash"])
        #expect(record.clients[1].loss == nil && record.clients[1].bytesUp == 0 && record.clients[1].examples == 0)
        #expect(!record.keptPrevious, "one valid reply meets min_replies = 1")
        #expect(record.bytesUp == record.clients[0].bytesUp)
    }

    @Test func aNaNUpdateIsRejectedAndCounted() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1)
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary) {
            CorruptingClient(base: $0, client: 0)
        }
        try run.run()
        let record = try #require(try run.directory.records().first)
        #expect(record.clients[0].status.hasPrefix("rejected: non-finite value"))
        #expect(record.clients[1].status == "ok")
        #expect(record.rejections == ["nonFinite": 1])
        #expect(!record.keptPrevious)
        #expect(record.bytesUp == 2 * run.layout.layout.elementCount * 4, "rejected replies were still sent")
        let loaded = try PEFTAdapter.load(from: run.directory.adapterURL(round: 1), for: model)
        #expect(loaded.weights.orderedBuffers.allSatisfy { $0.array.allSatisfy(\.isFinite) })
    }

    @Test func anUpdateNormPastTheBoundIsRejected() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1,
                                                                 extra: ["update_norm_bound=1e-9"])
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary)
        try run.run()
        let record = try #require(try run.directory.records().first)
        #expect(record.clients.allSatisfy { $0.status.hasPrefix("rejected: update norm") })
        #expect(record.rejections == ["normExceeded": 2] && record.keptPrevious)
    }

    @Test func fewerThanMinRepliesKeepsThePreviousAdapter() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1,
                                                                 extra: ["min_replies=2"])
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary,
                                                 hooks: SimulationHooks(clientData: [FailingClientHook(client: 0)]))
        try run.run()
        let record = try #require(try run.directory.records().first)
        #expect(record.keptPrevious)
        #expect(record.clients.map(\.status) == ["failed: simulated client crash", "ok"])
        // The adapter after round 1 is the initial one.
        let c = run.configuration
        let initial = LoRAWeights.initialized(for: model, configuration: c.lora.configuration, seed: RunSeeds.initialAdapter(c.seed))
        let saved = temporary.appendingPathComponent("initial")
        try PEFTAdapter.save(initial, dropout: Float(c.lora.dropout), baseModel: "tiny", to: saved)
        #expect(try SimulationFixtures.adapterBytes(run, round: 1)
            == SimulationFixtures.bytes(saved.appendingPathComponent(PEFTAdapter.weightsFileName)))
    }

    @Test func missingDataSaysHowToBuildIt() throws {
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let missing = temporary.appendingPathComponent("nowhere")
        do {
            _ = try ClientDatasets(directory: missing, clients: 4, logger: Logger(label: "t"))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("fedguard data build --clients 4 --out \(missing.path)"))
        }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        #expect(throws: SimulationError.self) { try ClientDatasets(directory: data, clients: 3, logger: Logger(label: "t")) }
        // Earlier data named client-00.jsonl next to client-000.jsonl: two files for client 0 is an
        // error, not client 0's data read twice as clients 0 and 1.
        try FileManager.default.copyItem(at: data.appendingPathComponent(ClientDataWriter.fileName(client: 0)),
                                         to: data.appendingPathComponent("client-00.jsonl"))
        do {
            _ = try ClientDatasets(directory: data, clients: 2, logger: Logger(label: "t"))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("two files for client 0: client-00.jsonl and client-000.jsonl"))
        }
    }

    @Test func aRunDirectoryIsNotReusedForANewRun() throws {
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let directory = RunDirectory(temporary.appendingPathComponent("run"))
        _ = try FederatedRun.createDirectory(directory, configuration: .defaults)
        #expect(throws: SimulationError.self) { try FederatedRun.createDirectory(directory, configuration: .defaults) }
    }
}
