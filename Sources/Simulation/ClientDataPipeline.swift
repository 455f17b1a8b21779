// `fedguard data build` as a library call: load the PyRIT pools, size the benign set, fetch or
// generate benign responses, split everything over the clients and write the directory.

import Engine
import Evaluation
import Foundation
import Logging
import SafetyData

/// Steps reported by ``ClientDataPipeline/run(store:loadModel:output:progress:)``.
public enum ClientDataProgress: Sendable {
    /// Pools read: harmful and refusal candidates, AdvBench goals used for filtering.
    case poolsLoaded(harmful: Int, refusals: Int, advBenchGoals: Int)
    /// Benign prompts chosen (after the AdvBench filter).
    case benignPrompts(count: Int)
    /// Benign responses: from the cache, or generation progress with an ETA.
    case benignResponses(BenignResponseProgress, fromCache: Bool)
    /// Files written.
    case written(directory: URL)
}

/// What a pipeline run produced.
public struct ClientDataSummary: Sendable {
    /// The manifest as written.
    public var manifest: ClientDataManifest
    /// `client-NN.jsonl` files.
    public var clientFiles: [URL]
    /// The output directory.
    public var directory: URL
    /// Whether every benign response came from the cache.
    public var benignFromCache: Bool
    /// Wall-clock seconds of the whole run.
    public var seconds: Double
}

/// Builds a client-data directory from a PyRIT package directory and the base model.
public struct ClientDataPipeline: Sendable {
    /// Split settings.
    public var parameters: ClientDataParameters
    /// Directory laid out like the extracted `pyrit-1.1.0` package.
    public var pyritRoot: URL
    /// Whether refusals (scorer-eval rows scored 0) join the non-harmful pool.
    public var includeRefusals: Bool
    /// Seed of the benign prompt set (kept apart from the split seed so that different splits
    /// reuse the same cached responses); 42 by default, never the evaluation's held-out seed.
    public var benignPromptSeed: UInt64
    let logger: Logger

    /// Creates a pipeline.
    public init(parameters: ClientDataParameters, pyritRoot: URL, includeRefusals: Bool = false,
                benignPromptSeed: UInt64 = ClientDataPipeline.defaultBenignPromptSeed, logger: Logger = Logger(label: "fedguard.data")) {
        self.parameters = parameters
        self.pyritRoot = pyritRoot
        self.includeRefusals = includeRefusals
        self.benignPromptSeed = benignPromptSeed
        self.logger = logger
    }

    /// Default seed of the benign training prompts.
    public static let defaultBenignPromptSeed: UInt64 = 42

    /// Extra benign responses generated beyond the need, so that a few empty or filtered
    /// responses do not leave the pool short: 2% (at least 2).
    public static func slack(_ needed: Int) -> Int { needed == 0 ? 0 : max(2, needed / 50) }

    /// Most rounds of growing the benign set when screening leaves it short.
    public static let maximumTopUps = 4

    /// Held-out prompts reserved for evaluation that training never uses: the first this many
    /// prompts of the evaluation's seed (`HelpfulnessSettings.heldOutSeed`).
    public static let heldOutReserve = HelpfulnessSettings.maxPromptCount

    /// Benign prompts for `count` samples: the generator's first prompts for `seed` that pass
    /// `filter` (AdvBench) and are not among the evaluation's held-out benign prompts.
    public static func benignPrompts(count: Int, seed: UInt64, filter: ContaminationFilter) -> [BenignPrompt] {
        guard count > 0 else { return [] }
        let heldOut = Set(BenignPromptGenerator(seed: HelpfulnessSettings.heldOutSeed).generate(count: heldOutReserve)
            .map { TextNormalizer.normalize($0.text) })
        let candidates = BenignPromptGenerator(seed: seed).generate(count: count + count / 5 + heldOutReserve / 4)
        return Array(candidates.lazy.filter {
            !heldOut.contains(TextNormalizer.normalize($0.text)) && filter.match($0.text) == nil
        }.prefix(count))
    }

    /// Runs every step and writes `output`. `loadModel` is called only if responses must be generated.
    public func run(store: BenignResponseStore, loadModel: () throws -> LlamaModel, output: URL,
                    progress: (ClientDataProgress) -> Void = { _ in }) throws(ClientDataError) -> ClientDataSummary {
        let started = Date()
        let builder = try ClientDataBuilder(parameters: parameters)
        let pools = try ClientDataPools.load(pyritRoot: pyritRoot, logger: logger)
        progress(.poolsLoaded(harmful: pools.harmful.count, refusals: pools.refusals.count,
                              advBenchGoals: pools.advBenchGoals.count))
        let filter = ContaminationFilter(references: pools.advBenchGoals)
        let refusals = includeRefusals ? pools.refusals : []
        let harmfulAvailable = ClientDataBuilder.screen(pools.harmful, filter: filter).kept.count
        let refusalsAvailable = ClientDataBuilder.screen(refusals, filter: filter).kept.count
        let needed = max(0, builder.nonHarmfulNeeded(harmfulAvailable: harmfulAvailable) - refusalsAvailable)

        // Degenerate replies (empty, or near copies of another reply) are dropped by screening,
        // so the benign set grows until enough survive; cached prefixes make each round cheap.
        let nonHarmfulNeeded = builder.nonHarmfulNeeded(harmfulAvailable: harmfulAvailable)
        var count = needed + Self.slack(needed)
        var prompts: [BenignPrompt] = []
        var benign: [BenignResponse] = []
        var fromCache = true
        var key = "-"
        for _ in 0..<Self.maximumTopUps {
            prompts = Self.benignPrompts(count: count, seed: benignPromptSeed, filter: filter)
            progress(.benignPrompts(count: prompts.count))
            guard !prompts.isEmpty else { break }
            let result = try store.responses(for: prompts, promptSeed: benignPromptSeed, loadModel: loadModel) { p in
                progress(.benignResponses(p, fromCache: p.generatedThisRun == 0 && p.done == p.total))
            }
            benign = result.responses
            fromCache = fromCache && result.fromCache
            key = result.key
            let samples = benign.filter { !$0.response.isEmpty }.map(\.sample) + refusals
            let available = ClientDataBuilder.screen(samples, filter: filter).kept.count
            if available >= nonHarmfulNeeded || prompts.count < count { break }
            count += 2 * (nonHarmfulNeeded - available) + Self.slack(needed)
            logger.info("topping up benign responses", metadata: ["available": "\(available)", "needed": "\(nonHarmfulNeeded)"])
        }
        let usable = benign.filter { !$0.response.isEmpty }

        var set = try builder.build(harmful: pools.harmful, nonHarmful: usable.map(\.sample) + refusals,
                                    contamination: filter)
        var inputs = pools.files
        inputs["model"] = store.modelFile.path
        inputs["benignCache"] = prompts.isEmpty ? "-" : store.cacheURL(key: key).path
        inputs["benignCacheHit"] = String(fromCache)
        inputs["benignPromptSeed"] = String(benignPromptSeed)
        inputs["benignResponses"] = String(benign.count)
        inputs["benignEmptyResponsesDropped"] = String(benign.count - usable.count)
        inputs["benignTruncatedAtMaxTokens"] = String(usable.filter { $0.finish == FinishReason.length.rawValue }.count)
        inputs["maxResponseTokens"] = String(store.maxNewTokens)
        inputs["includeRefusals"] = String(includeRefusals)
        inputs["loaderSkippedRows"] = String(pools.skippedRows)
        set.manifest.inputs = inputs
        let files = try ClientDataWriter.write(set, to: output)
        progress(.written(directory: output))
        logger.info("client data written", metadata: [
            "directory": "\(output.path)", "clients": "\(set.clients.count)",
            "samples": "\(set.manifest.totals.samples)", "harmful": "\(set.manifest.totals.harmful)",
        ])
        return ClientDataSummary(manifest: set.manifest, clientFiles: files, directory: output,
                                 benignFromCache: fromCache, seconds: Date().timeIntervalSince(started))
    }
}
