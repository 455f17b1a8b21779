// SafetyData: the model-free half of FedGuard's data and evaluation work.
//
// - Loaders for the pinned registry data sets (docs: /work/shared/ASSETS.md), each returning
//   typed records plus a list of malformed rows (file and line), never crashing on bad input:
//   ``AdvBenchLoader``, ``ManyShotLoader``, ``ScorerEvalLoader``, ``DoNotAnswerLoader``,
//   ``HarmBenchLoader``.
// - Record types keep the data sets' roles apart: ``PromptResponsePair`` may be trained on;
//   ``AdvBenchGoal`` (benchmark) and ``HeldOutPrompt`` (HarmBench, over-refusal probes) may
//   only be evaluated; ``RedTeamPrompt`` (DoNotAnswer) drives server-side red-teaming.
// - ``ContaminationFilter`` drops training items that copy a benchmark goal (exact after
//   normalisation, or near-verbatim by character 5-gram overlap).
// - ``BenignPromptGenerator`` and ``OverRefusalProbes``: benign training prompts and a disjoint
//   held-out set of benign prompts that only look risky.
// - ``PrefixRefusalJudge``: the OpenFedLLM and GCG refusal-prefix judges as typed constants.
// - ``WilsonInterval``, ``CategoryRates``, ``ReportText``: statistics and safe report text.
//
// The library never prints; loaders take an optional `Logger` and log counts, not text.

import Foundation
import Logging

/// Namespace for safety data sets and judges (see the module's files).
public enum SafetyData {}

/// Where a record came from: a file and a 1-based line number.
public struct FileLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file's path.
    public let file: String
    /// 1-based line number (for multi-line records, the line the record starts on).
    public let line: Int

    /// Creates a location.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// `file:line`.
    public var description: String { "\(file):\(line)" }
}

/// One malformed row that a loader skipped.
public struct LoadIssue: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the row starts.
    public let location: FileLocation
    /// What is wrong with it (never the row's full text: the data may be harmful).
    public let reason: String

    /// Creates an issue.
    public init(location: FileLocation, reason: String) {
        self.location = location
        self.reason = reason
    }

    /// `file:line: reason`.
    public var description: String { "\(location): \(reason)" }
}

/// What a loader returns: the well-formed records and the rows it had to skip.
public struct LoadReport<Record: Sendable>: Sendable {
    /// Well-formed records in file order (files of a directory in path order).
    public var records: [Record]
    /// Malformed rows, each naming its file and line.
    public var issues: [LoadIssue]

    /// Creates a report.
    public init(records: [Record] = [], issues: [LoadIssue] = []) {
        self.records = records
        self.issues = issues
    }

    /// Appends another report's records and issues.
    public mutating func append(_ other: LoadReport<Record>) {
        records += other.records
        issues += other.issues
    }
}

/// File-level failures: the loaders report bad rows as ``LoadIssue``s and throw only these.
public enum SafetyDataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or directory could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid UTF-8.
    case notUTF8(file: String)
    /// The file's overall structure is wrong (bad header, not a JSON array, YAML syntax...).
    case malformed(file: String, line: Int, reason: String)
    /// A directory holds no file of the expected kind.
    case noFiles(directory: String, pathExtension: String)

    /// A message a person can act on, naming the file and line.
    public var description: String {
        switch self {
        case let .unreadable(file, reason): "\(file): cannot read: \(reason)"
        case let .notUTF8(file): "\(file): not valid UTF-8 text"
        case let .malformed(file, line, reason): "\(file):\(line): \(reason)"
        case let .noFiles(directory, ext): "\(directory): no .\(ext) files found"
        }
    }
}

// MARK: - File helpers shared by the loaders

enum TextFile {
    /// The UTF-8 text of `url` (a leading byte-order mark removed).
    static func read(_ url: URL) throws(SafetyDataError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadable(file: url.path, reason: error.localizedDescription)
        }
        guard var text = String(data: data, encoding: .utf8) else { throw .notUTF8(file: url.path) }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return text
    }

    /// `url` itself if it is a file; else the files below it ending in `.ext`, in path order.
    static func files(at url: URL, pathExtension ext: String) throws(SafetyDataError) -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .unreadable(file: url.path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [url] }
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else {
            throw .unreadable(file: url.path, reason: "cannot list directory")
        }
        var found: [URL] = []
        for case let file as URL in walker where file.pathExtension.lowercased() == ext.lowercased() {
            found.append(file)
        }
        guard !found.isEmpty else { throw .noFiles(directory: url.path, pathExtension: ext) }
        return found.sorted { $0.path < $1.path }
    }

    /// Lines of `text` (LF, CRLF or CR endings), without terminators; line `i` is number `i + 1`.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }
}

extension Logger {
    /// Logs a loader's outcome: counts only, never record text.
    func loaded(_ kind: String, records: Int, issues: [LoadIssue], from url: URL) {
        info("loaded \(kind)", metadata: [
            "file": .string(url.path), "records": .stringConvertible(records),
            "issues": .stringConvertible(issues.count),
        ])
        for issue in issues.prefix(20) {
            warning("skipped malformed row", metadata: ["at": .string(issue.location.description),
                                                         "reason": .string(issue.reason)])
        }
    }
}
