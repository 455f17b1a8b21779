import ArgumentParser
import Engine
import Foundation

/// `fedguard doctor`: what this machine's CPU can run and which kernel each numeric path uses.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show the CPU's features, the OpenBLAS kernels chosen (and their product check), and the kernel of each numeric path.",
        discussion: """
            Exits with status 1 when FedGuard cannot run well here: the CPU lacks AVX2/FMA/F16C, or OpenBLAS's \
            products failed the check against a double-precision reference. FEDGUARD_BLAS_CORE=keep keeps \
            OpenBLAS's own kernel choice; FEDGUARD_BLAS_CORE=<family> (Haswell, SkylakeX, Zen, ...) asks for one.
            """)

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = KernelReport.current()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Console.out(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            Console.out("cpu:     \(report.cpu.summary)")
            Console.out("threads: \(report.threads)")
            Console.out("OpenBLAS kernels: \(report.blas.summary)")
            if report.blas.reason != .library {
                Console.out("  OpenBLAS chose \(report.blas.detected) at load time")
            }
            for path in report.paths { Console.out("  \(path.path): \(path.kernel)") }
            for warning in report.blas.warnings { Console.out("warning: \(warning)") }
        }
        if !report.problems.isEmpty {
            for problem in report.problems { Console.err("error: \(problem)") }
            throw ExitCode(1)
        }
    }
}
