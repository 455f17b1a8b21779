import Assets
import Engine
import Evaluation
import Foundation
import Logging

/// The per-round evaluation hook: runs the configured suites (AdvBench harmlessness, HarmBench,
/// over-refusal, helpfulness loss) on the global adapter with the `Evaluation` module and reports
/// its metrics (`advbench_harmless`, `advbench_harmless_low`, ..., `over_refusal`,
/// `helpfulness_loss`) into the round record. Greedy decoding keeps it deterministic, so a resumed
/// run records the same figures.
public final class SuiteEvaluationHook: EvaluationHook {
    /// Suites and prompt limit.
    public let settings: EvaluationSettings
    let store: AssetStore
    let modelIdentity: String
    private var evaluator: Evaluator?

    /// Creates the hook from the run configuration's `evaluation` section; `suite` is a
    /// comma-separated list of suite names or `all`.
    public init(configuration: RunConfiguration.EvaluationSettings, modelURL: URL, store: AssetStore) throws {
        let names = configuration.suite.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var suites = Set<EvaluationSuite>()
        for name in names {
            if name == "all" { suites.formUnion(EvaluationSuite.allCases); continue }
            guard let suite = EvaluationSuite(rawValue: name) else {
                throw SimulationError.hook(name: "evaluation",
                    detail: "evaluation.suite: unknown suite '\(name)'; allowed: all, \(EvaluationSuite.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            suites.insert(suite)
        }
        settings = EvaluationSettings(suites: suites, limit: configuration.limit)
        self.store = store
        modelIdentity = Evaluator.identity(ofModelAt: modelURL)
    }

    public var name: String { "evaluation" }

    public func evaluate(_ context: EvaluationContext) throws -> [String: Double] {
        if evaluator == nil {
            let data = try EvaluationData.load(settings: settings, store: store, logger: context.logger)
            evaluator = Evaluator(data: data, settings: settings, modelIdentity: modelIdentity,
                                  cache: .standard(home: store.root), logger: context.logger)
        }
        guard let evaluator else { return [:] }
        return try evaluator.metrics(model: context.model, adapter: context.adapter)
    }
}
