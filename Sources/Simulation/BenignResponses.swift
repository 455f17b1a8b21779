// Benign (prompt, response) pairs: prompts from SafetyData's ``BenignPromptGenerator``,
// responses from the base model (greedy, chat template, batched through Engine's
// ``Generator``), cached as JSONL under `$FEDGUARD_HOME/cache/benign-responses/<key>.jsonl` so
// later builds reuse them. The key hashes the model file's name and size, the prompt-set seed,
// the count and the maximum new tokens. Batches are appended to `<key>.partial.jsonl` as they
// finish, so an interrupted run resumes where it stopped; the finished file is moved into place
// with a `<key>.meta.json` beside it, so that a larger prompt set of the same model, seed and
// token limit starts from the responses already cached.

import Engine
import Foundation
import Logging
import SafetyData
import Tokenizers

/// One cached benign pair.
public struct BenignResponse: Sendable, Hashable, Codable {
    /// The generated benign prompt.
    public var prompt: String
    /// The base model's reply.
    public var response: String
    /// The prompt's task (`writing`, `coding`, ...).
    public var task: String
    /// Why generation stopped (`stop_token`, `stop_string`, `length`).
    public var finish: String

    /// Creates a record.
    public init(prompt: String, response: String, task: String, finish: String) {
        self.prompt = prompt
        self.response = response
        self.task = task
        self.finish = finish
    }

    /// As a non-harmful client sample (category = task).
    public var sample: ClientDataSample {
        ClientDataSample(prompt: prompt, response: response, harmful: false, category: task, source: .benignGenerated)
    }
}

/// Progress of ``BenignResponseStore/responses(for:promptSeed:progress:)``.
public struct BenignResponseProgress: Sendable {
    /// Responses ready (cached or generated).
    public var done: Int
    /// Responses wanted.
    public var total: Int
    /// Responses generated in this call so far.
    public var generatedThisRun: Int
    /// Tokens generated in this call so far.
    public var generatedTokens: Int
    /// Seconds since generation started.
    public var elapsedSeconds: Double
    /// Estimated seconds left (nil before the first batch finishes).
    public var etaSeconds: Double?
}

/// The cache of benign responses and the generation that fills it.
public struct BenignResponseStore: Sendable {
    /// Cache directory (`$FEDGUARD_HOME/cache/benign-responses`).
    public let directory: URL
    /// The model file (its name and size enter the cache key).
    public let modelFile: URL
    /// Most new tokens per response (default 128).
    public var maxNewTokens: Int
    /// Prompts generated together (bounds KV-cache memory).
    public var batchSize: Int
    let logger: Logger

    /// The cache directory under a FedGuard home: `home/cache/benign-responses`.
    public static func defaultDirectory(home: URL? = nil,
                                        environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let root: URL
        if let home {
            root = home
        } else if let value = environment["FEDGUARD_HOME"], !value.isEmpty {
            root = URL(fileURLWithPath: (value as NSString).expandingTildeInPath)
        } else {
            root = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
        }
        return root.appendingPathComponent("cache/benign-responses", isDirectory: true)
    }

    /// A store for `modelFile`, caching in `directory`.
    public init(directory: URL, modelFile: URL, maxNewTokens: Int = 128, batchSize: Int = 32,
                logger: Logger = Logger(label: "fedguard.data")) {
        self.directory = directory
        self.modelFile = modelFile
        self.maxNewTokens = max(1, maxNewTokens)
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// The cache key for `count` prompts of prompt-set `promptSeed`: 16 hex digits of FNV-1a 64
    /// over `name|size|seed|count|maxNewTokens` (for a directory model, the size sums its files).
    public func key(promptSeed: UInt64, count: Int) -> String {
        let text = "\(modelFile.lastPathComponent)|\(Self.size(of: modelFile))|\(promptSeed)|\(count)|\(maxNewTokens)"
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The cache file for a key.
    public func cacheURL(key: String) -> URL { directory.appendingPathComponent(key + ".jsonl") }

    static func size(of url: URL) -> Int {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return 0 }
        if !isDirectory.boolValue { return ((try? fm.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0 }
        let files = (try? fm.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? []
        return files.reduce(0) { $0 + size(of: $1) }
    }

    /// Responses to `prompts` (the first `prompts.count` of prompt-set `promptSeed`): read from
    /// the cache when it holds exactly these prompts, else generated with `loadModel()` (called
    /// only when generation is needed) and cached. `progress` is called after each batch.
    /// Returns the responses in prompt order and whether all came from the cache.
    public func responses(for prompts: [BenignPrompt], promptSeed: UInt64,
                          loadModel: () throws -> LlamaModel,
                          progress: (BenignResponseProgress) -> Void = { _ in })
        throws(ClientDataError) -> (responses: [BenignResponse], fromCache: Bool, key: String) {
        let key = key(promptSeed: promptSeed, count: prompts.count)
        let finalURL = cacheURL(key: key)
        let partialURL = directory.appendingPathComponent(key + ".partial.jsonl")
        if let cached = Self.read(finalURL), Self.matches(cached, prompts), cached.count == prompts.count {
            logger.info("benign responses from cache", metadata: ["file": "\(finalURL.path)", "count": "\(cached.count)"])
            progress(BenignResponseProgress(done: cached.count, total: prompts.count, generatedThisRun: 0,
                                            generatedTokens: 0, elapsedSeconds: 0, etaSeconds: 0))
            return (cached, true, key)
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        // Resume from a partial file whose lines are a prefix of the wanted prompts.
        // A torn last line (killed mid-append) is dropped and the file rewritten without it.
        var done = Self.read(partialURL, dropTornTail: true).flatMap { Self.matches($0, prompts) ? $0 : nil } ?? []
        if done.isEmpty { done = reusablePrefix(for: prompts, promptSeed: promptSeed) }
        try? FileManager.default.removeItem(at: partialURL)
        if !done.isEmpty {
            try Self.append(done, to: partialURL)
            logger.info("resuming benign responses", metadata: ["done": "\(done.count)", "total": "\(prompts.count)"])
        }
        if done.count < prompts.count {
            let model: LlamaModel
            let tokenizer: ModelTokenizer
            do {
                model = try loadModel()
                tokenizer = try model.requireTokenizer()
            } catch {
                throw .generationFailed("cannot load the model: \(error)")
            }
            let generator = Generator(model: model, logger: logger)
            var parameters = GenerationParameters(maxNewTokens: maxNewTokens, sampler: Sampler(), seed: 0,
                                                  stopStrings: tokenizer.stopStrings)
            parameters.prefillChunk = 2048
            let started = Date()
            var generatedThisRun = 0, tokens = 0
            while done.count < prompts.count {
                let batch = Array(prompts[done.count..<min(prompts.count, done.count + batchSize)])
                let results: [GenerationResult]
                do {
                    let ids = try batch.map { try tokenizer.encodeChat([ChatMessage(role: .user, content: $0.text)]) }
                    results = try generator.generate(prompts: ids, parameters: parameters)
                } catch {
                    throw .generationFailed("\(error)")
                }
                let records = zip(batch, results).map { prompt, result in
                    BenignResponse(prompt: prompt.text, response: result.text.trimmingCharacters(in: .whitespacesAndNewlines),
                                   task: prompt.task.rawValue, finish: result.finishReason.rawValue)
                }
                try Self.append(records, to: partialURL)
                done += records
                generatedThisRun += records.count
                tokens += results.reduce(0) { $0 + $1.generatedIDs.count }
                let elapsed = Date().timeIntervalSince(started)
                let eta = elapsed / Double(generatedThisRun) * Double(prompts.count - done.count)
                progress(BenignResponseProgress(done: done.count, total: prompts.count, generatedThisRun: generatedThisRun,
                                                generatedTokens: tokens, elapsedSeconds: elapsed, etaSeconds: eta))
            }
            logger.info("benign responses generated", metadata: [
                "count": "\(generatedThisRun)", "tokens": "\(tokens)",
                "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(started)))",
            ])
        }
        do {
            if FileManager.default.fileExists(atPath: finalURL.path) { try FileManager.default.removeItem(at: finalURL) }
            try FileManager.default.moveItem(at: partialURL, to: finalURL)
            let meta = CacheMeta(modelFile: modelFile.lastPathComponent, modelSize: Self.size(of: modelFile),
                                 promptSeed: promptSeed, count: prompts.count, maxNewTokens: maxNewTokens)
            try JSONEncoder().encode(meta).write(to: metaURL(key: key), options: .atomic)
        } catch {
            throw .writeFailed(path: finalURL.path, reason: error.localizedDescription)
        }
        return (done, false, key)
    }

    /// What a cache file holds, stored beside it as `<key>.meta.json`.
    struct CacheMeta: Codable, Equatable {
        var modelFile: String
        var modelSize: Int
        var promptSeed: UInt64
        var count: Int
        var maxNewTokens: Int
    }

    func metaURL(key: String) -> URL { directory.appendingPathComponent(key + ".meta.json") }

    /// Responses cached for another count of the same model, seed and token limit whose prompts
    /// are a prefix of (or extend) `prompts`: growing a prompt set only generates the new part.
    func reusablePrefix(for prompts: [BenignPrompt], promptSeed: UInt64) -> [BenignResponse] {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        let size = Self.size(of: modelFile)
        var best: [BenignResponse] = []
        for file in files where file.lastPathComponent.hasSuffix(".meta.json") {
            guard let data = try? Data(contentsOf: file), let meta = try? JSONDecoder().decode(CacheMeta.self, from: data),
                  meta.modelFile == modelFile.lastPathComponent, meta.modelSize == size, meta.promptSeed == promptSeed,
                  meta.maxNewTokens == maxNewTokens else { continue }
            let key = String(file.lastPathComponent.dropLast(".meta.json".count))
            guard let records = Self.read(cacheURL(key: key)) else { continue }
            let usable = Array(zip(records, prompts).prefix { $0.prompt == $1.text }.map(\.0))
            if usable.count > best.count { best = usable }
        }
        if !best.isEmpty { logger.info("reusing cached benign responses", metadata: ["count": "\(best.count)"]) }
        return best
    }

    /// Whether `records` are responses to the first `records.count` of `prompts`, in order.
    static func matches(_ records: [BenignResponse], _ prompts: [BenignPrompt]) -> Bool {
        records.count <= prompts.count && zip(records, prompts).allSatisfy { $0.prompt == $1.text }
    }

    /// The records of a cache file, or nil if it is missing or any line is unreadable.
    /// With `dropTornTail`, an unreadable last line is ignored instead.
    static func read(_ url: URL, dropTornTail: Bool = false) -> [BenignResponse]? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        let decoder = JSONDecoder()
        var records: [BenignResponse] = []
        let lines = data.split(separator: 0x0A).filter { !$0.isEmpty }
        for (i, line) in lines.enumerated() {
            guard let record = try? decoder.decode(BenignResponse.self, from: Data(line)) else {
                if dropTornTail, i == lines.count - 1 { break }
                return nil
            }
            records.append(record)
        }
        return records
    }

    static func append(_ records: [BenignResponse], to url: URL) throws(ClientDataError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        do {
            for record in records {
                data.append(try encoder.encode(record))
                data.append(0x0A)
            }
            if !FileManager.default.fileExists(atPath: url.path) {
                try data.write(to: url)
            } else {
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: data)
            }
        } catch {
            throw .writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }
}
