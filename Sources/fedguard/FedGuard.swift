import ArgumentParser
import Engine

/// The `fedguard` command-line tool.
@main
struct FedGuard: ParsableCommand {
    /// The release of this build (the run and adapter formats it writes are versioned separately).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "fedguard",
        abstract: "Responsible federated fine-tuning of LLMs, on a Swift engine.",
        version: "fedguard \(FedGuard.version) (OpenBLAS kernels: \(Parallel.blasCoreName); threads: \(Parallel.threadCount))",
        subcommands: [
            SetupCommand.self, TokenizeCommand.self, CAICommand.self, GenerateCommand.self, ChatCommand.self, TrainCommand.self,
            DataCommand.self, FilterCommand.self, EvalCommand.self, ReportCommand.self, RunCommand.self, ExperimentCommand.self, ServerCommand.self, ClientCommand.self, ConfigCommand.self,
            BenchCommand.self,
        ]
    )
}
