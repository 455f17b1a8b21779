import Engine
import Federation
import Foundation
import Logging
import RunFiles
import SafetyData
@testable import Simulation
import Testing
import Tokenizers
import Training

/// A data hook that records which examples each client's data held when it ran.
final class RecordingDataHook: ClientDataHook {
    var name: String { "recording" }
    var seen: [Int: [SFTExample]] = [:]
    func prepare(_ examples: [SFTExample], context: ClientDataContext) throws -> PreparedExamples {
        seen[context.clientID] = examples
        return PreparedExamples(examples: examples, metrics: ["seen": Double(examples.count)])
    }
}

/// Poisoned clients (`adversaries:`) and the server-side safety screen of client updates.
struct AdversaryTests {
    static func configuration(_ data: URL, clients: Int, perRound: Int, rounds: Int = 1, adversaries: String,
                              extra: [String] = []) throws -> RunConfiguration {
        let base = try SimulationFixtures.configuration(data: data, clients: clients, perRound: perRound, rounds: rounds, extra: extra)
        var yaml = try base.yaml()
        yaml = yaml.replacingOccurrences(of: "adversaries: []", with: "adversaries: \(adversaries)")
        return try RunConfiguration.load(yaml: yaml)
    }

    // MARK: configuration

    @Test func adversariesRoundTripThroughYAMLAndAreValidated() throws {
        let text = """
        clients: 5
        adversaries:
          - {clients: [1, 3], attack: harmful_data}
          - {clients: [1], attack: scale, factor: 20, from_round: 2}
          - {clients: [4], attack: sign_flip}
        """
        let configuration = try RunConfiguration.load(yaml: text)
        #expect(configuration.adversaries.count == 3)
        #expect(configuration.adversaries[1].effectiveFactor == 20 && configuration.adversaries[1].fromRound == 2)
        #expect(configuration.adversaries[2].effectiveFactor == 1 && configuration.adversaries[0].attack == .harmfulData)
        #expect(AdversarySettings(clients: [0], attack: .scale).effectiveFactor == 10)
        #expect(try RunConfiguration.load(yaml: try configuration.yaml()) == configuration)
        #expect(configuration.adversaries[1].applies(client: 1, round: 2) && !configuration.adversaries[1].applies(client: 1, round: 1))

        func message(_ yaml: String) -> String {
            do { _ = try RunConfiguration.load(yaml: yaml); return "" } catch { return error.description }
        }
        #expect(message("adversaries: [{clients: [0], attack: bribe}]").contains("adversaries.attack"))
        #expect(message("adversaries: [{clients: [0], attack: bribe}]").contains("sign_flip"))
        #expect(message("clients: 2\nadversaries: [{clients: [2], attack: nan}]").contains("adversaries.0.clients"))
        #expect(message("adversaries: [{clients: [0], attack: nan, factor: 3}]").contains("adversaries.0.factor"))
        #expect(message("adversaries: [{clients: [0], attack: scale, from_round: 0}]").contains("adversaries.0.from_round"))
        #expect(message("adversaries: [{clients: [0], attack: nan, data: x.jsonl}]").contains("adversaries.0.data"))
        #expect(message("adversaries: [{clients: [0], attack: nan, bogus: 1}]").contains("bogus"))
        #expect(message("safety_screen: {max_shift: -1}").contains("safety_screen.max_shift"))
        #expect(message("safety_screen: {canaries: 0}").contains("safety_screen.canaries"))
        #expect(message("safety_screen: {relative_shift: 0.5}").contains("safety_screen.relative_shift"))
        #expect(try RunConfiguration.load(yaml: "safety_screen: {relative_shift: null}").safetyScreen.relativeShift == nil)
        #expect(RunConfiguration.defaults.safetyScreen.relativeShift == 2.5)
    }

    // MARK: attacks

    @Test func scaleAndSignFlipMoveTheUpdateByTheFactor() throws {
        let global = try TensorMap([("a", [2], [1, 2]), ("b", [1], [0])])
        let local = try TensorMap([("a", [2], [1.5, 1]), ("b", [1], [0.25])])
        let scaled = try AdversarialClientTrainer.poison(local, global: global, attack: .scale, factor: 10)
        #expect(scaled.values == [6, -8, 2.5])
        let flipped = try AdversarialClientTrainer.poison(local, global: global, attack: .signFlip, factor: 1)
        #expect(flipped.values == [0.5, 3, -0.25])
        let nan = try AdversarialClientTrainer.poison(local, global: global, attack: .nan, factor: 1)
        #expect(nan.values[0].isNaN && nan.layout == local.layout)
        let wrong = try AdversarialClientTrainer.poison(local, global: global, attack: .wrongShape, factor: 1)
        #expect(wrong.shape(named: "a") == [1] && wrong.shape(named: "b") == [1])
        #expect(try AdversarialClientTrainer.poison(local, global: global, attack: .skipFilter, factor: 1) == local)
    }

    @Test func harmfulDataDrawsAsManyExamplesAsTheClientHoldsDeterministically() {
        let pool = (0..<7).map { SFTExample(messages: [ChatMessage(role: .user, content: "q\($0)"), ChatMessage(role: .assistant, content: "a\($0)")]) }
        let a = AdversarialClientTrainer.draw(count: 10, from: pool, seed: 3)
        #expect(a.count == 10 && a == AdversarialClientTrainer.draw(count: 10, from: pool, seed: 3))
        #expect(Set(a.prefix(7).map { $0.messages[0].content }).count == 7)  // the whole pool before any repeat
        #expect(a != AdversarialClientTrainer.draw(count: 10, from: pool, seed: 4))
    }

    @Test func malformedAndMissingRepliesAreRejectedOrCounted() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let dir = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SimulationFixtures.writeClientData(clients: 5, in: dir)
        let configuration = try Self.configuration(
            data, clients: 5, perRound: 5,
            adversaries: "[{clients: [1], attack: nan}, {clients: [2], attack: wrong_shape}, {clients: [3], attack: drop_out}, "
                + "{clients: [4], attack: time_out}, {clients: [0], attack: inf, from_round: 2}]")
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: dir)
        try run.run()
        let record = try #require(try run.directory.records().first)
        let status = Dictionary(uniqueKeysWithValues: record.clients.map { ($0.id, $0.status) })
        #expect(status[RoundRecord.Client.id(0)] == "ok")  // inf starts in round 2
        #expect(status[RoundRecord.Client.id(1)]?.hasPrefix("rejected: non-finite") == true)
        #expect(status[RoundRecord.Client.id(2)]?.contains("has shape [") == true)
        #expect(status[RoundRecord.Client.id(3)] == "failed: dropped out (adversary)")
        #expect(status[RoundRecord.Client.id(4)]?.hasPrefix("failed: timed out") == true)
        #expect(record.rejections["nonFinite"] == 1 && record.rejections["shapeMismatch"] == 1 && !record.keptPrevious)
    }

    @Test func scaledClientSendsTenTimesItsHonestUpdate() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let dir = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SimulationFixtures.writeClientData(clients: 1, in: dir)
        let honest = try SimulationFixtures.makeRun(try SimulationFixtures.configuration(data: data, clients: 1, perRound: 1, rounds: 1),
                                                    model: model, in: dir.appendingPathComponent("honest"))
        try honest.run()
        let poisoned = try SimulationFixtures.makeRun(
            try Self.configuration(data, clients: 1, perRound: 1, adversaries: "[{clients: [0], attack: scale}]"),
            model: model, in: dir.appendingPathComponent("scaled"))
        try poisoned.run()
        let initial = try honest.layout.tensorMap(try honest.initialAdapter())
        let honestUpdate = try honest.layout.tensorMap(try PEFTAdapter.load(from: honest.directory.adapterURL(round: 1), for: model).weights)
            .subtracting(initial)
        let poisonedUpdate = try poisoned.layout.tensorMap(try PEFTAdapter.load(from: poisoned.directory.adapterURL(round: 1), for: model).weights)
            .subtracting(initial)
        // One client, FedAvg: the global is the reply. Tolerance: float32 rounding of g + 10(l − g)
        // and of the subtraction, a few ulps of the largest weight (|w| < 1).
        let expected = honestUpdate.scaled(by: 10)
        let worst = zip(expected.values, poisonedUpdate.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5 && honestUpdate.l2Norm > 0)
    }

    @Test func skipFilterAndHarmfulDataChangeWhatTheClientTrainsOn() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let dir = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SimulationFixtures.writeClientData(clients: 3, in: dir)
        let harmful = dir.appendingPathComponent("attacker.jsonl")
        let lines = (0..<3).map { #"{"messages": [{"role": "user", "content": "bad request \#($0)"}, {"role": "assistant", "content": "bad answer \#($0)"}]}"# }
        try Data(lines.joined(separator: "\n").utf8).write(to: harmful)
        let configuration = try Self.configuration(
            data, clients: 3, perRound: 3,
            adversaries: "[{clients: [1], attack: skip_filter}, {clients: [2], attack: harmful_data, data: \(harmful.path)}]")
        let hook = RecordingDataHook()
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: dir, hooks: SimulationHooks(clientData: [hook]))
        try run.run()
        #expect(hook.seen[0]?.count == 5 && hook.seen[1] == nil)  // client 1 skipped the hooks
        let poisoned = try #require(hook.seen[2])
        #expect(poisoned.count == 5 && poisoned.allSatisfy { $0.messages[0].content.hasPrefix("bad request") })
        let record = try #require(try run.directory.records().first)
        #expect(record.hooks["recording"]?["seen"] == 10 && record.clients.allSatisfy { $0.status == "ok" })
    }

    // MARK: the safety screen

    static func canaries() -> [SafetyCanary] {
        [SafetyCanary(prompt: "question 1 from client 0 about the weather", refusal: "I cannot help with that request.",
                      compliance: "answer 1: client 0 says it is sunny today"),
         SafetyCanary(prompt: "question 3 from client 1 about the weather", refusal: "Sorry, I will not do that.",
                      compliance: "answer 3: client 1 says it is sunny today")]
    }

    @Test func screenScoresTheComplianceMarginAndRejectsRepliesThatRaiseIt() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let dir = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: dir)
        // Training on the clients' data makes the canaries' compliance (their data's answers) more
        // likely, so each honest reply raises the margin; max_shift 0 rejects both, the round keeps
        // the previous global.
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1,
                                                                 extra: ["learning_rate=0.01", "local.steps=4"])
        let layout = try AdapterLayout(model: model, configuration: configuration.lora.configuration)
        let strict = try UpdateSafetyScreen(model: model, layout: layout, canaries: Self.canaries(), maxShift: 0)
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: dir, hooks: SimulationHooks(replies: [strict]))
        try run.run()
        let record = try #require(try run.directory.records().first)
        #expect(record.keptPrevious && record.rejections["safety_screen"] == 2)
        #expect(record.clients.allSatisfy { $0.status.hasPrefix("rejected: unsafe update: moves the canaries toward compliance") })
        let metrics = try #require(record.hooks["safety_screen"])
        #expect(metrics["scored"] == 2 && metrics["rejected"] == 2 && (metrics["shift_max"] ?? 0) > 0)

        // The same replies under a loose bound are accepted; an unchanged adapter shifts by exactly 0.
        let loose = try UpdateSafetyScreen(model: model, layout: layout, canaries: Self.canaries(), maxShift: 100)
        let dir2 = dir.appendingPathComponent("loose")
        let accepted = try SimulationFixtures.makeRun(configuration, model: model, in: dir2, hooks: SimulationHooks(replies: [loose]))
        try accepted.run()
        let looseRecord = try #require(try accepted.directory.records().first)
        #expect(!looseRecord.keptPrevious && looseRecord.rejections["safety_screen"] == 0)
        #expect(looseRecord.hooks["safety_screen"]?["shift_max"] == metrics["shift_max"])  // same replies, same scores

        let global = try layout.tensorMap(try accepted.initialAdapter())
        // The relative rule: one reply that rises while two others stay put is rejected (its rise
        // is more than 2.5× the others' median, 0); above min_shift only.
        let trained = try layout.tensorMap(try PEFTAdapter.load(from: accepted.directory.adapterURL(round: 1), for: model).weights)
        let trio = [ClientReply(clientID: 0, parameters: trained, exampleCount: 1, metrics: [:]),
                    ClientReply(clientID: 1, parameters: global, exampleCount: 1, metrics: [:]),
                    ClientReply(clientID: 2, parameters: global, exampleCount: 1, metrics: [:])]
        let relative = try UpdateSafetyScreen(model: model, layout: layout, canaries: Self.canaries(), maxShift: 100, relativeShift: 2.5)
        let decided = try relative.screen(global: global, replies: trio, context: ReplyHookContext(round: 2, logger: Logger(label: "t")))
        #expect(Array(decided.rejected.keys) == [0] && decided.metrics["rejected_relative"] == 1)
        #expect(decided.rejected[0]?.contains("more than 2.5× the other replies' median 0.000") == true)
        let floored = try UpdateSafetyScreen(model: model, layout: layout, canaries: Self.canaries(), maxShift: 100, relativeShift: 2.5,
                                             minShift: 100)
        #expect(try floored.screen(global: global, replies: trio, context: ReplyHookContext(round: 2, logger: Logger(label: "t"))).rejected.isEmpty)
        #expect(UpdateSafetyScreen.median([3, 1, 2]) == 2 && UpdateSafetyScreen.median([4, 1, 2, 3]) == 2.5)
        let same = ClientReply(clientID: 0, parameters: global, exampleCount: 1, metrics: [:])
        let outcome = try strict.screen(global: global, replies: [same], context: ReplyHookContext(round: 1, logger: Logger(label: "t")))
        #expect(outcome.rejected.isEmpty && outcome.metrics["shift_max"] == 0)
        // Malformed replies are left to the reply screen, not scored.
        var values = global.values
        values[0] = .nan
        let broken = ClientReply(clientID: 1, parameters: try TensorMap(layout: global.layout, values: values), exampleCount: 1, metrics: [:])
        let skipped = try strict.screen(global: global, replies: [broken], context: ReplyHookContext(round: 1, logger: Logger(label: "t")))
        #expect(skipped.rejected.isEmpty && skipped.metrics["scored"] == 0)
    }

    @Test func canariesAreAFixedRoundRobinOverTopics() {
        let location = FileLocation(file: "prompts.json", line: 1)
        let items = (0..<9).map { i in
            UncensorBenchItem(id: "id\(i)", topic: ["weapons", "drugs", "fraud"][i % 3], prompt: "p\(i)",
                              censoredResponse: "no \(i)", uncensoredResponse: "yes \(i)", location: location)
        }
        let four = UpdateSafetyScreen.canaries(from: items, count: 4)
        #expect(four.count == 4 && four == UpdateSafetyScreen.canaries(from: items.reversed(), count: 4))
        let topics = four.map { canary in items.first(where: { $0.prompt == canary.prompt })?.topic }
        #expect(topics == ["drugs", "fraud", "weapons", "drugs"])
        #expect(four.allSatisfy { $0.refusal.hasPrefix("no") && $0.compliance.hasPrefix("yes") })
        #expect(UpdateSafetyScreen.canaries(from: items, count: 20).count == 9)
        #expect(SafetyCanary.opening("one two  three\nfour", words: 3) == "one two three")
    }
}
