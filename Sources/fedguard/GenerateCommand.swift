import ArgumentParser
import Engine
import Foundation
import Tokenizers
import Training

extension Arithmetic: ExpressibleByArgument {}

/// Sampling options shared by `generate` and `chat`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Most new tokens.")
    var maxTokens: Int = 256

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(help: "Top-k filter (0: off).")
    var topK: Int = 0

    @Option(help: "Top-p (nucleus) filter (1: off).")
    var topP: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Option(name: .customLong("stop"), help: "Extra stop string (repeatable).")
    var stops: [String] = []

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive (got \(maxTokens))") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0 (got \(temperature))") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0 (got \(topK))") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1] (got \(topP))") }
    }

    @Option(help: "A LoRA adapter directory (PEFT format: adapter_config.json + adapter_model.safetensors).")
    var adapter: String?

    @Option(help: "Arithmetic of products with Q4 weights: exact (float activations, matches transformers) or int8 (llama.cpp's int8 activations: ~2x faster products, logits move slightly).")
    var arithmetic: Arithmetic = .exact

    func parameters(extraStops: [String]) -> GenerationParameters {
        var p = GenerationParameters(maxNewTokens: maxTokens, sampler: Sampler(temperature: temperature, topK: topK, topP: topP),
                                     seed: seed, stopStrings: stops + extraStops)
        p.arithmetic = arithmetic
        return p
    }

    /// Generation parameters with the `--adapter` loaded for `model`.
    func parameters(extraStops: [String], model: LlamaModel) throws -> GenerationParameters {
        var p = parameters(extraStops: extraStops)
        if let adapter {
            p.adapter = try PEFTAdapter.load(from: URL(fileURLWithPath: adapter), for: model).weights
        }
        return p
    }
}

/// `fedguard generate`: one completion, streamed.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate a reply to a prompt (streamed).")

    @OptionGroup var engine: EngineOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(help: "The user prompt.")
    var prompt: String

    @Option(help: "System prompt (default: the model's own, e.g. SmolLM2's).")
    var system: String?

    @Flag(help: "Skip the chat template: the prompt is raw text to continue.")
    var raw = false

    @Flag(help: "Print one JSON object (ids, text, timings) instead of streaming text.")
    var json = false

    func run() throws {
        let logger = engine.prepare()
        let (model, loadSeconds) = try engine.loadModel(logger: logger)
        let tok = try model.requireTokenizer()
        let ids: [Int]
        if raw {
            ids = tok.encode(prompt)
        } else {
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: .system, content: system)) }
            messages.append(ChatMessage(role: .user, content: prompt))
            ids = try tok.encodeChat(messages)
        }
        let generator = Generator(model: model, logger: logger)
        var timings = GenerationTimings()
        let params = try sampling.parameters(extraStops: raw ? [] : tok.stopStrings, model: model)
        let streaming = !json
        let results = try generator.generate(prompts: [ids], parameters: params, timings: &timings) { _, _, piece in
            if streaming && !piece.isEmpty { Console.out(piece, terminator: "") }
        }
        guard let result = results.first else { return }
        if json {
            try Console.json(GenerateReport(
                promptIDs: result.promptIDs, generatedIDs: result.generatedIDs, text: result.text,
                finishReason: result.finishReason.rawValue,
                timings: .init(loadSeconds: loadSeconds, prefillSeconds: timings.prefillSeconds,
                               decodeSeconds: timings.decodeSeconds, decodeTokensPerSecond: timings.decodeTokensPerSecond,
                               promptTokens: timings.promptTokens, generatedTokens: timings.generatedTokens)))
        } else {
            Console.out("")
            Console.err(String(format: "[%d prompt tokens, %d generated, load %.2fs, prefill %.2fs, decode %.1f tokens/s]",
                               timings.promptTokens, timings.generatedTokens, loadSeconds, timings.prefillSeconds,
                               timings.decodeTokensPerSecond))
        }
    }
}

/// The JSON printed by `fedguard generate --json`.
struct GenerateReport: Encodable {
    struct Timings: Encodable {
        var loadSeconds, prefillSeconds, decodeSeconds, decodeTokensPerSecond: Double
        var promptTokens, generatedTokens: Int
        enum CodingKeys: String, CodingKey {
            case loadSeconds = "load_s", prefillSeconds = "prefill_s", decodeSeconds = "decode_s"
            case decodeTokensPerSecond = "decode_tokens_per_s", promptTokens = "prompt_tokens", generatedTokens = "generated_tokens"
        }
    }
    var promptIDs: [Int]
    var generatedIDs: [Int]
    var text: String
    var finishReason: String
    var timings: Timings
    enum CodingKeys: String, CodingKey {
        case promptIDs = "prompt_ids", generatedIDs = "generated_ids", text, finishReason = "finish_reason", timings
    }
}
