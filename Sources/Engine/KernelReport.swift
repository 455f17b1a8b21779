/// Which kernels each numeric path of the engine runs on this machine, so a slow machine explains
/// itself: `fedguard doctor` prints it, the benchmarks print its one-line form beside their figures.
public struct KernelReport: Sendable, Codable {
    /// One numeric path and the kernel it runs.
    public struct Path: Sendable, Codable, Equatable {
        public var path: String
        public var kernel: String
    }

    public var cpu: CPUFeatures
    public var blas: BLASKernels.Selection
    public var threads: Int
    public var paths: [Path]

    /// Whether the engine can run here at full speed and with correct products: the CPU has the
    /// AVX2/FMA/F16C the C kernels are compiled for, and OpenBLAS's products passed the check.
    public var problems: [String] {
        var found: [String] = []
        if !cpu.runsEngineKernels {
            found.append("this CPU lacks \(["AVX2", "FMA", "F16C"].filter { !cpu.featureNames.contains($0) }.joined(separator: ", ")), which FedGuard's kernels are compiled for (an x86-64-v3 CPU is required: Intel Haswell, AMD Zen or later)")
        }
        if let failure = blas.failure { found.append(failure) }
        return found
    }

    /// The report for this process (choosing the OpenBLAS kernels first if no product has yet).
    public static func current() -> KernelReport {
        let cpu = CPUFeatures.current, blas = BLASKernels.selection
        let vnni = cpu.avx512vnni ? "AVX-512 VNNI" : cpu.avxVNNI ? "AVX-VNNI" : nil
        let paths = [
            Path(path: "float products (layers, LoRA, training, BERT)",
                 kernel: "OpenBLAS \(blas.core), single-threaded calls split over the engine's team"),
            Path(path: "exact quantized products (Q4_0, Q4_1, Q8_0, K-quants)", kernel: "C, AVX2 + FMA"),
            Path(path: "int8 products (Q4_0, Q4_1)",
                 kernel: "C, AVX2 maddubs" + (vnni.map { " (this CPU's \($0) is not used)" } ?? "")),
            Path(path: "attention, norms, activations, optimiser", kernel: "C, AVX2 + FMA + F16C"),
        ]
        return KernelReport(cpu: cpu, blas: blas, threads: Parallel.threadCount, paths: paths)
    }

    /// One line for benchmark output: CPU, level, threads and the float products' kernels.
    public var isaLine: String {
        "cpu: \(cpu.summary)  |  threads: \(threads)  |  float products: OpenBLAS \(blas.summary)  |  C kernels: AVX2 + FMA + F16C"
            + (cpu.avx512vnni || cpu.avxVNNI ? " (int8: maddubs, VNNI unused)" : "")
    }
}
