import ConstitutionalAI
import Foundation
import Logging
import ModelFiles
import Simulation
import Tokenizers
import Training

/// The untrusted formats FedGuard reads, each as one entry point that takes arbitrary bytes.
///
/// An entry point returns normally when the parser accepts the input or throws any error (a
/// thrown error is the right answer to a bad file); a crash, a hang or an allocation beyond the
/// fuzzer's limit is a bug. `fedguard-fuzz FORMAT` runs one under libFuzzer (built by
/// `scripts/fuzz.sh`); the tests replay the committed corpus and every crash found through the
/// same entry points.
public enum FuzzFormat: String, CaseIterable, Sendable {
    /// A GGUF model file (header, metadata, tensor table; tensor data is checked for range only).
    case gguf
    /// A safetensors file (header JSON, offsets).
    case safetensors
    /// A Hugging Face tokenizer.json (byte-level BPE and WordPiece), then one encoding.
    case tokenizer
    /// Chat / SFT training records, JSONL.
    case chatJSONL = "chat-jsonl"
    /// Preference (DPO) records, JSONL.
    case preferenceJSONL = "preference-jsonl"
    /// A run configuration, YAML.
    case runConfiguration = "run-config"
    /// A PEFT adapter_config.json.
    case adapterConfiguration = "adapter-config"
    /// A constitution, YAML.
    case constitution

    /// Feeds `data` to the format's parser; returns true when it was accepted.
    @discardableResult
    public func run(_ data: Data) -> Bool {
        do {
            switch self {
            case .gguf:
                let file = try GGUFFile(url: try Scratch.write(data, name: "input.gguf"))
                _ = file.tensors.count
            case .safetensors:
                let file = try SafeTensorsFile(url: try Scratch.write(data, name: "input.safetensors"))
                for name in file.tensorNames.prefix(4) { _ = try? file.floats(named: name) }
            case .tokenizer:
                var accepted = false
                if let bpe = try? BPETokenizer(tokenizerJSON: data) {
                    _ = bpe.encode("Hello, world! 123 <|im_start|>", parseSpecialTokens: true)
                    accepted = true
                }
                if let wordPiece = try? WordPieceTokenizer(tokenizerJSON: data) {
                    _ = wordPiece.encode("Hello, world! 123 [SEP]", parseSpecialTokens: true)
                    accepted = true
                }
                return accepted
            case .chatJSONL:
                _ = try DatasetLoader.loadSFT(from: try Scratch.write(data, name: "input.jsonl"), policy: .skip, logger: Scratch.silent)
            case .preferenceJSONL:
                _ = try DatasetLoader.loadPreferences(from: try Scratch.write(data, name: "input.jsonl"), policy: .skip, logger: Scratch.silent)
            case .runConfiguration:
                _ = try RunConfiguration.load(yaml: String(decoding: data, as: UTF8.self))
            case .adapterConfiguration:
                try PEFTAdapter.checkConfiguration(data, file: "adapter_config.json")
            case .constitution:
                _ = try Constitution.parse(yaml: String(decoding: data, as: UTF8.self), path: "constitution.yaml")
            }
            return true
        } catch {
            return false
        }
    }
}

extension FuzzFormat {
    /// Removes this process's scratch files (the file-based parsers' inputs).
    public static func removeScratchFiles() {
        if let directory = Scratch.directory { try? FileManager.default.removeItem(at: directory) }
        Scratch.directory = nil
    }
}

/// One scratch directory per process for the parsers that read files (GGUF and safetensors map them).
enum Scratch {
    nonisolated(unsafe) static var directory: URL?
    /// Parsers that log (skipped lines) log nowhere here.
    static let silent: Logger = {
        var logger = Logger(label: "fedguard.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()

    static func write(_ data: Data, name: String) throws -> URL {
        if directory == nil {
            // In memory where the system has it (the parsers map the file: a write per input);
            // FEDGUARD_FUZZ_SCRATCH names it for a fuzzing run.
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm")
                : FileManager.default.temporaryDirectory
            let url = ProcessInfo.processInfo.environment["FEDGUARD_FUZZ_SCRATCH"].map { URL(fileURLWithPath: $0) }
                ?? base.appendingPathComponent("fedguard-fuzz-\(getpid())")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            directory = url
        }
        let url = directory!.appendingPathComponent(name)
        do { try data.write(to: url) } catch {
            // Removed under us (another run's clean-up): make it again.
            try FileManager.default.createDirectory(at: directory!, withIntermediateDirectories: true)
            try data.write(to: url)
        }
        return url
    }
}
