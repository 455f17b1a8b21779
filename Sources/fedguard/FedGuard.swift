import ArgumentParser

/// The `fedguard` command-line tool.
@main
struct FedGuard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedguard",
        abstract: "Responsible federated fine-tuning of LLMs, on a Swift engine.",
        subcommands: [
            SetupCommand.self, TokenizeCommand.self, CAICommand.self, GenerateCommand.self, ChatCommand.self, TrainCommand.self,
            DataCommand.self, FilterCommand.self, EvalCommand.self, ReportCommand.self, RunCommand.self, ExperimentCommand.self, ServerCommand.self, ClientCommand.self, ConfigCommand.self,
            BenchCommand.self,
        ]
    )
}
