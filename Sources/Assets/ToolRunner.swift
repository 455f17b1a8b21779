import Foundation
import Logging

/// An external command: an executable plus leading arguments (e.g. `python3` + `-m pip`).
struct ToolCommand: Sendable, Equatable {
    var executable: URL
    var leadingArguments: [String]

    /// How the command reads in messages: `/usr/bin/python3 -m pip`.
    var display: String { ([executable.path] + leadingArguments).joined(separator: " ") }
}

/// Finds pip and Python on the `PATH` of a given environment, honouring overrides.
struct ToolLocator: Sendable {
    let environment: [String: String]

    /// Resolves a command name or path to an executable file, searching `PATH` for bare names.
    func executable(named name: String) -> URL? {
        let fileManager = FileManager.default
        if name.contains("/") {
            return fileManager.isExecutableFile(atPath: name) ? URL(fileURLWithPath: name) : nil
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Parses an override such as `"/opt/pip"` or `"python3 -m pip"` into a command.
    private func command(fromOverride value: String) -> ToolCommand? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first, let url = executable(named: first) else { return nil }
        return ToolCommand(executable: url, leadingArguments: Array(words.dropFirst()))
    }

    /// pip: `FEDGUARD_PIP`, else `pip3`, `pip`, else `python3 -m pip` if that module exists.
    func pip(logger: Logger) throws(AssetError) -> ToolCommand {
        if let override = environment["FEDGUARD_PIP"], !override.isEmpty {
            guard let command = command(fromOverride: override) else {
                throw .pipNotFound(searched: ["FEDGUARD_PIP=\(override) (not an executable)"])
            }
            return command
        }
        for name in ["pip3", "pip"] {
            if let url = executable(named: name) { return ToolCommand(executable: url, leadingArguments: []) }
        }
        if let python = executable(named: "python3") {
            let probe = ToolCommand(executable: python, leadingArguments: ["-m", "pip"])
            let result = try? ToolRunner.run(probe, arguments: ["--version"], environment: environment,
                                             toolName: "pip", logger: logger)
            if result?.exitCode == 0 { return probe }
        }
        throw .pipNotFound(searched: ["FEDGUARD_PIP (unset)", "pip3", "pip", "python3 -m pip"])
    }

    /// Python for unpacking: `FEDGUARD_PYTHON`, else the interpreter of a `FEDGUARD_PIP` of the
    /// form `<python> -m pip`, else `python3`, else `python`.
    func python() throws(AssetError) -> ToolCommand {
        if let override = environment["FEDGUARD_PYTHON"], !override.isEmpty {
            guard let command = command(fromOverride: override) else {
                throw .pythonNotFound(searched: ["FEDGUARD_PYTHON=\(override) (not an executable)"])
            }
            return command
        }
        if let override = environment["FEDGUARD_PIP"], let pip = command(fromOverride: override),
           pip.leadingArguments == ["-m", "pip"] {
            return ToolCommand(executable: pip.executable, leadingArguments: [])
        }
        for name in ["python3", "python"] {
            if let url = executable(named: name) { return ToolCommand(executable: url, leadingArguments: []) }
        }
        throw .pythonNotFound(searched: ["FEDGUARD_PYTHON (unset)", "python3", "python"])
    }
}

/// Runs a tool to completion, streaming its output lines to the logger as they arrive.
enum ToolRunner {
    struct Result: Sendable {
        var exitCode: Int32
        /// The last lines the tool wrote to stderr (at most ``tailLineCount``).
        var stderrTail: [String]
    }

    static let tailLineCount = 12

    static func run(
        _ command: ToolCommand, arguments: [String], environment: [String: String],
        toolName: String, logger: Logger
    ) throws(AssetError) -> Result {
        var childEnvironment = environment
        childEnvironment["PYTHONUNBUFFERED"] = "1"
        var process = Process(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        // A script written a moment ago can fail to start with ETXTBSY ("Text file busy") while a
        // process forked by another thread still holds its write descriptor; that clears once the
        // child execs, so the start is retried a few times before it counts as a failure.
        for attempt in 1...5 {
            process = Process()
            process.executableURL = command.executable
            process.arguments = command.leadingArguments + arguments
            process.environment = childEnvironment
            process.standardInput = FileHandle.nullDevice
            stdoutPipe = Pipe()
            stderrPipe = Pipe()
            process.standardOutput = stdoutPipe
            process.standardError = stderrPipe
            do {
                try process.run()
                break
            } catch {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                if attempt < 5, underlying?.domain == NSPOSIXErrorDomain, underlying?.code == Int(ETXTBSY) {
                    Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
                    continue
                }
                throw .toolLaunchFailed(tool: toolName, path: command.executable.path, reason: "\(error)")
            }
        }
        let stdoutSink = LineSink(tool: toolName, stream: "stdout", logger: logger)
        let stderrSink = LineSink(tool: toolName, stream: "stderr", logger: logger)
        // Drain both pipes on background threads so a chatty tool never blocks on a full pipe.
        let readers = DispatchGroup()
        for (pipe, sink) in [(stdoutPipe, stdoutSink), (stderrPipe, stderrSink)] {
            let handle = pipe.fileHandleForReading
            readers.enter()
            DispatchQueue.global().async {
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    sink.append(data)
                }
                readers.leave()
            }
        }
        process.waitUntilExit()
        readers.wait()
        stdoutSink.finish()
        stderrSink.finish()
        return Result(exitCode: process.terminationStatus, stderrTail: stderrSink.tail)
    }
}

/// Splits a byte stream into lines, logs each at debug level and keeps the last few.
///
/// `@unchecked Sendable`: one reader thread appends while the caller waits; every access to
/// the mutable buffers goes through `lock`.
private final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var partial = Data()
    private var lastLines: [String] = []
    private let logger: Logger
    private let metadata: Logger.Metadata

    init(tool: String, stream: String, logger: Logger) {
        self.logger = logger
        self.metadata = ["tool": "\(tool)", "stream": "\(stream)"]
    }

    func append(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        partial.append(data)
        // pip redraws progress with carriage returns; treat them as line ends too.
        while let end = partial.firstIndex(where: { $0 == 0x0a || $0 == 0x0d }) {
            let line = String(decoding: partial[partial.startIndex..<end], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...end)
            emit(line)
        }
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if !partial.isEmpty {
            emit(String(decoding: partial, as: UTF8.self))
            partial.removeAll()
        }
    }

    var tail: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lastLines
    }

    private func emit(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return }
        logger.debug("\(trimmed)", metadata: metadata)
        lastLines.append(trimmed)
        if lastLines.count > ToolRunner.tailLineCount { lastLines.removeFirst() }
    }
}
