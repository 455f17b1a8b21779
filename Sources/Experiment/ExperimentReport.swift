import Evaluation
import Foundation
import Simulation

/// `fedguard report EXPERIMENT_DIR`: the experiment's table as one self-contained HTML page (inline
/// CSS and SVG, no scripts), plus `report.json` (the summary) and `report.csv` (one line per cell).
public enum ExperimentReport {
    /// The files written.
    public struct Files: Sendable {
        /// `report.html`, `report.json` and `report.csv`.
        public var html: URL, json: URL, csv: URL
    }

    /// Reads the experiment in `layout` (its `grid.yaml` and finished cells) and writes the report.
    public static func generate(_ layout: ExperimentLayout) throws -> (ExperimentSummary, Files) {
        let text: String
        do { text = try String(contentsOf: layout.gridURL, encoding: .utf8) } catch {
            throw SimulationError.io(path: layout.gridURL.path, detail: "not an experiment directory (no grid.yaml): \(error.localizedDescription)")
        }
        let grid = try ExperimentGrid.load(resolvedYAML: text)
        let plan = try ExperimentPlan(grid: grid, layout: layout)
        let results = plan.cells.compactMap { ExperimentCellResult.read(layout.resultURL($0)) }
        let summary = ExperimentSummary(results: results, planned: plan.cells.count)
        let files = Files(html: layout.root.appendingPathComponent("report.html"), json: layout.root.appendingPathComponent("report.json"),
                          csv: layout.root.appendingPathComponent("report.csv"))
        try summary.write(layout)
        try? FileManager.default.removeItem(at: files.json)  // replaced by the summary just written
        do {
            try FileManager.default.copyItem(at: layout.summaryJSONURL, to: files.json)
            try Data(csv(summary).utf8).write(to: files.csv, options: .atomic)
            try Data(html(summary, results: results, grid: text, root: layout.root.path).utf8).write(to: files.html, options: .atomic)
        } catch {
            throw SimulationError.io(path: layout.root.path, detail: "cannot write the report: \(error.localizedDescription)")
        }
        return (summary, files)
    }

    /// One line per finished cell: its axes, the headline metrics, the comparison and the costs.
    public static func csv(_ summary: ExperimentSummary) -> String {
        let metricKeys = ["advbench_harmless", "advbench_harmless_low", "advbench_harmless_high", "advbench_harmless_gcg",
                          "harmbench_harmless", "strongreject_harmless", "over_refusal", "rho_over_refusal", "helpfulness_loss", "arc_easy_accuracy_per_byte"]
        var lines = [(["cell", "kind", "start", "strategy", "harmful_fraction", "seed", "method"] + metricKeys
            + ["advbench_delta", "advbench_delta_low", "advbench_delta_high", "advbench_p_value", "helpfulness_change",
               "filter_seen", "filter_removed", "run_seconds", "filter_seconds", "cai_seconds", "evaluation_seconds",
               "communication_bytes", "privacy_epsilon"]).joined(separator: ",")]
        func number(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        for row in summary.rows {
            let c = row.cell
            var fields = [row.id, c.kind.rawValue, c.start.rawValue, c.strategy ?? "", c.harmfulFraction.map { String($0) } ?? "",
                          c.seed.map { String($0) } ?? "", c.method.rawValue]
            fields += metricKeys.map { number(row.metrics[$0]) }
            fields += [number(row.advBenchDelta), number(row.advBenchDeltaLow), number(row.advBenchDeltaHigh), number(row.advBenchPValue),
                       number(row.helpfulnessChange), row.filterSeen.map(String.init) ?? "", row.filterRemoved.map(String.init) ?? "",
                       number(row.runSeconds), number(row.hookSeconds["filter"]), number(row.hookSeconds["cai"]),
                       number(row.evaluationSeconds), row.communicationBytes.map(String.init) ?? "", number(row.privacyEpsilon)]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func html(_ summary: ExperimentSummary, results: [ExperimentCellResult], grid: String, root: String) -> String {
        var body = "<h1>FedGuard experiment report</h1>\n<p class=\"muted\">\(HTML.escape(root)): \(summary.rows.count) of "
            + "\(summary.planned) cells finished.</p>\n"
        body += "<p>Harmless and refusal rates are the OpenFedLLM refusal-prefix judge's, with Wilson 95% intervals. Δ is the "
            + "AdvBench difference against the <code>none</code> row of the same start, strategy, fraction and seed, with its "
            + "paired bootstrap 95% interval and the exact McNemar p-value; ** marks p &lt; 0.01.</p>\n"
        body += markdownTables(summary.paperTables())
        body += "<h2>Every cell</h2>\n" + table(summary)
        body += "<h2>AdvBench harmless rate per round</h2>\n<p class=\"muted\">The evaluation hook's figure after each round "
            + "(the run's <code>evaluation</code> settings, usually a subset of AdvBench); the final figures above are on the "
            + "grid's evaluation.</p>\n" + curves(results)
        body += "<h2>Cost per cell</h2>\n" + costTable(summary)
        body += "<h2>Grid</h2>\n<pre class=\"config\">\(HTML.escape(grid))</pre>\n"
        return HTML.page(title: "FedGuard experiment report", body: body, maxWidth: 1100)
    }

    /// The summary's Markdown tables (`## title` and `| ... |` lines) as HTML.
    static func markdownTables(_ lines: [String]) -> String {
        var out = "", inTable = false
        for line in lines {
            if line.hasPrefix("## ") {
                out += "<h2>\(HTML.escape(String(line.dropFirst(3))))</h2>\n"
            } else if line.hasPrefix("|---") {
                continue
            } else if line.hasPrefix("|") {
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                let tag = inTable ? "td" : "th"
                if !inTable { out += "<table>\n"; inTable = true }
                out += "<tr>" + cells.enumerated().map { i, c in
                    "<\(tag)\(tag == "td" && i > 0 ? " class=\"num\"" : "")>\(HTML.escape(c))</\(tag)>"
                }.joined() + "</tr>\n"
            } else if inTable {
                out += "</table>\n"
                inTable = false
            }
        }
        return out + (inTable ? "</table>\n" : "")
    }

    static func table(_ summary: ExperimentSummary) -> String {
        let lines = summary.markdown().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The first table of the Markdown is the per-cell one.
        guard let start = lines.firstIndex(where: { $0.hasPrefix("| cell |") }) else { return "" }
        let end = lines[start...].firstIndex(where: { !$0.hasPrefix("|") }) ?? lines.endIndex
        return markdownTables(Array(lines[start..<end]) + [""])
    }

    static func costTable(_ summary: ExperimentSummary) -> String {
        var lines = ["| cell | run | of which filter | of which CAI | evaluation | communication |", "|---|---|---|---|---|---|"]
        for row in summary.rows {
            let fields = [row.id, row.runSeconds.map(ExperimentSummary.duration) ?? "",
                          row.hookSeconds["filter"].map(ExperimentSummary.duration) ?? "",
                          row.hookSeconds["cai"].map(ExperimentSummary.duration) ?? "",
                          ExperimentSummary.duration(row.evaluationSeconds),
                          row.communicationBytes.map { String(format: "%.1f MB", Double($0) / 1e6) } ?? ""]
            lines.append("| " + fields.joined(separator: " | ") + " |")
        }
        return markdownTables(lines + [""])
    }

    /// One chart per start, strategy, fraction and seed: a line per method, and centralised
    /// training on the same data dashed.
    static func curves(_ results: [ExperimentCellResult]) -> String {
        struct Group: Hashable { var start: ExperimentStart, strategy: String, fraction: Double, seed: UInt64 }
        var groups: [Group] = []
        for r in results where r.cell.kind == .federated {
            guard let strategy = r.cell.strategy, let fraction = r.cell.harmfulFraction, let seed = r.cell.seed else { continue }
            let g = Group(start: r.cell.start, strategy: strategy, fraction: fraction, seed: seed)
            if !groups.contains(g) { groups.append(g) }
        }
        var out = ""
        for g in groups {
            let members = results.filter { r in
                r.cell.start == g.start && r.cell.harmfulFraction == g.fraction && r.cell.seed == g.seed
                    && (r.cell.kind == .centralised || (r.cell.kind == .federated && r.cell.strategy == g.strategy))
            }
            let series = members.enumerated().compactMap { index, r -> ChartSeries? in
                let points = r.curve.compactMap { p in p.metrics["advbench_harmless"].map { (x: Double(p.round), y: $0) } }
                guard !points.isEmpty else { return nil }
                return ChartSeries(name: r.cell.kind == .centralised ? "centralised" : r.cell.method.rawValue,
                                   color: LineChart.palette[index % LineChart.palette.count], points: points,
                                   dashed: r.cell.kind == .centralised)
            }
            guard !series.isEmpty else { continue }
            let title = String(format: "%@ start, %@, harmful %.0f%%, seed %llu", g.start.rawValue, g.strategy, 100 * g.fraction, g.seed)
            out += LineChart(title: title, yLabel: "AdvBench harmless", series: series, yRange: 0...1,
                             formatY: { String(format: "%.0f%%", 100 * $0) }).svg() + "\n"
        }
        return out.isEmpty ? "<p class=\"muted\">No per-round evaluation in the finished cells (evaluation.every is 0).</p>\n" : out
    }
}
