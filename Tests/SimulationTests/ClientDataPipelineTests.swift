import Engine
import Foundation
import Logging
import SafetyData
@testable import Simulation
import Testing
import Training

/// Benign-response cache and the whole pipeline, on the tiny fixture model (no network).
struct ClientDataPipelineTests {
    typealias F = ClientDataFixtures

    struct ModelNotExpected: Error {}

    @Test func benignResponsesAreCachedByKeyAndReused() throws {
        let home = try F.temporaryDirectory("home")
        defer { try? FileManager.default.removeItem(at: home) }
        let directory = BenignResponseStore.defaultDirectory(home: home)
        #expect(directory.path.hasSuffix("cache/benign-responses"))
        let store = BenignResponseStore(directory: directory, modelFile: F.tinyModel, maxNewTokens: 4, batchSize: 2)
        let prompts = BenignPromptGenerator(seed: 42).generate(count: 5)
        var loads = 0
        var reports: [BenignResponseProgress] = []
        let first = try store.responses(for: prompts, promptSeed: 42, loadModel: {
            loads += 1
            return try ModelLoader.load(from: F.tinyModel)
        }, progress: { reports.append($0) })
        #expect(!first.fromCache)
        #expect(loads == 1)
        #expect(first.responses.map(\.prompt) == prompts.map(\.text))
        #expect(first.responses.map(\.task) == prompts.map(\.task.rawValue))
        #expect(reports.map(\.done) == [2, 4, 5])
        #expect(reports.last?.etaSeconds == 0)
        #expect(FileManager.default.fileExists(atPath: store.cacheURL(key: first.key).path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(first.key + ".partial.jsonl").path))

        // Second call: from the cache, the model is never loaded.
        let second = try store.responses(for: prompts, promptSeed: 42, loadModel: { throw ModelNotExpected() })
        #expect(second.fromCache)
        #expect(second.key == first.key)
        #expect(second.responses == first.responses)

        // The key changes with the seed, the count and the token limit.
        var longer = store
        longer.maxNewTokens = 5
        #expect(Set([store.key(promptSeed: 42, count: 5), store.key(promptSeed: 43, count: 5),
                     store.key(promptSeed: 42, count: 6), longer.key(promptSeed: 42, count: 5)]).count == 4)
    }

    @Test func aLargerPromptSetStartsFromTheCachedPrefix() throws {
        let home = try F.temporaryDirectory("home")
        defer { try? FileManager.default.removeItem(at: home) }
        let store = BenignResponseStore(directory: BenignResponseStore.defaultDirectory(home: home), modelFile: F.tinyModel,
                                        maxNewTokens: 3, batchSize: 4)
        let prompts = BenignPromptGenerator(seed: 42).generate(count: 5)
        let small = try store.responses(for: Array(prompts.prefix(3)), promptSeed: 42,
                                        loadModel: { try ModelLoader.load(from: F.tinyModel) })
        var generated = 0
        let large = try store.responses(for: prompts, promptSeed: 42, loadModel: { try ModelLoader.load(from: F.tinyModel) },
                                        progress: { generated = $0.generatedThisRun })
        #expect(!large.fromCache)
        #expect(generated == 2)
        #expect(Array(large.responses.prefix(3)) == small.responses)
        #expect(large.key != small.key)
        // Another seed shares nothing.
        #expect(store.reusablePrefix(for: BenignPromptGenerator(seed: 7).generate(count: 5), promptSeed: 7).isEmpty)
    }

    @Test func anInterruptedGenerationResumesFromThePartialFile() throws {
        let home = try F.temporaryDirectory("home")
        defer { try? FileManager.default.removeItem(at: home) }
        let store = BenignResponseStore(directory: BenignResponseStore.defaultDirectory(home: home), modelFile: F.tinyModel,
                                        maxNewTokens: 3, batchSize: 2)
        let prompts = BenignPromptGenerator(seed: 42).generate(count: 4)
        let key = store.key(promptSeed: 42, count: 4)
        let partial = store.directory.appendingPathComponent(key + ".partial.jsonl")
        try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
        let done = BenignResponse(prompt: prompts[0].text, response: "kept", task: prompts[0].task.rawValue, finish: "length")
        let encoded = String(decoding: try JSONEncoder().encode(done), as: UTF8.self)
        try Data((encoded + "\n{\"prompt\": \"torn").utf8).write(to: partial)
        let result = try store.responses(for: prompts, promptSeed: 42, loadModel: { try ModelLoader.load(from: F.tinyModel) })
        #expect(result.responses.count == 4)
        #expect(result.responses[0].response == "kept")
        #expect(result.responses.map(\.prompt) == prompts.map(\.text))
    }

    @Test func trainingPromptsAvoidTheHeldOutEvaluationPrompts() {
        let prompts = ClientDataPipeline.benignPrompts(count: 200, seed: 42, filter: F.noFilter)
        #expect(prompts.count == 200)
        let heldOut = Set(BenignPromptGenerator(seed: 0x4845_4C44_4F55_5431).generate(count: ClientDataPipeline.heldOutReserve)
            .map { TextNormalizer.normalize($0.text) })
        #expect(prompts.allSatisfy { !heldOut.contains(TextNormalizer.normalize($0.text)) })
    }

    @Test func pipelineBuildsFromAPyritDirectoryWithTheTinyModel() throws {
        let pyrit = try F.writePyritDirectory(harmfulManyShot: 12, scorerRows: 16)
        let home = try F.temporaryDirectory("home")
        let out = home.appendingPathComponent("clients")
        defer {
            try? FileManager.default.removeItem(at: pyrit)
            try? FileManager.default.removeItem(at: home)
        }
        let store = BenignResponseStore(directory: BenignResponseStore.defaultDirectory(home: home), modelFile: F.tinyModel,
                                        maxNewTokens: 6, batchSize: 8)
        let parameters = ClientDataParameters(clientCount: 3, harmfulFraction: 0.3, samplesPerClient: 10, seed: 4)
        let pipeline = ClientDataPipeline(parameters: parameters, pyritRoot: pyrit, includeRefusals: true)
        let summary = try pipeline.run(store: store, loadModel: { try ModelLoader.load(from: F.tinyModel) }, output: out)
        let m = summary.manifest
        #expect(m.clients.map(\.harmful) == [3, 3, 3])
        #expect(m.clients.map(\.total) == [10, 10, 10])
        // 12 many-shot + 12 scorer rows scored 1 are harmful; the AdvBench copy is dropped.
        #expect(m.pools.harmfulCandidates == 25)
        #expect(m.contamination.droppedHarmful == 1)
        #expect(m.pools.harmfulAvailable == 24)
        #expect(m.inputs["includeRefusals"] == "true")
        #expect(m.totals.sources["pyrit-scorer-eval-refusal", default: 0] + m.totals.sources["benign-generated", default: 0] == 21)
        for url in summary.clientFiles {
            _ = try DatasetLoader.loadSFT(from: url, policy: .failFast, logger: Logger(label: "test"))
        }
        #expect(!summary.benignFromCache)
        // A second build with another split seed reuses the cached responses.
        var again = pipeline
        again.parameters.seed = 5
        let second = try again.run(store: store, loadModel: { throw ModelNotExpected() },
                                   output: home.appendingPathComponent("clients2"))
        #expect(second.benignFromCache)
    }
}
