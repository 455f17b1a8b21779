import Evaluation
import Foundation
import RunFiles
import Simulation

/// Live progress on standard error: round r/R, client, step, loss, tokens/s, the server's steps
/// (screening, hooks, evaluation), and the run's ETA counting down between rounds.
final class RunProgressDisplay {
    private var lineOpen = false
    /// When the run is expected to end (set at each round's end from the mean round time).
    private var expectedEnd: Date?

    func handle(_ event: SimulationEvent) {
        switch event {
        case let .started(startRound, totalRounds, strategy):
            line(startRound > 1 ? "resuming at round \(startRound)/\(totalRounds) (\(strategy))"
                                : "starting \(totalRounds) rounds (\(strategy))")
        case let .roundStarted(round, totalRounds, clients, learningRate):
            line(String(format: "round %d/%d: clients %@, lr %.3g", round, totalRounds,
                        clients.map { RoundRecord.Client.id($0) }.joined(separator: " "), learningRate))
        case let .clientStep(round, totalRounds, progress):
            let t = progress.training
            let text = String(format: "  round %d/%d %@ step %d/%d loss %.4f  %.0f tok/s  client ETA %@", round, totalRounds,
                              RoundRecord.Client.id(progress.clientID), t.step, t.totalSteps, t.loss, t.tokensPerSecond,
                              Console.duration(t.etaSeconds)) + runETA()
            if Console.errorIsTerminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
                lineOpen = true
            } else if t.step == t.totalSteps {
                line(text)
            }
        case let .clientFinished(_, client):
            let loss = client.loss.map { String(format: "loss %.4f", $0) } ?? "no loss"
            line(String(format: "  %@: %@, %d examples, %.1f s, %@", client.id, loss, client.examples, client.seconds, client.status))
        case let .serverStep(round, totalRounds, step):
            line("  round \(round)/\(totalRounds) server: \(step) ..." + runETA())
        case let .roundFinished(record, totalRounds, etaSeconds):
            expectedEnd = record.round < totalRounds ? Date().addingTimeInterval(etaSeconds) : nil
            let outcome = record.keptPrevious ? "previous adapter KEPT" : "aggregated"
            let rejected = record.clients.filter { $0.status.hasPrefix("rejected") }.count
            let failed = record.clients.filter { $0.status.hasPrefix("failed") }.count
            var text = String(format: "round %d/%d done in %@: %@ (%.2f s), %d rejected, %d failed, %.2f MB down, %.2f MB up",
                              record.round, totalRounds, Console.duration(record.seconds), outcome, record.aggregationSeconds,
                              rejected, failed, Double(record.bytesDown) / 1e6, Double(record.bytesUp) / 1e6)
            if let eval = record.eval, !eval.isEmpty { text += "; " + EvaluationFigures.describe(eval) }
            if record.round < totalRounds { text += "; ETA " + Console.duration(etaSeconds) }
            line(text)
        }
    }

    func finish() { if lineOpen { FileHandle.standardError.write(Data("\n".utf8)); lineOpen = false } }

    /// `  run ETA 1m05s`, counting down from the last round's estimate; empty before the first round ends.
    private func runETA() -> String {
        expectedEnd.map { "  run ETA " + Console.duration(max($0.timeIntervalSinceNow, 0)) } ?? ""
    }

    private func line(_ text: String) {
        if lineOpen { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)); lineOpen = false }
        Console.err(text)
    }
}

/// A round's evaluation figures (`rounds.jsonl` `eval`) as one readable line: each rate as a
/// percentage with its Wilson interval and prompt count, the other judges beside the headline,
/// losses to three decimals, e.g. `AdvBench harmless 5.0% [0.9, 23.6] of 20 (GCG 5.0%, opening 10.0%)`.
enum EvaluationFigures {
    /// The figures in ``EvaluationReport/rates``' order, then the helpfulness loss, then any other key.
    static func describe(_ eval: [String: Double]) -> String {
        var parts: [String] = []
        var shown = Set<String>()
        for rate in EvaluationReport.rates {
            guard let value = eval[rate.key] else { continue }
            var text = rate.label + " " + percent(value)
            if let low = eval[rate.key + "_low"], let high = eval[rate.key + "_high"] {
                text += String(format: " [%.1f, %.1f]", low * 100, high * 100)
            }
            if let n = eval[rate.countKey] { text += " of \(Int(n))" }
            let others = EvaluationRate.secondaryJudges.compactMap { suffix, name in
                eval[rate.key + suffix].map { "\(name) \(percent($0))" }
            }
            if !others.isEmpty { text += " (" + others.joined(separator: ", ") + ")" }
            parts.append(text)
            // The rate, each judge's reading and their intervals, and the count.
            shown.formUnion(([""] + EvaluationRate.secondaryJudges.map(\.suffix)).flatMap { judge in ["", "_low", "_high"].map { rate.key + judge + $0 } })
            shown.insert(rate.countKey)
        }
        if let loss = eval["helpfulness_loss"] {
            parts.append(String(format: "helpfulness loss %.3f", loss))
            shown.formUnion(["helpfulness_loss", "helpfulness_tokens", "helpfulness_pairs"])
        }
        shown.formUnion(["arc_easy_accuracy_per_byte", "arc_easy_accuracy_per_byte_low", "arc_easy_accuracy_per_byte_high"])
        for key in eval.keys.sorted() where !shown.contains(key) {
            parts.append(String(format: "%@ %.3g", key, eval[key] ?? 0))
        }
        return parts.joined(separator: "; ")
    }

    static func percent(_ rate: Double) -> String { String(format: "%.1f%%", rate * 100) }
}
