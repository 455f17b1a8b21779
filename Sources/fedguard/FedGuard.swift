import ArgumentParser
import Engine
import Foundation

/// The `fedguard` command-line tool.
@main
struct FedGuard: ParsableCommand {
    /// The release of this build (the run and adapter formats it writes are versioned separately).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "fedguard",
        abstract: "Responsible federated fine-tuning of LLMs, on a Swift engine.",
        version: "fedguard \(FedGuard.version) (\(CPUFeatures.current.level); OpenBLAS kernels: \(BLASKernels.selection.summary); threads: \(Parallel.threadCount))",
        subcommands: [
            SetupCommand.self, TokenizeCommand.self, CAICommand.self, GenerateCommand.self, ChatCommand.self, TrainCommand.self,
            DataCommand.self, FilterCommand.self, EvalCommand.self, ReportCommand.self, RunCommand.self, ExperimentCommand.self, ServerCommand.self, ClientCommand.self, ConfigCommand.self,
            BenchCommand.self, DoctorCommand.self,
        ]
    )

    /// Checks the machine before any command: a CPU without the AVX2/FMA/F16C the kernels are
    /// compiled for, or OpenBLAS products that fail their check, stop here with the reason (instead of
    /// an illegal instruction or wrong numbers later); a slow OpenBLAS kernel choice is a warning.
    /// `doctor` runs regardless, to explain.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first != "doctor" {
            let report = KernelReport.current()
            for warning in report.blas.warnings { Console.err("warning: \(warning)") }
            if !report.problems.isEmpty {
                for problem in report.problems { Console.err("error: \(problem)") }
                Console.err("(`fedguard doctor` shows what this machine runs)")
                Foundation.exit(1)
            }
        }
        main(arguments)
    }
}
