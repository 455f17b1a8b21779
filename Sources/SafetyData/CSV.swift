// An RFC 4180 CSV reader: comma-separated fields; fields in double quotes may hold commas,
// line breaks and doubled quotes (`""` for `"`); records end at LF, CRLF or CR.
// Lenient where Python's csv module is lenient (a quote inside an unquoted field is kept as
// text), strict where data would be lost (text after a closing quote, an unterminated quote):
// such records carry a `problem` instead of throwing, so a loader can report file and line.
// reference: RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180)

/// One CSV record.
public struct CSVRecord: Equatable, Sendable {
    /// 1-based line on which the record starts.
    public let line: Int
    /// The fields, unquoted.
    public let fields: [String]
    /// Why the record is malformed, or nil.
    public let problem: String?
}

/// Reads CSV text into records.
public enum CSVReader {
    /// Parses `text`.
    /// - Parameter skipLeadingComments: lines starting with `#` before the first record are
    ///   skipped (PyRIT's scorer-eval files start with `# dataset_version=...`). A `#` later in
    ///   the file is data: it can start a line inside a quoted field.
    public static func parse(_ text: String, skipLeadingComments: Bool = false) -> [CSVRecord] {
        var records: [CSVRecord] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var afterClosingQuote = false
        var problem: String?
        var atRecordStart = true
        var inLeadingComment = false
        var sawRecord = false
        var previousWasCR = false
        var recordHadQuote = false  // `""` alone on a line is a record with one empty field

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            afterClosingQuote = false
        }
        func endRecord() {
            endField()
            let blank = fields.count == 1 && fields[0].isEmpty && problem == nil && !recordHadQuote
            if !blank {
                records.append(CSVRecord(line: recordLine, fields: fields, problem: problem))
                sawRecord = true
            }
            fields = []
            problem = nil
            recordHadQuote = false
            atRecordStart = true
        }

        for scalar in text.unicodeScalars {
            let crlfTail = previousWasCR && scalar == "\n"
            previousWasCR = scalar == "\r"
            if crlfTail { continue }  // the LF of a CRLF already ended the line
            let isBreak = scalar == "\n" || scalar == "\r"

            if inLeadingComment {
                if isBreak {
                    inLeadingComment = false
                    line += 1
                }
                continue
            }
            if atRecordStart {
                recordLine = line
                atRecordStart = false
                if skipLeadingComments, !sawRecord, scalar == "#" {
                    inLeadingComment = true
                    atRecordStart = true
                    continue
                }
            }
            if inQuotes {
                if scalar == "\"" {
                    inQuotes = false
                    afterClosingQuote = true
                } else {
                    if isBreak {
                        line += 1
                        field.append("\n")  // line breaks inside fields are normalised to LF
                    } else {
                        field.append(scalar)
                    }
                }
                continue
            }
            switch scalar {
            case ",":
                endField()
            case "\n", "\r":
                line += 1
                endRecord()
            case "\"":
                if afterClosingQuote {  // `""` inside a quoted field
                    field.append("\"")
                    inQuotes = true
                    afterClosingQuote = false
                } else if field.isEmpty {
                    inQuotes = true
                    recordHadQuote = true
                } else {
                    field.append(scalar)  // stray quote in an unquoted field: keep it
                }
            default:
                if afterClosingQuote, problem == nil {
                    problem = "text after a closing quote in field \(fields.count + 1)"
                }
                field.append(scalar)
            }
        }
        if inQuotes { problem = "unterminated quoted field (opened in field \(fields.count + 1))" }
        if !atRecordStart || inQuotes { endRecord() }
        return records
    }
}

/// A CSV file with a header row: the column names, and the records that have one field per column.
/// Loaders read fields by name, so column order may vary between files.
struct CSVTable {
    /// Column names, trimmed and lowercased.
    let names: [String]
    /// Line of the header.
    let headerLine: Int
    /// Records after the header, malformed ones included (see ``rows(file:)``).
    let records: [CSVRecord]

    /// Parses `text`; a file without a header row is an error naming `file`.
    init(parsing text: String, file: String, skipLeadingComments: Bool = false) throws(SafetyDataError) {
        let all = CSVReader.parse(text, skipLeadingComments: skipLeadingComments)
        guard let header = all.first else { throw .malformed(file: file, line: 1, reason: "no header row") }
        names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        headerLine = header.line
        records = Array(all.dropFirst())
    }

    /// The index of column `name` (lowercase).
    func column(_ name: String) -> Int? { names.firstIndex(of: name) }

    /// The records after the header in file order, each with where it starts and, when it is
    /// malformed or has another field count than the header, the issue that rejects it.
    func rows(file: String) -> [CSVRow] {
        records.map { record in
            let location = FileLocation(file: file, line: record.line)
            let reason = record.problem
                ?? (record.fields.count == names.count ? nil : "expected \(names.count) fields, found \(record.fields.count)")
            return CSVRow(fields: record.fields, location: location, issue: reason.map { LoadIssue(location: location, reason: $0) })
        }
    }
}

/// A record of a ``CSVTable``.
struct CSVRow {
    /// The fields (one per column when ``issue`` is nil).
    let fields: [String]
    /// Where the record starts.
    let location: FileLocation
    /// Why the record cannot be used, or nil.
    let issue: LoadIssue?
}
