import Engine
import Foundation
import RunFiles
import Simulation
import Testing
import Training

/// `initial_adapter`: a run whose global adapter starts from a saved PEFT adapter (the
/// experiment's safety-aligned start).
struct InitialAdapterTests {
    @Test func aRunStartsFromTheGivenAdapter() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let first = try SimulationFixtures.makeRun(try SimulationFixtures.configuration(data: data, clients: 2, rounds: 1),
                                                   model: model, in: temporary.appendingPathComponent("a"))
        try first.run()
        let start = first.directory.adapterURL(round: 1)

        // The only client fails, so round 1 keeps the previous global adapter: the initial one.
        let configuration = try SimulationFixtures.configuration(data: data, clients: 1, perRound: 1, rounds: 1,
                                                                 extra: ["initial_adapter=\(start.path)"])
        #expect(configuration.initialAdapter == start.path)
        let second = try SimulationFixtures.makeRun(configuration, model: model, in: temporary.appendingPathComponent("b"),
                                                    hooks: SimulationHooks(clientData: [FailingClientHook(client: 0)]))
        try second.run()
        let kept = try #require(try second.directory.records().first)
        #expect(kept.keptPrevious)
        let started = try PEFTAdapter.load(from: start, for: model).weights
        let after = try PEFTAdapter.load(from: second.directory.adapterURL(round: 1), for: model).weights
        #expect(Self.flat(after, \.a) == Self.flat(started, \.a) && Self.flat(after, \.b) == Self.flat(started, \.b))

        // Without it, the same run starts from the seed's fresh adapter, whose B matrices are zero.
        let fresh = try SimulationFixtures.makeRun(
            try SimulationFixtures.configuration(data: data, clients: 1, perRound: 1, rounds: 1), model: model,
            in: temporary.appendingPathComponent("c"), hooks: SimulationHooks(clientData: [FailingClientHook(client: 0)]))
        try fresh.run()
        let zero = try PEFTAdapter.load(from: fresh.directory.adapterURL(round: 1), for: model).weights
        #expect(Self.flat(zero, \.b).allSatisfy { $0 == 0 })
        #expect(Self.flat(started, \.b).contains { $0 != 0 })
    }

    /// Every A (or B) value of the adapter, in layer and projection order.
    static func flat(_ weights: LoRAWeights, _ matrix: KeyPath<LoRAPair, FloatBuffer>) -> [Float] {
        weights.pairs.flatMap { layer in
            layer.keys.sorted { $0.rawValue < $1.rawValue }.flatMap { layer[$0]![keyPath: matrix].array }
        }
    }

    @Test func anAdapterOfAnotherShapeIsRefusedBeforeTheFirstRound() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let temporary = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: temporary)
        let first = try SimulationFixtures.makeRun(try SimulationFixtures.configuration(data: data, clients: 2, rounds: 1),
                                                   model: model, in: temporary.appendingPathComponent("a"))
        try first.run()
        let configuration = try SimulationFixtures.configuration(
            data: data, clients: 2, rounds: 1,
            extra: ["initial_adapter=\(first.directory.adapterURL(round: 1).path)", "lora.rank=4"])
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: temporary.appendingPathComponent("b"))
        let error = #expect(throws: SimulationError.self) { try run.run() }
        #expect(error?.description.contains("initial_adapter has rank 8") == true)
        #expect(try run.directory.records().isEmpty)

        let missing = try SimulationFixtures.configuration(data: data, clients: 2, rounds: 1,
                                                           extra: ["initial_adapter=\(temporary.path)/nowhere"])
        let other = try SimulationFixtures.makeRun(missing, model: model, in: temporary.appendingPathComponent("c"))
        let missingError = #expect(throws: SimulationError.self) { try other.run() }
        #expect(missingError?.description.contains("cannot load initial_adapter") == true)
    }
}
