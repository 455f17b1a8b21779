import Evaluation
import Foundation
import Logging
import RunFiles
import Simulation

/// What runs a cell's pieces: the command-line tool's real model and data, or a test's tiny ones.
public protocol ExperimentExecutor {
    /// Makes sure `configuration.data.directory` holds client data, building it when absent.
    func prepareClientData(_ configuration: RunConfiguration) throws
    /// Builds the aligned start from `base` (its model and `cai` settings): `steps` standalone
    /// constitutional-AI steps, saved as a PEFT adapter in `directory`.
    func buildAlignedStart(base: RunConfiguration, steps: Int, to directory: URL) throws
    /// Runs the federated run in `directory` (created, or resumed from its checkpoint).
    func run(_ configuration: RunConfiguration, in directory: RunDirectory) throws -> SimulationSummary
    /// Evaluates the base model of `base` with `adapter` (nil: the model alone).
    func evaluate(base: RunConfiguration, adapter: URL?, evaluation: ExperimentEvaluation) throws -> EvaluationReport
}

/// Progress of an experiment.
public enum ExperimentEvent: Sendable {
    /// A cell starts (`resuming`: its run directory holds an interrupted run).
    case cellStarted(index: Int, total: Int, cell: ExperimentCell, resuming: Bool)
    /// A cell was finished before (its result is kept).
    case cellSkipped(index: Int, total: Int, cell: ExperimentCell)
    /// A cell finished; `etaSeconds` extrapolates the cells run in this process.
    case cellFinished(index: Int, total: Int, result: ExperimentCellResult, etaSeconds: Double?)
    /// The aligned start is being built.
    case buildingAlignedStart(steps: Int)
}

/// Runs an experiment's cells in order, each an ordinary run directory under `cells/`.
///
/// A finished cell has a `result.json` and is skipped on restart; an interrupted run resumes from
/// its checkpoint (bit-identically, as `fedguard run --resume`); cells with the same fraction and
/// seed share their client data, and the aligned start is built once. After every cell the
/// summary (`summary.json`, `summary.md`) is rewritten over the finished cells.
public struct ExperimentRunner {
    /// The plan.
    public let plan: ExperimentPlan
    /// The directories.
    public let layout: ExperimentLayout
    /// The executor.
    public let executor: any ExperimentExecutor
    let logger: Logger

    /// A runner of `plan` in `layout` with `executor`.
    public init(plan: ExperimentPlan, layout: ExperimentLayout, executor: any ExperimentExecutor,
                logger: Logger = Logger(label: "fedguard.experiment")) {
        self.plan = plan
        self.layout = layout
        self.executor = executor
        self.logger = logger
    }

    /// Writes `grid.yaml` on the first start; on a restart, refuses a grid that differs from the
    /// one the finished cells were made with.
    public func prepareDirectory() throws {
        let yaml = try plan.grid.yaml()
        try FileManager.default.createDirectory(at: layout.root, withIntermediateDirectories: true)
        if let existing = try? String(contentsOf: layout.gridURL, encoding: .utf8) {
            let recorded = try ExperimentGrid.load(resolvedYAML: existing)
            guard recorded == plan.grid else {
                throw ExperimentGridError(key: "(top level)", detail: "\(layout.root.path) holds an experiment with another grid "
                    + "(\(layout.gridURL.path)); continue it without a grid or preset (fedguard experiment --out \(layout.root.path)), "
                    + "or choose another --out")
            }
            return
        }
        do { try Data(yaml.utf8).write(to: layout.gridURL, options: .atomic) } catch {
            throw SimulationError.io(path: layout.gridURL.path, detail: "cannot write the grid: \(error.localizedDescription)")
        }
    }

    /// Runs every cell whose id is one of `only` or lies under one (`base/fedavg` takes
    /// `base/fedavg/h0.30/s1/none`; all cells when empty) and returns the summary over all
    /// finished cells.
    @discardableResult
    public func run(only: [String] = [], onEvent: (ExperimentEvent) -> Void = { _ in }) throws -> ExperimentSummary {
        try prepareDirectory()
        let cells = plan.cells.filter { cell in
            only.isEmpty || only.contains { path in
                let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
                return cell.id == trimmed || cell.id.hasPrefix(trimmed + "/")
            }
        }
        guard !cells.isEmpty else {
            throw ExperimentGridError(key: "--only", detail: "no cell id is or lies under \(only.joined(separator: ", ")); "
                + "`fedguard experiment --list` shows the ids")
        }
        var cellSeconds: [Double] = []
        for (offset, cell) in cells.enumerated() {
            let index = offset + 1
            if ExperimentCellResult.read(layout.resultURL(cell)) != nil {
                onEvent(.cellSkipped(index: index, total: cells.count, cell: cell))
                continue
            }
            let started = Date()
            let result = try runCell(cell, index: index, total: cells.count, onEvent: onEvent)
            try result.write(to: layout.resultURL(cell))
            cellSeconds.append(Date().timeIntervalSince(started))
            let remaining = cells[(offset + 1)...].filter { ExperimentCellResult.read(layout.resultURL($0)) == nil }.count
            let eta = cellSeconds.isEmpty ? nil : cellSeconds.reduce(0, +) / Double(cellSeconds.count) * Double(remaining)
            onEvent(.cellFinished(index: index, total: cells.count, result: result, etaSeconds: eta))
            try summary().write(layout)
        }
        let summary = try summary()
        try summary.write(layout)
        return summary
    }

    /// The summary over the cells finished so far.
    public func summary() throws -> ExperimentSummary {
        let results = plan.cells.compactMap { ExperimentCellResult.read(layout.resultURL($0)) }
        return ExperimentSummary(results: results, planned: plan.cells.count)
    }

    func runCell(_ cell: ExperimentCell, index: Int, total: Int, onEvent: (ExperimentEvent) -> Void) throws -> ExperimentCellResult {
        let base = try plan.baseConfiguration()
        if cell.start == .aligned { try ensureAlignedStart(base: base, onEvent: onEvent) }
        guard var configuration = try plan.configuration(for: cell, layout: layout) else {
            onEvent(.cellStarted(index: index, total: total, cell: cell, resuming: false))
            let adapter = cell.start == .aligned ? layout.alignedAdapter(plan.grid) : nil
            let started = Date()
            let report = try executor.evaluate(base: base, adapter: adapter, evaluation: plan.grid.evaluation)
            return ExperimentCellResult(cell: cell, evaluation: report, runSeconds: nil,
                                        evaluationSeconds: Date().timeIntervalSince(started), records: [], communicationBytes: nil)
        }
        if cell.kind == .centralised { try preparePooledData(for: cell) } else { try executor.prepareClientData(configuration) }

        let directory = layout.runDirectory(cell)
        let resuming = directory.holdsRun
        if resuming {
            let recorded = try FederatedRun.configuration(of: directory)
            configuration.threads = recorded.threads
            guard recorded == configuration else {
                throw SimulationError.runDirectory(path: directory.url.path, detail: "its config.yaml is not the grid's "
                    + "configuration for cell \(cell.id); remove the directory to run the cell again")
            }
        } else {
            try FileManager.default.createDirectory(at: directory.url.deletingLastPathComponent(), withIntermediateDirectories: true)
            configuration = try FederatedRun.createDirectory(directory, configuration: configuration)
        }
        onEvent(.cellStarted(index: index, total: total, cell: cell, resuming: resuming))
        let summary = try executor.run(configuration, in: directory)
        let started = Date()
        let report = try executor.evaluate(base: configuration, adapter: summary.finalAdapter, evaluation: plan.grid.evaluation)
        let records = try directory.records()
        // The rounds' wall times, so a run finished over several processes counts every round once.
        return ExperimentCellResult(cell: cell, evaluation: report, runSeconds: records.map(\.seconds).reduce(0, +),
                                    evaluationSeconds: Date().timeIntervalSince(started), records: records,
                                    communicationBytes: summary.ledger.totalBytes)
    }

    /// Builds the aligned start once (into a temporary directory, then renamed into place).
    func ensureAlignedStart(base: RunConfiguration, onEvent: (ExperimentEvent) -> Void) throws {
        let adapter = layout.alignedAdapter(plan.grid)
        let config = adapter.appendingPathComponent("adapter_config.json")
        if FileManager.default.fileExists(atPath: config.path) { return }
        guard plan.grid.alignedAdapter == nil else {
            throw SimulationError.io(path: adapter.path, detail: "aligned_adapter has no adapter_config.json: not a PEFT adapter")
        }
        onEvent(.buildingAlignedStart(steps: plan.grid.alignedSteps))
        let partial = adapter.deletingLastPathComponent().appendingPathComponent("adapter.partial", isDirectory: true)
        try? FileManager.default.removeItem(at: partial)
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try executor.buildAlignedStart(base: base, steps: plan.grid.alignedSteps, to: partial)
        try? FileManager.default.removeItem(at: adapter)
        try FileManager.default.moveItem(at: partial, to: adapter)
    }

    /// The centralised row's data: the federated clients' files of the same fraction and seed,
    /// concatenated in client order into one client file.
    func preparePooledData(for cell: ExperimentCell) throws {
        guard let pooledName = cell.dataName, let sourceName = cell.pooledDataName else { return }
        let pooled = layout.dataDirectory(pooledName)
        if FileManager.default.fileExists(atPath: pooled.path) { return }
        var federatedCell = cell
        federatedCell.kind = .federated
        federatedCell.start = .base
        guard let federated = try plan.configuration(for: federatedCell, layout: layout) else { return }
        try executor.prepareClientData(federated)
        let datasets = try ClientDatasets(directory: layout.dataDirectory(sourceName), clients: federated.clients, logger: logger)
        var joined = Data()
        for file in datasets.files {
            do {
                var data = try Data(contentsOf: file)
                if let last = data.last, last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
                joined.append(data)
            } catch {
                throw SimulationError.io(path: file.path, detail: "cannot read client data: \(error.localizedDescription)")
            }
        }
        let partial = pooled.deletingLastPathComponent().appendingPathComponent(pooledName + ".partial", isDirectory: true)
        try? FileManager.default.removeItem(at: partial)
        do {
            try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
            try joined.write(to: partial.appendingPathComponent("client-000.jsonl"), options: .atomic)
            try FileManager.default.moveItem(at: partial, to: pooled)
        } catch {
            throw SimulationError.io(path: pooled.path, detail: "cannot write the pooled client data: \(error.localizedDescription)")
        }
    }
}
