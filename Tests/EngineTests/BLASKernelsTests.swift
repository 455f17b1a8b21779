import Engine
import Foundation
import Testing

/// CPU feature detection and the choice of OpenBLAS kernels (switching a fallback is exercised by
/// `CLITests.doctorSwitchesAGenericOpenBLASFallback`, in its own process: a switch in this one would
/// race the products of tests running beside it).
struct BLASKernelsTests {
    /// The first `flags` line and the family/model of /proc/cpuinfo (Linux's own cpuid reading).
    static func procCPUInfo() -> (flags: Set<String>, family: Int?, model: Int?)? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        var flags: Set<String>?, family: Int?, model: Int?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "flags" where flags == nil: flags = Set(parts[1].split(separator: " ").map(String.init))
            case "cpu family" where family == nil: family = Int(parts[1])
            case "model" where model == nil: model = Int(parts[1])
            default: break
            }
        }
        return flags.map { ($0, family, model) }
    }

    @Test func cpuidAgreesWithTheKernelsReading() throws {
        guard let proc = Self.procCPUInfo() else { return }  // not Linux: nothing to compare with
        let cpu = CPUFeatures.current
        let pairs: [(Bool, String)] = [
            (cpu.avx2, "avx2"), (cpu.fma, "fma"), (cpu.f16c, "f16c"), (cpu.avx512f, "avx512f"),
            (cpu.avx512dq, "avx512dq"), (cpu.avx512bw, "avx512bw"), (cpu.avx512vl, "avx512vl"),
            (cpu.avx512vnni, "avx512_vnni"), (cpu.avx512bf16, "avx512_bf16"), (cpu.avxVNNI, "avx_vnni"),
        ]
        for (ours, flag) in pairs { #expect(ours == proc.flags.contains(flag), "\(flag): cpuid \(ours)") }
        if let family = proc.family { #expect(cpu.family == family) }
        if let model = proc.model { #expect(cpu.model == model) }
        #expect(!cpu.vendor.isEmpty)
        #expect(cpu.summary.contains(cpu.level))
        // The kernels run on this machine (the test process would have died otherwise).
        #expect(cpu.runsEngineKernels)
    }

    @Test func levelsAndFallbacks() {
        let v2 = CPUFeatures(vendor: "GenuineIntel")
        let v3 = CPUFeatures(vendor: "AuthenticAMD", avx2: true, fma: true, f16c: true)
        let v4 = CPUFeatures(vendor: "GenuineIntel", avx2: true, fma: true, f16c: true, avx512: true, avx512vnni: true)
        #expect([v2.level, v3.level, v4.level] == ["below x86-64-v3", "x86-64-v3", "x86-64-v4"])
        #expect(!v2.runsEngineKernels && v3.runsEngineKernels && v4.hasAVX512)

        // Generic SSE kernels on an AVX2 CPU are a fallback (the Intel machine of ENGINE.md: Prescott).
        for core in ["Prescott", "Core2", "Nehalem", "Sandybridge", "Barcelona"] {
            #expect(BLASKernels.isFallback(core: core, on: v4), "\(core)")
            #expect(BLASKernels.isFallback(core: core, on: v3), "\(core)")
            #expect(!BLASKernels.isFallback(core: core, on: v2), "\(core) is all a CPU without AVX2 can run")
        }
        for core in ["Haswell", "Zen", "SkylakeX", "Cooperlake", "HASWELL"] {
            #expect(!BLASKernels.isFallback(core: core, on: v4), "\(core)")
        }
        #expect(BLASKernels.preferredFamilies(for: v4) == ["SkylakeX", "Haswell"])
        #expect(BLASKernels.preferredFamilies(for: v3) == ["Haswell"])
        #expect(BLASKernels.preferredFamilies(for: v2).isEmpty)
        // An AVX-512 family on a CPU without AVX-512 would die on an illegal instruction.
        #expect(!BLASKernels.canRun(family: "SkylakeX", on: v3))
        #expect(BLASKernels.canRun(family: "skylakex", on: v4))
        #expect(!BLASKernels.canRun(family: "Haswell", on: v2))
        #expect(BLASKernels.canRun(family: "Haswell", on: v3))
    }

    @Test func thisMachinesKernelsFitItsCPUAndPassTheCheck() {
        let selection = BLASKernels.selection
        #expect(selection.checkPassed, "\(selection.summary)")
        #expect(selection.checkError <= BLASKernels.checkTolerance)
        #expect(selection.core == BLASKernels.currentCore)
        let request = ProcessInfo.processInfo.environment["FEDGUARD_BLAS_CORE"] ?? "auto"
        if request == "auto" {
            #expect(!BLASKernels.isFallback(core: selection.core, on: .current), "\(selection.summary) \(selection.warnings)")
        }
        let report = KernelReport.current()
        #expect(report.problems.isEmpty)
        #expect(report.isaLine.contains(selection.core))
        #expect(report.paths.contains { $0.kernel.contains("OpenBLAS \(selection.core)") })
    }

    /// A reference product in the shape the check calls (row-major, alpha 1, beta 0), in float.
    static let naiveProduct: BLASKernels.Product = { ta, tb, M, N, K, A, lda, B, ldb, C, ldc in
        for i in 0..<M {
            for j in 0..<N {
                var sum: Float = 0
                for p in 0..<K { sum += (ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]) }
                C[i * ldc + j] = sum
            }
        }
    }

    @Test func theCheckCatchesAWrongProduct() {
        // A correct float product is within the tolerance (float rounding is ~1e-7 of Σ|a·b|) ...
        let exact = BLASKernels.checkProducts(Self.naiveProduct)
        #expect(exact < BLASKernels.checkTolerance / 10, "\(exact)")
        #expect(BLASKernels.checkProducts() < BLASKernels.checkTolerance)
        // ... one wrong element in one shape fails it: here a kernel that drops the last k of an edge row,
        let dropsLastK: BLASKernels.Product = { ta, tb, M, N, K, A, lda, B, ldb, C, ldc in
            Self.naiveProduct(ta, tb, M, N, K, A, lda, B, ldb, C, ldc)
            if M == 37 && ta {
                C[(M - 1) * ldc] -= A[(K - 1) * lda + M - 1] * (tb ? B[K - 1] : B[(K - 1) * ldb])
            }
        }
        #expect(BLASKernels.checkProducts(dropsLastK) > BLASKernels.checkTolerance)
        // ... and so does one that leaves an element unwritten (NaN) or writes garbage.
        let leavesOneUnwritten: BLASKernels.Product = { ta, tb, M, N, K, A, lda, B, ldb, C, ldc in
            Self.naiveProduct(ta, tb, M, N, K, A, lda, B, ldb, C, ldc)
            if N == 1 { C[0] = .nan }
        }
        #expect(BLASKernels.checkProducts(leavesOneUnwritten) == .infinity)
    }
}
