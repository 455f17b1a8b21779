import Engine
import Foundation
import ModelFiles
import Testing
@testable import Training

struct PEFTAdapterTests {
    static let peftFixture = TrainIOFixtures.fixtures.appendingPathComponent("peft_adapter")

    static func logits(_ model: LlamaModel, _ tokens: [Int], adapter: LoRAWeights?) throws -> [Float] {
        try model.forward([ForwardRequest(tokens: tokens, cache: model.makeCache(capacity: tokens.count), logits: .all)],
                          adapter: adapter)[0]
    }

    /// A random adapter with non-zero A and B on `targets`.
    static func randomAdapter(_ model: LlamaModel, rank: Int = 4, targets: [Projection] = Projection.allCases,
                              seed: UInt64 = 5) -> LoRAWeights {
        let lora = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(rank: rank, alpha: 8, targets: targets), seed: seed)
        var rng = SeededGenerator(seed: seed &+ 1)
        for buffer in lora.orderedBuffers {
            for i in 0..<buffer.count where buffer.count > 0 {
                buffer.pointer[i] += Float(Double(rng.next() >> 11) * 0x1.0p-53 - 0.5) * 0.2
            }
        }
        return lora
    }

    @Test func peftWrittenAdapterReproducesPEFTLogits() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let loaded = try PEFTAdapter.load(from: Self.peftFixture, for: model)
        #expect(loaded.configuration.rank == 4 && loaded.configuration.alpha == 8)
        #expect(loaded.configuration.targets == Projection.allCases)
        #expect(loaded.baseModel == "Tests/EngineTests/Fixtures/tiny_llama")
        let reference = try TrainIOFixtures.json("peft_adapter/reference.json")
        let tokens = try #require(reference["tokens"] as? [Int])
        let expected = try #require(reference["logits"] as? [Any]).flatMap(TrainIOFixtures.floats)
        let got = try Self.logits(model, tokens, adapter: loaded.weights)
        #expect(TrainIOFixtures.maxAbsDiff(got, expected) <= 1e-4)
        // And the adapter matters: the base model's logits are far from PEFT's.
        #expect(TrainIOFixtures.maxAbsDiff(try Self.logits(model, tokens, adapter: nil), expected) > 1e-2)
    }

    @Test func saveAndLoadRoundTripBitExactly() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let lora = Self.randomAdapter(model, targets: [.query, .value, .down])
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTAdapter.save(lora, dropout: 0.05, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", to: dir)
        let back = try PEFTAdapter.load(from: dir, for: model)
        #expect(back.weights.orderedBuffers.map(\.array) == lora.orderedBuffers.map(\.array))
        #expect(back.weights.scale == lora.scale && back.configuration.targets == [.query, .value, .down])
        let config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        #expect(config["peft_type"] as? String == "LORA" && config["task_type"] as? String == "CAUSAL_LM")
        #expect(config["r"] as? Int == 4 && config["lora_alpha"] as? Int == 8 && config["bias"] as? String == "none")
        #expect(config["target_modules"] as? [String] == ["q_proj", "v_proj", "down_proj"])
        #expect(config["fan_in_fan_out"] as? Bool == false && config["inference_mode"] as? Bool == true)
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_model.safetensors"))
        let a = try #require(file.tensors["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"])
        let b = try #require(file.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"])
        #expect(a.shape == [4, 128] && b.shape == [64, 4] && a.dtype == .f32 && file.metadata["format"] == "pt")
    }

    @Test func acceptsAdapterNamesInKeys() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let lora = Self.randomAdapter(model, targets: [.key])
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTAdapter.save(lora, baseModel: "base", to: dir)
        let tensors = PEFTAdapter.keyedBuffers(lora).map {
            (name: $0.key.replacingOccurrences(of: ".weight", with: ".default.weight"), shape: $0.shape, values: $0.buffer.array)
        }
        try SafeTensorsWriter.write(tensors, metadata: [:], to: dir.appendingPathComponent("adapter_model.safetensors"))
        let back = try PEFTAdapter.load(from: dir, for: model)
        #expect(back.weights.orderedBuffers.map(\.array) == lora.orderedBuffers.map(\.array))
    }

    @Test func clearErrorsForBrokenAdapters() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let lora = Self.randomAdapter(model, targets: [.query])
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let weightsURL = dir.appendingPathComponent("adapter_model.safetensors")
        let configURL = dir.appendingPathComponent("adapter_config.json")
        try PEFTAdapter.save(lora, baseModel: "base", to: dir)
        var tensors = PEFTAdapter.keyedBuffers(lora).map { (name: $0.key, shape: $0.shape, values: $0.buffer.array) }

        // A missing tensor.
        try SafeTensorsWriter.write(Array(tensors.dropLast()), metadata: [:], to: weightsURL)
        #expect(throws: AdapterFileError.missingTensor(file: weightsURL.path,
                                                       key: "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight")) {
            try PEFTAdapter.load(from: dir, for: model)
        }
        // A shape that does not fit the model: A of (r, 32) for a 64-wide input.
        tensors[0] = (tensors[0].name, [4, 32], Array(tensors[0].values.prefix(128)))
        try SafeTensorsWriter.write(tensors, metadata: [:], to: weightsURL)
        #expect(throws: AdapterFileError.tensorShape(file: weightsURL.path, key: tensors[0].name, expected: [4, 64], found: [4, 32])) {
            try PEFTAdapter.load(from: dir, for: model)
        }
        // A rank that differs from the config.
        try PEFTAdapter.save(lora, baseModel: "base", to: dir)
        let text = try String(contentsOf: configURL, encoding: .utf8).replacingOccurrences(of: "\"r\" : 4", with: "\"r\" : 8")
        try Data(text.utf8).write(to: configURL)
        #expect(throws: AdapterFileError.rankMismatch(file: weightsURL.path, key: tensors[0].name, configured: 8, found: 4)) {
            try PEFTAdapter.load(from: dir, for: model)
        }
        // Unsupported features and missing files.
        try Data(text.replacingOccurrences(of: "\"use_dora\" : false", with: "\"use_dora\" : true").utf8).write(to: configURL)
        #expect(throws: AdapterFileError.self) { try PEFTAdapter.load(from: dir, for: model) }
        try FileManager.default.removeItem(at: configURL)
        #expect(throws: AdapterFileError.missingFile(configURL.path)) { try PEFTAdapter.load(from: dir, for: model) }
    }

    /// A Python with torch, transformers and peft (`FEDGUARD_PEFT_PYTHON`, else python3), or nil.
    static let python: String? = {
        let candidate = ProcessInfo.processInfo.environment["FEDGUARD_PEFT_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [candidate, "-c", "import torch, transformers, peft"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? candidate : nil
    }()

    @Test(.enabled(if: python != nil, "needs a Python with torch, transformers and peft (FEDGUARD_PEFT_PYTHON, else python3)"))
    func peftLoadsFedGuardAdapters() throws {
        let model = try ModelLoader.load(from: TrainIOFixtures.tinyHF)
        let lora = Self.randomAdapter(model, targets: [.query, .key, .output, .up])
        let dir = try TrainIOFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTAdapter.save(lora, baseModel: TrainIOFixtures.tinyHF.path, to: dir)
        let tokens = [1, 17, 33, 200, 5]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [try #require(Self.python), TrainIOFixtures.repository.appendingPathComponent("scripts/fixtures/peft_adapter_fixtures.py").path,
                             "--check", dir.path, "--tokens", tokens.map(String.init).joined(separator: ",")]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the --check script failed")
        let line = try #require(String(decoding: data, as: UTF8.self).split(separator: "\n").last)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let expected = try #require(result["logits"] as? [Any]).flatMap(TrainIOFixtures.floats)
        #expect(TrainIOFixtures.maxAbsDiff(try Self.logits(model, tokens, adapter: lora), expected) <= 1e-4)
    }
}
