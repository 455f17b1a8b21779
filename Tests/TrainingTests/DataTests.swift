import Foundation
import Logging
import Testing
import Tokenizers
@testable import Training

struct DataLoadingTests {
    let logger = Logger(label: "test.data")

    func file(_ text: String) throws -> URL {
        let dir = try TrainIOFixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("data.jsonl")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func readsEverySupervisedShape() throws {
        let url = try file("""
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
        {"prompt": "2+2?", "response": "4"}
        {"prompt": "Capital of France?", "completion": "Paris"}

        {"instruction": "Translate", "input": "chat", "output": "cat"}
        {"instruction": "Say yes", "input": "", "output": "yes"}
        """)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let loaded = try DatasetLoader.loadSFT(from: url, logger: logger)
        let examples = loaded.examples
        #expect(examples.count == 5 && loaded.skippedLines == 0)
        #expect(examples[0].messages.map(\.role) == [.system, .user, .assistant])
        #expect(examples[1].messages == [ChatMessage(role: .user, content: "2+2?"), ChatMessage(role: .assistant, content: "4")])
        #expect(examples[2].messages[1].content == "Paris")
        #expect(examples[3].messages[0].content == "Translate\n\nchat")
        #expect(examples[4].messages[0].content == "Say yes")
    }

    @Test func readsPreferenceShapes() throws {
        let url = try file("""
        {"prompt": "Q?", "chosen": "good", "rejected": "bad"}
        {"prompt": [{"role": "user", "content": "Q2?"}], "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}]}
        {"chosen": [{"role": "user", "content": "Q3"}, {"role": "assistant", "content": "yes"}], "rejected": [{"role": "user", "content": "Q3"}, {"role": "assistant", "content": "no"}]}
        """)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let examples = try DatasetLoader.loadPreferences(from: url, logger: logger).examples
        #expect(examples[0] == PreferenceExample(prompt: [.init(role: .user, content: "Q?")],
                                                 chosen: [.init(role: .assistant, content: "good")],
                                                 rejected: [.init(role: .assistant, content: "bad")]))
        #expect(examples[1].prompt[0].content == "Q2?" && examples[1].rejected[0].content == "B")
        #expect(examples[2].prompt == [.init(role: .user, content: "Q3")])
        #expect(examples[2].chosen == [.init(role: .assistant, content: "yes")])
    }

    @Test func malformedLinesAreReportedWithFileAndLine() throws {
        let url = try file("""
        {"prompt": "a", "response": "b"}
        {"prompt": "a", "response": 
        {"prompt": "a", "response": "b"}
        {"instruction": "x"}
        [1, 2]
        """)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            _ = try DatasetLoader.loadSFT(from: url, logger: logger)
            Issue.record("expected an error")
        } catch {
            guard case .malformedLines(let first, let total) = error else { Issue.record("\(error)"); return }
            #expect(total == 3 && first.map(\.line) == [2, 4, 5])
            #expect(error.description.contains("\(url.path):2: not valid JSON"))
            #expect(error.description.contains("\(url.path):4: Alpaca record has no string \"output\""))
        }
        do {
            _ = try DatasetLoader.loadSFT(from: url, policy: .failFast, logger: logger)
        } catch {
            guard case .malformedLines(let first, let total) = error else { Issue.record("\(error)"); return }
            #expect(total == 1 && first.map(\.line) == [2])
        }
        let skipped = try DatasetLoader.loadSFT(from: url, policy: .skip, logger: logger)
        #expect(skipped.examples.count == 2 && skipped.skippedLines == 3)
    }

    @Test func emptyDataIsAClearError() throws {
        let url = try file("\n  \n")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(throws: DatasetError.empty(file: url.path, detail: "no records")) {
            try DatasetLoader.loadSFT(from: url, logger: logger)
        }
        #expect(throws: DatasetError.self) {
            try DatasetLoader.loadSFT(from: URL(fileURLWithPath: "/nonexistent/data.jsonl"), logger: logger)
        }
    }

    @Test func lineReaderHandlesChunksCRLFAndBOM() throws {
        let url = try file("\u{FEFF}{\"a\": 1}\r\n\r\n{\"b\": \"é long line that spans chunks\"}\n{\"c\": 3}")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var lines: [(Int, String)] = []
        try JSONLLineReader(url: url, chunkSize: 5).forEachLine { lines.append(($0, String(decoding: $1, as: UTF8.self))) }
        #expect(lines.map(\.0) == [1, 3, 4])
        #expect(lines.map(\.1) == ["{\"a\": 1}", "{\"b\": \"é long line that spans chunks\"}", "{\"c\": 3}"])
    }
}

struct SequenceBuildingTests {
    static func tokenizer(_ name: String) throws -> BPETokenizer {
        let url = TrainIOFixtures.testsDirectory.deletingLastPathComponent()
            .appendingPathComponent("TokenizersTests/Fixtures/\(name).tokenizer.json")
        return try BPETokenizer(tokenizerJSON: Data(contentsOf: url))
    }

    static func chatML(maxLength: Int = 512) throws -> SequenceBuilder {
        try SequenceBuilder(tokenizer: tokenizer("tiny_smollm"), template: ChatMLTemplate(defaultSystemPrompt: "You are helpful."),
                            bosID: nil, addsBOS: false, maxLength: maxLength)
    }

    /// The target tokens decoded, one string per contiguous run.
    static func targetRuns(_ s: TrainingSequence, _ t: any Tokenizer) -> [String] {
        var runs: [[Int]] = []
        for (i, id) in s.tokens.enumerated() where s.targetMask[i] {
            if i > 0, s.targetMask[i - 1] { runs[runs.count - 1].append(id) } else { runs.append([id]) }
        }
        return runs.map { t.decode($0, skipSpecialTokens: false) }
    }

    @Test func chatMLTargetsAreAssistantRepliesWithEndOfTurn() throws {
        let builder = try Self.chatML()
        let example = SFTExample(messages: [
            .init(role: .user, content: "Hi there"), .init(role: .assistant, content: "Hello, friend."),
            .init(role: .user, content: "Bye"), .init(role: .assistant, content: "See you"),
        ])
        let (sequence, truncated) = try builder.sequence(for: example)
        #expect(!truncated)
        #expect(Self.targetRuns(sequence, builder.tokenizer) == ["Hello, friend.<|im_end|>", "See you<|im_end|>"])
        // The whole sequence is the rendered conversation; the prompt part equals what inference feeds.
        let full = builder.template.render(example.messages, addGenerationPrompt: false)
        #expect(builder.tokenizer.decode(sequence.tokens, skipSpecialTokens: false) == full)
        let prompt = builder.tokenizer.encode(builder.template.render(Array(example.messages.prefix(1)), addGenerationPrompt: true),
                                              parseSpecialTokens: true)
        #expect(Array(sequence.tokens.prefix(prompt.count)) == prompt)
        #expect(!sequence.targetMask[..<prompt.count].contains(true) && sequence.targetMask[prompt.count])
    }

    @Test func llama3TargetsEndWithEotAndBOSIsMasked() throws {
        let tokenizer = try Self.tokenizer("tiny_llama3")
        let builder = try SequenceBuilder(tokenizer: tokenizer, template: Llama3Template(), bosID: nil, addsBOS: false, maxLength: 256)
        let example = SFTExample(messages: [.init(role: .system, content: "Sys"), .init(role: .user, content: "Q"),
                                            .init(role: .assistant, content: " Answer here ")])
        let (sequence, _) = try builder.sequence(for: example)
        #expect(Self.targetRuns(sequence, tokenizer) == ["Answer here<|eot_id|>"])
        #expect(sequence.targetMask[0] == false)
    }

    @Test func longExamplesAreTruncatedOrDropped() throws {
        let short = SFTExample(messages: [.init(role: .user, content: "Hi"), .init(role: .assistant, content: "ok")])
        let limit = try Self.chatML().sequence(for: short).sequence.tokens.count + 4
        let builder = try Self.chatML(maxLength: limit)
        let long = String(repeating: "word ", count: 40)
        let examples = [
            SFTExample(messages: [.init(role: .user, content: "Hi"), .init(role: .assistant, content: long)]),  // truncated
            SFTExample(messages: [.init(role: .user, content: long), .init(role: .assistant, content: "ok")]),  // dropped
            short,
        ]
        let built = try builder.sequences(for: examples, logger: Logger(label: "test"))
        #expect(built.items.count == 2 && built.truncated == 2 && built.dropped == 1)
        #expect(built.items.allSatisfy { $0.tokens.count <= limit } && built.items[0].tokens.count == limit)
        #expect(throws: DatasetError.noTargetWithinLength(limit)) { try builder.sequence(for: examples[1]) }
    }

    @Test func preferencePairsShareThePrompt() throws {
        let builder = try Self.chatML()
        let example = PreferenceExample(prompt: [.init(role: .user, content: "Which is best?")],
                                        chosen: [.init(role: .assistant, content: "This one.")],
                                        rejected: [.init(role: .assistant, content: "No idea, go away")])
        let (pair, _) = try builder.sequences(for: example)
        let prompt = builder.tokenizer.encode(builder.template.render(example.prompt, addGenerationPrompt: true),
                                              parseSpecialTokens: true)
        #expect(pair.promptLength == prompt.count)
        #expect(Array(pair.chosen.tokens.prefix(prompt.count)) == prompt && Array(pair.rejected.tokens.prefix(prompt.count)) == prompt)
        #expect(Self.targetRuns(pair.chosen, builder.tokenizer) == ["This one.<|im_end|>"])
        #expect(Self.targetRuns(pair.rejected, builder.tokenizer) == ["No idea, go away<|im_end|>"])
    }
}
