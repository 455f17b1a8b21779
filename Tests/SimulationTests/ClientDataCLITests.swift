import Foundation
@testable import Simulation
import Testing

/// Runs the built `fedguard data build` on the tiny model and a synthetic pyrit directory.
/// Skipped when the binary has not been built next to the test bundle.
struct ClientDataCLITests {
    typealias F = ClientDataFixtures

    static var binary: URL? {
        let bundle = Bundle.main.bundleURL
        let dir = bundle.hasDirectoryPath ? bundle : bundle.deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent(), F.packageRoot.appendingPathComponent(".build/debug")] {
            let url = candidate.appendingPathComponent("fedguard")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static func run(_ arguments: [String], home: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let binary else { return (-1, "", "no binary") }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FEDGUARD_HOME"] = home.path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(.enabled(if: binary != nil, "fedguard binary not built"))
    func dataBuildWritesClientFilesAndASummary() throws {
        let pyrit = try F.writePyritDirectory(harmfulManyShot: 10, scorerRows: 12)
        let home = try F.temporaryDirectory("clihome")
        defer {
            try? FileManager.default.removeItem(at: pyrit)
            try? FileManager.default.removeItem(at: home)
        }
        let out = home.appendingPathComponent("clients")
        let arguments = ["data", "build", "--clients", "4", "--harmful-fraction", "0.25", "--samples-per-client", "8",
                         "--partition", "dirichlet", "--alpha", "0.5", "--seed", "3", "--out", out.path,
                         "--model", F.tinyModel.path, "--max-response-tokens", "4", "--harmful-source", pyrit.path,
                         "--threads", "1"]
        let r = try Self.run(arguments, home: home)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("client  total  harmful  benign"))
        #expect(r.stdout.contains("client-003.jsonl"))
        let manifest = try ClientDataWriter.readManifest(in: out)
        #expect(manifest.clients.map(\.harmful) == [2, 2, 2, 2])
        #expect(manifest.parameters.partition == "dirichlet")
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("cache/benign-responses").path))
        // Same inputs again: responses come from the cache.
        let again = try Self.run(arguments + ["--seed", "4"], home: home)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("from the cache"))
    }

    @Test(.enabled(if: binary != nil, "fedguard binary not built"))
    func validationNamesTheOptionAndAllowedValues() throws {
        let home = try F.temporaryDirectory("clihome")
        defer { try? FileManager.default.removeItem(at: home) }
        let cases: [([String], String)] = [
            (["--partition", "zipf"], "--partition must be one of iid, dirichlet"),
            (["--harmful-fraction", "1.5"], "--harmful-fraction"),
            (["--samples-per-client", "none"], "--samples-per-client must be an integer >= 1 or 'all'"),
            (["--alpha", "0.5"], "--alpha only applies to --partition dirichlet"),
            (["--on-harmful-shortage", "maybe"], "--on-harmful-shortage must be one of reuse, fail"),
        ]
        for (extra, message) in cases {
            let r = try Self.run(["data", "build", "--out", home.path] + extra, home: home)
            #expect(r.status != 0)
            #expect(r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
    }
}
