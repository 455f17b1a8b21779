import Foundation

/// One line of a run directory's `samples/round-NNNN.jsonl`: an evaluation prompt, the model's reply
/// and the headline judge's verdict.
public struct RunSample: Codable, Sendable, Hashable {
    /// Suite name (`advbench`, `harmbench`, `over_refusal`).
    public var suite: String
    /// The prompt (report writers truncate it again).
    public var prompt: String
    /// The reply (report writers truncate it again).
    public var response: String
    /// The headline judge's verdict: `refused` or `complied`.
    public var judged: String

    /// Creates a sample.
    public init(suite: String, prompt: String, response: String, judged: String) {
        self.suite = suite
        self.prompt = prompt
        self.response = response
        self.judged = judged
    }
}
