import Engine
import Foundation
import Testing
import Tokenizers

/// The real Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF against transformers, which loads the same file
/// dequantized to float32 (scripts/fixtures/qwen2_fixtures.py --real). Skipped unless the joined file
/// is in the asset cache (`fedguard setup --optional`, 1.1 GB; not fetched by scripts/test.sh).
@Suite(.enabled(if: Fixtures.qwen2Available, "the optional Qwen2 model is not in the asset cache; run `fedguard setup --optional`"))
struct Qwen2RealModelTests {
    /// Last-position logits of a chat prompt (top 20 and 64 probes, magnitudes up to ~30): float32
    /// with another summation order over 28 layers. Measured max |Δ| 1.3e-5 (AMD EPYC Zen 4); the
    /// bound is SmolLM2's 2e-3, whose reference differs more (its Q4_1 rows take a quantized kernel).
    static let logitTolerance: Float = 2e-3

    @Test func tokenizerLogitsAndGreedyMatchTransformers() throws {
        let reference = try Fixtures.json("qwen2_real_reference.json")
        let model = try ModelLoader.load(from: try #require(Fixtures.qwen2))
        #expect(model.configuration.architecture == "qwen2")
        #expect(model.configuration.attentionBias && !model.configuration.tiedEmbeddings)
        let tokenizer = try model.requireTokenizer()
        for c in reference["tokenizer_cases"] as! [[String: Any]] {
            let text = c["text"] as! String
            #expect(tokenizer.tokenizer.encode(text, parseSpecialTokens: false) == c["ids"] as! [Int], "\(text)")
        }
        let template = try #require(tokenizer.chatTemplate)
        let chat = template.render([ChatMessage(role: .user, content: "Write a haiku about bread.")], addGenerationPrompt: true)
        #expect(chat == reference["chat_text"] as! String)
        let ids = reference["chat_ids"] as! [Int]
        #expect(tokenizer.tokenizer.encode(chat, parseSpecialTokens: true) == ids)
        let logits = try model.forward([ForwardRequest(tokens: ids, cache: model.makeCache(capacity: ids.count))])[0]
        let ids20 = reference["last_top20_ids"] as! [Int], probes = reference["last_probe_ids"] as! [Int]
        let expected = (reference["last_top20_logits"] as! [Double]) + (reference["last_probe_logits"] as! [Double])
        let worst = zip(ids20 + probes, expected).map { abs(logits[$0.0] - Float($0.1)) }.max() ?? .infinity
        #expect(Sampler.argmax(logits[...]) == ids20[0])
        print("qwen2 real model: max |Δlogit| \(worst) over the top 20 and 64 probes")
        #expect(worst < Self.logitTolerance)
        var params = GenerationParameters(maxNewTokens: 12)
        params.stopAtEndTokens = false
        let generated = try Generator(model: model).generate(prompts: [ids], parameters: params)[0]
        #expect(generated.generatedIDs == reference["greedy_12"] as! [Int])
    }
}

extension Fixtures {
    /// The joined Qwen2.5-Coder-1.5B-Instruct GGUF in the asset cache, if present.
    static var qwen2: URL? {
        let url = cacheRoot.appendingPathComponent("models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let qwen2Available = qwen2 != nil
}
