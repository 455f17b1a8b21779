import Foundation

/// A run directory: the one definition of its layout, and its reading.
///
/// ```
/// RUN_DIR/config.yaml                  the resolved configuration (commented YAML)
/// RUN_DIR/rounds.jsonl                 one ``RoundRecord`` per line
/// RUN_DIR/samples/round-NNNN.jsonl     evaluation samples of round NNNN, one ``RunSample`` per line
/// RUN_DIR/cai/round-NNNN.jsonl         constitutional AI's prompts, answers and revisions of round NNNN
/// RUN_DIR/adapters/round-NNNN/         the global adapter after round NNNN (PEFT format)
/// RUN_DIR/checkpoint/LATEST            the name of the newest complete checkpoint
/// RUN_DIR/checkpoint/round-NNNN/       manifest.json, global.f32, strategy.json, controls.f32
/// ```
///
/// The simulation writes it (every file to a temporary name, flushed and renamed into place; a
/// round's line is appended to `rounds.jsonl` only after its checkpoint is durable); reports and
/// the experiment read it.
public struct RunDirectory: Sendable, Equatable {
    /// The run directory.
    public let url: URL

    /// Opens (does not create) a run directory.
    public init(_ url: URL) { self.url = url.standardizedFileURL }

    /// `config.yaml`.
    public var configurationURL: URL { url.appendingPathComponent("config.yaml") }
    /// `rounds.jsonl`.
    public var recordsURL: URL { url.appendingPathComponent("rounds.jsonl") }
    /// `samples/`.
    public var samplesURL: URL { url.appendingPathComponent("samples") }
    /// `cai/`.
    public var constitutionalAIURL: URL { url.appendingPathComponent("cai") }
    /// `adapters/`.
    public var adaptersURL: URL { url.appendingPathComponent("adapters") }
    /// `checkpoint/`.
    public var checkpointURL: URL { url.appendingPathComponent("checkpoint") }

    /// `round-NNNN`.
    public static func roundName(_ round: Int) -> String { "round-" + String(format: "%04d", round) }

    /// The round number of a `round-NNNN` name (with an optional extension, e.g. `.jsonl`).
    public static func round(ofName name: String, extension ext: String = "") -> Int? {
        guard name.hasPrefix("round-"), name.hasSuffix(ext) else { return nil }
        return Int(name.dropFirst("round-".count).dropLast(ext.count))
    }

    /// `adapters/round-NNNN/`.
    public func adapterURL(round: Int) -> URL { adaptersURL.appendingPathComponent(Self.roundName(round)) }
    /// `samples/round-NNNN.jsonl`.
    public func samplesURL(round: Int) -> URL { samplesURL.appendingPathComponent(Self.roundName(round) + ".jsonl") }

    /// `cai/round-NNNN.jsonl`.
    public func constitutionalAIURL(round: Int) -> URL {
        constitutionalAIURL.appendingPathComponent(Self.roundName(round) + ".jsonl")
    }

    /// Whether the directory holds a run (its configuration).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: configurationURL.path) }

    /// The records written so far, in file order; none when `rounds.jsonl` does not exist. Throws on a
    /// line that is not a record, naming the file and line.
    public func records() throws -> [RoundRecord] {
        guard let data = FileManager.default.contents(atPath: recordsURL.path) else { return [] }
        var issues: [String] = []
        let records = Self.decodeLines(data, as: RoundRecord.self, file: recordsURL.path, issues: &issues)
        if let first = issues.first { throw RunFilesError.malformed(first) }
        return records
    }

    /// Reads everything a report shows, tolerantly: a missing file gives an empty section and a
    /// line that cannot be read is skipped; both are listed in ``RunContents/issues`` with where.
    /// Throws only when the directory does not exist.
    public func contents() throws -> RunContents {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunFilesError.notADirectory(url.path)
        }
        var run = RunContents(directory: self)
        if let data = FileManager.default.contents(atPath: configurationURL.path) {
            run.configuration = String(decoding: data, as: UTF8.self)
        } else {
            run.issues.append("config.yaml: missing")
        }
        if let data = FileManager.default.contents(atPath: recordsURL.path) {
            run.rounds = Self.decodeLines(data, as: RoundRecord.self, file: "rounds.jsonl", issues: &run.issues)
        } else {
            run.issues.append("rounds.jsonl: missing")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: samplesURL.path)) ?? []
        for name in names.sorted() {
            guard let round = Self.round(ofName: name, extension: ".jsonl"),
                  let data = FileManager.default.contents(atPath: samplesURL(round: round).path)
            else { continue }
            let lines = Self.decodeLines(data, as: RunSample.self, file: "samples/\(name)", issues: &run.issues)
            run.samples.append(RoundSamples(round: round, samples: lines))
        }
        return run
    }

    /// Writes a round's evaluation samples in full, one JSON line each, atomically (a resumed run
    /// rewrites the same file). Reports truncate them; the file keeps them whole so a verdict can be
    /// checked against the reply it judged.
    public func writeSamples(_ samples: [RunSample], round: Int) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        do {
            for sample in samples { data += try encoder.encode(sample) + Data("\n".utf8) }
            try FileManager.default.createDirectory(at: samplesURL, withIntermediateDirectories: true)
            try data.write(to: samplesURL(round: round), options: .atomic)
        } catch {
            throw RunFilesError.io(samplesURL(round: round).path, "\(error.localizedDescription)")
        }
    }

    static func decodeLines<T: Decodable>(_ data: Data, as type: T.Type, file: String, issues: inout [String]) -> [T] {
        let decoder = JSONDecoder()
        var out: [T] = []
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
            do { out.append(try decoder.decode(T.self, from: Data(line))) } catch {
                issues.append("\(file):\(index + 1): not a valid record (\(Self.reason(error)))")
            }
        }
        return out
    }

    static func reason(_ error: Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?: "missing `\(key.stringValue)`"
        case let .typeMismatch(_, context)?: "wrong type at `\(context.codingPath.map(\.stringValue).joined(separator: "."))`"
        case .dataCorrupted?: "not JSON"
        default: "unreadable"
        }
    }
}

/// Everything read from a run directory for a report.
public struct RunContents: Sendable {
    /// The directory.
    public let directory: RunDirectory
    /// `config.yaml`, verbatim (nil when absent).
    public var configuration: String?
    /// Rounds in file order.
    public var rounds: [RoundRecord] = []
    /// Sample files, by round.
    public var samples: [RoundSamples] = []
    /// Lines or files that could not be read, with where.
    public var issues: [String] = []
}

/// A sample file's lines with the round it belongs to.
public struct RoundSamples: Sendable {
    /// Round number from the file name.
    public var round: Int
    /// The samples (full text as written; report writers truncate them).
    public var samples: [RunSample]
}

/// Why a run directory could not be read.
public enum RunFilesError: Error, CustomStringConvertible, Equatable {
    /// The path is not a directory.
    case notADirectory(String)
    /// A line of a run file is not a record: `file:line: reason`.
    case malformed(String)
    /// A file could not be written.
    case io(String, String)

    public var description: String {
        switch self {
        case let .notADirectory(path): "\(path): not a run directory"
        case let .malformed(detail): detail
        case let .io(path, detail): "\(path): cannot write: \(detail)"
        }
    }
}
