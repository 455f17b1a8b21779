// A small YAML subset parser, enough for PyRIT's `.prompt` seed files (and similar):
// block mappings and block sequences by indentation (including `key:` followed by a
// sequence at the same indentation and `- key: value` mappings inside sequences), plain
// scalars folded over continuation lines, single- and double-quoted scalars (multi-line),
// literal `|` and folded `>` block scalars, `#` comments, and flow sequences of scalars
// (`[a, 'b']`). Not supported: anchors, aliases, tags, flow mappings, multiple documents.
// Scalars stay strings; the caller types them.
// reference: YAML 1.2.2 spec, chapters 6-8 (https://yaml.org/spec/1.2.2/)

/// A parsed YAML node; `line` is the 1-based line where it starts.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar (all scalars are kept as strings).
    case scalar(String, line: Int)
    /// A block or flow sequence.
    case sequence([YAMLNode], line: Int)
    /// A block mapping, keys in file order.
    case mapping([YAMLEntry], line: Int)

    /// The line the node starts on.
    public var line: Int {
        switch self {
        case let .scalar(_, line), let .sequence(_, line), let .mapping(_, line): line
        }
    }

    /// The scalar's text, or nil.
    public var string: String? {
        if case let .scalar(text, _) = self { return text }
        return nil
    }

    /// The sequence's items, or nil.
    public var items: [YAMLNode]? {
        if case let .sequence(items, _) = self { return items }
        return nil
    }

    /// The value stored under `key` if this is a mapping.
    public subscript(key: String) -> YAMLNode? {
        if case let .mapping(entries, _) = self { return entries.first { $0.key == key }?.value }
        return nil
    }
}

/// One `key: value` entry of a mapping.
public struct YAMLEntry: Sendable, Equatable {
    /// The key.
    public let key: String
    /// The value.
    public let value: YAMLNode
}

/// A syntax error at a 1-based line.
public struct YAMLSyntaxError: Error, Equatable, Sendable {
    /// Line of the problem.
    public let line: Int
    /// What is wrong.
    public let reason: String
}

/// Parses the supported YAML subset.
public enum YAMLSubset {
    /// Parses one document; an empty document is an empty mapping.
    public static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode {
        var parser = Parser(text: text)
        return try parser.document()
    }
}

private struct Line {
    let number: Int
    var indent: Int
    var text: Substring  // without indentation; never blank, never a whole-line comment
}

private struct Parser {
    let raw: [Substring]  // every physical line, for quoted and block scalars
    var lines: [Line] = []  // significant lines
    var index = 0

    init(text: String) {
        raw = TextFile.lines(text)
        for (i, line) in raw.enumerated() {
            let body = line.drop { $0 == " " }
            if body.isEmpty || body.hasPrefix("#") || body == "---" || body == "..." { continue }
            lines.append(Line(number: i + 1, indent: line.count - body.count, text: body))
        }
    }

    mutating func document() throws(YAMLSyntaxError) -> YAMLNode {
        guard let first = lines.first else { return .mapping([], line: 1) }
        if first.text.hasPrefix("\t") { throw YAMLSyntaxError(line: first.number, reason: "tab indentation") }
        let node = try block(indent: first.indent)
        if index < lines.count {
            throw YAMLSyntaxError(line: lines[index].number, reason: "unexpected indentation")
        }
        return node
    }

    /// A block node whose first line is the current line, at exactly `indent`.
    mutating func block(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let line = lines[index]
        if isSequenceItem(line.text) { return try sequence(indent: indent) }
        if splitKey(line.text) != nil { return try mapping(indent: indent) }
        return try scalar(startingAt: line, parentIndent: indent - 1)
    }

    mutating func sequence(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let start = lines[index].number
        var items: [YAMLNode] = []
        while index < lines.count, lines[index].indent == indent, isSequenceItem(lines[index].text) {
            let line = lines[index]
            let rest = line.text.dropFirst().drop { $0 == " " }
            if rest.isEmpty || rest.hasPrefix("#") {
                index += 1
                guard index < lines.count, lines[index].indent > indent else {
                    items.append(.scalar("", line: line.number))
                    continue
                }
                items.append(try block(indent: lines[index].indent))
            } else {
                // Re-read the item's content as a line of its own, indented past the dash.
                let inner = indent + (line.text.count - rest.count)
                lines[index] = Line(number: line.number, indent: inner, text: rest)
                items.append(try block(indent: inner))
            }
        }
        return .sequence(items, line: start)
    }

    mutating func mapping(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let start = lines[index].number
        var entries: [YAMLEntry] = []
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard let (key, rest) = splitKey(line.text) else {
                throw YAMLSyntaxError(line: line.number, reason: "expected `key: value`")
            }
            if entries.contains(where: { $0.key == key }) {
                throw YAMLSyntaxError(line: line.number, reason: "duplicate key '\(key)'")
            }
            let value: YAMLNode
            if rest.isEmpty || rest.hasPrefix("#") {
                index += 1
                if index < lines.count, lines[index].indent > indent {
                    value = try block(indent: lines[index].indent)
                } else if index < lines.count, lines[index].indent == indent, isSequenceItem(lines[index].text) {
                    value = try sequence(indent: indent)  // `key:` then `- item` at the same indentation
                } else {
                    value = .scalar("", line: line.number)
                }
            } else {
                let valueLine = Line(number: line.number, indent: line.indent, text: rest)
                value = try scalar(startingAt: valueLine, parentIndent: indent)
            }
            entries.append(YAMLEntry(key: key, value: value))
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLSyntaxError(line: lines[index].number, reason: "unexpected indentation")
        }
        return .mapping(entries, line: start)
    }

    /// A scalar (or flow sequence) starting with `line.text`; continuation lines must be
    /// indented past `parentIndent`. Consumes the lines it uses.
    mutating func scalar(startingAt line: Line, parentIndent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let text = line.text
        switch text.first {
        case "'", "\"":
            return .scalar(try quoted(line: line), line: line.number)
        case "|", ">":
            return .scalar(try blockScalar(line: line, parentIndent: parentIndent), line: line.number)
        case "[":
            index += 1
            return try flowSequence(text, line: line.number)
        case "{":
            index += 1
            guard stripComment(text) == "{}" else {
                throw YAMLSyntaxError(line: line.number, reason: "flow mappings are not supported")
            }
            return .mapping([], line: line.number)
        case "&", "*", "!":
            throw YAMLSyntaxError(line: line.number, reason: "anchors, aliases and tags are not supported")
        default:
            var parts = [String(stripComment(text))]
            var previous = line.number
            index += 1
            while index < lines.count, lines[index].indent > parentIndent {
                if splitKey(lines[index].text) != nil {  // `: ` cannot occur in a plain scalar
                    throw YAMLSyntaxError(line: lines[index].number, reason: "unexpected indentation of `key:`")
                }
                let blanks = lines[index].number - previous - 1  // blank lines fold to newlines
                parts.append(blanks > 0 ? String(repeating: "\n", count: blanks) : " ")
                parts.append(String(stripComment(lines[index].text)))
                previous = lines[index].number
                index += 1
            }
            return .scalar(parts.joined(), line: line.number)
        }
    }

    /// A single- or double-quoted scalar, possibly spanning several physical lines.
    mutating func quoted(line: Line) throws(YAMLSyntaxError) -> String {
        let quote = line.text.first ?? "'"
        var physical = line.number - 1  // index into `raw`
        var chars = Array(line.text.dropFirst())
        var out = ""
        var position = 0
        var blankLines = 0
        while true {
            if position >= chars.count {
                // Fold to the next physical line: a newline becomes a space, blank lines newlines.
                physical += 1
                guard physical < raw.count else {
                    throw YAMLSyntaxError(line: line.number, reason: "unterminated quoted scalar")
                }
                if blankLines == 0 { while out.last == " " || out.last == "\t" { out.removeLast() } }
                let body = raw[physical].drop { $0 == " " || $0 == "\t" }
                if body.isEmpty {  // each blank line is a newline; the first break is dropped
                    out.append("\n")
                    blankLines += 1
                    chars = []
                    position = 0
                    continue
                }
                if blankLines == 0 { out.append(" ") }
                blankLines = 0
                chars = Array(body)
                position = 0
                continue
            }
            let c = chars[position]
            if c == quote {
                if quote == "'", position + 1 < chars.count, chars[position + 1] == "'" {
                    out.append("'")
                    position += 2
                    continue
                }
                let trailing = String(chars[(position + 1)...]).drop { $0 == " " }
                guard trailing.isEmpty || trailing.hasPrefix("#") else {
                    throw YAMLSyntaxError(line: physical + 1, reason: "text after closing quote")
                }
                break
            }
            if quote == "\"", c == "\\" {
                position += 1
                guard position < chars.count else {  // escaped line break: join without a space
                    physical += 1
                    guard physical < raw.count else {
                        throw YAMLSyntaxError(line: line.number, reason: "unterminated quoted scalar")
                    }
                    chars = Array(raw[physical].drop { $0 == " " || $0 == "\t" })
                    position = 0
                    continue
                }
                out.append(try escape(chars, &position, line: physical + 1))
                continue
            }
            out.append(c)
            position += 1
        }
        // Skip the physical lines the scalar used.
        while index < lines.count, lines[index].number <= physical + 1 { index += 1 }
        return out
    }

    func escape(_ chars: [Character], _ position: inout Int, line: Int) throws(YAMLSyntaxError) -> String {
        let c = chars[position]
        position += 1
        let simple: [Character: String] = ["n": "\n", "t": "\t", "r": "\r", "0": "\0", "\"": "\"",
                                           "\\": "\\", "/": "/", " ": " ", "e": "\u{1B}", "a": "\u{07}",
                                           "b": "\u{08}", "N": "\u{85}", "_": "\u{A0}"]
        if let s = simple[c] { return s }
        let width: Int? = c == "x" ? 2 : c == "u" ? 4 : c == "U" ? 8 : nil
        guard let width, position + width <= chars.count,
              let value = UInt32(String(chars[position ..< position + width]), radix: 16),
              let scalar = Unicode.Scalar(value) else {
            throw YAMLSyntaxError(line: line, reason: "bad escape '\\\(c)'")
        }
        position += width
        return String(Character(scalar))
    }

    /// `|` or `>` block scalar with optional chomping (`-`, `+`) and indentation digit.
    mutating func blockScalar(line: Line, parentIndent: Int) throws(YAMLSyntaxError) -> String {
        let header = stripComment(line.text)
        let literal = header.first == "|"
        let chomp = header.contains("-") ? "strip" : header.contains("+") ? "keep" : "clip"
        var body: [Substring] = []
        var physical = line.number  // index of the next physical line in `raw`
        var blockIndent: Int?
        if let digit = header.dropFirst().first(where: \.isNumber)?.wholeNumberValue {
            blockIndent = max(parentIndent, 0) + digit
        }
        while physical < raw.count {
            let candidate = raw[physical]
            let content = candidate.drop { $0 == " " }
            let indent = candidate.count - content.count
            if content.isEmpty {
                body.append("")
                physical += 1
                continue
            }
            if blockIndent == nil { blockIndent = indent }
            guard let blockIndent, indent >= blockIndent, indent > parentIndent else { break }
            body.append(candidate.dropFirst(blockIndent))
            physical += 1
        }
        var trailingBlanks = 0
        while body.last == "" {
            body.removeLast()
            trailingBlanks += 1
        }
        var text = ""
        for (i, piece) in body.enumerated() {
            if i > 0 {
                let previous = body[i - 1]
                let folds = !literal && !piece.isEmpty && !previous.isEmpty && !piece.hasPrefix(" ") && !previous.hasPrefix(" ")
                text += folds ? " " : "\n"
            }
            text += piece
        }
        switch chomp {
        case "strip": break
        case "keep": text += String(repeating: "\n", count: trailingBlanks + (body.isEmpty ? 0 : 1))
        default: if !body.isEmpty { text += "\n" }
        }
        while index < lines.count, lines[index].number <= physical { index += 1 }
        return text
    }

    func flowSequence(_ text: Substring, line: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let body = stripComment(text)
        guard body.hasSuffix("]") else {
            throw YAMLSyntaxError(line: line, reason: "flow sequences must close on their line")
        }
        let inner = body.dropFirst().dropLast()
        var items: [YAMLNode] = []
        var current = ""
        var quote: Character?
        for c in inner {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "," {
                items.append(.scalar(current.trimmingCharacters(in: .whitespaces), line: line))
                current = ""
            } else if c == "[" || c == "{" {
                throw YAMLSyntaxError(line: line, reason: "nested flow collections are not supported")
            } else {
                current.append(c)
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty || !items.isEmpty { items.append(.scalar(last, line: line)) }
        return .sequence(items, line: line)
    }

    func isSequenceItem(_ text: Substring) -> Bool {
        text == "-" || text.hasPrefix("- ")
    }

    /// Splits `key: rest` (key plain or quoted); nil if the line is not a mapping entry.
    func splitKey(_ text: Substring) -> (String, Substring)? {
        if let q = text.first, q == "'" || q == "\"" {
            guard let close = text.dropFirst().firstIndex(of: q) else { return nil }
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":"), after.count == 1 || after.dropFirst().first == " " else { return nil }
            return (String(text[text.index(after: text.startIndex) ..< close]), after.dropFirst().drop { $0 == " " })
        }
        if text.hasPrefix("#") || isSequenceItem(text) { return nil }
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == ":" {
                let next = text.index(after: i)
                if next == text.endIndex || text[next] == " " {
                    let key = text[..<i].trimmingCharacters(in: .whitespaces)
                    return key.isEmpty ? nil : (key, text[next...].drop { $0 == " " })
                }
            }
            if text[i] == "#", i > text.startIndex, text[text.index(before: i)] == " " { return nil }
            i = text.index(after: i)
        }
        return nil
    }

    /// Drops a trailing ` # comment` from a plain scalar and trims trailing spaces.
    func stripComment(_ text: Substring) -> Substring {
        var previous: Character = " "
        for i in text.indices {
            if text[i] == "#", previous == " " || previous == "\t" {
                return trimTrailing(text[..<i])
            }
            previous = text[i]
        }
        return trimTrailing(text)
    }

    func trimTrailing(_ text: Substring) -> Substring {
        var end = text.endIndex
        while end > text.startIndex, text[text.index(before: end)] == " " || text[text.index(before: end)] == "\t" {
            end = text.index(before: end)
        }
        return text[..<end]
    }
}
