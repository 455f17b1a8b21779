import Foundation
import RunFiles
import Simulation

/// One row of the experiment: a federated run, or a reference row.
public struct ExperimentCell: Sendable, Hashable, Codable {
    /// What the row is.
    public enum Kind: String, Sendable, Codable {
        /// A federated run of the grid.
        case federated
        /// The starting model evaluated as it is (no federation).
        case startingModel = "starting_model"
        /// Centralised training on the pooled client data of a fraction and seed (the
        /// non-federated baseline): one client holding every client's data, trained for as many
        /// optimizer steps per round as the federation's sampled clients take together.
        case centralised
    }

    /// The row's kind.
    public var kind: Kind
    /// The starting point.
    public var start: ExperimentStart
    /// The method (`none` for reference rows).
    public var method: ExperimentMethod
    /// The strategy's label in the grid (nil for the starting model; `fedavg` for centralised training).
    public var strategy: String?
    /// The harmful fraction (nil for the starting model).
    public var harmfulFraction: Double?
    /// The seed (nil for the starting model).
    public var seed: UInt64?

    /// The cell's path under the experiment's `cells/` directory, which is also its name in tables:
    /// `base/fedavg/h0.30/s1/filter+cai`, `aligned/reference/start`, `base/centralised/h0.30/s1`.
    public var id: String {
        let fraction = harmfulFraction.map { String(format: "h%.2f", $0) } ?? ""
        let seedName = seed.map { "s\($0)" } ?? ""
        switch kind {
        case .startingModel: return "\(start.rawValue)/reference/start"
        case .centralised: return "\(start.rawValue)/centralised/\(fraction)/\(seedName)"
        case .federated: return "\(start.rawValue)/\(strategy ?? "?")/\(fraction)/\(seedName)/\(method.rawValue)"
        }
    }

    /// The name of the client data directory the row trains on (shared by every cell with the
    /// same fraction and seed), nil for the starting model.
    public var dataName: String? {
        guard let harmfulFraction, let seed else { return nil }
        return String(format: "h%.2f-s%llu", harmfulFraction, seed) + (kind == .centralised ? "-pooled" : "")
    }

    /// The federated data directory a centralised row pools (nil otherwise).
    public var pooledDataName: String? {
        guard kind == .centralised, let harmfulFraction, let seed else { return nil }
        return String(format: "h%.2f-s%llu", harmfulFraction, seed)
    }
}

/// The cells of a grid, in running order, with each cell's run configuration.
public struct ExperimentPlan: Sendable {
    /// The grid.
    public let grid: ExperimentGrid
    /// Every cell: per start its reference row, then per fraction and seed the centralised row and
    /// the federated cells (strategies, then methods).
    public let cells: [ExperimentCell]

    /// Plans `grid`; every cell's configuration is loaded once here, so a grid that makes an
    /// invalid run configuration fails before anything runs.
    public init(grid: ExperimentGrid, layout: ExperimentLayout) throws {
        self.grid = grid
        var cells: [ExperimentCell] = []
        for start in grid.starts {
            if grid.references.contains(.start) {
                cells.append(ExperimentCell(kind: .startingModel, start: start, method: .none, strategy: nil,
                                            harmfulFraction: nil, seed: nil))
            }
            for fraction in grid.harmfulFractions {
                for seed in grid.seeds {
                    if grid.references.contains(.centralised) {
                        cells.append(ExperimentCell(kind: .centralised, start: start, method: .none, strategy: "fedavg",
                                                    harmfulFraction: fraction, seed: seed))
                    }
                    for strategy in grid.strategies {
                        for method in grid.methods {
                            cells.append(ExperimentCell(kind: .federated, start: start, method: method, strategy: strategy.label,
                                                        harmfulFraction: fraction, seed: seed))
                        }
                    }
                }
            }
        }
        self.cells = cells
        for cell in cells where cell.kind != .startingModel {
            _ = try configuration(for: cell, layout: layout)
        }
    }

    /// The base run configuration (what the starting-model rows evaluate with).
    public func baseConfiguration() throws -> RunConfiguration {
        do { return try RunConfiguration.load(yaml: grid.base) } catch {
            throw ExperimentGridError(key: "base", detail: error.description)
        }
    }

    /// The `--set` overrides that turn the base configuration into `cell`'s.
    public func overrides(for cell: ExperimentCell, layout: ExperimentLayout) throws -> [String] {
        guard cell.kind != .startingModel, let fraction = cell.harmfulFraction, let seed = cell.seed,
              let dataName = cell.dataName else { return [] }
        let base = try baseConfiguration()
        var overrides = ["seed=\(seed)", "data.build.harmful_fraction=\(fraction)",
                         "data.directory=\(layout.dataDirectory(dataName).path)"]
        let variant = cell.kind == .centralised ? ExperimentStrategy(label: "fedavg")
            : grid.strategies.first { $0.label == cell.strategy } ?? ExperimentStrategy(label: cell.strategy ?? "fedavg")
        if base.strategy.name != variant.strategy { overrides.append("strategy=\(variant.strategy)") }
        overrides += variant.overrides
        overrides.append("filter.kind=" + (cell.method.filters ? grid.filterKind : "none"))
        overrides.append("cai.mode=" + (cell.method.usesCAI ? grid.caiMode.rawValue : "off"))
        if cell.start == .aligned { overrides.append("initial_adapter=\(layout.alignedAdapter(grid).path)") }
        if cell.kind == .centralised {
            overrides += ["clients=1", "clients_per_round=1", "min_replies=1"]
            if let steps = base.local.steps { overrides.append("local.steps=\(steps * base.clientsPerRound)") }
        }
        return overrides
    }

    /// `cell`'s run configuration (nil for a starting-model row, which does not train).
    public func configuration(for cell: ExperimentCell, layout: ExperimentLayout) throws -> RunConfiguration? {
        guard cell.kind != .startingModel else { return nil }
        let overrides = try overrides(for: cell, layout: layout)
        do { return try RunConfiguration.load(yaml: grid.base, overrides: overrides) } catch {
            throw ExperimentGridError(key: "base", detail: "cell \(cell.id): \(error.description)")
        }
    }
}

/// Where an experiment keeps its files.
public struct ExperimentLayout: Sendable {
    /// The experiment directory.
    public let root: URL

    /// The layout of the experiment directory `root`.
    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `grid.yaml`: the resolved grid, written on the first start and checked on every restart.
    public var gridURL: URL { root.appendingPathComponent("grid.yaml") }
    /// `summary.json`: the table over the finished cells.
    public var summaryJSONURL: URL { root.appendingPathComponent("summary.json") }
    /// `summary.md`: the same as Markdown.
    public var summaryMarkdownURL: URL { root.appendingPathComponent("summary.md") }
    /// A cell's directory.
    public func cellDirectory(_ cell: ExperimentCell) -> URL { root.appendingPathComponent("cells/" + cell.id, isDirectory: true) }
    /// A cell's run directory.
    public func runDirectory(_ cell: ExperimentCell) -> RunDirectory { RunDirectory(cellDirectory(cell).appendingPathComponent("run")) }
    /// A cell's result, written when the cell is finished (its presence marks the cell done).
    public func resultURL(_ cell: ExperimentCell) -> URL { cellDirectory(cell).appendingPathComponent("result.json") }
    /// A client data directory shared by cells.
    public func dataDirectory(_ name: String) -> URL { root.appendingPathComponent("data/" + name, isDirectory: true) }
    /// The aligned start: the grid's `aligned_adapter`, or the one built in `aligned-start/adapter`.
    public func alignedAdapter(_ grid: ExperimentGrid) -> URL {
        if let path = grid.alignedAdapter {
            return URL(fileURLWithPath: (path as NSString).expandingTildeInPath, isDirectory: true).standardizedFileURL
        }
        return root.appendingPathComponent("aligned-start/adapter", isDirectory: true)
    }
}
