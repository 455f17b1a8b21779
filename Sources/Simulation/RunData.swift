import Foundation
import Logging
import Training

/// The client data of a run: one JSONL file of chat records per client in a directory, read
/// on first use and kept in memory.
///
/// Files are `client-<index>.jsonl` (any zero padding, `_` also accepted), ordered by index; client
/// `i` of the run reads the `i`-th file. Records are the shapes `DatasetLoader.loadSFT` reads.
public final class ClientDatasets {
    /// The directory.
    public let directory: URL
    /// One file per client, in client order (a deployed client's dataset: its one file).
    public let files: [URL]
    /// The client index of `files[0]` (0, or a deployed client's own index).
    public let firstClient: Int
    private var cache: [Int: [SFTExample]] = [:]
    private let logger: Logger

    /// Finds the files of `clients` clients in `directory`; throws ``SimulationError/data(_:)``
    /// when the directory is missing or holds fewer client files.
    public init(directory: URL, clients: Int, logger: Logger) throws {
        self.directory = directory
        self.logger = logger
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SimulationError.data(Self.missingMessage(directory: directory, clients: clients))
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let indexed = names.compactMap { name -> (Int, String)? in
            guard name.hasSuffix(".jsonl") else { return nil }
            let stem = name.dropLast(".jsonl".count)
            for prefix in ["client-", "client_"] where stem.hasPrefix(prefix) {
                if let index = Int(stem.dropFirst(prefix.count)) { return (index, name) }
            }
            return nil
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        for (first, second) in zip(indexed, indexed.dropFirst()) where first.0 == second.0 {
            throw SimulationError.data("data directory \(directory.path) holds two files for client \(first.0): \(first.1) and "
                + "\(second.1) (data built by an earlier FedGuard was named client-NN.jsonl); remove one")
        }
        guard indexed.count >= clients else {
            throw SimulationError.data("data directory \(directory.path) holds \(indexed.count) client files "
                + "(client-NNN.jsonl) but the configuration has clients = \(clients); build matching data "
                + "(fedguard data build --clients \(clients) --out \(directory.path)) or set clients to \(indexed.count)")
        }
        if indexed.count > clients {
            logger.notice("using the first client files only", metadata: [
                "directory": "\(directory.path)", "files": "\(indexed.count)", "clients": "\(clients)",
            ])
        }
        files = indexed.prefix(clients).map { directory.appendingPathComponent($0.1) }
        firstClient = 0
    }

    /// A deployed client's dataset: client `client` reads `file`, and no other client exists here.
    public init(file: URL, client: Int, logger: Logger) throws {
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw SimulationError.data("client data file \(file.path) does not exist or is not readable")
        }
        directory = file.deletingLastPathComponent()
        files = [file]
        firstClient = client
        self.logger = logger
    }

    /// What to do when the data directory does not exist.
    static func missingMessage(directory: URL, clients: Int) -> String {
        "client data directory \(directory.path) does not exist; build it with "
            + "`fedguard data build --clients \(clients) --out \(directory.path)` "
            + "or point data.directory at a directory of client-NNN.jsonl files (--set data.directory=DIR)"
    }

    /// The examples of client `index` (read once).
    public func examples(client index: Int) throws -> [SFTExample] {
        if let cached = cache[index] { return cached }
        guard files.indices.contains(index - firstClient) else {
            throw SimulationError.data("no data file for client \(index) (\(files.count) clients)")
        }
        let loaded = try DatasetLoader.loadSFT(from: files[index - firstClient], logger: logger).examples
        cache[index] = loaded
        return loaded
    }
}
