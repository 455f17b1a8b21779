import Foundation
import Logging
import SafetyFilter
import Simulation
import Testing
import Tokenizers
import Training

/// A judge that calls an exchange unsafe when its response contains "sunny" (a stand-in with a
/// known answer), naming category S2.
final class KeywordJudge: SafetyJudge {
    var kind: JudgeKind { .embedding }
    var summary: String { "keyword judge" }
    var calls = 0
    func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
        calls += 1
        return conversations.map {
            JudgeScore(unsafeProbability: $0.response.contains("sunny") ? 0.9 : 0.1,
                       category: .nonViolentCrimes, truncated: $0.response.count > 1000)
        }
    }
}

/// A judge that answers with the wrong number of scores.
final class BrokenJudge: SafetyJudge {
    var kind: JudgeKind { .guard }
    var summary: String { "broken judge" }
    func score(_ conversations: [Conversation]) throws -> [JudgeScore] { [JudgeScore(unsafeProbability: .nan)] }
}

/// The first round record of a run and its `hooks.filter` metrics.
func firstRoundRecord(_ run: FederatedRun) throws -> (record: [String: Any]?, filter: [String: Any]?) {
    let line = try String(contentsOf: run.directory.recordsURL, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
    let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    return (record, (record?["hooks"] as? [String: Any])?["filter"] as? [String: Any])
}

struct SafetyFilterHookTests {
    static func example(_ user: String, _ assistant: String) -> SFTExample {
        SFTExample(messages: [ChatMessage(role: .system, content: "be nice"), ChatMessage(role: .user, content: user),
                              ChatMessage(role: .assistant, content: assistant)])
    }

    static let context = ClientDataContext(clientID: 3, round: 1, seed: 0, logger: Logger(label: "test"))

    @Test func removesUnsafeExamplesAndCountsThem() throws {
        let judge = KeywordJudge()
        let hook = SafetyFilterHook(filter: ExampleFilter(judge: judge, threshold: try FilterThreshold(0.5), batchSize: 2))
        let examples = [Self.example("weather?", "it is sunny"), Self.example("maths?", "two"), Self.example("more?", "sunny again"),
                        SFTExample(messages: [ChatMessage(role: .user, content: "a"), ChatMessage(role: .assistant, content: "fine"),
                                              ChatMessage(role: .user, content: "b"), ChatMessage(role: .assistant, content: "sunny")])]
        let prepared = try hook.prepare(examples, context: Self.context)
        #expect(prepared.examples == [examples[1]])
        #expect(prepared.metrics["seen"] == 4 && prepared.metrics["removed"] == 3 && prepared.metrics["kept"] == 1)
        #expect(prepared.metrics["exchanges"] == 5 && prepared.metrics["removed_S2"] == 3)
        #expect(judge.calls == 3)  // 5 exchanges in batches of 2
        // The same client's same examples again: the decisions are reused, the judge is not called.
        let again = try hook.prepare(examples, context: Self.context)
        #expect(again.examples == prepared.examples && again.metrics["cached"] == 1 && judge.calls == 3)
        let otherClient = ClientDataContext(clientID: 4, round: 1, seed: 0, logger: Logger(label: "test"))
        #expect(try hook.prepare(examples, context: otherClient).metrics["cached"] == 0 && judge.calls == 6)
        // The exchanges of a multi-turn example pair each reply with the user turn before it.
        #expect(ExampleFilter.exchanges(of: examples[3]) == [Conversation(prompt: "a", response: "fine"),
                                                             Conversation(prompt: "b", response: "sunny")])
    }

    @Test func aBrokenJudgeFailsTheClientInsteadOfGuessing() throws {
        let hook = SafetyFilterHook(filter: ExampleFilter(judge: BrokenJudge(), threshold: try FilterThreshold(0.5)))
        #expect(throws: FilterError.self) { try hook.prepare([Self.example("q", "a"), Self.example("r", "b")], context: Self.context) }
    }

    @Test func theFilterRunsInTheRoundAndItsCountsReachTheRecords() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Every reply of the test data says "sunny": flag only client 1's by giving its replies a marker.
        let data = try SimulationFixtures.writeClientData(clients: 3, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 3, perRound: 3, rounds: 1,
                                                                    extra: ["filter.kind=embedding", "evaluation.every=0"])
        final class ClientOneJudge: SafetyJudge {
            var kind: JudgeKind { .embedding }
            var summary: String { "client-one judge" }
            func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
                conversations.map { JudgeScore(unsafeProbability: $0.response.contains("client 1 says") && $0.prompt.contains("question 0") ? 1 : 0,
                                               category: .privacy) }
            }
        }
        let hook = SafetyFilterHook(filter: ExampleFilter(judge: ClientOneJudge(), threshold: try FilterThreshold(0.5)))
        let run = try SimulationFixtures.makeRun(configuration, model: try SimulationFixtures.loadTinyModel(), in: directory,
                                                    hooks: SimulationHooks(clientData: [hook]))
        _ = try run.run()
        let filter = try firstRoundRecord(run).filter
        #expect(filter?["removed"] as? Double == 1)
        #expect(filter?["removed_S7"] as? Double == 1)
        #expect(filter?["seen"] as? Double == 16)  // 5 + 6 + 5 examples
    }
}

struct FilterConfigurationTests {
    @Test func defaultsAreOffAndTheSectionRoundTrips() throws {
        let defaults = try RunConfiguration.load()
        #expect(defaults.filter == RunConfiguration.FilterSettings() && !defaults.filter.isEnabled)
        let set = try RunConfiguration.load(overrides: ["filter.kind=embedding", "filter.threshold=0.3", "filter.judge=/tmp/j"])
        #expect(set.filter.kind == "embedding" && set.filter.threshold == 0.3 && set.filter.judge == "/tmp/j")
        #expect(try RunConfiguration.load(yaml: try set.yaml()) == set)
        #expect(try set.yaml().contains("filter:"))
    }

    @Test func badValuesNameTheKey() {
        for (override, key) in [("filter.kind=llamaguard", "filter.kind"), ("filter.threshold=1.5", "filter.threshold"),
                                ("filter.batch_size=0", "filter.batch_size"), ("filter.colour=red", "filter.colour")] {
            #expect { try RunConfiguration.load(overrides: [override]) } throws: { error in
                "\(error)".contains(key)
            }
        }
    }
}

struct ExhaustedClientTests {
    /// A judge that removes everything.
    final class RemoveAll: SafetyJudge {
        var kind: JudgeKind { .embedding }
        var summary: String { "remove-all judge" }
        func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
            conversations.map { _ in JudgeScore(unsafeProbability: 1, category: .hate) }
        }
    }

    @Test func aClientWhoseDataIsAllRemovedSkipsTrainingButItsCountsAreRecorded() throws {
        let directory = try SimulationFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try SimulationFixtures.writeClientData(clients: 2, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, clients: 2, perRound: 2, rounds: 1,
                                                                 extra: ["evaluation.every=0"])
        let hook = SafetyFilterHook(filter: ExampleFilter(judge: RemoveAll(), threshold: try FilterThreshold(0.5)))
        let run = try SimulationFixtures.makeRun(configuration, model: try SimulationFixtures.loadTinyModel(), in: directory,
                                                 hooks: SimulationHooks(clientData: [hook]))
        _ = try run.run()
        let (record, filter) = try firstRoundRecord(run)
        #expect(filter?["removed"] as? Double == 11 && filter?["kept"] as? Double == 0)
        #expect(record?["kept_previous"] as? Bool == true)
        let statuses = (record?["clients"] as? [[String: Any]])?.compactMap { $0["status"] as? String } ?? []
        #expect(statuses.count == 2 && statuses.allSatisfy { $0.contains("no examples left") })
    }
}
