// PyRIT 1.1.0's human-labelled scorer evaluations, pyrit/datasets/scorer_evals/**.csv.
// Each file starts with `# dataset_version=...` comment lines, then a header naming
// `objective`, `assistant_response`, one or more `human_score*` columns and usually
// `harm_category` and `data_type` (column order varies between files). What the score
// means depends on the folder:
// - `objective/`: 1 = the response achieves the (harmful) objective, 0 = it does not;
// - `harm/`: a 0-1 harm scale in quarter steps, sometimes from three raters;
// - `refusal_scorer/`, `sample/mini_refusal.csv`: 1 = the response refuses, 0 = it does not
//   (objectives there include benign requests).

import Foundation
import Logging

/// What a scorer-eval file's human scores measure.
public enum ScorerEvalKind: String, Hashable, Sendable, CaseIterable {
    /// 1 = the response achieves the objective (harmful compliance), 0 = it does not.
    case objective
    /// A 0-1 harm scale (0, 0.25, ... 1); 1 = maximally harmful.
    case harmScale
    /// 1 = the response is a refusal, 0 = it is not.
    case refusal
}

/// One human-labelled row of a scorer-eval file.
public struct ScorerEvalRecord: Hashable, Sendable {
    /// The request given to the model.
    public let objective: String
    /// The model's response (may be harmful: never log it in full).
    public let response: String
    /// One score per rater, each in 0...1.
    public let humanScores: [Double]
    /// The file's `harm_category` column, if it has one.
    public let harmCategory: String?
    /// What the scores measure.
    public let kind: ScorerEvalKind
    /// Where the row starts.
    public let location: FileLocation

    /// The mean of ``humanScores``.
    public var meanScore: Double { humanScores.reduce(0, +) / Double(max(humanScores.count, 1)) }

    /// The training label this row supports, or nil when it is ambiguous:
    /// - ``ScorerEvalKind/objective``: every rater 1 → harmful compliance, every rater 0 → refusal
    ///   (the objective was not achieved);
    /// - ``ScorerEvalKind/harmScale``: every rater 1 → harmful compliance, every rater 0 → refusal;
    ///   intermediate scores → nil;
    /// - ``ScorerEvalKind/refusal``: 1 → refusal; 0 → nil (a non-refusal to a possibly benign
    ///   request is not a harmful pair).
    public var pairLabel: PairLabel? {
        let allOne = humanScores.allSatisfy { $0 == 1 }
        let allZero = humanScores.allSatisfy { $0 == 0 }
        switch kind {
        case .objective, .harmScale: return allOne ? .harmfulCompliance : allZero ? .refusal : nil
        case .refusal: return allOne ? .refusal : nil
        }
    }

    /// The row as a training pair, when ``pairLabel`` is not nil.
    public var pair: PromptResponsePair? {
        pairLabel.map {
            PromptResponsePair(prompt: objective, response: response, label: $0, category: harmCategory,
                               origin: .scorerEval, location: location)
        }
    }
}

/// Loads scorer-eval CSV files (one file, or every `.csv` below a directory).
public enum ScorerEvalLoader {
    /// Path of the folder inside the extracted `pyrit-1.1.0` package.
    public static let packagePath = "pyrit/datasets/scorer_evals"

    /// Loads `url` (a file or a directory).
    /// - Parameter kind: what the scores mean; nil infers it per file with ``inferKind(path:)``.
    public static func load(_ url: URL, kind: ScorerEvalKind? = nil,
                            logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<ScorerEvalRecord> {
        var report = LoadReport<ScorerEvalRecord>()
        for file in try TextFile.files(at: url, pathExtension: "csv") {
            let one = try parse(TextFile.read(file), file: file.path, kind: kind ?? inferKind(path: file.path))
            logger?.loaded("scorer evals", records: one.records.count, issues: one.issues, from: file)
            report.append(one)
        }
        return report
    }

    /// Infers a file's score meaning from its path: a `refusal` file or folder → refusal;
    /// a `harm` folder → harm scale; otherwise objective.
    public static func inferKind(path: String) -> ScorerEvalKind {
        let components = path.split(separator: "/").map { $0.lowercased() }
        if components.contains(where: { $0.contains("refusal") }) { return .refusal }
        if components.dropLast().contains("harm") { return .harmScale }
        return .objective
    }

    /// Parses the text of one file.
    public static func parse(_ text: String, file: String,
                             kind: ScorerEvalKind) throws(SafetyDataError) -> LoadReport<ScorerEvalRecord> {
        let table = try CSVTable(parsing: text, file: file, skipLeadingComments: true)
        let names = table.names
        guard let objectiveColumn = table.column("objective"), let responseColumn = table.column("assistant_response") else {
            throw .malformed(file: file, line: table.headerLine,
                             reason: "header lacks `objective` or `assistant_response` columns")
        }
        let scoreColumns = names.indices.filter { names[$0] == "human_score" || names[$0].hasPrefix("human_score_") }
        guard !scoreColumns.isEmpty else {
            throw .malformed(file: file, line: table.headerLine, reason: "header has no `human_score` column")
        }
        let categoryColumn = table.column("harm_category")
        let typeColumn = table.column("data_type")

        var report = LoadReport<ScorerEvalRecord>()
        for row in table.rows(file: file) {
            if let issue = row.issue { report.issues.append(issue); continue }
            let location = row.location
            func skip(_ reason: String) { report.issues.append(LoadIssue(location: location, reason: reason)) }
            let objective = row.fields[objectiveColumn].trimmingCharacters(in: .whitespacesAndNewlines)
            let response = row.fields[responseColumn].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !objective.isEmpty else { skip("empty objective"); continue }
            guard !response.isEmpty else { skip("empty assistant_response"); continue }
            if let typeColumn, !row.fields[typeColumn].isEmpty, row.fields[typeColumn] != "text" {
                skip("unsupported data_type '\(ReportText.truncate(row.fields[typeColumn], to: 20))'")
                continue
            }
            var scores: [Double] = []
            for column in scoreColumns {
                let raw = row.fields[column].trimmingCharacters(in: .whitespaces)
                guard let score = Double(raw), score >= 0, score <= 1 else { break }
                scores.append(score)
            }
            guard scores.count == scoreColumns.count else {
                skip("human score is not a number in 0...1")
                continue
            }
            if kind != .harmScale, scores.contains(where: { $0 != 0 && $0 != 1 }) {
                skip("\(kind.rawValue) scores must be 0 or 1")
                continue
            }
            let category = categoryColumn.map { row.fields[$0].trimmingCharacters(in: .whitespaces) }
            report.records.append(ScorerEvalRecord(objective: objective, response: response, humanScores: scores,
                                                   harmCategory: category?.isEmpty == false ? category : nil,
                                                   kind: kind, location: location))
        }
        return report
    }
}
