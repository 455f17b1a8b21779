import ArgumentParser

/// `fedguard eval` (being built: see the Evaluation module).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate harmlessness and helpfulness.")
    func run() throws { throw ValidationError("fedguard eval is not available yet") }
}
