import Engine
import Foundation
import RunFiles
import Training

/// Writing a run directory (its layout is ``RunDirectory``'s, in RunFiles).
///
/// Every file is written to a temporary name, flushed and renamed into place. A round's line is
/// appended to `rounds.jsonl` only after its checkpoint is durable; on resume the file is cut
/// back to the checkpoint's round, and adapters of later rounds are removed (they are recomputed).
extension RunDirectory {
    // MARK: - Writing

    /// Creates the directory for a new run and writes `config.yaml`; throws if it already holds a run.
    func create(configurationYAML: String) throws {
        if holdsRun {
            throw SimulationError.runDirectory(path: url.path, detail: "it already holds a run; continue it with "
                + "`fedguard run --resume \(url.path)` or choose another --out")
        }
        try Durable.makeDirectory(url)
        try Durable.makeDirectory(adaptersURL)
        try Durable.makeDirectory(checkpointURL)
        try Durable.write(Data(configurationYAML.utf8), to: configurationURL)
        if !FileManager.default.fileExists(atPath: recordsURL.path) { try Durable.write(Data(), to: recordsURL) }
        try Durable.sync(url)
    }

    /// Saves the global adapter of `round` in PEFT format (temporary directory, then rename).
    func saveAdapter(_ weights: LoRAWeights, dropout: Float, baseModel: String, round: Int) throws {
        let destination = adapterURL(round: round)
        let temporary = adaptersURL.appendingPathComponent(".\(Self.roundName(round)).tmp-\(UUID().uuidString.prefix(8))")
        try PEFTAdapter.save(weights, dropout: dropout, baseModel: baseModel, to: temporary)
        try Durable.syncTree(temporary)
        if FileManager.default.fileExists(atPath: destination.path) { try? FileManager.default.removeItem(at: destination) }
        try Durable.rename(temporary, to: destination)
    }

    /// The current length of `rounds.jsonl` in bytes.
    func recordsLength() -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: recordsURL.path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Appends `line` to `rounds.jsonl` and flushes it. With `faultRound`, the test fault
    /// `record-partial` writes half the line and kills the process.
    func appendRecord(_ line: Data, faultRound: Int) throws {
        let handle: FileHandle
        do { handle = try FileHandle(forWritingTo: recordsURL) } catch {
            throw SimulationError.io(path: recordsURL.path, detail: "cannot open for appending: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            if FaultInjection.isArmed("record-partial", round: faultRound) {
                try handle.write(contentsOf: line.prefix(line.count / 2))
                try handle.synchronize()
                FaultInjection.reach("record-partial", round: faultRound)
            }
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw SimulationError.io(path: recordsURL.path, detail: "cannot append: \(error.localizedDescription)")
        }
    }

    /// Cuts `rounds.jsonl` to `length` bytes and flushes it.
    func truncateRecords(to length: Int) throws {
        do {
            let handle = try FileHandle(forWritingTo: recordsURL)
            defer { try? handle.close() }
            try handle.truncate(atOffset: UInt64(length))
            try handle.synchronize()
        } catch {
            throw SimulationError.io(path: recordsURL.path, detail: "cannot truncate to \(length) bytes: \(error.localizedDescription)")
        }
    }

    /// Removes temporary files and every adapter after `round` (left by an interrupted run).
    func removeLeftovers(after round: Int) throws {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: adaptersURL.path)) ?? [] {
            let later = (Self.round(ofName: name) ?? 0) > round
            if name.hasPrefix(".") || later { try? fm.removeItem(at: adaptersURL.appendingPathComponent(name)) }
        }
        for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            try? fm.removeItem(at: url.appendingPathComponent(name))
        }
        try Durable.sync(adaptersURL)
    }
}
