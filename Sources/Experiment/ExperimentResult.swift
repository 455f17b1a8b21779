import Evaluation
import Foundation
import RunFiles
import Simulation

/// A finished cell: its evaluation and what its run cost (`cells/<id>/result.json`).
public struct ExperimentCellResult: Codable, Sendable {
    /// The cell.
    public var cell: ExperimentCell
    /// The final model's evaluation (per-prompt verdicts included, for paired tests).
    public var evaluation: EvaluationReport
    /// Wall time of the federated run in the process that finished it (nil for the starting model).
    public var runSeconds: Double?
    /// Wall time of the final evaluation.
    public var evaluationSeconds: Double
    /// Hook time per hook (`filter`, `cai`, ...) summed over rounds and clients, from rounds.jsonl.
    public var hookSeconds: [String: Double]
    /// Bytes sent between server and clients over the run.
    public var communicationBytes: Int?
    /// Pairs the safety filter saw and removed over the run (nil without a filter).
    public var filterSeen: Int?, filterRemoved: Int?
    /// The evaluation hook's metrics per round (the convergence curve).
    public var curve: [CurvePoint]
    /// ε spent by DP-FedAvg over the run (its accountant's figure after the last round; nil without it).
    public var privacyEpsilon: Double?

    /// One evaluated round.
    public struct CurvePoint: Codable, Sendable, Equatable {
        /// The round (1-based).
        public var round: Int
        /// The evaluation hook's metrics after it.
        public var metrics: [String: Double]
    }

    enum CodingKeys: String, CodingKey {
        case cell, evaluation, runSeconds = "run_seconds", evaluationSeconds = "evaluation_seconds"
        case hookSeconds = "hook_seconds", communicationBytes = "communication_bytes"
        case filterSeen = "filter_seen", filterRemoved = "filter_removed", curve, privacyEpsilon = "privacy_epsilon"
    }

    /// A result from the run's records (nil records for the starting model).
    public init(cell: ExperimentCell, evaluation: EvaluationReport, runSeconds: Double?, evaluationSeconds: Double,
                records: [RoundRecord], communicationBytes: Int?) {
        self.cell = cell
        self.evaluation = evaluation
        self.runSeconds = runSeconds
        self.evaluationSeconds = evaluationSeconds
        self.communicationBytes = communicationBytes
        var seconds: [String: Double] = [:]
        var seen = 0, removed = 0, filtered = false
        for record in records {
            for (hook, metrics) in record.hooks {
                if let s = metrics["seconds"] { seconds[hook, default: 0] += s }
                if hook == "filter" {
                    filtered = true
                    seen += Int(metrics["seen"] ?? 0)
                    removed += Int(metrics["removed"] ?? 0)
                }
            }
        }
        hookSeconds = seconds
        filterSeen = filtered ? seen : nil
        filterRemoved = filtered ? removed : nil
        curve = records.compactMap { record in record.eval.map { CurvePoint(round: record.round, metrics: $0) } }
        privacyEpsilon = records.last { $0.strategy["dp.epsilon"] != nil }?.strategy["dp.epsilon"]
    }

    /// Reads a result file; nil when it is missing or unreadable (the cell then runs again).
    public static func read(_ url: URL) -> ExperimentCellResult? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try? JSONDecoder().decode(Self.self, from: data)
    }

    /// Writes the result atomically (a crash leaves no half-written file that would mark the cell done).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw SimulationError.io(path: url.path, detail: "cannot write the cell result: \(error.localizedDescription)")
        }
    }
}
