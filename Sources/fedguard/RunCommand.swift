import ArgumentParser

/// `fedguard run` (being built: see the Simulation module).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a federated fine-tuning simulation.")
    func run() throws { throw ValidationError("fedguard run is not available yet") }
}

/// `fedguard config` (being built).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show the default run configuration.")
    func run() throws { throw ValidationError("fedguard config is not available yet") }
}
