import Foundation
import Logging

/// Errors of training data: reading, parsing and tokenising. Each says which file and line, and
/// what to do next.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// One bad line (file, 1-based line number, what is wrong).
    public struct LineIssue: Sendable, Equatable, CustomStringConvertible {
        /// The data file.
        public let file: String
        /// 1-based line number.
        public let line: Int
        /// What is wrong.
        public let message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    /// The file cannot be opened or read.
    case unreadable(file: String, detail: String)
    /// Some lines are not valid records: the first few, and how many in total.
    case malformedLines(first: [LineIssue], total: Int)
    /// No usable example remains.
    case empty(file: String, detail: String)
    /// An example cannot be turned into tokens (template problem, nothing left to learn after truncation).
    case tokenization(String)
    /// No assistant token of the example lies within the maximum length (such examples are dropped
    /// when building a data set).
    case noTargetWithinLength(Int)
    /// A setting is invalid.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .unreadable(let file, let detail):
            return "\(file): cannot read the data file: \(detail)"
        case .malformedLines(let first, let total):
            let listed = first.map { "  \($0)" }.joined(separator: "\n")
            let more = total > first.count ? "\n  ... and \(total - first.count) more" : ""
            return "\(total) malformed line(s) in the training data:\n\(listed)\(more)\n"
                + "fix or remove these lines, or drop them (`fedguard train --skip-malformed`; policy .skip in the API)"
        case .empty(let file, let detail):
            return "\(file): the data set is empty (\(detail)); each line must be one JSON record "
                + "(messages, prompt/response, Alpaca or prompt/chosen/rejected)"
        case .tokenization(let detail):
            return "tokenization: \(detail)"
        case .noTargetWithinLength(let length):
            return "no assistant token remains within the maximum length \(length); raise the maximum length "
                + "or shorten the prompt"
        case .invalidArgument(let detail):
            return "invalid argument: \(detail)"
        }
    }
}

/// What to do with lines that are not valid records.
public enum MalformedLinePolicy: Sendable, Equatable {
    /// Stop at the first bad line.
    case failFast
    /// Read the whole file, then fail listing the first `listed` problems and the total (the default).
    case failAfterReading(listed: Int)
    /// Drop bad lines, count them and log the first few.
    case skip

    /// `.failAfterReading(listed: 5)`.
    public static let `default` = MalformedLinePolicy.failAfterReading(listed: 5)
}

/// Examples read from a file, with what was dropped.
public struct LoadedExamples<Example: Sendable>: Sendable {
    /// The valid records in file order.
    public var examples: [Example]
    /// Malformed lines dropped under ``MalformedLinePolicy/skip``.
    public var skippedLines: Int
    /// The first few problems of the dropped lines.
    public var skippedIssues: [DatasetError.LineIssue]
}

/// Reads a JSON Lines file line by line without holding the whole file in memory.
///
/// Lines may end in `\n` or `\r\n`; a UTF-8 byte order mark at the start is ignored; blank lines are
/// skipped. Each line is handed over with its 1-based line number.
public struct JSONLLineReader {
    /// The file being read.
    public let url: URL
    let chunkSize: Int

    /// A reader of `url`, reading `chunkSize` bytes at a time.
    public init(url: URL, chunkSize: Int = 1 << 16) {
        self.url = url
        self.chunkSize = max(1, chunkSize)
    }

    /// Calls `body` with (line number, line bytes) for every non-blank line, in order.
    public func forEachLine(_ body: (Int, Data) throws -> Void) throws {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DatasetError.unreadable(file: url.path, detail: error.localizedDescription)
        }
        defer { try? handle.close() }
        var pending = Data()
        var lineNumber = 0
        var atStart = true
        func emit(_ line: Data) throws {
            lineNumber += 1
            var line = line
            if atStart {
                atStart = false
                if line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
            }
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            try body(lineNumber, Data(line))
        }
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: chunkSize) } catch {
                throw DatasetError.unreadable(file: url.path, detail: error.localizedDescription)
            }
            guard let chunk, !chunk.isEmpty else { break }
            pending.append(chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try emit(pending[start..<newline])
                start = pending.index(after: newline)
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty { try emit(pending) }
    }
}

/// Loads training examples from JSON Lines files.
public enum DatasetLoader {
    /// Supervised examples from `url`; see ``SFTExample`` for the accepted record shapes.
    ///
    /// Throws ``DatasetError``: `.malformedLines` per `policy`, `.empty` when no record is usable,
    /// `.unreadable` when the file cannot be read.
    public static func loadSFT(from url: URL, policy: MalformedLinePolicy = .default,
                               logger: Logger) throws(DatasetError) -> LoadedExamples<SFTExample> {
        try load(url, policy: policy, logger: logger, parse: ExampleParser.sft)
    }

    /// Preference examples (`{"prompt"?, "chosen", "rejected"}`) from `url`.
    public static func loadPreferences(from url: URL, policy: MalformedLinePolicy = .default,
                                       logger: Logger) throws(DatasetError) -> LoadedExamples<PreferenceExample> {
        try load(url, policy: policy, logger: logger, parse: ExampleParser.preference)
    }

    static func load<Example: Sendable>(_ url: URL, policy: MalformedLinePolicy, logger: Logger,
                                        parse: ([String: Any]) throws(LineProblem) -> Example)
        throws(DatasetError) -> LoadedExamples<Example> {
        let file = url.path
        var examples: [Example] = []
        var issues: [DatasetError.LineIssue] = []
        var issueCount = 0
        let keep: Int
        switch policy {
        case .failFast: keep = 1
        case .failAfterReading(let listed): keep = max(1, listed)
        case .skip: keep = 5
        }
        do {
            try JSONLLineReader(url: url).forEachLine { number, line in
                do {
                    let value: Any
                    do { value = try JSONSerialization.jsonObject(with: line) } catch {
                        throw LineProblem("not valid JSON (\(Self.shortReason(error)))")
                    }
                    guard let object = value as? [String: Any] else { throw LineProblem("not a JSON object") }
                    examples.append(try parse(object))
                } catch let problem as LineProblem {
                    issueCount += 1
                    if issues.count < keep { issues.append(.init(file: file, line: number, message: problem.message)) }
                    if policy == .failFast { throw StopReading() }
                }
            }
        } catch let error as DatasetError {
            throw error
        } catch is StopReading {
            throw .malformedLines(first: issues, total: issueCount)
        } catch {
            throw .unreadable(file: file, detail: "\(error)")
        }
        if issueCount > 0 {
            guard policy == .skip else { throw .malformedLines(first: issues, total: issueCount) }
            logger.warning("skipped malformed training records", metadata: [
                "file": "\(file)", "skipped": "\(issueCount)", "first": "\(issues.map(\.description))",
            ])
        }
        guard !examples.isEmpty else {
            throw .empty(file: file, detail: issueCount > 0 ? "all \(issueCount) records were malformed" : "no records")
        }
        return LoadedExamples(examples: examples, skippedLines: issueCount, skippedIssues: issues)
    }

    /// Thrown inside the line loop to stop at the first bad line.
    struct StopReading: Error {}

    /// The first line of a JSON parser error, without Foundation's boilerplate.
    static func shortReason(_ error: Error) -> String {
        let ns = error as NSError
        let detail = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
        return detail.split(separator: "\n").first.map(String.init) ?? detail
    }
}
