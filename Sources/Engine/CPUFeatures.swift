import CKernels

/// What this machine's CPU can run, read once with cpuid (and xgetbv: a feature the operating
/// system has not enabled reads as absent).
///
/// The engine's C kernels are compiled for AVX2, FMA and F16C (x86-64-v3); ``runsEngineKernels``
/// says whether this CPU has them, so the CLI can refuse to start with a clear message instead of
/// dying on an illegal instruction. ``BLASKernels`` uses the vector features to tell whether
/// OpenBLAS picked kernels that fit the CPU.
public struct CPUFeatures: Sendable, Equatable, Codable {
    /// The vendor id ("GenuineIntel", "AuthenticAMD").
    public var vendor: String
    /// The processor brand string ("AMD EPYC 7B13", "Intel(R) Xeon(R) ...").
    public var brand: String
    /// Display family and model (extended fields folded in), as /proc/cpuinfo shows them.
    public var family: Int
    public var model: Int
    public var avx2: Bool
    public var fma: Bool
    public var f16c: Bool
    public var avx512f: Bool
    public var avx512dq: Bool
    public var avx512bw: Bool
    public var avx512vl: Bool
    public var avx512vnni: Bool
    public var avx512bf16: Bool
    /// The VEX-encoded VNNI of Alder Lake and later.
    public var avxVNNI: Bool

    /// The CPU this process runs on.
    public static let current: CPUFeatures = {
        var info = fg_cpu_info()
        fg_cpu_detect(&info)
        return CPUFeatures(info)
    }()

    init(_ info: fg_cpu_info) {
        vendor = Self.string(info.vendor)
        brand = Self.string(info.brand)
        family = Int(info.family)
        model = Int(info.model)
        avx2 = info.avx2 != 0
        fma = info.fma != 0
        f16c = info.f16c != 0
        avx512f = info.avx512f != 0
        avx512dq = info.avx512dq != 0
        avx512bw = info.avx512bw != 0
        avx512vl = info.avx512vl != 0
        avx512vnni = info.avx512vnni != 0
        avx512bf16 = info.avx512bf16 != 0
        avxVNNI = info.avxvnni != 0
    }

    /// A CPU with exactly the given features (for tests and for reasoning about other machines).
    public init(vendor: String = "", brand: String = "", family: Int = 0, model: Int = 0,
                avx2: Bool = false, fma: Bool = false, f16c: Bool = false, avx512: Bool = false,
                avx512vnni: Bool = false, avx512bf16: Bool = false, avxVNNI: Bool = false) {
        self.vendor = vendor
        self.brand = brand
        self.family = family
        self.model = model
        self.avx2 = avx2
        self.fma = fma
        self.f16c = f16c
        avx512f = avx512
        avx512dq = avx512
        avx512bw = avx512
        avx512vl = avx512
        self.avx512vnni = avx512vnni
        self.avx512bf16 = avx512bf16
        self.avxVNNI = avxVNNI
    }

    /// Whether the engine's C kernels (compiled for AVX2 + FMA + F16C) can run here.
    public var runsEngineKernels: Bool { avx2 && fma && f16c }

    /// AVX-512 with the F, DQ, BW and VL subsets that OpenBLAS's SkylakeX kernels need.
    public var hasAVX512: Bool { avx512f && avx512dq && avx512bw && avx512vl }

    /// The x86-64 micro-architecture level this CPU reaches, as far as the engine cares.
    public var level: String {
        if hasAVX512 && runsEngineKernels { return "x86-64-v4" }
        if runsEngineKernels { return "x86-64-v3" }
        return "below x86-64-v3"
    }

    /// The vector features present, in the usual spelling.
    public var featureNames: [String] {
        let all: [(Bool, String)] = [
            (avx2, "AVX2"), (fma, "FMA"), (f16c, "F16C"), (avx512f, "AVX-512F"), (avx512dq, "AVX-512DQ"),
            (avx512bw, "AVX-512BW"), (avx512vl, "AVX-512VL"), (avx512vnni, "AVX-512 VNNI"),
            (avx512bf16, "AVX-512 BF16"), (avxVNNI, "AVX-VNNI"),
        ]
        return all.filter(\.0).map(\.1)
    }

    /// One line: brand, vendor, family and model, level and features.
    public var summary: String {
        let name = brand.isEmpty ? "unknown CPU" : brand
        return "\(name) (\(vendor.isEmpty ? "?" : vendor) family \(family) model \(model)); \(level): "
            + (featureNames.isEmpty ? "no AVX2" : featureNames.joined(separator: " "))
    }

    private static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
