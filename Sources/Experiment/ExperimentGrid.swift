import ConstitutionalAI
import Foundation
import Simulation
import Yams

// The grid of `fedguard experiment`: which federated runs to make and how to evaluate them.
//
// A grid file is YAML. Every key is optional and takes the value of the chosen preset (`smoke`
// by default); `base` is merged key by key into the preset's base run configuration, so a grid
// may change one run setting without restating the rest.

/// What a cell does about harmful client data: the paper's four rows.
public enum ExperimentMethod: String, Sendable, Codable, CaseIterable, Comparable {
    /// Plain federated fine-tuning.
    case none
    /// The client-side safety filter (`filter.kind`, the grid's `filter_kind`).
    case filter
    /// Constitutional AI after each aggregation (`cai.mode`, the grid's `cai_mode`).
    case cai
    /// Both.
    case filterAndCAI = "filter+cai"

    /// Whether the safety filter runs.
    public var filters: Bool { self == .filter || self == .filterAndCAI }
    /// Whether constitutional AI runs.
    public var usesCAI: Bool { self == .cai || self == .filterAndCAI }

    /// The table's order: none, filter, cai, filter+cai.
    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A reference row beside the grid.
public enum ExperimentReference: String, Sendable, Codable, CaseIterable {
    /// Each starting model evaluated without federation (the round-0 figure).
    case start
    /// Centralised training on the pooled client data of each fraction and seed.
    case centralised
}

/// The model the federation starts from.
public enum ExperimentStart: String, Sendable, Codable, CaseIterable {
    /// The base model with a fresh adapter (SmolLM2-135M starts unsafe).
    case base
    /// The base model after standalone constitutional AI (built once per experiment and cached),
    /// like the paper's safety-tuned starting model.
    case aligned
}

/// One entry of the strategy axis: a strategy, possibly with policies or settings of its own (a
/// DP-FedAvg or robust-aggregation column), under a label that names its cells.
public struct ExperimentStrategy: Sendable, Equatable, ExpressibleByStringLiteral {
    /// The cells' name for it (a path component: letters, digits, `+`, `-`, `_`, `.`).
    public var label: String
    /// The strategy name (`fedavg`, `fedprox`, `scaffold`, ...).
    public var strategy: String
    /// Further `--set` overrides of the run configuration, e.g. `policies=[median]`.
    public var overrides: [String]

    /// An entry; `strategy` defaults to `label`.
    public init(label: String, strategy: String? = nil, overrides: [String] = []) {
        self.label = label
        self.strategy = strategy ?? label
        self.overrides = overrides
    }

    /// A plain strategy name.
    public init(stringLiteral value: String) { self.init(label: value) }

    /// Whether `label` can name a directory.
    public var hasValidLabel: Bool {
        !label.isEmpty && label != "." && label != ".." && label != "reference" && label != "centralised"
            && label.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "+-_.".unicodeScalars.contains($0) }
    }
}

/// How each cell's final model is evaluated.
public struct ExperimentEvaluation: Sendable, Equatable {
    /// Suites, as `fedguard eval --suite` names them: advbench, harmbench, strongreject, benign, arc_easy.
    public var suites: [String]
    /// Most prompts per suite, spread evenly (nil: all).
    public var limit: Int?
    /// Most new tokens per reply.
    public var maxTokens: Int
    /// Held-out benign prompts for the helpfulness loss.
    public var helpfulnessPrompts: Int
    /// Arithmetic of the replies: `exact` (final figures) or `int8` (llama.cpp's, about twice as
    /// fast); recorded with each suite's result.
    public var arithmetic: String

    /// The suite names a grid may list.
    public static let suiteNames = ["advbench", "harmbench", "strongreject", "benign", "arc_easy"]

    /// Settings; by default AdvBench, StrongREJECT and the benign suites, whole, 64-token replies, exact arithmetic.
    public init(suites: [String] = ["advbench", "strongreject", "benign"], limit: Int? = nil, maxTokens: Int = 64,
                helpfulnessPrompts: Int = 64, arithmetic: String = "exact") {
        self.suites = suites
        self.limit = limit
        self.maxTokens = maxTokens
        self.helpfulnessPrompts = helpfulnessPrompts
        self.arithmetic = arithmetic
    }
}

/// A grid of federated runs: methods × strategies × harmful fractions × seeds × starting points,
/// plus the reference rows (each starting model without federation, and centralised training on
/// the pooled client data of each fraction and seed).
public struct ExperimentGrid: Sendable, Equatable {
    /// The base run configuration as YAML (any keys of `fedguard config show`).
    public var base: String
    /// Methods, in the table's order.
    public var methods: [ExperimentMethod]
    /// Strategies (`fedavg`, `fedprox`, `scaffold`, ...; their parameters come from `base` when it
    /// names the same strategy, else the strategy's defaults), each possibly with its own overrides.
    public var strategies: [ExperimentStrategy]
    /// Harmful fractions of the client data.
    public var harmfulFractions: [Double]
    /// Run seeds (client data, sampling, initial adapter, dropout).
    public var seeds: [UInt64]
    /// Starting points.
    public var starts: [ExperimentStart]
    /// The reference rows that run.
    public var references: [ExperimentReference]
    /// The judge of the `filter` methods (`embedding`, `guard` or `both`).
    public var filterKind: String
    /// The constitutional-AI mode of the `cai` methods (`cheap` or `full`).
    public var caiMode: CAIMode
    /// Standalone CAI steps that make the aligned start (each on `cai.prompts` prompts).
    public var alignedSteps: Int
    /// An existing PEFT adapter to use as the aligned start instead of building one.
    public var alignedAdapter: String?
    /// Evaluation of each cell's final model.
    public var evaluation: ExperimentEvaluation

    /// A grid over `base` (run configuration YAML); the other axes default to one cell per method.
    public init(base: String, methods: [ExperimentMethod] = ExperimentMethod.allCases, strategies: [ExperimentStrategy] = ["fedavg"],
                harmfulFractions: [Double] = [0.3], seeds: [UInt64] = [1], starts: [ExperimentStart] = [.base],
                references: [ExperimentReference] = ExperimentReference.allCases, filterKind: String = "embedding", caiMode: CAIMode = .cheap, alignedSteps: Int = 4,
                alignedAdapter: String? = nil, evaluation: ExperimentEvaluation = ExperimentEvaluation()) {
        self.base = base
        self.methods = methods
        self.strategies = strategies
        self.harmfulFractions = harmfulFractions
        self.seeds = seeds
        self.starts = starts
        self.references = references
        self.filterKind = filterKind
        self.caiMode = caiMode
        self.alignedSteps = alignedSteps
        self.alignedAdapter = alignedAdapter
        self.evaluation = evaluation
    }
}

/// A grid that cannot be used, with the key and what it takes.
public struct ExperimentGridError: Error, CustomStringConvertible, Equatable {
    /// The key (dotted) or `(top level)`.
    public var key: String
    /// What is wrong and what the key takes.
    public var detail: String

    /// `experiment grid: key: detail`.
    public var description: String { "experiment grid: \(key): \(detail)" }
}
