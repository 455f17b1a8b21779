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
    /// comma-separated list of suite names or `all`. The suites' data is resolved (fetched on
    /// first use) here, so a run without its evaluation data stops before its first round.
    /// Samples (prompt and reply, both cut to ``sampleLength`` characters, so no full harmful
    /// completion is ever stored) are written to `samples/round-NNNN.jsonl` of `runDirectory`.
    public init(configuration: RunConfiguration.EvaluationSettings, modelURL: URL, store: AssetStore,
                runDirectory: RunDirectory? = nil, logger: Logger = Logger(label: "fedguard.evaluation")) throws {
        self.runDirectory = runDirectory
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
        let data = try EvaluationData.load(settings: settings, store: store, logger: logger)
        evaluator = Evaluator(data: data, settings: settings, modelIdentity: Evaluator.identity(ofModelAt: modelURL),
                              cache: .standard(home: store.root), logger: logger)
    }

    public var name: String { "evaluation" }

    public func evaluate(_ context: EvaluationContext) throws -> [String: Double] {
        let result = try evaluator.evaluate(model: context.model, adapter: context.adapter)
        if let runDirectory { try writeSamples(result.runSamples, round: context.round, to: runDirectory) }
        return result.metrics
    }

    /// Characters kept of a sample's prompt and reply.
    public static let sampleLength = 120

    /// Writes the round's samples atomically (a resumed run rewrites the same file).
    func writeSamples(_ samples: [RunSample], round: Int, to runDirectory: RunDirectory) throws {
        try FileManager.default.createDirectory(at: runDirectory.samplesURL, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for s in samples {
            let cut = RunSample(suite: s.suite, prompt: ReportText.truncate(s.prompt, to: Self.sampleLength),
                                response: ReportText.truncate(s.response, to: Self.sampleLength), judged: s.judged)
            data += try encoder.encode(cut) + Data("\n".utf8)
        }
        try data.write(to: runDirectory.samplesURL(round: round), options: .atomic)
    }
}
