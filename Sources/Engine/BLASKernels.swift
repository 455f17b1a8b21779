import COpenBLAS
import Foundation

/// Which OpenBLAS kernels the engine's float products run on, chosen once before the first product.
///
/// Debian's OpenBLAS is built for many CPUs and picks its kernels at load time from cpuid. It does not
/// know every CPU: on a 2-core Intel Xeon with AVX-512 it fell back to its generic SSE3 kernels
/// ("Prescott"), 22 GFLOP/s a core where its SkylakeX kernels give 124 (ENGINE.md), which made every
/// part of FedGuard 3-5× slower there. So before the first product:
///
/// 1. read the kernels OpenBLAS chose and the CPU's features (``CPUFeatures``);
/// 2. if the kernels do not use AVX2 and FMA but the CPU has them (a *fallback*), switch to the
///    family that fits (SkylakeX with AVX-512, else Haswell), as `OPENBLAS_CORETYPE` would;
/// 3. check the products in use against a double-precision reference (some OpenBLAS builds compute
///    wrong results on some CPUs); a switched family that fails the check is undone, and the next
///    one tried.
///
/// `FEDGUARD_BLAS_CORE` overrides step 2: `keep` leaves OpenBLAS's choice as it is (with a warning
/// when it is a fallback), a family name ("Haswell", "SkylakeX", "Zen", ...) asks for that family.
/// The choice, the reason and the check's error are in ``selection``; the CLI prints them
/// (`fedguard doctor`) and refuses to run when the check fails.
public enum BLASKernels {
    /// Why the kernels in use are the ones in use.
    public enum Reason: String, Sendable, Codable {
        /// OpenBLAS's own choice (or `OPENBLAS_CORETYPE`'s), which fits the CPU.
        case library
        /// OpenBLAS chose a fallback; FedGuard switched to a family that fits the CPU.
        case steered
        /// `FEDGUARD_BLAS_CORE` named the family.
        case requested
        /// OpenBLAS's choice is a fallback and stays: `FEDGUARD_BLAS_CORE=keep`, an OpenBLAS that
        /// cannot switch, or no fitting family passed the check.
        case fallback
    }

    /// The outcome of the selection.
    public struct Selection: Sendable, Codable, Equatable {
        /// The kernel family in use (`openblas_get_corename()`).
        public var core: String
        /// The family OpenBLAS chose at load time.
        public var detected: String
        public var reason: Reason
        /// Largest error of the check's products, relative to Σ|a·b| of each output element.
        public var checkError: Double
        /// Whether every check product was within ``BLASKernels/checkTolerance``.
        public var checkPassed: Bool
        /// What a user should know (a fallback kept, a request refused, a family that failed the check
        /// and was undone); a failed check of the kernels in use is ``failure``, not a warning.
        public var warnings: [String]

        /// Why the products cannot be trusted, when the kernels in use failed the check; nil otherwise.
        public var failure: String? {
            checkPassed ? nil : "OpenBLAS's \(core) kernels compute wrong products on this CPU (relative error \(checkError)); set FEDGUARD_BLAS_CORE to another family, e.g. Haswell"
        }

        /// One line for logs and `--version`.
        public var summary: String {
            let how: String
            switch reason {
            case .library: how = "OpenBLAS's choice"
            case .steered: how = "switched from OpenBLAS's \(detected)"
            case .requested: how = "FEDGUARD_BLAS_CORE"
            case .fallback: how = "fallback kept"
            }
            return "\(core) (\(how); product check \(checkPassed ? "passed" : "FAILED"), error \(String(format: "%.1e", checkError)))"
        }
    }

    /// Kernel families whose single-precision products use AVX2 and FMA (or AVX-512).
    public static let vectorFamilies: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]
    /// Families that need AVX-512 (F, DQ, BW, VL).
    static let avx512Families: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// Largest accepted error of a check product, relative to Σ|a·b| of the element. Float32 sums of
    /// K ≤ 131 products err by at most K·2⁻²⁴ ≈ 8e-6 of that sum (measured: ~1e-7 with every family
    /// this machine runs); a wrong kernel errs by O(1). 1e-4 leaves a 12× margin over the bound.
    public static let checkTolerance = 1e-4

    /// The kernels in use, chosen on first use (before the first product: ``Matmul`` asks for it).
    public static let selection: Selection = select(
        cpu: .current, request: ProcessInfo.processInfo.environment["FEDGUARD_BLAS_CORE"])

    /// The kernel family OpenBLAS runs now.
    public static var currentCore: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Whether `core` is a fallback on `cpu`: its products do not use the AVX2/FMA the CPU has.
    public static func isFallback(core: String, on cpu: CPUFeatures) -> Bool {
        cpu.avx2 && cpu.fma && !vectorFamilies.contains(core.lowercased())
    }

    /// The families to try, best first, when OpenBLAS chose a fallback on `cpu`.
    public static func preferredFamilies(for cpu: CPUFeatures) -> [String] {
        if cpu.hasAVX512 && cpu.avx2 && cpu.fma { return ["SkylakeX", "Haswell"] }
        if cpu.avx2 && cpu.fma { return ["Haswell"] }
        return []
    }

    /// Whether `cpu` can run the family `name` (an AVX-512 family on a CPU without it would die on an
    /// illegal instruction).
    public static func canRun(family name: String, on cpu: CPUFeatures) -> Bool {
        let lower = name.lowercased()
        if avx512Families.contains(lower) { return cpu.hasAVX512 }
        if vectorFamilies.contains(lower) { return cpu.avx2 && cpu.fma }
        return true
    }

    /// Runs the selection described above. Switching replaces the kernel table every BLAS call reads,
    /// so this must run before any product (``selection`` does, once).
    static func select(cpu: CPUFeatures, request: String?) -> Selection {
        let detected = currentCore
        var warnings: [String] = []
        var reason = Reason.library
        let wanted = (request ?? "auto").trimmingCharacters(in: .whitespaces)
        switch wanted.lowercased() {
        case "", "auto":
            if isFallback(core: detected, on: cpu) {
                reason = .fallback
                if fg_openblas_can_switch_core() == 0 {
                    warnings.append("OpenBLAS chose its \(detected) kernels on a CPU with AVX2/FMA and cannot switch (built without DYNAMIC_ARCH): float products run several times slower than they could")
                } else {
                    for family in preferredFamilies(for: cpu) {
                        if let problem = trySwitch(to: family, from: detected) {
                            warnings.append(problem)
                        } else {
                            reason = .steered
                            break
                        }
                    }
                    if reason == .fallback {
                        warnings.append("OpenBLAS's \(detected) kernels kept: no family that fits this CPU passed the check")
                    }
                }
            }
        case "keep":
            if isFallback(core: detected, on: cpu) {
                reason = .fallback
                warnings.append("FEDGUARD_BLAS_CORE=keep: OpenBLAS's \(detected) kernels do not use this CPU's AVX2/FMA; float products run several times slower")
            }
        default:
            if !canRun(family: wanted, on: cpu) {
                warnings.append("FEDGUARD_BLAS_CORE=\(wanted) needs AVX-512, which this CPU lacks: kept OpenBLAS's \(detected)")
            } else if fg_openblas_can_switch_core() == 0 {
                warnings.append("FEDGUARD_BLAS_CORE=\(wanted): this OpenBLAS cannot switch kernels: kept \(detected)")
            } else if let problem = trySwitch(to: wanted, from: detected) {
                warnings.append(problem)
            } else {
                reason = .requested
                if isFallback(core: currentCore, on: cpu) {
                    warnings.append("FEDGUARD_BLAS_CORE=\(wanted): these kernels do not use this CPU's AVX2/FMA; float products run several times slower")
                }
            }
            if reason != .requested && isFallback(core: detected, on: cpu) { reason = .fallback }
        }
        let error = checkProducts()
        return Selection(core: currentCore, detected: detected, reason: reason, checkError: error,
                         checkPassed: error <= checkTolerance, warnings: warnings)
    }

    /// Switches to `family` and checks it; on failure switches back to `original` and says why.
    private static func trySwitch(to family: String, from original: String) -> String? {
        _ = fg_openblas_switch_core(family)
        let now = currentCore
        if now.lowercased() != family.lowercased() {
            _ = fg_openblas_switch_core(original)
            return "OpenBLAS has no \(family) kernels (it chose \(now)): kept \(original)"
        }
        let error = checkProducts()
        if error > checkTolerance {
            _ = fg_openblas_switch_core(original)
            return "OpenBLAS's \(family) kernels failed the product check on this CPU (relative error \(error)): kept \(original)"
        }
        return nil
    }

    /// A single-precision product in the shape of `cblas_sgemm` (row-major): transposeA, transposeB,
    /// M, N, K, A, lda, B, ldb, C, ldc with alpha 1 and beta 0. A matrix-vector product is the case
    /// N = 1 with B a column.
    public typealias Product = @Sendable (_ transposeA: Bool, _ transposeB: Bool, _ M: Int, _ N: Int, _ K: Int,
                                _ A: UnsafePointer<Float>, _ lda: Int, _ B: UnsafePointer<Float>, _ ldb: Int,
                                _ C: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void

    /// OpenBLAS's products, called directly (not through ``Matmul``): sgemm, and sgemv for N = 1
    /// without transposes (as ``Matmul/sgemv(M:N:alpha:A:lda:x:beta:y:)`` calls it).
    public static let openBLASProduct: Product = { ta, tb, M, N, K, A, lda, B, ldb, C, ldc in
        if N == 1 && !ta && !tb {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(M), Int32(K), 1, A, Int32(lda), B, Int32(ldb), 0, C, Int32(ldc))
        } else {
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        Int32(M), Int32(N), Int32(K), 1, A, Int32(lda), B, Int32(ldb), 0, C, Int32(ldc))
        }
    }

    /// The largest relative error of `product` against a double-precision reference, over the
    /// products the engine uses: sgemm with each transpose combination ``Matmul`` calls, at shapes
    /// that reach the kernels' edge cases, and the matrix-vector product. Each element's error is
    /// taken relative to Σ|a·b| over its sum.
    public static func checkProducts(_ product: Product = openBLASProduct) -> Double {
        var worst = 0.0
        for (m, n, k) in [(37, 29, 67), (96, 80, 131), (1, 53, 64), (75, 1, 131)] {
            for (ta, tb) in [(false, false), (false, true), (true, false)] {
                worst = max(worst, check(product, M: m, N: n, K: k, transposeA: ta, transposeB: tb))
            }
        }
        return worst
    }

    /// Deterministic values in [-1, 1): the check needs no randomness, only variety.
    private static func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &generator) }
    }

    private static func check(_ product: Product, M: Int, N: Int, K: Int, transposeA: Bool, transposeB: Bool) -> Double {
        let a = values(M * K, seed: UInt64(M * 131 + K)), b = values(K * N, seed: UInt64(N * 17 + K))
        let lda = transposeA ? M : K, ldb = transposeB ? K : N
        var c = [Float](repeating: .nan, count: M * N)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    product(transposeA, transposeB, M, N, K, pa.baseAddress!, lda, pb.baseAddress!, ldb, pc.baseAddress!, N)
                }
            }
        }
        var worst = 0.0
        for i in 0..<M {
            for j in 0..<N {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<K {
                    let x = Double(transposeA ? a[p * M + i] : a[i * K + p])
                    let y = Double(transposeB ? b[j * K + p] : b[p * N + j])
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let error = abs(Double(c[i * N + j]) - sum) / max(magnitude, 1e-30)
                worst = max(worst, error.isNaN ? .infinity : error)
            }
        }
        return worst
    }
}
