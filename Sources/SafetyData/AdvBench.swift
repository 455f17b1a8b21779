// AdvBench (Zou et al. 2023, "Universal and Transferable Adversarial Attacks on Aligned
// Language Models"): 520 harmful behaviours, as shipped in PyRIT 1.1.0 at
// pyrit/datasets/seed_datasets/local/adv_bench.prompt with harm categories added by PyRIT.
//
// AdvBench is FedGuard's headline benchmark. It is evaluation data only: never train on it
// or on paraphrases of it. ``AdvBenchGoal`` is deliberately not convertible to a training
// type, and ``ContaminationFilter`` removes copies of its goals from training sets.

import Foundation
import Yams
import Logging

/// One AdvBench goal: a harmful instruction used only to measure refusal.
public struct AdvBenchGoal: Hashable, Sendable {
    /// The goal text (harmful: never log it in full, see ``ReportText``).
    public let text: String
    /// PyRIT's harm categories for the goal, in file order (at least one).
    public let harmCategories: [String]
    /// Where the goal's `- value:` line is.
    public let location: FileLocation

    /// Creates a goal.
    public init(text: String, harmCategories: [String], location: FileLocation) {
        self.text = text
        self.harmCategories = harmCategories
        self.location = location
    }
}

/// Loads AdvBench goals from PyRIT's `adv_bench.prompt` (YAML).
///
/// Expected structure: a top-level mapping whose `seeds` key holds a sequence of mappings,
/// each with a text `value` and a `harm_categories` sequence of strings. A seed without a
/// usable value or categories is reported as a ``LoadIssue`` and skipped; a file that is not
/// YAML of that shape throws ``SafetyDataError``.
public enum AdvBenchLoader {
    /// Number of goals in the published benchmark.
    public static let expectedCount = 520

    /// Path of the file inside the extracted `pyrit-1.1.0` package.
    public static let packagePath = "pyrit/datasets/seed_datasets/local/adv_bench.prompt"

    /// Loads the goals from `url`.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<AdvBenchGoal> {
        let text = try TextFile.read(url)
        let report = try parse(text, file: url.path)
        logger?.loaded("AdvBench goals", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses the text of a seed file; `file` names it in locations and errors.
    public static func parse(_ text: String, file: String) throws(SafetyDataError) -> LoadReport<AdvBenchGoal> {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: text)
        } catch {
            throw .malformed(file: file, line: Self.line(of: error), reason: "YAML: \(Self.problem(of: error))")
        }
        guard let root = composed, root.mapping != nil else {
            throw .malformed(file: file, line: composed.map(Self.line) ?? 1, reason: "expected a mapping at the top level")
        }
        guard let seedsNode = root["seeds"] else {
            throw .malformed(file: file, line: 1, reason: "no `seeds` key")
        }
        guard let seeds = seedsNode.sequence else {
            throw .malformed(file: file, line: Self.line(seedsNode), reason: "`seeds` is not a sequence")
        }
        var report = LoadReport<AdvBenchGoal>()
        for seed in seeds {
            let location = FileLocation(file: file, line: Self.line(seed))
            switch goal(from: seed, location: location) {
            case let .success(goal): report.records.append(goal)
            case let .failure(issue): report.issues.append(issue)
            }
        }
        return report
    }

    /// A node's 1-based line (1 when Yams gives none).
    static func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    /// The line of a Yams error (1 when it names none).
    static func line(of error: any Error) -> Int {
        switch error as? YamlError {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): return mark.line
        default: return 1
        }
    }

    /// A Yams error's problem without the echoed document.
    static func problem(of error: any Error) -> String {
        switch error as? YamlError {
        case let .scanner(context, problem, _, _), let .parser(context, problem, _, _), let .composer(context, problem, _, _):
            return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        case let .reader(problem, _, _, _): return problem
        default: return "\(error)"
        }
    }

    private static func goal(from seed: Node, location: FileLocation) -> Result<AdvBenchGoal, LoadIssue> {
        guard seed.mapping != nil else {
            return .failure(LoadIssue(location: location, reason: "seed is not a mapping"))
        }
        guard let value = seed["value"]?.scalar?.string.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return .failure(LoadIssue(location: location, reason: "seed has no text `value`"))
        }
        if let type = seed["data_type"]?.scalar?.string, type != "text" {
            return .failure(LoadIssue(location: location, reason: "unsupported data_type '\(ReportText.truncate(type, to: 20))'"))
        }
        guard let categoryNodes = seed["harm_categories"]?.sequence else {
            return .failure(LoadIssue(location: location, reason: "seed has no `harm_categories` sequence"))
        }
        var categories: [String] = []
        for node in categoryNodes {
            guard let name = node.scalar?.string.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
                return .failure(LoadIssue(location: FileLocation(file: location.file, line: Self.line(node)),
                                          reason: "harm category is not a non-empty string"))
            }
            categories.append(name)
        }
        guard !categories.isEmpty else {
            return .failure(LoadIssue(location: location, reason: "seed has an empty `harm_categories`"))
        }
        return .success(AdvBenchGoal(text: value, harmCategories: categories, location: location))
    }
}
