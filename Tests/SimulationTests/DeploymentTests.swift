import Engine
import Federation
import Foundation
import Logging
import RunFiles
import Simulation
import Testing
import Training

/// A deployed run (server phases in the run directory, each client on its own data file and state
/// directory, files in between) against the in-process simulation of the same configuration.
@Suite struct DeploymentTests {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// The deployed server of `configuration` in `directory/deployed`.
    static func server(_ configuration: RunConfiguration, model: LlamaModel, in directory: URL,
                       hooks: SimulationHooks = SimulationHooks()) throws -> DeployedServer {
        let runDirectory = RunDirectory(directory.appendingPathComponent("deployed"))
        let resolved = try FederatedRun.createDirectory(runDirectory, configuration: configuration)
        let layout = try AdapterLayout(model: model, configuration: resolved.lora.configuration)
        let run = FederatedRun(configuration: resolved, model: model, baseModelName: "tiny", directory: runDirectory,
                               client: RemoteClients(), hooks: hooks, layout: layout, logger: quiet)
        return DeployedServer(run: run)
    }

    /// Runs every round of `server` with each client on `data/client-NN.jsonl` and its own state
    /// directory, moving only files; `skip(round, client)` drops a client's reply.
    static func runDeployed(_ server: DeployedServer, model: LlamaModel, data: URL, in directory: URL,
                            skip: (Int, Int) -> Bool = { _, _ in false }) throws -> [RoundRecord] {
        var records: [RoundRecord] = []
        let clientConfiguration = server.run.configuration
        let client = DeployedClient(model: model, configuration: clientConfiguration, logger: quiet)
        while true {
            let roundDirectory = directory.appendingPathComponent("round")
            guard let plan = try server.configure(into: roundDirectory) else { break }
            for id in plan.clients where !skip(plan.round, id) {
                let task = try DeploymentFiles.decode(ClientTaskFile.self,
                                                      from: roundDirectory.appendingPathComponent(DeploymentFiles.task(client: id)))
                // What crosses the wire: the task's own configuration, not the server's object.
                let fromTask = DeployedClient(model: model, configuration: try DeployedClient.configuration(of: task), logger: quiet)
                #expect(fromTask.configuration == client.configuration)
                try fromTask.fit(
                    task: task, global: roundDirectory.appendingPathComponent(DeploymentFiles.global),
                    serverControl: plan.hasServerControl ? roundDirectory.appendingPathComponent(DeploymentFiles.serverControl) : nil,
                    data: data.appendingPathComponent(ClientDataWriter.fileName(client: id)),
                    state: directory.appendingPathComponent("state-\(id)"),
                    out: roundDirectory.appendingPathComponent(DeploymentFiles.replies).appendingPathComponent(DeploymentFiles.reply(client: id)))
            }
            records.append(try server.aggregate(roundDirectory: roundDirectory))
        }
        return records
    }

    @Test(arguments: ["fedavg", "fedprox", "scaffold"])
    func aDeployedRunEqualsTheSimulationBitForBit(strategy: String) throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try SimulationFixtures.loadTinyModel()
        let data = try SimulationFixtures.writeClientData(clients: 4, in: directory)
        // 4 clients, 2 per round, 4 rounds: clients are sampled again, so SCAFFOLD's clients start
        // from control variates they kept themselves.
        let configuration = try SimulationFixtures.configuration(data: data, clients: 4, perRound: 2, rounds: 4, strategy: strategy)
        let simulated = try SimulationFixtures.makeRun(configuration, model: model, in: directory)
        try simulated.run()
        let server = try Self.server(configuration, model: model, in: directory)
        let records = try Self.runDeployed(server, model: model, data: data, in: directory)
        #expect(records.count == 4)
        let expected = try simulated.directory.records()
        for round in 1...4 {
            let a = try SimulationFixtures.adapterBytes(simulated, round: round)
            let b = try SimulationFixtures.bytes(server.run.directory.adapterURL(round: round)
                .appendingPathComponent(PEFTAdapter.weightsFileName))
            #expect(a == b, "round \(round): the deployed adapter differs from the simulation's")
            let record = records[round - 1]
            #expect(record.clients.map(\.id) == expected[round - 1].clients.map(\.id))
            #expect(record.clients.map(\.loss) == expected[round - 1].clients.map(\.loss))
            #expect(record.clients.map(\.status) == expected[round - 1].clients.map(\.status))
            #expect(record.bytesUp == expected[round - 1].bytesUp)
        }
        if strategy == "scaffold" {
            // Each client keeps at most its last two control variates, the server none.
            let kept = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("state-0").path)
            #expect(!kept.isEmpty && kept.count <= 2)
        }
        #expect(try server.configure(into: directory.appendingPathComponent("after")) == nil)
    }

    @Test func aMissingReplyCountsAsFailedAndTheRoundCompletesWithTheOthers() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try SimulationFixtures.loadTinyModel()
        let data = try SimulationFixtures.writeClientData(clients: 3, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 3, perRound: 3, rounds: 1,
                                                                 extra: ["min_replies=1"])
        let server = try Self.server(configuration, model: model, in: directory)
        let records = try Self.runDeployed(server, model: model, data: data, in: directory) { _, client in client == 1 }
        let record = try #require(records.first)
        #expect(record.clients.map(\.status) == ["ok", "failed: no reply", "ok"])
        #expect(!record.keptPrevious)
    }

    @Test func malformedForeignAndMisaddressedRepliesAreCountedNotTrusted() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try SimulationFixtures.loadTinyModel()
        let data = try SimulationFixtures.writeClientData(clients: 4, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 4, perRound: 3, rounds: 1,
                                                                 extra: ["min_replies=1"])
        let server = try Self.server(configuration, model: model, in: directory)
        let roundDirectory = directory.appendingPathComponent("round")
        let plan = try #require(try server.configure(into: roundDirectory))
        let replies = roundDirectory.appendingPathComponent(DeploymentFiles.replies)
        let client = DeployedClient(model: model, configuration: server.run.configuration, logger: Self.quiet)
        for id in plan.clients {
            let task = try DeploymentFiles.decode(ClientTaskFile.self, from: roundDirectory.appendingPathComponent(DeploymentFiles.task(client: id)))
            try client.fit(task: task, global: roundDirectory.appendingPathComponent(DeploymentFiles.global), serverControl: nil,
                           data: data.appendingPathComponent(ClientDataWriter.fileName(client: id)), state: nil,
                           out: replies.appendingPathComponent(DeploymentFiles.reply(client: id)))
        }
        let (first, second, third) = (plan.clients[0], plan.clients[1], plan.clients[2])
        // 1: an adapter of another shape; 2: a reply that claims another client; 3: kept intact.
        let firstFolder = replies.appendingPathComponent(DeploymentFiles.reply(client: first))
        let wrong = try TensorMap([(name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: [1, 2], values: [0, 1])])
        try TensorMapFile.write(wrong, to: firstFolder.appendingPathComponent(DeploymentFiles.adapter))
        let secondJSON = replies.appendingPathComponent(DeploymentFiles.reply(client: second)).appendingPathComponent(DeploymentFiles.replyJSON)
        var claimed = try DeploymentFiles.decode(ClientReplyFile.self, from: secondJSON)
        claimed.client = third
        try DeploymentFiles.encode(claimed).write(to: secondJSON)
        // A reply from a client that was not sampled.
        let unsampled = try #require((0..<4).first { !plan.clients.contains($0) })
        try FileManager.default.copyItem(at: replies.appendingPathComponent(DeploymentFiles.reply(client: third)),
                                         to: replies.appendingPathComponent(DeploymentFiles.reply(client: unsampled)))

        let record = try server.aggregate(roundDirectory: roundDirectory)
        let status = Dictionary(uniqueKeysWithValues: record.clients.map { ($0.id, $0.status) })
        #expect(status[RoundRecord.Client.id(first)]?.hasPrefix("failed: malformed reply") == true)
        #expect(status[RoundRecord.Client.id(first)]?.contains("has shape [1, 2]") == true
            || status[RoundRecord.Client.id(first)]?.contains("missing tensor") == true)
        #expect(status[RoundRecord.Client.id(second)]?.contains("reply is for client \(third)") == true)
        #expect(status[RoundRecord.Client.id(third)] == "ok")
        #expect(record.rejections["unsampled_client"] == 1)
        // The round is committed once: aggregating it again is refused with what to do.
        #expect(throws: SimulationError.self) { try server.aggregate(roundDirectory: roundDirectory) }
    }

    @Test func aClientWhoseDataCannotBeReadRepliesWithTheReason() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try SimulationFixtures.loadTinyModel()
        let data = try SimulationFixtures.writeClientData(clients: 2, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1, extra: ["min_replies=1"])
        let server = try Self.server(configuration, model: model, in: directory)
        let roundDirectory = directory.appendingPathComponent("round")
        let plan = try #require(try server.configure(into: roundDirectory))
        let id = plan.clients[0]
        let task = try DeploymentFiles.decode(ClientTaskFile.self, from: roundDirectory.appendingPathComponent(DeploymentFiles.task(client: id)))
        let broken = directory.appendingPathComponent("broken.jsonl")
        try Data("{\"messages\": [{\"role\": \"user\"\n".utf8).write(to: broken)
        let client = DeployedClient(model: model, configuration: server.run.configuration, logger: Self.quiet)
        let reply = try client.fit(task: task, global: roundDirectory.appendingPathComponent(DeploymentFiles.global), serverControl: nil,
                                   data: broken, state: nil,
                                   out: roundDirectory.appendingPathComponent(DeploymentFiles.replies).appendingPathComponent(DeploymentFiles.reply(client: id)))
        let failure = try #require(reply.failure)
        #expect(failure.contains("broken.jsonl"))
        let record = try server.aggregate(roundDirectory: roundDirectory)
        #expect(record.clients.first { $0.id == RoundRecord.Client.id(id) }?.status == "failed: \(failure)")
    }

    @Test func aTensorFileOfAnotherLayoutIsAnErrorNamingTheTensor() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let map = try TensorMap([(name: "a", shape: [2, 2], values: [1, .nan, -0.0, 3]), (name: "b", shape: [1], values: [7])])
        let url = directory.appendingPathComponent("m.safetensors")
        try TensorMapFile.write(map, to: url)
        let back = try TensorMapFile.read(url, layout: map.layout)
        #expect(back.values.map(\.bitPattern) == map.values.map(\.bitPattern))
        let other = try TensorLayout([.init(name: "a", shape: [4]), .init(name: "b", shape: [1])])
        #expect { try TensorMapFile.read(url, layout: other) } throws: { "\($0)".contains("tensor 'a' has shape [2, 2]") }
        try Data([1, 2, 3]).write(to: url)
        #expect { try TensorMapFile.read(url, layout: map.layout) } throws: { "\($0)".contains("not a readable safetensors file") }
    }
}

/// A client data hook that keeps the examples whose index is not `(round + client + seed) % 3`,
/// so what it drops depends on everything the simulation passes it.
struct SeededDroppingHook: ClientDataHook {
    var name: String { "dropper" }
    func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        let drop = Int((UInt64(context.round + context.clientID) &+ context.seed) % 3)
        let kept = examples.enumerated().filter { $0.offset % 3 != drop }.map(\.element)
        return PreparedExamples(examples: kept, metrics: ["seen": Double(examples.count), "removed": Double(examples.count - kept.count)])
    }
}

@Suite struct DeployedHookTests {
    @Test func clientDataHooksRunOnTheClientAndTheirCountsReachTheRecord() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try SimulationFixtures.loadTinyModel()
        let data = try SimulationFixtures.writeClientData(clients: 3, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 3, perRound: 2, rounds: 3)
        var hooks = SimulationHooks()
        hooks.clientData = [SeededDroppingHook()]
        let simulated = try SimulationFixtures.makeRun(configuration, model: model, in: directory, hooks: hooks)
        try simulated.run()

        let server = try DeploymentTests.server(configuration, model: model, in: directory)
        let roundDirectory = directory.appendingPathComponent("round")
        var records: [RoundRecord] = []
        while let plan = try server.configure(into: roundDirectory) {
            for id in plan.clients {
                let task = try DeploymentFiles.decode(ClientTaskFile.self,
                                                      from: roundDirectory.appendingPathComponent(DeploymentFiles.task(client: id)))
                let client = DeployedClient(model: model, configuration: try DeployedClient.configuration(of: task),
                                            hooks: [SeededDroppingHook()], logger: DeploymentTests.quiet)
                try client.fit(task: task, global: roundDirectory.appendingPathComponent(DeploymentFiles.global), serverControl: nil,
                               data: data.appendingPathComponent(ClientDataWriter.fileName(client: id)), state: nil,
                               out: roundDirectory.appendingPathComponent(DeploymentFiles.replies)
                                   .appendingPathComponent(DeploymentFiles.reply(client: id)))
            }
            records.append(try server.aggregate(roundDirectory: roundDirectory))
        }
        let expected = try simulated.directory.records()
        #expect(records.map(\.hooks) == expected.map(\.hooks))
        #expect(records.allSatisfy { ($0.hooks["dropper"]?["removed"] ?? 0) > 0 })
        #expect(try SimulationFixtures.adapterBytes(simulated, round: 3)
            == SimulationFixtures.bytes(server.run.directory.adapterURL(round: 3).appendingPathComponent(PEFTAdapter.weightsFileName)))
    }
}
