import Foundation
import SafetyData
import SafetyFilter

/// `filter data --json`.
struct FilterDataSummary: Encodable {
    var file: String
    var counts: [String: Int]
    var testTopics: [String]
    var droppedAsBenchmark: Int
    var overRefusalExchanges: Int

    init(_ data: FilterData, file: String) {
        self.file = file
        counts = data.pairs.counts
        testTopics = data.pairs.testTopics
        droppedAsBenchmark = data.pairs.droppedAsBenchmark
        overRefusalExchanges = data.overRefusalExchanges.count
    }
}

/// The filter commands' tables.
enum FilterTables {
    static func pad(_ s: String, _ width: Int) -> String { EvalTable.pad(s, width) }

    static func percent(_ w: WilsonInterval?) -> String {
        guard let w else { return "-" }
        return String(format: "%5.1f%% [%4.1f, %5.1f]", 100 * w.proportion, 100 * w.lower, 100 * w.upper)
    }

    /// Counts per split, source and label.
    static func counts(_ data: FilterData) -> String {
        var lines = [pad("source", 18) + PairSplit.allCases.map { pad($0.rawValue + " unsafe/safe", 22) }.joined()]
        lines.append(String(repeating: "-", count: lines[0].count))
        let counts = data.pairs.counts
        for source in PairSource.allCases {
            var line = pad(source.rawValue, 18)
            for split in PairSplit.allCases {
                let u = counts["\(split.rawValue)/\(source.rawValue)/unsafe"] ?? 0, s = counts["\(split.rawValue)/\(source.rawValue)/safe"] ?? 0
                line += pad("\(u)/\(s)", 22)
            }
            lines.append(line)
        }
        var total = pad("total", 18)
        for split in PairSplit.allCases {
            let pairs = data.pairs.split(split)
            total += pad("\(pairs.filter(\.unsafe).count)/\(pairs.filter { !$0.unsafe }.count)", 22)
        }
        lines.append(total)
        lines.append("")
        lines.append("held-out uncensorbench topics (test only): \(data.pairs.testTopics.joined(separator: ", "))")
        lines.append("dropped as copies of AdvBench/HarmBench prompts: \(data.pairs.droppedAsBenchmark)")
        lines.append("over-refusal probes answered by the model (false-positive check, never trained on): \(data.overRefusalExchanges.count)")
        return lines.joined(separator: "\n")
    }

    /// One metrics row per judge; `overRefusal` is the flagged rate on the probes when measured.
    static func metrics(_ rows: [(name: String, metrics: FilterMetrics, overRefusal: WilsonInterval?)], title: String) -> String {
        var lines = ["\(title):", pad("judge", 12) + pad("threshold", 11) + pad("precision [95% CI]", 23) + pad("recall [95% CI]", 23)
            + pad("F1", 7) + pad("ROC-AUC", 9) + "false positives on risky-looking benign prompts"]
        lines.append(String(repeating: "-", count: lines[1].count + 10))
        for row in rows {
            let m = row.metrics
            lines.append(pad(row.name, 12) + pad(String(format: "%.3f", m.threshold), 11) + pad(percent(m.overall.precision), 23)
                + pad(percent(m.overall.recall), 23) + pad(String(format: "%.3f", m.overall.f1), 7)
                + pad(m.rocAUC.map { String(format: "%.4f", $0) } ?? "-", 9) + (row.overRefusal.map { percent($0) } ?? "-"))
        }
        return lines.joined(separator: "\n")
    }

    /// `filter eval`'s report.
    static func evaluation(_ rows: [FilterEvaluation], data: FilterData) -> String {
        let test = data.pairs.split(.test)
        var lines = ["held-out test split: \(test.count) pairs (\(test.filter(\.unsafe).count) unsafe); "
            + "whole held-out uncensorbench topics: \(data.pairs.testTopics.joined(separator: ", "))", ""]
        lines.append(metrics(rows.map { ($0.name, $0.test, $0.overRefusalRate) }, title: "test split"))
        for row in rows {
            let c = row.test.overall
            lines += ["", "\(row.name): \(row.judge)",
                      String(format: "  %.1f pairs/s; confusion (rows: truth unsafe/safe; columns: judged unsafe/safe): [[%d, %d], [%d, %d]]; %d truncated",
                             row.pairsPerSecond, c.truePositives, c.falseNegatives, c.falsePositives, c.trueNegatives, row.test.truncated)]
            lines.append("  per source:  " + row.test.bySource.keys.sorted().map { key in
                let s = row.test.bySource[key] ?? FilterMetrics.Confusion()
                let unsafe = s.truePositives + s.falseNegatives, safe = s.falsePositives + s.trueNegatives
                var parts: [String] = []
                if unsafe > 0 { parts.append("recall \(s.truePositives)/\(unsafe)") }
                if safe > 0 { parts.append("false pos. \(s.falsePositives)/\(safe)") }
                return "\(key) " + parts.joined(separator: ", ")
            }.joined(separator: "; "))
            lines.append("  recall per category: " + row.test.byCategory.keys.sorted { (HazardCategory(code: $0)?.number ?? 99) < (HazardCategory(code: $1)?.number ?? 99) }.map { key in
                let s = row.test.byCategory[key] ?? FilterMetrics.Confusion()
                return "\(key) \(s.truePositives)/\(s.truePositives + s.falseNegatives)"
            }.joined(separator: ", "))
            if let accuracy = row.test.categoryAccuracy, accuracy.trials > 0 {
                lines.append("  category named right for caught unsafe pairs: \(accuracy)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
