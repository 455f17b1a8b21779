import ArgumentParser
import Evaluation
import Experiment
import Foundation

/// `fedguard report RUN_DIR`: a self-contained HTML report (inline SVG charts) and `report.json`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write report.html and report.json for a run or experiment directory.",
        discussion: """
        For a run: reads config.yaml, rounds.jsonl and samples/round-NNNN.jsonl (missing pieces are tolerated \
        and listed in the report). For an experiment (a directory with grid.yaml): the paper's table with the \
        paper's figures beside ours, every cell with its significance marks, per-round curves and costs, as \
        report.html, report.json and report.csv. The HTML needs no network and runs no scripts; sample prompts and replies \
        are truncated so no full harmful completion is shown.
        """)

    @Argument(help: "The run directory written by `fedguard run`, or an experiment directory of `fedguard experiment`.")
    var runDirectory: String

    func run() throws {
        let url = URL(fileURLWithPath: (runDirectory as NSString).expandingTildeInPath, isDirectory: true)
        let layout = ExperimentLayout(root: url)
        if FileManager.default.fileExists(atPath: layout.gridURL.path) {
            let (summary, files) = try ExperimentCommand.userFacing { try ExperimentReport.generate(layout) }
            Console.out("cells: \(summary.rows.count) of \(summary.planned) finished")
            for file in [files.html, files.json, files.csv] { Console.out("wrote \(file.path)") }
            return
        }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UserFacingError("\(url.path) is not a directory")
        }
        // A run has config.yaml or rounds.jsonl (either may be missing after a crash, not both).
        guard ["config.yaml", "rounds.jsonl"].contains(where: { fm.fileExists(atPath: url.appendingPathComponent($0).path) }) else {
            throw UserFacingError("\(url.path) is neither a run directory (no config.yaml, no rounds.jsonl) nor an experiment "
                + "directory (no grid.yaml); nothing to report")
        }
        let (report, json, html) = try RunReport.generate(runDirectory: url)
        for issue in report.issues { Console.err("note: \(issue)") }
        Console.out("rounds: \(report.totals.rounds)  clients: \(report.clients.count)")
        Console.out("wrote \(html.path)")
        Console.out("wrote \(json.path)")
    }
}
