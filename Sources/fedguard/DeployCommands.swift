import ArgumentParser
import Engine
import Foundation
import Logging
import RunFiles
import Simulation

/// `fedguard server`: the server of a deployed run, one subcommand per phase of a round, all state
/// in the run directory (what the Flower ServerApp in `flower/` calls).
struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "The server of a run whose clients train on other machines (called by the Flower ServerApp).",
        discussion: """
        A deployed round: `server configure` writes the round's tasks and global adapter into a round directory; \
        the transport carries each task to its client (`fedguard client fit`) and the reply folders back into the \
        round directory's replies/; `server aggregate` screens and aggregates them, runs constitutional AI and \
        evaluation, and commits the round with a checkpoint. The run directory is an ordinary one (fedguard report \
        reads it) and its adapters equal `fedguard run`'s for the same configuration, bit for bit.
        """,
        subcommands: [ServerInitCommand.self, ServerConfigureCommand.self, ServerAggregateCommand.self])

    /// The server of the run in `path`, with the hooks the phase needs.
    static func server(runPath: String, withHooks: Bool, logger: Logger) throws -> DeployedServer {
        let directory = RunDirectory(URL(fileURLWithPath: RunCommand.absolute(runPath)))
        let configuration = try RunCommand.userFacing { try FederatedRun.configuration(of: directory) }
        Parallel.setThreadCount(configuration.threads ?? Parallel.threadCount)
        let (modelURL, name) = try RunCommand.baseModel(configuration, logger: logger)
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        let layout = try AdapterLayout(model: model, configuration: configuration.lora.configuration)
        let hooks = withHooks
            ? try RunCommand.hooks(configuration, model: model, modelURL: modelURL, runDirectory: directory, logger: logger, side: .server)
            : SimulationHooks()
        let run = FederatedRun(configuration: configuration, model: model, baseModelName: name, directory: directory,
                               client: RemoteClients(), hooks: hooks, layout: layout, logger: logger)
        return DeployedServer(run: run)
    }
}

/// `fedguard server init`: creates the run directory (or reports the existing one's progress).
struct ServerInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a deployed run's directory from a configuration (kept if it exists: the run resumes).")

    @Argument(help: "YAML run configuration (default: the built-in defaults).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a configuration key (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(name: .customLong("run"), help: "The run directory.")
    var runDirectory: String

    @Flag(help: "Build the configuration's client data directory when it is missing, as `fedguard run` does (for a deployment whose nodes share this machine).")
    var buildData = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func run() throws {
        let logger = Console.logger(label: "fedguard.server", level: logLevel)
        let directory = RunDirectory(URL(fileURLWithPath: RunCommand.absolute(runDirectory)))
        if directory.holdsRun {
            let (configuration, done) = try RunCommand.userFacing {
                (try FederatedRun.configuration(of: directory), try FederatedRun.completedRounds(in: directory))
            }
            Console.err("run directory \(directory.url.path) exists: \(done) of \(configuration.rounds) rounds done; it continues")
            Console.out(try Self.json(configuration, completed: done, logger: logger))
            return
        }
        var configuration = RunCommand.resolvedForNewRun(try RunCommand.loadConfiguration(config, overrides: overrides))
        guard configuration.adversaries.isEmpty else {
            throw UserFacingError("the configuration names adversaries: poisoned clients exist in the simulation only (a "
                + "deployment's clients are real processes); remove the adversaries section")
        }
        if buildData {
            let (modelURL, _) = try RunCommand.baseModel(configuration, logger: logger)
            try RunCommand.ensureClientData(configuration, modelURL: modelURL, logger: logger)
        }
        configuration = try RunCommand.userFacing { try FederatedRun.createDirectory(directory, configuration: configuration) }
        Console.err("run directory \(directory.url.path) created: \(configuration.rounds) rounds, \(configuration.clients) clients, "
            + "\(configuration.clientsPerRound) per round")
        Console.out(try Self.json(configuration, completed: 0, logger: logger))
    }

    /// What the caller (the ServerApp, the deployment script) needs: rounds, clients, progress, the
    /// base model the clients train (nil: SmolLM2 from each machine's asset cache; the ServerApp
    /// tells joining nodes, whose worker loads it before the first round) and, when the data
    /// directory is on this machine, each client's data file.
    struct Summary: Encodable {
        var rounds: Int
        var clients: Int
        var completed: Int
        var model: String?
        var dataFiles: [String]?

        enum CodingKeys: String, CodingKey { case rounds, clients, completed, model, dataFiles = "data_files" }
    }

    static func json(_ configuration: RunConfiguration, completed: Int, logger: Logger) throws -> String {
        let files = try? ClientDatasets(directory: URL(fileURLWithPath: configuration.data.directory), clients: configuration.clients,
                                        logger: logger).files.map(\.path)
        let summary = Summary(rounds: configuration.rounds, clients: configuration.clients, completed: completed,
                              model: configuration.model, dataFiles: files)
        return String(decoding: try DeploymentFiles.encode(summary), as: UTF8.self)
    }
}

/// The options of a round's phases: the run, the round directory, the log level.
struct ServerRoundOptions: ParsableArguments {
    @Option(name: .customLong("run"), help: "The run directory.")
    var runDirectory: String

    @Option(help: ArgumentHelp("The round directory: `configure` writes it (replacing it), `aggregate` reads it and the "
        + "clients' reply folders in its replies/.", valueName: "ROUND_DIR"))
    var roundDir: String

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    var roundURL: URL { URL(fileURLWithPath: RunCommand.absolute(roundDir)) }
}

/// `fedguard server configure`: plans the next round into a round directory.
struct ServerConfigureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configure",
        abstract: "Write the next round's tasks (client-NNN.json), global adapter and plan.json into ROUND_DIR; print the plan as JSON.",
        discussion: "Prints {\"finished\": true} when every round is done.")

    @OptionGroup var options: ServerRoundOptions

    func run() throws {
        let logger = Console.logger(label: "fedguard.server", level: options.logLevel)
        let server = try ServerCommand.server(runPath: options.runDirectory, withHooks: false, logger: logger)
        guard let plan = try RunCommand.userFacing({ try server.configure(into: options.roundURL) }) else {
            Console.out("{\"finished\": true}")
            return
        }
        Console.err("round \(plan.round)/\(plan.rounds): clients \(plan.clients.map { RoundRecord.Client.id($0) }.joined(separator: " "))")
        Console.out(String(decoding: try DeploymentFiles.encode(plan), as: UTF8.self))
    }
}

/// `fedguard server aggregate`: completes the planned round from its replies.
struct ServerAggregateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Screen and aggregate the replies in ROUND_DIR/replies, run the server hooks and evaluation, commit the round.",
        discussion: "Prints the round's record (a rounds.jsonl line).")

    @OptionGroup var options: ServerRoundOptions

    func run() throws {
        let logger = Console.logger(label: "fedguard.server", level: options.logLevel)
        let server = try ServerCommand.server(runPath: options.runDirectory, withHooks: true, logger: logger)
        let record = try RunCommand.userFacing { try server.aggregate(roundDirectory: options.roundURL) }
        let display = RunProgressDisplay()
        display.handle(.roundFinished(record: record, totalRounds: server.run.configuration.rounds, etaSeconds: .nan))
        Console.out(String(decoding: try record.jsonLine(), as: UTF8.self), terminator: "")
    }
}

/// `fedguard client`: a deployed client (what the Flower ClientApp calls on a SuperNode).
struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "A client of a deployed run (called by the Flower ClientApp).",
        subcommands: [ClientFitCommand.self, ClientServeCommand.self])
}

/// `fedguard client fit`: one client's round on this machine's data.
struct ClientFitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Filter this client's data, train from the global adapter, write the reply folder (reply.json, adapter.safetensors).",
        discussion: """
        The task (client-NNN.json from `fedguard server configure`) carries the run's configuration, seeds and \
        learning rate; the client trains exactly as `fedguard run`'s client of the same index would. Only the adapter, \
        the example count, training metrics and the filter's counts leave the client. SCAFFOLD's control variates stay \
        in --state.
        """)

    @Option(help: "The task file (client-NNN.json).")
    var task: String

    @Option(name: .customLong("global"), help: "The global adapter (global.safetensors).")
    var globalAdapter: String

    @Option(help: "SCAFFOLD's server control (server_control.safetensors).")
    var serverControl: String?

    @Option(help: "This client's chat JSONL.")
    var data: String

    @Option(help: ArgumentHelp("The reply folder to write.", valueName: "DIR"))
    var out: String

    @Option(help: ArgumentHelp("This client's state directory (SCAFFOLD's control variates).", valueName: "DIR"))
    var state: String?

    @Option(help: "The base model on this machine (default: the run's model, or SmolLM2 from the asset cache).")
    var model: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func run() throws {
        let logger = Console.logger(label: "fedguard.client", level: logLevel)
        let request = ClientFitRequest(task: task, global: globalAdapter, serverControl: serverControl, data: data, out: out,
                                       state: state, model: model)
        let reply = try ClientFitRunner().run(request, logger: logger, report: Console.err)
        Console.out(String(decoding: try DeploymentFiles.encode(reply), as: UTF8.self))
    }
}
