import Foundation
import Logging
import Tokenizers

/// Settings of one generation call.
public struct GenerationParameters: Sendable {
    /// Most tokens generated per sequence.
    public var maxNewTokens = 256
    /// Token choice (greedy by default).
    public var sampler = Sampler()
    /// Seed of sequence i's generator is derived from (seed, i), so results do not depend on batch size.
    public var seed: UInt64 = 0
    /// Generation of a sequence ends when its text contains one of these (the string is cut off).
    public var stopStrings: [String] = []
    /// Extra ids that end generation (the tokenizer's EOS / end-of-turn are always included).
    public var stopIDs: Set<Int> = []
    /// Whether the tokenizer's EOS / end-of-turn ids end generation (benchmarks turn this off).
    public var stopAtEndTokens = true
    /// LoRA adapter applied on top of the frozen weights (nil: the base model).
    public var adapter: LoRAWeights?
    /// Most prompt rows per prefill pass (bounds scratch memory).
    public var prefillChunk = 2048
    /// Whether the prompts' longest common prefix (e.g. a chat template's system turn) is run through
    /// the model once and its keys and values copied to every sequence, instead of once per prompt.
    /// The shared rows go through a smaller product, so logits may differ from an unshared prefill
    /// in the last bits (summation order), as they do between any two batch compositions.
    public var sharePromptPrefix = true
    /// How products with quantized weights treat activations (see ``Arithmetic``).
    public var arithmetic = Arithmetic.exact
    /// How the sequences' caches store keys and values: float16 with `int8` arithmetic (as
    /// llama.cpp does), float32 with `exact`.
    public var cachePrecision: KVPrecision { arithmetic == .int8 ? .float16 : .float32 }

    /// Creates parameters with defaults.
    public init(maxNewTokens: Int = 256, sampler: Sampler = Sampler(), seed: UInt64 = 0, stopStrings: [String] = []) {
        self.maxNewTokens = maxNewTokens
        self.sampler = sampler
        self.seed = seed
        self.stopStrings = stopStrings
    }
}

/// Why a sequence stopped.
public enum FinishReason: String, Sendable, Codable {
    case stopToken = "stop_token", stopString = "stop_string", length
}

/// The outcome of generating from one prompt.
public struct GenerationResult: Sendable {
    /// Prompt token ids.
    public var promptIDs: [Int]
    /// Generated ids (the stop token excluded).
    public var generatedIDs: [Int]
    /// Generated text (cut before a stop string).
    public var text: String
    /// Why generation ended.
    public var finishReason: FinishReason
}

/// Wall-clock figures of a generation call.
public struct GenerationTimings: Sendable, Codable {
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    public var promptTokens = 0
    /// Leading tokens that every prompt shares and that went through the model once (see `GenerationParameters.sharePromptPrefix`).
    public var sharedPrefixTokens = 0
    public var generatedTokens = 0
    /// Tokens generated after the first one (decode steps), for tokens/s.
    public var decodeSteps = 0
    /// Zero timings.
    public init() {}
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodeSteps) / decodeSeconds : 0 }
    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
}

/// Generates continuations for many prompts at once: one batched prefill, then batched decode
/// steps over the sequences still running.
public struct Generator: Sendable {
    /// The model.
    public let model: LlamaModel
    let logger: Logger

    /// Creates a generator.
    public init(model: LlamaModel, logger: Logger = Logger(label: "fedguard.generate")) {
        self.model = model
        self.logger = logger
    }

    /// Generates from each prompt (token ids). `onToken(sequence, id, textPiece)` is called as tokens
    /// are accepted; text pieces hold back anything that could start a stop string or split a
    /// UTF-8 character.
    public func generate(
        prompts: [[Int]], parameters: GenerationParameters,
        timings: UnsafeMutablePointer<GenerationTimings>? = nil,
        onToken: ((Int, Int, String) -> Void)? = nil
    ) throws -> [GenerationResult] {
        guard !prompts.isEmpty else { return [] }
        if let i = prompts.firstIndex(where: \.isEmpty) {
            throw EngineError.invalidInput("prompt \(i) is empty")
        }
        let stopIDs = parameters.stopIDs.union(parameters.stopAtEndTokens ? model.tokenizer?.stopIDs ?? [] : [])
        var sequences = prompts.enumerated().map { i, p in
            SequenceState(prompt: p, cache: model.makeCache(capacity: p.count + parameters.maxNewTokens, precision: parameters.cachePrecision),
                          rng: SeededGenerator(seed: parameters.seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15),
                          decoder: model.tokenizer.map { StreamingDecoder(tokenizer: $0.tokenizer) })
        }
        var stats = GenerationTimings()
        stats.promptTokens = prompts.reduce(0) { $0 + $1.count }

        // The shared prefix once, then the rest of every prompt in passes of at most `prefillChunk` rows.
        let started = Date()
        let shared = parameters.sharePromptPrefix ? Self.sharedPrefixLength(prompts) : 0
        if shared > 0 {
            let prefix = model.makeCache(capacity: shared, precision: parameters.cachePrecision)
            for start in stride(from: 0, to: shared, by: max(1, parameters.prefillChunk)) {
                let piece = Array(prompts[0][start..<min(shared, start + max(1, parameters.prefillChunk))])
                _ = try model.forward([ForwardRequest(tokens: piece, cache: prefix, logits: .none)],
                                      adapter: parameters.adapter, arithmetic: parameters.arithmetic)
            }
            for s in sequences { try s.cache.copyPrefix(of: prefix, count: shared) }
            stats.sharedPrefixTokens = shared
        }
        // Identical prompts (several samples of one prompt) are prefilled once; the others copy
        // the first one's cache rows and logits.
        var firstWithPrompt: [[Int]: Int] = [:]
        var copies: [(index: Int, source: Int)] = []
        var pending = sequences.indices.filter { i in
            if let first = firstWithPrompt[prompts[i]] { copies.append((i, first)); return false }
            firstWithPrompt[prompts[i]] = i
            return true
        }
        while !pending.isEmpty {
            var batch: [Int] = []
            var rows = 0
            while let i = pending.first, batch.isEmpty || rows + prompts[i].count - shared <= parameters.prefillChunk {
                batch.append(i)
                rows += prompts[i].count - shared
                pending.removeFirst()
            }
            let logits = try model.forward(batch.map { ForwardRequest(tokens: Array(prompts[$0][shared...]), cache: sequences[$0].cache) },
                                           adapter: parameters.adapter, arithmetic: parameters.arithmetic)
            for (j, i) in batch.enumerated() { sequences[i].pendingLogits = logits[j] }
        }
        for (i, source) in copies {
            try sequences[i].cache.copyPrefix(of: sequences[source].cache, count: prompts[source].count)
            sequences[i].pendingLogits = sequences[source].pendingLogits
        }
        stats.prefillSeconds = Date().timeIntervalSince(started)

        while true {
            var active: [Int] = []
            for i in sequences.indices where sequences[i].finish == nil {
                let token = parameters.sampler.sample(sequences[i].pendingLogits[...], using: &sequences[i].rng)
                accept(token, into: &sequences[i], index: i, stopIDs: stopIDs, parameters: parameters, onToken: onToken)
                if sequences[i].finish == nil { active.append(i) }
            }
            guard !active.isEmpty else { break }
            let stepStart = Date()
            let logits = try model.forward(
                active.map { ForwardRequest(tokens: [sequences[$0].generated.last ?? 0], cache: sequences[$0].cache) },
                adapter: parameters.adapter, arithmetic: parameters.arithmetic)
            stats.decodeSeconds += Date().timeIntervalSince(stepStart)
            stats.decodeSteps += active.count
            for (j, i) in active.enumerated() { sequences[i].pendingLogits = logits[j] }
        }
        stats.generatedTokens = sequences.reduce(0) { $0 + $1.generated.count }
        timings?.pointee = stats
        logger.debug("generation done", metadata: [
            "sequences": "\(prompts.count)", "generated": "\(stats.generatedTokens)",
            "decodeTokensPerSecond": "\(String(format: "%.1f", stats.decodeTokensPerSecond))",
        ])
        return sequences.map {
            GenerationResult(promptIDs: $0.prompt, generatedIDs: $0.generated, text: $0.text, finishReason: $0.finish ?? .length)
        }
    }

    /// Length of the prefix every prompt shares, leaving each prompt at least one token of its own
    /// (its last position gives the first logits); 0 for a single prompt.
    static func sharedPrefixLength(_ prompts: [[Int]]) -> Int {
        guard prompts.count > 1, var length = prompts.map(\.count).min() else { return 0 }
        length -= 1
        let first = prompts[0]
        for p in prompts.dropFirst() {
            var i = 0
            while i < length, p[i] == first[i] { i += 1 }
            length = i
            if length == 0 { break }
        }
        return length
    }

    private func accept(_ token: Int, into s: inout SequenceState, index: Int, stopIDs: Set<Int>,
                        parameters: GenerationParameters, onToken: ((Int, Int, String) -> Void)?) {
        if stopIDs.contains(token) {
            s.finish = .stopToken
            emitRest(&s, index: index, onToken: onToken)
            return
        }
        s.generated.append(token)
        if var decoder = s.decoder {
            s.text += decoder.append(token)
            s.decoder = decoder
        }
        if let cut = StopStrings.earliestMatch(in: s.text, stops: parameters.stopStrings) {
            s.text = String(s.text[..<cut])
            s.finish = .stopString
            emitRest(&s, index: index, onToken: onToken)
            return
        }
        if s.generated.count >= parameters.maxNewTokens { s.finish = .length }
        if s.finish != nil {
            if var decoder = s.decoder { s.text += decoder.flush(); s.decoder = decoder }
            emitRest(&s, index: index, onToken: onToken)
            return
        }
        // Emit what cannot be the start of a stop string.
        let safeEnd = StopStrings.safePrefixEnd(of: s.text, stops: parameters.stopStrings)
        let safe = s.text.utf8.count - s.text[safeEnd...].utf8.count
        if safe > s.emittedBytes {
            let piece = String(decoding: Array(s.text.utf8)[s.emittedBytes..<safe], as: UTF8.self)
            s.emittedBytes = safe
            onToken?(index, token, piece)
        } else {
            onToken?(index, token, "")
        }
    }

    private func emitRest(_ s: inout SequenceState, index: Int, onToken: ((Int, Int, String) -> Void)?) {
        let bytes = Array(s.text.utf8)
        if bytes.count > s.emittedBytes {
            onToken?(index, s.generated.last ?? -1, String(decoding: bytes[s.emittedBytes...], as: UTF8.self))
            s.emittedBytes = bytes.count
        }
    }
}

/// Per-sequence generation state.
struct SequenceState {
    let prompt: [Int]
    let cache: KVCache
    var rng: SeededGenerator
    var decoder: StreamingDecoder?
    var generated: [Int] = []
    var text = ""
    var emittedBytes = 0
    var pendingLogits: [Float] = []
    var finish: FinishReason?

    init(prompt: [Int], cache: KVCache, rng: SeededGenerator, decoder: StreamingDecoder?) {
        self.prompt = prompt
        self.cache = cache
        self.rng = rng
        self.decoder = decoder
    }
}

/// Stop-string matching on generated text.
enum StopStrings {
    /// Start of the earliest occurrence of any stop string.
    static func earliestMatch(in text: String, stops: [String]) -> String.Index? {
        stops.filter { !$0.isEmpty }.compactMap { text.range(of: $0)?.lowerBound }.min()
    }

    /// The index after which text might still grow into a stop string (so it is held back).
    static func safePrefixEnd(of text: String, stops: [String]) -> String.Index {
        var end = text.endIndex
        for stop in stops where !stop.isEmpty {
            // Longest suffix of text that is a proper prefix of stop.
            var length = min(stop.count - 1, text.count)
            while length > 0 {
                let suffixStart = text.index(text.endIndex, offsetBy: -length)
                if stop.hasPrefix(text[suffixStart...]) { end = min(end, suffixStart); break }
                length -= 1
            }
        }
        return end
    }
}
