import Federation
import Foundation
import RunFiles

/// Everything a run needs to continue after round `round` exactly as if it had not stopped.
///
/// Client sampling, trainer seeds and hook seeds are pure functions of (seed, round, client)
/// (``RunSeeds``, ``ClientSampler``), so no generator state is saved; the strategy's state (server
/// optimiser moments, SCAFFOLD's server control, DP noise stream and accountant, screening tally)
/// is saved through ``Strategy/encodedState()``.
struct RunState {
    /// Rounds completed.
    var round: Int
    /// The global adapter after `round`.
    var global: TensorMap
    /// The strategy's encoded state.
    var strategyState: Data
    /// SCAFFOLD: each client's control variate `c_i`.
    var clientControls: [Int: TensorMap]
    /// SCAFFOLD: the last round each client's reply was aggregated in (a deployed client keeps
    /// its control variates and is told which one to start from).
    var controlRounds: [Int: Int]
    /// Communication so far.
    var ledger: CommunicationLedger
    /// Length of `rounds.jsonl` before the line of `round`.
    var recordsPrefix: Int
    /// The line of `round` in `rounds.jsonl` (nil for round 0).
    var recordLine: Data?
}

/// The checkpoint files: `checkpoint/round-NNNN/` (written to a temporary directory, flushed and
/// renamed) and `checkpoint/LATEST` naming the newest complete one (replaced atomically).
enum RunCheckpoint {
    static let formatVersion = 1
    static let latestName = "LATEST"

    struct Manifest: Codable {
        var format: Int
        var round: Int
        var seed: UInt64
        var seedDerivation: String
        var strategy: String
        var layout: TensorLayout
        var controlClients: [Int]
        /// Client index → round (absent in checkpoints written before deployment existed).
        var controlRounds: [String: Int]?
        var ledger: CommunicationLedger
        var recordsPrefix: Int
        var recordLine: String?

        enum CodingKeys: String, CodingKey {
            case format, round, seed, seedDerivation = "seed_derivation", strategy, layout
            case controlClients = "control_clients", controlRounds = "control_rounds", ledger, recordsPrefix = "records_prefix", recordLine = "record_line"
        }
    }

    /// Writes `state` durably and makes it the latest checkpoint.
    static func write(_ state: RunState, seed: UInt64, strategyName: String, in directory: RunDirectory) throws {
        let root = directory.checkpointURL
        try Durable.makeDirectory(root)
        let name = RunDirectory.roundName(state.round)
        let temporary = root.appendingPathComponent(".\(name).tmp-\(UUID().uuidString.prefix(8))")
        try Durable.makeDirectory(temporary)
        try Durable.writeFlushed(FloatFile.data(state.global.values), to: temporary.appendingPathComponent("global.f32"))
        FaultInjection.reach("checkpoint-partial", round: state.round)
        try Durable.writeFlushed(state.strategyState, to: temporary.appendingPathComponent("strategy.json"))
        let controlClients = state.clientControls.keys.sorted()
        let controls = controlClients.flatMap { state.clientControls[$0]?.values ?? [] }
        try Durable.writeFlushed(FloatFile.data(controls), to: temporary.appendingPathComponent("controls.f32"))
        let manifest = Manifest(
            format: formatVersion, round: state.round, seed: seed, seedDerivation: "RunSeeds v1; ClientSampler",
            strategy: strategyName, layout: state.global.layout, controlClients: controlClients,
            controlRounds: state.controlRounds.isEmpty ? nil : Dictionary(uniqueKeysWithValues: state.controlRounds.map { (String($0.key), $0.value) }),
            ledger: state.ledger,
            recordsPrefix: state.recordsPrefix, recordLine: state.recordLine.map { String(decoding: $0, as: UTF8.self) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try Durable.writeFlushed(try encoder.encode(manifest), to: temporary.appendingPathComponent("manifest.json"))
        try Durable.sync(temporary)

        let destination = root.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: destination.path) { try? FileManager.default.removeItem(at: destination) }
        try Durable.rename(temporary, to: destination)
        FaultInjection.reach("checkpoint-renamed", round: state.round)
        try Durable.write(Data((name + "\n").utf8), to: root.appendingPathComponent(latestName))
        FaultInjection.reach("checkpoint-committed", round: state.round)
        removeStale(in: root, keeping: name)
    }

    /// Removes checkpoints other than `keeping` and temporary directories.
    static func removeStale(in root: URL, keeping: String?) {
        let fm = FileManager.default
        for entry in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] where entry != latestName && entry != keeping {
            try? fm.removeItem(at: root.appendingPathComponent(entry))
        }
    }

    /// The latest complete checkpoint, or nil when none was committed.
    static func read(from directory: RunDirectory) throws -> RunState? {
        let root = directory.checkpointURL
        guard let latest = FileManager.default.contents(atPath: root.appendingPathComponent(latestName).path) else {
            return nil
        }
        let name = String(decoding: latest, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let folder = root.appendingPathComponent(name)
        func contents(_ file: String) throws -> Data {
            let path = folder.appendingPathComponent(file).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SimulationError.runDirectory(path: directory.url.path, detail: "checkpoint file \(path) is missing")
            }
            return data
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: try contents("manifest.json")) } catch let error as SimulationError {
            throw error
        } catch {
            throw SimulationError.runDirectory(path: directory.url.path, detail: "checkpoint \(name)/manifest.json is unreadable: \(error)")
        }
        guard manifest.format == formatVersion else {
            throw SimulationError.runDirectory(path: directory.url.path,
                                               detail: "checkpoint format \(manifest.format); this version reads \(formatVersion)")
        }
        let global = try TensorMap(layout: manifest.layout, values: try FloatFile.values(try contents("global.f32"), path: folder.path))
        let controlValues = try FloatFile.values(try contents("controls.f32"), path: folder.path)
        let size = manifest.layout.elementCount
        guard controlValues.count == size * manifest.controlClients.count else {
            throw SimulationError.runDirectory(path: directory.url.path, detail: "checkpoint \(name)/controls.f32 has the wrong size")
        }
        var controls: [Int: TensorMap] = [:]
        for (i, client) in manifest.controlClients.enumerated() {
            controls[client] = try TensorMap(layout: manifest.layout, values: Array(controlValues[(i * size)..<((i + 1) * size)]))
        }
        return RunState(round: manifest.round, global: global, strategyState: try contents("strategy.json"),
                        clientControls: controls,
                        controlRounds: Dictionary(uniqueKeysWithValues: (manifest.controlRounds ?? [:]).compactMap { key, value in
                            Int(key).map { ($0, value) }
                        }),
                        ledger: manifest.ledger, recordsPrefix: manifest.recordsPrefix,
                        recordLine: manifest.recordLine.map { Data($0.utf8) })
    }
}
