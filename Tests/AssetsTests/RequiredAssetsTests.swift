import Foundation
import Logging
import Testing

import Assets

/// Honest CI: the golden tests against the real model, the real-data tests and the PEFT interop
/// test skip themselves when their asset or Python is missing, which is right on a laptop and
/// wrong in CI, where a skip would hide a broken fetch. With `FEDGUARD_REQUIRE_ASSETS=1` (set by
/// `.ci/run`) this test fails, naming what is missing, whenever any of them would skip.
struct RequiredAssetsTests {
    static let environment = ProcessInfo.processInfo.environment
    static let required = environment["FEDGUARD_REQUIRE_ASSETS"] == "1"

    /// The packages whose absence makes an asset-gated test skip (every required package of the
    /// catalogue; the optional Qwen2 model is not required).
    static let packages = AssetCatalog.all

    @Test(.enabled(if: required, "FEDGUARD_REQUIRE_ASSETS is not 1: asset-gated tests may skip (CI sets it)"))
    func everyAssetGatedTestHasItsAsset() throws {
        let store = AssetStore(environment: Self.environment, logger: Logger(label: "test"))
        let missing = Self.packages.filter { !store.isInstalled($0) }.map(\.requirement)
        #expect(missing.isEmpty, "not in the asset cache \(store.root.path): \(missing.joined(separator: ", ")); run `fedguard setup`")

        let python = Self.environment["FEDGUARD_PEFT_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import torch, transformers, peft"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0,
                "\(python) cannot import torch, transformers and peft: the PEFT interop test would skip (set FEDGUARD_PEFT_PYTHON)")
    }
}
