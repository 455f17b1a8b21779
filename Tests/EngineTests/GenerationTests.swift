import Engine
import Foundation
import ModelFiles
import Testing

/// Generation behaviour on the tiny model: batching, seeds, limits, stop strings, streaming.
struct GenerationTests {
    static func model() throws -> LlamaModel { try ModelLoader.load(from: Fixtures.url("tiny_llama.q4_1.gguf")) }

    @Test func batchedGenerationEqualsOneByOneWithSampling() throws {
        let model = try Self.model()
        let prompts = [[5, 6, 7], [100, 20, 30, 40, 50, 60, 70], [9]]
        var params = GenerationParameters(maxNewTokens: 12, sampler: Sampler(temperature: 0.9, topP: 0.95), seed: 123)
        params.stopAtEndTokens = false
        let g = Generator(model: model)
        let together = try g.generate(prompts: prompts, parameters: params)
        // Sequence i's seed derives from (seed, i): run each alone at its index.
        for (i, p) in prompts.enumerated() {
            var alone = params
            alone.seed = params.seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            let r = try g.generate(prompts: [p], parameters: alone)[0]
            #expect(r.generatedIDs == together[i].generatedIDs, "prompt \(i)")
        }
        let again = try g.generate(prompts: prompts, parameters: params)
        #expect(again.map(\.generatedIDs) == together.map(\.generatedIDs))
    }

    @Test func maxNewTokensIsRespected() throws {
        var params = GenerationParameters(maxNewTokens: 5)
        params.stopAtEndTokens = false
        let r = try Generator(model: try Self.model()).generate(prompts: [[1, 2, 3]], parameters: params)[0]
        #expect(r.generatedIDs.count == 5)
        #expect(r.finishReason == .length)
    }

    @Test func stopStringCutsTheTextAndIsNeverStreamed() throws {
        let model = try Self.model()
        var params = GenerationParameters(maxNewTokens: 16)
        params.stopAtEndTokens = false
        let g = Generator(model: model)
        let free = try g.generate(prompts: [[125, 63, 57, 65, 155]], parameters: params)[0]
        #expect(free.text.count > 4)
        // Use a piece of the free-running text as a stop string.
        let chars = Array(free.text)
        let stop = String(chars[(chars.count / 2)..<(chars.count / 2 + 2)])
        params.stopStrings = [stop]
        var streamed = ""
        let r = try g.generate(prompts: [[125, 63, 57, 65, 155]], parameters: params) { _, _, piece in streamed += piece }[0]
        #expect(r.finishReason == .stopString)
        #expect(!r.text.contains(stop))
        #expect(free.text.hasPrefix(r.text))
        #expect(streamed == r.text)
    }

    @Test func emptyPromptIsAnError() throws {
        #expect(throws: EngineError.self) {
            _ = try Generator(model: try Self.model()).generate(prompts: [[]], parameters: GenerationParameters())
        }
    }

    /// Prompts sharing a prefix (a chat template's system turn, here six tokens) have it computed once
    /// and copied into each cache; greedy continuations are the same as with every prompt prefilled whole.
    @Test func sharedPromptPrefixIsComputedOnceAndChangesNoToken() throws {
        let model = try Self.model()
        let prefix = [11, 12, 13, 14, 15, 16]
        let prompts = [prefix + [40, 41, 42], prefix + [7], prefix + [90, 3, 44, 45, 46, 47, 48]]
        var params = GenerationParameters(maxNewTokens: 10)
        params.stopAtEndTokens = false
        let g = Generator(model: model)
        var timings = GenerationTimings()
        let shared = try g.generate(prompts: prompts, parameters: params, timings: &timings)
        #expect(timings.sharedPrefixTokens == prefix.count)
        #expect(timings.promptTokens == prompts.reduce(0) { $0 + $1.count })
        params.sharePromptPrefix = false
        var unsharedTimings = GenerationTimings()
        let whole = try g.generate(prompts: prompts, parameters: params, timings: &unsharedTimings)
        #expect(unsharedTimings.sharedPrefixTokens == 0)
        #expect(shared.map(\.generatedIDs) == whole.map(\.generatedIDs))
        // A prefix longer than a prefill pass is run in pieces.
        params.sharePromptPrefix = true
        params.prefillChunk = 4
        #expect(try g.generate(prompts: prompts, parameters: params).map(\.generatedIDs) == whole.map(\.generatedIDs))

        // Logits after the shared prefill agree with a whole-prompt prefill to float rounding.
        let cacheA = model.makeCache(capacity: 16), cacheB = model.makeCache(capacity: 16), prefixCache = model.makeCache(capacity: 6)
        _ = try model.forward([ForwardRequest(tokens: prefix, cache: prefixCache, logits: .none)])
        try cacheA.copyPrefix(of: prefixCache, count: prefix.count)
        let viaPrefix = try model.forward([ForwardRequest(tokens: [40, 41, 42], cache: cacheA)])[0]
        let direct = try model.forward([ForwardRequest(tokens: prompts[0], cache: cacheB)])[0]
        #expect(maxAbsDiff(viaPrefix, direct) < 1e-4)
    }

    /// Several samples of one prompt: it is prefilled once and the copies start from its cache; greedy
    /// copies equal the prompt generated alone, sampled copies differ from each other and repeat with
    /// the same seed.
    @Test func identicalPromptsArePrefilledOnceAndSampledIndependently() throws {
        let model = try Self.model()
        let a = [11, 12, 13, 14, 15, 16, 40, 41], b = [11, 12, 13, 7]
        var params = GenerationParameters(maxNewTokens: 12)
        params.stopAtEndTokens = false
        let g = Generator(model: model)
        let greedy = try g.generate(prompts: [a, b, a, a], parameters: params).map(\.generatedIDs)
        let alone = try g.generate(prompts: [a], parameters: params)[0].generatedIDs
        #expect(greedy[0] == alone && greedy[2] == alone && greedy[3] == alone)
        #expect(greedy[1] == (try g.generate(prompts: [b], parameters: params)[0].generatedIDs))
        params.sampler = Sampler(temperature: 1.0)
        params.seed = 9
        let sampled = try g.generate(prompts: [a, a, a], parameters: params).map(\.generatedIDs)
        #expect(Set(sampled).count > 1)
        #expect(try g.generate(prompts: [a, a, a], parameters: params).map(\.generatedIDs) == sampled)
    }

    /// Every prompt keeps at least one token of its own (its last position gives the first logits).
    @Test func aPromptThatIsAnotherPromptsPrefixStillGetsItsOwnLastToken() throws {
        var params = GenerationParameters(maxNewTokens: 4)
        params.stopAtEndTokens = false
        var timings = GenerationTimings()
        let prompts = [[11, 12, 13], [11, 12, 13, 14, 15]]
        let results = try Generator(model: try Self.model()).generate(prompts: prompts, parameters: params, timings: &timings)
        #expect(timings.sharedPrefixTokens == 2)
        let alone = try Generator(model: try Self.model()).generate(prompts: [prompts[0]], parameters: params)
        #expect(results[0].generatedIDs == alone[0].generatedIDs)
        var single = GenerationTimings()
        _ = try Generator(model: try Self.model()).generate(prompts: [prompts[1]], parameters: params, timings: &single)
        #expect(single.sharedPrefixTokens == 0)
    }

    @Test func copyingAPrefixChecksShapesAndLength() throws {
        let model = try Self.model()
        let source = model.makeCache(capacity: 4)
        _ = try model.forward([ForwardRequest(tokens: [1, 2, 3], cache: source, logits: .none)])
        let target = model.makeCache(capacity: 1)  // grows to fit
        try target.copyPrefix(of: source, count: 3)
        #expect(target.length == 3)
        #expect(throws: EngineError.self) { try target.copyPrefix(of: source, count: 4) }
        let other = try ModelLoader.load(from: Fixtures.url("tiny_llama3.f32.gguf")).makeCache(capacity: 4)
        if other.width != target.width {
            #expect(throws: EngineError.self) { try other.copyPrefix(of: source, count: 1) }
        }
    }

    @Test func timingsAreReported() throws {
        var timings = GenerationTimings()
        var params = GenerationParameters(maxNewTokens: 8)
        params.stopAtEndTokens = false
        _ = try Generator(model: try Self.model()).generate(prompts: [[1, 2, 3, 4]], parameters: params, timings: &timings)
        #expect(timings.promptTokens == 4)
        #expect(timings.generatedTokens == 8)
        #expect(timings.decodeSteps == 7)
        #expect(timings.decodeTokensPerSecond > 0)
    }
}

/// Bad checkpoints give errors that name the file and the problem.
struct ModelLoadingErrorTests {
    /// A fresh temporary directory; the caller removes it.
    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func missingFileSaysWhatToDo() {
        do {
            _ = try ModelLoader.load(from: URL(fileURLWithPath: "/nonexistent/model.gguf"))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("/nonexistent/model.gguf"))
            #expect("\(error)".contains("fedguard setup"))
        }
    }

    @Test func truncatedGGUFIsAClearError() throws {
        let data = try Data(contentsOf: Fixtures.url("tiny_llama.q8_0.gguf"))
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for cut in [3, 40, 2000, data.count / 2, data.count - 1] {
            let url = dir.appendingPathComponent("cut\(cut).gguf")
            try data.prefix(cut).write(to: url)
            do {
                _ = try ModelLoader.load(from: url)
                Issue.record("truncated at \(cut) loaded")
            } catch {
                #expect("\(error)".contains("cut\(cut).gguf"), "error should name the file: \(error)")
            }
        }
    }

    @Test func huggingFaceDirectoryMissingATensorNamesIt() throws {
        let src = Fixtures.url("tiny_llama")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: src.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(url: src.appendingPathComponent("model.safetensors"))
        let kept = try file.tensors.keys.sorted().filter { $0 != "model.layers.1.mlp.up_proj.weight" }.map { name in
            (name: name, shape: file.tensors[name]!.shape, values: try file.floats(named: name))
        }
        try SafeTensorsWriter.write(kept, metadata: [:], to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: EngineError.missingTensor("model.layers.1.mlp.up_proj.weight", file: dir.path)) {
            _ = try ModelLoader.load(from: dir)
        }
    }

    @Test func wrongShapeIsReported() throws {
        let src = Fixtures.url("tiny_llama")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        config["intermediate_size"] = 96
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: src.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        do {
            _ = try ModelLoader.load(from: dir)
            Issue.record("expected a shape error")
        } catch let e as EngineError {
            guard case .tensorShape(let name, _, _, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(name.contains("mlp"))
        }
    }
}
