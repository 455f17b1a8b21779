import ArgumentParser

/// `fedguard data ...` (being built).
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Build federated client data sets.")
    func run() throws { throw ValidationError("fedguard data is not available yet") }
}
