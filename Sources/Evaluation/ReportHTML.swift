import Foundation
import RunFiles

/// Renders a ``RunReport`` as one self-contained HTML page: inline CSS and SVG, no scripts, no
/// network. Every text from the run is escaped; samples arrive already truncated.
enum ReportHTML {
    static func render(_ r: RunReport) -> String {
        var body = "<h1>FedGuard run report</h1>\n<p class=\"muted\">\(HTML.escape(r.runDirectory))</p>\n"
        body += summary(r)
        body += "<h2>Safety and helpfulness per round</h2>\n" + safetyChart(r)
        if r.rounds.contains(where: { $0.eval?["helpfulness_loss"] != nil }) {
            body += helpfulnessChart(r)
        }
        body += "<h2>Client training loss per round</h2>\n" + clientLossChart(r)
        body += "<h2>Communication per round</h2>\n" + bytesChart(r)
        body += totalsTable(r) + clientsTable(r) + roundsTable(r) + hooksTable(r) + samplesTable(r)
        body += "<h2>Configuration</h2>\n"
        body += r.configuration.map { "<pre class=\"config\">\(HTML.escape($0))</pre>\n" }
            ?? "<p class=\"muted\">config.yaml was not found.</p>\n"
        if !r.issues.isEmpty {
            body += "<h2>Issues while reading the run</h2>\n<ul>\n"
                + r.issues.map { "<li>\(HTML.escape($0))</li>" }.joined(separator: "\n") + "\n</ul>\n"
        }
        return HTML.page(title: "FedGuard run report", body: body)
    }

    // MARK: - Charts

    static func series(_ r: RunReport, _ key: String) -> [(x: Double, y: Double)] {
        r.rounds.compactMap { round in round.eval?[key].map { (Double(round.round), $0) } }
    }

    static func band(_ r: RunReport, _ key: String) -> [(x: Double, low: Double, high: Double)] {
        r.rounds.compactMap { round in
            guard let low = round.eval?[key + "_low"], let high = round.eval?[key + "_high"] else { return nil }
            return (Double(round.round), low, high)
        }
    }

    static func percent(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }

    /// A byte count in decimal units: `512 B`, `3.69 MB`, `1.20 GB`.
    static func bytes(_ n: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n), unit = 0
        while abs(value) >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.2f %@", value, units[unit])
    }

    static func safetyChart(_ r: RunReport) -> String {
        var lines: [ChartSeries] = []
        // Colours by key, so a series keeps its colour whichever others a run has.
        let colours = ["advbench_harmless": 2, "advbench_harmless_gcg": 5, "harmbench_harmless": 0, "strongreject_harmless": 4,
                       "over_refusal": 1, "rho_over_refusal": 3]
        var specs: [(String, String, String, Bool)] = []
        for rate in EvaluationReport.rates where rate.suite != nil {
            let colour = LineChart.palette[colours[rate.key] ?? 0]
            if rate == .advBench {
                specs.append((rate.key, rate.label + " (OpenFedLLM judge)", colour, false))
                specs.append((rate.key + "_gcg", rate.label + " (GCG judge)", LineChart.palette[colours[rate.key + "_gcg"] ?? 0], true))
            } else {
                specs.append((rate.key, rate.label, colour, false))
            }
        }
        for (key, name, color, dashed) in specs {
            let points = series(r, key)
            guard !points.isEmpty else { continue }
            lines.append(ChartSeries(name: name, color: color, points: points, band: dashed ? [] : band(r, key), dashed: dashed))
        }
        let harmless = lines.contains { $0.name.contains("harmless") }, refusal = lines.contains { $0.name.contains("over-refusal") }
        let title = [harmless ? "Harmless rate" : nil, refusal ? "over-refusal" : nil].compactMap { $0 }.joined(separator: " and ")
        return LineChart(title: (title.isEmpty ? "No evaluated round" : title) + " (shaded: Wilson 95% interval)", yLabel: "rate",
                         series: lines, yRange: 0...1, formatY: percent).svg() + "\n"
    }

    static func helpfulnessChart(_ r: RunReport) -> String {
        LineChart(title: "Helpfulness guard: loss on held-out benign replies (lower is better)",
                  yLabel: "nats / token",
                  series: [ChartSeries(name: "helpfulness loss", color: LineChart.palette[4],
                                       points: series(r, "helpfulness_loss"))]).svg() + "\n"
    }

    static func clientLossChart(_ r: RunReport) -> String {
        let lines = r.clientIDs.enumerated().map { index, id in
            ChartSeries(name: id, color: LineChart.palette[index % LineChart.palette.count],
                        points: r.rounds.compactMap { round in
                            round.clients.first { $0.id == id }?.loss.map { (Double(round.round), $0) }
                        }, dashed: index >= LineChart.palette.count)
        }.filter { !$0.points.isEmpty }
        return LineChart(title: "Mean training loss reported by each client", yLabel: "loss", series: lines,
                         height: 300 + 18 * Double(max(lines.count - 1, 0) / 6)).svg() + "\n"
    }

    static func bytesChart(_ r: RunReport) -> String {
        let up = r.rounds.map { (x: Double($0.round), y: Double($0.totalBytesUp)) }
        let down = r.rounds.map { (x: Double($0.round), y: Double($0.totalBytesDown)) }
        return LineChart(title: "Bytes sent per round", yLabel: "bytes",
                         series: [ChartSeries(name: "clients → server", color: LineChart.palette[0], points: up),
                                  ChartSeries(name: "server → clients", color: LineChart.palette[3], points: down)],
                         formatY: { LineChart.compact($0) + "B" }, includeZero: true).svg() + "\n"
    }

    // MARK: - Tables

    static func table(_ headers: [String], _ rows: [[String]], numericFrom: Int = 1) -> String {
        var out = "<table>\n<tr>" + headers.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            out += "<tr>" + row.enumerated().map { i, cell in
                "<td\(i >= numericFrom ? " class=\"num\"" : "")>\(HTML.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    static func summary(_ r: RunReport) -> String {
        guard let eval = r.finalEvaluation, let round = r.finalEvaluationRound else {
            return "<p class=\"muted\">No evaluated round in rounds.jsonl.</p>\n"
        }
        var rows: [[String]] = []
        func rate(_ key: String, _ name: String) {
            guard let v = eval[key] else { return }
            var text = percent(v)
            if let low = eval[key + "_low"], let high = eval[key + "_high"] {
                text += " [95% CI \(percent(low)), \(percent(high))]"
            }
            rows.append([name, text])
        }
        // Every judge's reading of each rate; the headline is named as a judge when others are there.
        for r in EvaluationReport.rates where r.suite != nil {
            let others = EvaluationRate.secondaryJudges.filter { eval[r.key + $0.suffix] != nil }
            rate(r.key, r.label + (others.isEmpty ? "" : " (OpenFedLLM judge)"))
            for judge in others { rate(r.key + judge.suffix, r.label + " (\(judge.name) judge)") }
        }
        if let loss = eval["helpfulness_loss"] { rows.append(["Helpfulness loss (nats/token)", String(format: "%.4f", loss)]) }
        if let n = eval[EvaluationRate.advBench.countKey] { rows.append(["AdvBench prompts", LineChart.compact(n)]) }
        return "<h2>Final evaluation (round \(round))</h2>\n" + table(["measure", "value"], rows)
    }

    static func totalsTable(_ r: RunReport) -> String {
        let t = r.totals
        let rows: [[String]] = [
            ["rounds", "\(t.rounds)"], ["client updates", "\(t.clientUpdates)"], ["accepted", "\(t.accepted)"],
            ["rejected", "\(t.rejected)"], ["failed", "\(t.failed)"], ["rounds keeping the previous model", "\(t.keptPrevious)"],
            ["training examples", "\(t.examples)"], ["clients → server", bytes(t.bytesUp)],
            ["server → clients", bytes(t.bytesDown)], ["client seconds", String(format: "%.1f", t.clientSeconds)],
            ["aggregation seconds", String(format: "%.1f", t.aggregationSeconds)],
        ]
        return "<h2>Totals</h2>\n" + table(["total", "value"], rows)
    }

    static func clientsTable(_ r: RunReport) -> String {
        guard !r.clients.isEmpty else { return "" }
        let rows = r.clients.map { c in
            [c.id, "\(c.rounds)", c.meanLoss.map { String(format: "%.4f", $0) } ?? "–",
             c.lastLoss.map { String(format: "%.4f", $0) } ?? "–", "\(c.rejected)", "\(c.failed)", bytes(c.bytesUp)]
        }
        return "<h2>Clients</h2>\n" + table(["client", "rounds", "mean loss", "last loss", "rejected", "failed", "bytes up"], rows)
    }

    static func roundsTable(_ r: RunReport) -> String {
        guard !r.rounds.isEmpty else { return "" }
        let rows = r.rounds.map { round -> [String] in
            let statuses = round.clients.map(\.status)
            let notOK = round.clients.filter { !$0.accepted }
                .map { "\($0.id): \($0.status)" }.joined(separator: "; ")
            return ["\(round.round)", String(format: "%.3g", round.lr), "\(statuses.count)",
                    "\(statuses.filter { $0.hasPrefix("ok") }.count)", round.keptPrevious ? "yes" : "no",
                    bytes(round.totalBytesUp), round.eval?[EvaluationRate.advBench.key].map(percent) ?? "", notOK]
        }
        return "<h2>Rounds</h2>\n" + table(["round", "lr", "clients", "ok", "kept previous", "bytes up", "harmless",
                                           "rejected / failed"], rows)
    }

    static func hooksTable(_ r: RunReport) -> String {
        let names = Set(r.rounds.flatMap { round in round.hooks.flatMap { hook, metrics in metrics.keys.map { "\(hook).\($0)" } } })
            .sorted()
        guard !names.isEmpty else { return "" }
        let rows = r.rounds.map { round in
            ["\(round.round)"] + names.map { name -> String in
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                return round.hooks[parts[0]]?[parts.count > 1 ? parts[1] : ""].map { String(format: "%.4g", $0) } ?? ""
            }
        }
        return "<h2>Hook metrics</h2>\n" + table(["round"] + names, rows)
    }

    static func samplesTable(_ r: RunReport) -> String {
        guard !r.samples.isEmpty else { return "" }
        var out = "<h2>Sample replies (truncated to \(RunReport.snippetLength) characters)</h2>\n<table>\n"
        out += "<tr><th>round</th><th>suite</th><th>prompt</th><th>reply</th><th>judged</th></tr>\n"
        for s in r.samples {
            let cls = s.judged == "refused" || s.judged == "complied" ? " class=\"\(s.judged)\"" : ""
            out += "<tr><td class=\"num\">\(s.round)</td><td>\(HTML.escape(s.suite))</td><td>\(HTML.escape(s.prompt))</td>"
                + "<td>\(HTML.escape(s.response))</td><td\(cls)>\(HTML.escape(s.judged))</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
