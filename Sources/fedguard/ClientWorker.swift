import ArgumentParser
import Engine
import Foundation
import Logging
import RunFiles
import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// What one client round takes: the arguments of `fedguard client fit`, as paths.
struct ClientFitRequest: Codable {
    var task: String
    var global: String
    var serverControl: String?
    var data: String
    var out: String
    var state: String?
    var model: String?
}

/// Runs client rounds (`fedguard client fit`), keeping the last base model it loaded, with its
/// float copies, for the next round that names the same file (`fedguard client serve`).
final class ClientFitRunner {
    private var loaded: (path: String, model: LlamaModel)?
    /// The thread count a run configuration without `threads` gets (all cores), fixed at start so
    /// that one round's setting does not become the next round's default.
    private let defaultThreads = Parallel.threadCount

    /// Trains `request` (filter, local training, reply folder) and returns the reply; `report`
    /// receives the progress lines a terminal would show.
    func run(_ request: ClientFitRequest, logger: Logger, report: (String) -> Void) throws -> ClientReplyFile {
        let url = { (path: String) in URL(fileURLWithPath: RunCommand.absolute(path)) }
        let taskFile = try RunCommand.userFacing { try DeploymentFiles.decode(ClientTaskFile.self, from: url(request.task)) }
        var configuration = try RunCommand.userFacing { try DeployedClient.configuration(of: taskFile) }
        if let model = request.model { configuration.model = RunCommand.absolute(model) }
        Parallel.setThreadCount(configuration.threads ?? defaultThreads)
        let (modelURL, _) = try RunCommand.baseModel(configuration, logger: logger)
        let model = try self.model(at: modelURL, logger: logger)
        let hooks = try clientHooks(configuration, model: model, modelURL: modelURL, out: url(request.out), logger: logger)
        let client = DeployedClient(model: model, configuration: configuration, hooks: hooks.clientData,
                                    updateHooks: hooks.clientUpdate, logger: logger)
        let reply = try RunCommand.userFacing {
            try client.fit(task: taskFile, global: url(request.global), serverControl: request.serverControl.map(url), data: url(request.data),
                           state: request.state.map(url), out: url(request.out)) { progress in
                let t = progress.training
                if t.step == t.totalSteps || t.step % 10 == 0 {
                    report(String(format: "  %@ step %d/%d loss %.4f  %.0f tok/s", RoundRecord.Client.id(progress.clientID),
                                  t.step, t.totalSteps, t.loss, t.tokensPerSecond))
                }
            }
        }
        if let failure = reply.failure {
            report("\(RoundRecord.Client.id(reply.client)) round \(reply.round): did not train: \(failure)")
        } else {
            report(String(format: "%@ round %d: %d examples, loss %.4f, %.1f s", RoundRecord.Client.id(reply.client), reply.round,
                          reply.exampleCount, reply.metrics["loss"] ?? .nan, reply.seconds))
        }
        return reply
    }

    /// Loads the base model `path` names (nil: SmolLM2 from the asset cache) with its float copies,
    /// so that the next round on it starts training at once.
    func preload(_ path: String?, logger: Logger) throws {
        var configuration = RunConfiguration()
        configuration.model = path.map(RunCommand.absolute)
        _ = try model(at: RunCommand.baseModel(configuration, logger: logger).url, logger: logger)
    }

    /// The client-side hooks: the safety filter's judge is loaded once and kept, with the decisions
    /// it made on this client's data (as the simulation keeps them between rounds), while the filter
    /// settings and the model stay the same. Constitutional AI on the client is built every round (it
    /// writes into the round's reply folder).
    private func clientHooks(_ configuration: RunConfiguration, model: LlamaModel, modelURL: URL, out: URL,
                             logger: Logger) throws -> SimulationHooks {
        let build = {
            try RunCommand.hooks(configuration, model: model, modelURL: modelURL, runDirectory: RunDirectory(out), logger: logger, side: .client)
        }
        if configuration.cai.isEnabled, configuration.cai.placement == .client { return try build() }
        if let kept = keptHooks, kept.model == modelURL.path, kept.filter == configuration.filter { return kept.hooks }
        keptHooks = nil
        let hooks = try build()
        keptHooks = (modelURL.path, configuration.filter, hooks)
        return hooks
    }

    private var keptHooks: (model: String, filter: RunConfiguration.FilterSettings, hooks: SimulationHooks)?

    private func model(at url: URL, logger: Logger) throws -> LlamaModel {
        if let loaded, loaded.path == url.path { return loaded.model }
        loaded = nil  // one model resident at a time
        let model = try ModelLoader.load(from: url, logger: logger)
        model.makeFloatCopies()  // local training reads them all: their time belongs to loading, not to the reply's training seconds
        loaded = (url.path, model)
        return model
    }
}

/// `fedguard client serve`: client rounds on request over a Unix socket, the base model loaded once.
struct ClientServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run client rounds on request over a Unix socket, keeping the base model loaded between rounds (the Flower ClientApp's worker).",
        discussion: """
        A deployed client starts a fresh `fedguard client fit` for every round, which loads the model and makes its \
        float copies each time (~0.7 s for SmolLM2 on 2 cores). This process does it once: each connection sends one \
        JSON line with fit's arguments ({"task", "global", "server_control", "data", "out", "state", "model"}: paths), \
        or {"preload": true, "model": PATH or null} to load a model before the first round, and receives JSON lines \
        back: {"progress": TEXT} while it trains, then {"done": OUT} once the reply folder is written, or \
        {"error": MESSAGE}. One round at a time; the reply folder is the same, bit for bit, as fit writes. It exits \
        after --idle-exit seconds without a request. The socket is created owner-only (0600): whoever can connect \
        can make it read and write files as this user.
        """)

    @Option(help: ArgumentHelp("The Unix socket to listen on (an existing file there is replaced).", valueName: "PATH"))
    var socket: String

    @Option(help: ArgumentHelp("Exit after this many seconds without a request.", valueName: "SECONDS"))
    var idleExit: Double = 900

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func validate() throws {
        try Console.checkLogLevel(logLevel)
        guard idleExit.isFinite, idleExit > 0 else { throw ValidationError("--idle-exit must be a positive number of seconds") }
    }

    func run() throws {
        let logger = Console.logger(label: "fedguard.client", level: logLevel)
        signal(SIGPIPE, SIG_IGN)  // a ClientApp that went away is a failed write, not the end of the worker
        let listener = try UnixSocketListener(path: RunCommand.absolute(socket))
        defer { listener.close() }
        let runner = ClientFitRunner()
        Console.err("fedguard client serve: listening on \(listener.path) (exits after \(Console.duration(idleExit)) idle)")
        while let connection = try listener.accept(timeout: idleExit) {
            serve(connection, runner: runner, logger: logger)
            connection.close()
            // The round's buffers go back to the system: between rounds the worker holds the model
            // and its float copies, not a round's peak. (On this project's 2-core VM, holding them
            // made the server's next phase on the same machine 1-2 s slower: it faulted in memory the
            // VM had returned to its host instead of reusing the memory just freed.)
            ProcessMemory.releaseFreeHeap()
        }
        Console.err("fedguard client serve: idle for \(Console.duration(idleExit)), exiting")
    }

    private func serve(_ connection: UnixSocketConnection, runner: ClientFitRunner, logger: Logger) {
        guard let line = connection.readLine(limit: 1 << 20) else { return }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        if let preload = try? decoder.decode(PreloadRequest.self, from: line), preload.preload {
            do {
                try runner.preload(preload.model, logger: logger)
                connection.send(["done": preload.model ?? "SmolLM2"])
            } catch {
                Console.err("fedguard client serve: preloading \(preload.model ?? "SmolLM2"): \(error)")
                connection.send(["error": "\(error)"])
            }
            return
        }
        let request: ClientFitRequest
        do {
            request = try decoder.decode(ClientFitRequest.self, from: line)
        } catch {
            connection.send(["error": "a request that is not fit's arguments as JSON: \(error)"])
            return
        }
        do {
            _ = try runner.run(request, logger: logger) { line in
                Console.err(line)
                connection.send(["progress": line])
            }
            connection.send(["done": request.out])
        } catch {
            Console.err("fedguard client serve: the round failed: \(error)")
            connection.send(["error": "\(error)"])
        }
    }

    /// {"preload": true, "model": PATH or null}: load the model a run's rounds will train (sent when the node joins).
    private struct PreloadRequest: Decodable {
        var preload: Bool
        var model: String?
    }
}

/// A listening Unix stream socket, owner-only.
final class UnixSocketListener {
    let path: String
    private var descriptor: Int32

    init(path: String) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw ValidationError("--socket \(path): longer than a Unix socket path may be (\(capacity - 1) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        self.path = path
        descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw UserFacingError("socket(): \(String(cString: strerror(errno)))") }
        unlink(path)
        let previousMask = umask(0o077)  // the socket file is created 0600
        defer { umask(previousMask) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw UserFacingError("--socket \(path): \(reason)")
        }
    }

    /// The next connection, or nil when none came within `timeout` seconds.
    func accept(timeout: Double) throws -> UnixSocketConnection? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 60) * 1000))
            if ready < 0, errno == EINTR { continue }
            guard ready >= 0 else { throw UserFacingError("poll(): \(String(cString: strerror(errno)))") }
            if ready == 0 { continue }
            let connection = Glibc.accept(descriptor, nil, nil)
            if connection >= 0 {
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                return UnixSocketConnection(descriptor: connection)
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            throw UserFacingError("accept(): \(String(cString: strerror(errno)))")
        }
    }

    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
        unlink(path)
    }
}

/// One accepted connection: a request line in, JSON lines out. Writes to a peer that has gone
/// are dropped (the round's result is in the reply folder either way).
final class UnixSocketConnection {
    private let descriptor: Int32
    private var peerGone = false

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// Bytes up to the first newline (without it); nil at end of stream or past `limit` bytes.
    func readLine(limit: Int) -> Data? {
        var line = Data()
        var byte: UInt8 = 0
        while line.count < limit {
            let count = recv(descriptor, &byte, 1, 0)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return line.isEmpty ? nil : line }
            if byte == UInt8(ascii: "\n") { return line }
            line.append(byte)
        }
        return nil
    }

    /// Writes `message` as one JSON line.
    func send(_ message: [String: String]) {
        guard !peerGone, let encoded = try? JSONEncoder().encode(message) else { return }
        (encoded + Data("\n".utf8)).withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { peerGone = true; return }
                offset += written
            }
        }
    }

    func close() { Glibc.close(descriptor) }
}
