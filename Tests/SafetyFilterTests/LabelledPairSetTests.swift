import Foundation
import SafetyData
import SafetyFilter
import Testing

struct LabelledPairSetTests {
    /// Distinct made-up words, so that no two prompts look like near-duplicates to the benchmark check.
    static func word(_ i: Int) -> String {
        let syllables = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "xe"]
        return String(i).map { syllables[Int(String($0)) ?? 0] }.joined() + "zy"
    }

    static func inputs() -> LabelledPairInputs {
        var inputs = LabelledPairInputs()
        let topics = ["weapons", "drugs", "fraud", "violence", "privacy_invasion", "self_harm"]
        inputs.uncensorBench = topics.flatMap { topic in
            (0..<4).map { i in
                UncensorBenchItem(id: "\(topic)_\(i)", topic: topic, prompt: "request \(i) about \(topic)",
                                  censoredResponse: "I can't help with that.", uncensoredResponse: "Sure, step one for \(topic) \(i).",
                                  location: FileLocation(file: "prompts.json", line: 1))
            }
        }
        inputs.manyShot = (0..<40).map { i in
            ManyShotExample(user: "harmful question \(word(i))", assistant: "harmful answer \(i)", verdict: i % 10 == 0 ? .notHarmful : .harmful,
                            location: FileLocation(file: "many.json", line: i + 1))
        }
        inputs.modelAnswersToHarmful = (0..<40).map { i in
            Conversation(prompt: "harmful question \(word(i))", response: i % 2 == 0 ? "I cannot help with that." : "Here is how: ...")
        }
        inputs.benignExchanges = (0..<60).map { Conversation(prompt: "benign question \($0)", response: "benign answer \($0)") }
        inputs.howToExchanges = (0..<12).map { Conversation(prompt: "how do I do chore \(word($0))?", response: $0 == 0 ? "" : "step one \($0)") }
        inputs.riskyWordingExchanges = [Conversation(prompt: "how do I slash my \(word(1)) bill?", response: "compare prices")]
        inputs.benchmarkPrompts = ["harmful question \(word(7))"]
        return inputs
    }

    @Test func labelsSourcesAndBenchmarkExclusion() {
        let set = LabelledPairSet.build(Self.inputs(), seed: 1)
        // 36 harmful many-shot (4 not harmful dropped) − 1 benchmark copy; 20 model refusals − the copy's
        // refusal is not there (7 is odd, a compliance); 48 uncensorbench; 60 benign.
        #expect(set.pairs.filter { $0.source == .manyShot }.count == 35)
        #expect(set.pairs.filter { $0.source == .modelRefusal }.count == 20)
        #expect(set.pairs.filter { $0.source == .uncensorBench }.count == 48)
        // 12 how-to exchanges, one without an answer.
        #expect(set.pairs.filter { $0.source == .benignHowTo }.count == 11)
        #expect(set.pairs.filter { $0.source == .benignHowTo }.allSatisfy { !$0.unsafe && $0.category == nil })
        #expect(set.pairs.filter { $0.source == .riskyWording }.map(\.unsafe) == [false])
        #expect(set.droppedAsBenchmark == 1)
        #expect(!set.pairs.contains { $0.conversation.prompt == "harmful question \(Self.word(7))" })
        #expect(set.pairs.filter { $0.source == .manyShot }.allSatisfy { $0.unsafe })
        #expect(set.pairs.filter { $0.source == .modelRefusal || $0.source == .benignExchange }.allSatisfy { !$0.unsafe })
        #expect(set.pairs.first { $0.source == .uncensorBench && $0.unsafe && $0.conversation.prompt.contains("self_harm") }?.category
                == .suicideAndSelfHarm)
    }

    @Test func noPromptOnBothSidesAndWholeTopicsHeldOut() {
        let set = LabelledPairSet.build(Self.inputs(), seed: 7)
        #expect(set.testTopics.count == 2)  // a third of 6
        var splitOfPrompt: [String: PairSplit] = [:]
        for pair in set.pairs {
            if let seen = splitOfPrompt[pair.conversation.prompt] { #expect(seen == pair.split) }
            splitOfPrompt[pair.conversation.prompt] = pair.split
        }
        for pair in set.pairs where pair.source == .uncensorBench {
            let topic = pair.conversation.prompt.components(separatedBy: "about ").last ?? ""
            if set.testTopics.contains(topic) { #expect(pair.split == .test) }
        }
        #expect(!set.split(.train).isEmpty && !set.split(.validation).isEmpty && !set.split(.test).isEmpty)
    }

    @Test func deterministicForASeedAndDifferentAcrossSeeds() {
        let a = LabelledPairSet.build(Self.inputs(), seed: 3), b = LabelledPairSet.build(Self.inputs(), seed: 3)
        let c = LabelledPairSet.build(Self.inputs(), seed: 4)
        #expect(a == b)
        #expect(a.pairs.map(\.split) != c.pairs.map(\.split))
    }

    @Test func writesAndReadsBackAndNamesTheBadLine() throws {
        let set = LabelledPairSet.build(Self.inputs(), seed: 3)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("pairs.jsonl")
        try set.write(to: url)
        #expect(try LabelledPairSet.read(from: url) == set)
        var text = try String(contentsOf: url, encoding: .utf8)
        text += "{not json\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        #expect {
            try LabelledPairSet.read(from: url)
        } throws: { error in
            guard case let .data(path, _) = error as? FilterError else { return false }
            return path.hasSuffix(":\(set.pairs.count + 1)")
        }
    }
}
