import Assets
import Engine
import Evaluation
import Foundation
import Logging
import RunFiles
import SafetyData

/// The per-round evaluation hook: runs the configured suites (AdvBench harmlessness, HarmBench,
/// over-refusal, helpfulness loss) on the global adapter with the `Evaluation` module and reports
/// its metrics (`advbench_harmless`, `advbench_harmless_low`, ..., `over_refusal`,
/// `helpfulness_loss`) into the round record. Greedy decoding keeps it deterministic, so a resumed
/// run records the same figures.
public final class SuiteEvaluationHook: EvaluationHook {
    /// Suites and prompt limit.
    public let settings: EvaluationSettings
    /// The run directory whose `samples/round-NNNN.jsonl` receive the samples, if any.
    let runDirectory: RunDirectory?
    let evaluator: Evaluator

    /// Creates the hook from the run configuration's `evaluation` section; `suite` is a
    /// comma-separated list of ``EvaluationSuite/listNames``. The suites' data is resolved (fetched on
    /// first use) here, so a run without its evaluation data stops before its first round.
    /// Samples (prompt and full reply with its verdict) are written to `samples/round-NNNN.jsonl` of
    /// `runDirectory`; reports show them truncated.
    public init(configuration: RunConfiguration.EvaluationSettings, modelURL: URL, store: AssetStore,
                runDirectory: RunDirectory? = nil, logger: Logger = Logger(label: "fedguard.evaluation")) throws {
        self.runDirectory = runDirectory
        let suites: Set<EvaluationSuite>
        do { suites = try EvaluationSuite.parse(list: configuration.suite) } catch {
            throw SimulationError.hook(name: "evaluation", detail: "evaluation.suite: \(error)")
        }
        settings = EvaluationSettings(suites: suites, limit: configuration.limit)
        let data = try EvaluationData.load(settings: settings, store: store, logger: logger)
        evaluator = Evaluator(data: data, settings: settings, modelIdentity: Evaluator.identity(ofModelAt: modelURL),
                              cache: .standard(home: store.root), logger: logger)
    }

    public var name: String { "evaluation" }

    public func evaluate(_ context: EvaluationContext) throws -> [String: Double] {
        let result = try evaluator.evaluate(model: context.model, adapter: context.adapter)
        try runDirectory?.writeSamples(result.runSamples, round: context.round)
        return result.metrics
    }

}
