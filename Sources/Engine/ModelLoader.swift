import CKernels
import Foundation
import Logging
import ModelFiles

/// Builds `LlamaModel`s from checkpoints: llama.cpp GGUF files and Hugging Face directories
/// (`config.json` + `*.safetensors`).
public enum ModelLoader {
    /// What to keep in memory besides the float32 weights.
    public struct Options: Sendable {
        /// Keep the checkpoint's quantized rows for fast single-token and small-batch products
        /// (inference). Training reads only the float32 weights and can drop them (~0.1 GB for
        /// SmolLM2-135M Q4_1).
        public var keepQuantizedWeights = true

        /// Defaults: everything inference needs.
        public init(keepQuantizedWeights: Bool = true) { self.keepQuantizedWeights = keepQuantizedWeights }
    }

    /// Loads a GGUF (a file) or a Hugging Face checkpoint (a directory).
    public static func load(from url: URL, options: Options = Options(),
                            logger: Logger = Logger(label: "fedguard.engine")) throws -> LlamaModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw EngineError.modelFile("\(url.path): no such file or directory; run `fedguard setup` or pass --model PATH")
        }
        return isDirectory.boolValue
            ? try loadHuggingFace(directory: url, logger: logger)
            : try loadGGUF(url: url, options: options, logger: logger)
    }

    // MARK: - GGUF

    /// Loads a llama.cpp GGUF conversion (`llama` or `qwen2`). Llama's Q/K rows are un-permuted into
    /// the Hugging Face layout, so adapters and references use transformers' conventions.
    public static func loadGGUF(url: URL, options: Options = Options(),
                                logger: Logger = Logger(label: "fedguard.engine")) throws -> LlamaModel {
        let file: GGUFFile
        do { file = try GGUFFile(url: url) } catch { throw EngineError.modelFile("\(error)") }
        let config = try LlamaConfiguration(gguf: file)
        let path = url.path
        let c = config.hiddenSize, f = config.intermediateSize, kvd = config.kvDimension
        let qd = config.headCount * config.headDimension

        func info(_ name: String, _ shape: [Int]) throws -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else { throw EngineError.missingTensor(name, file: path) }
            // GGUF lists dimensions fastest-varying first: [in, out] for a (out, in) matrix.
            let found = Array(t.dimensions.reversed())
            let trimmed = found.count > 1 && found.first == 1 && shape.count == 1 ? Array(found.dropFirst()) : found
            guard trimmed == shape else { throw EngineError.tensorShape(name, expected: shape, found: found, file: path) }
            return t
        }
        func vector(_ name: String, _ n: Int) throws -> FloatBuffer {
            let t = try info(name, [n])
            do { return FloatBuffer(try file.floats(of: t)) } catch { throw EngineError.modelFile("\(error)") }
        }
        /// rowOrder maps a Hugging Face row to the GGUF row it is stored in (nil: identity).
        func linear(_ name: String, out: Int, in inF: Int, rowOrder: [Int]? = nil) throws -> LinearWeight {
            let t = try info(name, [out, inF])
            if options.keepQuantizedWeights, let q = quantizedRows(file: file, tensor: t, rows: out, cols: inF, order: rowOrder) {
                // The float copy is made from these rows on first use (see LinearWeight).
                return LinearWeight(outFeatures: out, inFeatures: inF, quantized: q)
            }
            var values: [Float]
            do { values = try file.floats(of: t) } catch { throw EngineError.modelFile("\(error)") }
            if let order = rowOrder { values = permuteRows(values, cols: inF, order: order) }
            return LinearWeight(outFeatures: out, inFeatures: inF, dense: FloatBuffer(values))
        }

        // llama.cpp permutes Llama's Q/K rows for its interleaved RoPE; Qwen2 (NEOX RoPE, on halves
        // as transformers does) is stored unpermuted.
        let permuted = config.architecture == "llama"
        let qOrder = permuted ? ggufRowOrder(heads: config.headCount, headDimension: config.headDimension) : nil
        let kOrder = permuted ? ggufRowOrder(heads: config.kvHeadCount, headDimension: config.headDimension) : nil
        func bias(_ name: String, _ n: Int, rowOrder: [Int]?) throws -> FloatBuffer? {
            guard config.attentionBias else { return nil }
            let values = try vector(name, n).array
            return FloatBuffer(rowOrder.map { permuteRows(values, cols: 1, order: $0) } ?? values)
        }
        let embedding = try linear("token_embd.weight", out: config.vocabularySize, in: c)
        var layers: [LlamaLayer] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            layers.append(LlamaLayer(
                attentionNorm: try vector(p + "attn_norm.weight", c),
                query: try linear(p + "attn_q.weight", out: qd, in: c, rowOrder: qOrder),
                key: try linear(p + "attn_k.weight", out: kvd, in: c, rowOrder: kOrder),
                value: try linear(p + "attn_v.weight", out: kvd, in: c),
                attentionOutput: try linear(p + "attn_output.weight", out: c, in: qd),
                mlpNorm: try vector(p + "ffn_norm.weight", c),
                gate: try linear(p + "ffn_gate.weight", out: f, in: c),
                up: try linear(p + "ffn_up.weight", out: f, in: c),
                down: try linear(p + "ffn_down.weight", out: c, in: f),
                queryBias: try bias(p + "attn_q.bias", qd, rowOrder: qOrder),
                keyBias: try bias(p + "attn_k.bias", kvd, rowOrder: kOrder),
                valueBias: try bias(p + "attn_v.bias", kvd, rowOrder: nil)))
        }
        let output = config.tiedEmbeddings ? embedding : try linear("output.weight", out: config.vocabularySize, in: c)
        var inverseFrequencies = config.ropeInverseFrequencies()
        if file.tensor(named: "rope_freqs.weight") != nil {
            // llama.cpp stores Llama 3 frequency scaling as per-frequency divisors.
            let factors = try vector("rope_freqs.weight", config.headDimension / 2).array
            inverseFrequencies = zip(inverseFrequencies, factors).map { $0 / $1 }
        }
        let tokenizer = try TokenizerLoader.fromGGUF(file)
        logger.info("loaded GGUF model", metadata: [
            "file": "\(url.lastPathComponent)", "layers": "\(config.layerCount)", "hidden": "\(c)",
            "architecture": "\(config.architecture)", "vocab": "\(config.vocabularySize)", "quantizedMatvec": "\(embedding.isQuantized)",
        ])
        return LlamaModel(configuration: config, tokenEmbedding: embedding, layers: layers,
                          outputNorm: try vector("output_norm.weight", c), output: output,
                          inverseFrequencies: inverseFrequencies, tokenizer: tokenizer)
    }

    /// Hugging Face row r of a Q or K projection lives in GGUF row `order[r]`.
    /// llama.cpp's converter views rows as (heads, 2, D/2) and stores them as (heads, D/2, 2).
    static func ggufRowOrder(heads: Int, headDimension d: Int) -> [Int] {
        let half = d / 2
        var order = [Int](repeating: 0, count: heads * d)
        for h in 0..<heads {
            for a in 0..<2 {
                for b in 0..<half { order[h * d + a * half + b] = h * d + b * 2 + a }
            }
        }
        return order
    }

    static func permuteRows(_ values: [Float], cols: Int, order: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (r, s) in order.enumerated() {
                    for j in 0..<cols { dst[r * cols + j] = src[s * cols + j] }
                }
            }
        }
        return out
    }

    static func quantizedRows(file: GGUFFile, tensor t: GGUFTensorInfo, rows: Int, cols: Int, order: [Int]?) -> LinearWeight.QuantizedRows? {
        let rowBytes = Int(fg_quantized_row_bytes(t.type.rawValue, Int64(cols)))
        guard rowBytes > 0, rowBytes * rows == t.byteCount else { return nil }
        let raw = file.rawData(of: t)
        guard let src = raw.baseAddress, raw.count >= rowBytes * rows else { return nil }
        let dst = UnsafeMutableRawPointer.allocate(byteCount: rowBytes * rows, alignment: 64)
        for r in 0..<rows {
            let s = order?[r] ?? r
            dst.advanced(by: r * rowBytes).copyMemory(from: src.advanced(by: s * rowBytes), byteCount: rowBytes)
        }
        return .init(type: t.type.rawValue, rowBytes: rowBytes, data: dst)
    }

    // MARK: - Hugging Face

    /// Loads `config.json`, every `*.safetensors` shard and `tokenizer.json` from a directory.
    public static func loadHuggingFace(directory: URL, logger: Logger = Logger(label: "fedguard.engine")) throws -> LlamaModel {
        let configURL = directory.appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw EngineError.modelFile("\(configURL.path) is missing; a Hugging Face checkpoint directory needs config.json and *.safetensors")
        }
        let config = try LlamaConfiguration(huggingFaceConfig: configData, file: configURL.path)
        let shards = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !shards.isEmpty else {
            throw EngineError.modelFile("\(directory.path) holds no *.safetensors file")
        }
        var index: [String: SafeTensorsFile] = [:]
        for shard in shards {
            let url = directory.appendingPathComponent(shard)
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile(url: url) } catch { throw EngineError.modelFile("\(error)") }
            for name in file.tensors.keys { index[name] = file }
        }
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let file = index[name], let t = file.tensors[name] else {
                throw EngineError.missingTensor(name, file: directory.path)
            }
            guard t.shape == shape else { throw EngineError.tensorShape(name, expected: shape, found: t.shape, file: directory.path) }
            do { return try file.floats(named: name) } catch { throw EngineError.modelFile("\(error)") }
        }
        func linear(_ name: String, out: Int, in inF: Int) throws -> LinearWeight {
            LinearWeight(outFeatures: out, inFeatures: inF, dense: FloatBuffer(try tensor(name, [out, inF])))
        }
        let c = config.hiddenSize, f = config.intermediateSize, kvd = config.kvDimension
        let qd = config.headCount * config.headDimension
        func bias(_ name: String, _ n: Int) throws -> FloatBuffer? {
            config.attentionBias ? FloatBuffer(try tensor(name, [n])) : nil
        }
        let embedding = try linear("model.embed_tokens.weight", out: config.vocabularySize, in: c)
        var layers: [LlamaLayer] = []
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            layers.append(LlamaLayer(
                attentionNorm: FloatBuffer(try tensor(p + "input_layernorm.weight", [c])),
                query: try linear(p + "self_attn.q_proj.weight", out: qd, in: c),
                key: try linear(p + "self_attn.k_proj.weight", out: kvd, in: c),
                value: try linear(p + "self_attn.v_proj.weight", out: kvd, in: c),
                attentionOutput: try linear(p + "self_attn.o_proj.weight", out: c, in: qd),
                mlpNorm: FloatBuffer(try tensor(p + "post_attention_layernorm.weight", [c])),
                gate: try linear(p + "mlp.gate_proj.weight", out: f, in: c),
                up: try linear(p + "mlp.up_proj.weight", out: f, in: c),
                down: try linear(p + "mlp.down_proj.weight", out: c, in: f),
                queryBias: try bias(p + "self_attn.q_proj.bias", qd),
                keyBias: try bias(p + "self_attn.k_proj.bias", kvd),
                valueBias: try bias(p + "self_attn.v_proj.bias", kvd)))
        }
        let untied = index["lm_head.weight"] != nil && !config.tiedEmbeddings
        let output = untied ? try linear("lm_head.weight", out: config.vocabularySize, in: c) : embedding
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        let tokenizer = try? TokenizerLoader.fromHuggingFace(tokenizerURL)
        if tokenizer == nil { logger.warning("no usable tokenizer.json; text input is unavailable", metadata: ["dir": "\(directory.path)"]) }
        return LlamaModel(configuration: config, tokenEmbedding: embedding, layers: layers,
                          outputNorm: FloatBuffer(try tensor("model.norm.weight", [c])), output: output,
                          inverseFrequencies: config.ropeInverseFrequencies(), tokenizer: tokenizer)
    }
}
