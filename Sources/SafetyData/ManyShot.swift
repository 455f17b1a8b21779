// PyRIT 1.1.0's many-shot jailbreak examples, pyrit/datasets/jailbreak/many_shot_examples.json:
// a JSON array of 400 objects `{"user", "assistant", "category"}`, where `category` is a
// free-text verdict on the assistant's reply that starts "Harmful" or "Not harmful"
// (sometimes quoted, bolded or after "Answer:", sometimes followed by a reason).
//
// The array is split into elements by a small scanner that tracks strings and nesting, so a
// malformed element is reported with its line and the others still load.

import Foundation
import Logging

/// The many-shot file's verdict on an assistant reply.
public enum HarmVerdict: String, Hashable, Sendable, CaseIterable {
    /// The reply was judged harmful.
    case harmful
    /// The reply was judged not harmful (a refusal, a rebuttal, or benign text).
    case notHarmful
}

/// One many-shot example.
public struct ManyShotExample: Hashable, Sendable {
    /// The user's request.
    public let user: String
    /// The assistant's reply (may be harmful: never log it in full).
    public let assistant: String
    /// The verdict parsed from the `category` field.
    public let verdict: HarmVerdict
    /// Where the example's object starts.
    public let location: FileLocation

    /// Creates an example.
    public init(user: String, assistant: String, verdict: HarmVerdict, location: FileLocation) {
        self.user = user
        self.assistant = assistant
        self.verdict = verdict
        self.location = location
    }

    /// A harmful-compliance training pair when the verdict is harmful; nil otherwise (a
    /// "not harmful" reply may be a refusal or benign text, so it is not labelled).
    public var pair: PromptResponsePair? {
        guard verdict == .harmful else { return nil }
        return PromptResponsePair(prompt: user, response: assistant, label: .harmfulCompliance,
                                  category: nil, origin: .manyShot, location: location)
    }
}

/// Loads `many_shot_examples.json`.
public enum ManyShotLoader {
    /// Number of examples in the PyRIT 1.1.0 file.
    public static let expectedCount = 400

    /// Path of the file inside the extracted `pyrit-1.1.0` package.
    public static let packagePath = "pyrit/datasets/jailbreak/many_shot_examples.json"

    /// Loads the examples from `url`.
    public static func load(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<ManyShotExample> {
        let report = try parse(TextFile.read(url), file: url.path)
        logger?.loaded("many-shot examples", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Parses the text of the file.
    public static func parse(_ text: String, file: String) throws(SafetyDataError) -> LoadReport<ManyShotExample> {
        let elements: [JSONArrayScanner.Element]
        do {
            elements = try JSONArrayScanner.elements(of: text)
        } catch {
            throw .malformed(file: file, line: error.line, reason: error.reason)
        }
        var report = LoadReport<ManyShotExample>()
        for element in elements {
            let location = FileLocation(file: file, line: element.line)
            func skip(_ reason: String) { report.issues.append(LoadIssue(location: location, reason: reason)) }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(element.text.utf8))) as? [String: Any] else {
                skip("element is not a JSON object")
                continue
            }
            guard let user = (object["user"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), !user.isEmpty,
                  let assistant = (object["assistant"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !assistant.isEmpty else {
                skip("missing or empty `user` / `assistant` string")
                continue
            }
            guard let category = object["category"] as? String else { skip("missing `category` string"); continue }
            guard let verdict = verdict(from: category) else {
                skip("`category` starts with neither 'Harmful' nor 'Not harmful'")
                continue
            }
            report.records.append(ManyShotExample(user: user, assistant: assistant, verdict: verdict, location: location))
        }
        return report
    }

    /// Parses a verdict such as `Harmful.`, `**Not harmful**`, `Answer: Harmful\n\nReason: ...`.
    public static func verdict(from category: String) -> HarmVerdict? {
        var text = Substring(category.lowercased())
        text = text.drop { !$0.isLetter }
        if text.hasPrefix("answer:") { text = text.dropFirst("answer:".count).drop { !$0.isLetter } }
        if text.hasPrefix("not harmful") { return .notHarmful }
        if text.hasPrefix("harmful") { return .harmful }
        return nil
    }
}

/// Splits a top-level JSON array into the source text of its elements, with start lines.
enum JSONArrayScanner {
    struct Element {
        let line: Int
        let text: Substring
    }

    struct ScanError: Error {
        let line: Int
        let reason: String
    }

    static func elements(of text: String) throws(ScanError) -> [Element] {
        let scalars = text.unicodeScalars
        var i = scalars.startIndex
        var line = 1
        func skipSpace() {
            while i < scalars.endIndex, scalars[i].properties.isWhitespace {
                if scalars[i] == "\n" { line += 1 }
                i = scalars.index(after: i)
            }
        }
        skipSpace()
        guard i < scalars.endIndex, scalars[i] == "[" else {
            throw ScanError(line: line, reason: "expected a JSON array")
        }
        i = scalars.index(after: i)
        var elements: [Element] = []
        while true {
            skipSpace()
            guard i < scalars.endIndex else { throw ScanError(line: line, reason: "unterminated array") }
            if scalars[i] == "]", elements.isEmpty { i = scalars.index(after: i); break }
            let start = i
            let startLine = line
            var depth = 0
            var inString = false
            var escaped = false
            // Scan one element: up to a `,` or `]` at depth 0 outside strings.
            while i < scalars.endIndex {
                let c = scalars[i]
                if c == "\n" { line += 1 }
                if inString {
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                } else if c == "\"" {
                    inString = true
                } else if c == "{" || c == "[" {
                    depth += 1
                } else if c == "}" || c == "]" {
                    if depth == 0 { break }
                    depth -= 1
                } else if c == ",", depth == 0 {
                    break
                }
                i = scalars.index(after: i)
            }
            guard i < scalars.endIndex else { throw ScanError(line: startLine, reason: "unterminated array element") }
            let raw = Substring(String(scalars[start ..< i]))
            elements.append(Element(line: startLine, text: raw))
            let terminator = scalars[i]
            i = scalars.index(after: i)
            if terminator == "]" { break }
            if terminator != "," { throw ScanError(line: line, reason: "expected `,` or `]`") }
        }
        skipSpace()
        guard i == scalars.endIndex else { throw ScanError(line: line, reason: "text after the array") }
        return elements
    }
}
