import Engine
import Foundation
import Logging
import SafetyData
import Tokenizers
import Training

/// Settings of the helpfulness guard.
public struct HelpfulnessSettings: Codable, Sendable, Hashable {
    /// The seed of the held-out benign prompts. Training data builders use other seeds (the
    /// documented default is 42); this one is reserved for evaluation.
    public static let heldOutSeed: UInt64 = 0x4845_4C44_4F55_5431  // "HELDOUT1"

    /// Most held-out prompts: the training data builder excludes exactly the first this-many
    /// prompts of ``heldOutSeed`` (`ClientDataPipeline.heldOutReserve`), so the two never overlap.
    public static let maxPromptCount = 256

    /// Benign prompts scored (at most ``maxPromptCount``).
    public var promptCount: Int
    /// Seed of ``BenignPromptGenerator`` for the prompts.
    public var seed: UInt64
    /// Most new tokens of each reference reply (generated greedily by the base model).
    public var maxNewTokens: Int
    /// Longest scored sequence in tokens (prompt with chat template + reply).
    public var maxSequenceLength: Int
    /// Sequences per loss pass.
    public var lossBatch: Int

    /// Creates settings.
    public init(promptCount: Int = 64, seed: UInt64 = HelpfulnessSettings.heldOutSeed, maxNewTokens: Int = 64,
                maxSequenceLength: Int = 512, lossBatch: Int = 8) {
        self.promptCount = min(max(promptCount, 0), Self.maxPromptCount)
        self.seed = seed
        self.maxNewTokens = max(maxNewTokens, 1)
        self.maxSequenceLength = max(maxSequenceLength, 8)
        self.lossBatch = max(lossBatch, 1)
    }

    enum CodingKeys: String, CodingKey {
        case seed
        case promptCount = "prompt_count", maxNewTokens = "max_new_tokens"
        case maxSequenceLength = "max_sequence_length", lossBatch = "loss_batch"
    }

    /// The held-out benign prompts: the first ``promptCount`` of the generator for ``seed``.
    public var prompts: [String] { BenignPromptGenerator(seed: seed).generate(count: promptCount).map(\.text) }
}

/// A benign prompt with the base model's reply: the reference the helpfulness loss is measured on.
public struct ReferencePair: Codable, Sendable, Hashable {
    /// The prompt.
    public var prompt: String
    /// The base model's greedy reply.
    public var response: String

    /// Creates a pair.
    public init(prompt: String, response: String) {
        self.prompt = prompt
        self.response = response
    }
}

/// Reference replies cached as JSONL, one file per (model file, prompt set, seed, max tokens).
public struct ReferenceCache: Sendable {
    /// The cache directory (`$FEDGUARD_HOME/cache/helpfulness` by default).
    public let directory: URL

    /// A cache in `directory`.
    public init(directory: URL) { self.directory = directory }

    /// The default cache: `<FedGuard home>/cache/helpfulness`.
    public static func standard(home: URL) -> ReferenceCache {
        ReferenceCache(directory: home.appendingPathComponent("cache/helpfulness", isDirectory: true))
    }

    /// The file for a model identity (e.g. file name and size) and the prompts' settings. The
    /// name carries a 64-bit FNV-1a digest of every input, so a change of any gives a new file.
    public func url(model: String, prompts: [String], settings: HelpfulnessSettings) -> URL {
        var key = "model=\(model)\nseed=\(settings.seed)\nmax_new_tokens=\(settings.maxNewTokens)\n"
        key += "prompts=\(prompts.count)\n" + prompts.joined(separator: "\n")
        let stem = model.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-" }
        let name = String(String(stem).prefix(48)) + "-" + String(format: "%016llx", Self.fnv1a(key))
        return directory.appendingPathComponent("references-\(name).jsonl")
    }

    /// The cached pairs if the file exists and holds exactly `prompts`, in order; nil otherwise.
    public func read(_ url: URL, prompts: [String]) -> [ReferencePair]? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        var pairs: [ReferencePair] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            guard let pair = try? decoder.decode(ReferencePair.self, from: Data(line.utf8)) else { return nil }
            pairs.append(pair)
        }
        return pairs.map(\.prompt) == prompts ? pairs : nil
    }

    /// Writes `pairs` atomically.
    public func write(_ pairs: [ReferencePair], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = ""
        for pair in pairs { text += String(decoding: try encoder.encode(pair), as: UTF8.self) + "\n" }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw EvaluationError.io(file: url.path, detail: "\(error)")
        }
    }

    /// 64-bit FNV-1a over UTF-8. reference: Fowler–Noll–Vo hash, FNV-1a.
    static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// The helpfulness guard: the model's mean per-token loss on held-out benign replies of the base
/// model. Training that teaches the model to refuse benign requests, or that damages its
/// language, raises this loss; a safety fine-tune that keeps the model useful leaves it near
/// the base model's value.
public enum HelpfulnessGuard {
    /// Reference pairs for `prompts`: from `cache` when present, else generated greedily by the base
    /// model (no adapter) and written to `cache`. Returns the pairs and whether they were cached.
    public static func references(prompts: [String], model: LlamaModel, modelIdentity: String,
                                  settings: HelpfulnessSettings, cache: ReferenceCache?, batchSize: Int = 32,
                                  logger: Logger, progress: (Int, Int) -> Void = { _, _ in })
        throws -> (pairs: [ReferencePair], cached: Bool) {
        let url = cache?.url(model: modelIdentity, prompts: prompts, settings: settings)
        if let cache, let url, let pairs = cache.read(url, prompts: prompts) {
            logger.debug("helpfulness references from cache", metadata: ["file": "\(url.path)", "pairs": "\(pairs.count)"])
            return (pairs, true)
        }
        let responder = ModelResponder(model: model, adapter: nil,
                                       settings: GenerationSettings(maxNewTokens: settings.maxNewTokens, batchSize: batchSize),
                                       logger: logger)
        let replies = try responder.responses(to: prompts) { progress($0, prompts.count) }
        let pairs = zip(prompts, replies).map { ReferencePair(prompt: $0, response: $1) }
        if let cache, let url {
            try cache.write(pairs, to: url)
            logger.info("helpfulness references cached", metadata: ["file": "\(url.path)", "pairs": "\(pairs.count)"])
        }
        return (pairs, false)
    }

    /// The token-weighted mean cross-entropy (nats per assistant token) of `model` with `adapter`
    /// over `pairs`; pairs whose reply is empty are skipped. Returns the loss, the target tokens
    /// and the pairs scored.
    public static func meanLoss(model: LlamaModel, adapter: LoRAWeights?, pairs: [ReferencePair],
                                settings: HelpfulnessSettings, logger: Logger) throws
        -> (loss: Double, targetTokens: Int, pairs: Int) {
        guard let tokenizer = model.tokenizer else { throw EvaluationError.noTokenizer }
        let builder: SequenceBuilder
        do { builder = try SequenceBuilder(modelTokenizer: tokenizer, maxLength: settings.maxSequenceLength) } catch {
            throw EvaluationError.helpfulness("\(error)")
        }
        let examples = pairs.filter { !$0.response.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.map {
            SFTExample(messages: [ChatMessage(role: .user, content: $0.prompt), ChatMessage(role: .assistant, content: $0.response)])
        }
        let built: BuiltSequences<TrainingSequence>
        do { built = try builder.sequences(for: examples, logger: logger) } catch {
            throw EvaluationError.helpfulness("\(error)")
        }
        guard !built.items.isEmpty else { throw EvaluationError.helpfulness("no reference reply to score") }
        var totalLoss = 0.0, totalTokens = 0
        for start in stride(from: 0, to: built.items.count, by: settings.lossBatch) {
            let chunk = Array(built.items[start..<min(start + settings.lossBatch, built.items.count)])
            do {
                let (loss, tokens) = try sftLoss(model: model, adapter: adapter, sequences: chunk)
                totalLoss += loss * Double(tokens)
                totalTokens += tokens
            } catch {
                throw EvaluationError.helpfulness("\(error)")
            }
        }
        return (totalLoss / Double(max(totalTokens, 1)), totalTokens, built.items.count)
    }
}
