import ArgumentParser
import Evaluation
import Foundation

/// `fedguard report RUN_DIR`: a self-contained HTML report (inline SVG charts) and `report.json`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write report.html and report.json for a federation run directory.",
        discussion: """
        Reads config.yaml, rounds.jsonl and samples/round-NNNN.jsonl (missing pieces are tolerated and \
        listed in the report). The HTML needs no network and runs no scripts; sample prompts and replies \
        are truncated so no full harmful completion is shown.
        """)

    @Argument(help: "The run directory written by `fedguard run`.")
    var runDirectory: String

    func run() throws {
        let url = URL(fileURLWithPath: (runDirectory as NSString).expandingTildeInPath, isDirectory: true)
        let (report, json, html) = try RunReport.generate(runDirectory: url)
        for issue in report.issues { Console.err("note: \(issue)") }
        Console.out("rounds: \(report.totals.rounds)  clients: \(report.clients.count)")
        Console.out("wrote \(html.path)")
        Console.out("wrote \(json.path)")
    }
}
