import Engine
import Foundation

/// Paths and helpers shared by the evaluation tests.
enum EvalFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The tiny random Llama (ChatML template, 320-token vocabulary): replies are gibberish.
    static let tinyModelURL = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/tiny_llama.q4_1.gguf")

    static func tinyModel() throws -> LlamaModel { try ModelLoader.load(from: tinyModelURL) }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Placeholder "harmful" prompts: the tests need categories and counts, not harmful text.
    static let fakeHarmful: [EvaluationPromptSpec] = [
        .init("placeholder goal one", ["alpha"]), .init("placeholder goal two", ["alpha", "beta"]),
        .init("placeholder goal three", ["beta"]), .init("placeholder goal four", ["gamma"]),
        .init("placeholder goal five", ["alpha"]),
    ]
}

struct EvaluationPromptSpec {
    let text: String
    let categories: [String]
    init(_ text: String, _ categories: [String]) {
        self.text = text
        self.categories = categories
    }
}
