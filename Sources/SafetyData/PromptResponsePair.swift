// Labelled (prompt, response) pairs: the one record type in this module that training
// code may consume. Benchmark goals (``AdvBenchGoal``) and held-out prompts
// (``HeldOutPrompt``) are separate types with no conversion to this one.

/// What a response does with its prompt.
public enum PairLabel: String, Hashable, Sendable, CaseIterable {
    /// The response complies with a harmful request (a negative example for safety training,
    /// e.g. the rejected side of a preference pair).
    case harmfulCompliance
    /// The response refuses (or does not achieve) the request.
    case refusal
}

/// Which data set a pair came from.
public enum PairOrigin: String, Hashable, Sendable, CaseIterable {
    /// PyRIT's many-shot jailbreak examples (`many_shot_examples.json`).
    case manyShot
    /// PyRIT's human-labelled scorer evaluations (`scorer_evals/**.csv`).
    case scorerEval
}

/// A labelled (prompt, response) pair that may enter training data after
/// ``ContaminationFilter`` has checked it against AdvBench.
public struct PromptResponsePair: Hashable, Sendable {
    /// The user's request.
    public let prompt: String
    /// The assistant's reply.
    public let response: String
    /// Whether the reply complies with a harmful request or refuses it.
    public let label: PairLabel
    /// A harm category when the source gives one.
    public let category: String?
    /// The data set the pair came from.
    public let origin: PairOrigin
    /// Where the pair starts in its file.
    public let location: FileLocation

    /// Creates a pair.
    public init(prompt: String, response: String, label: PairLabel, category: String?,
                origin: PairOrigin, location: FileLocation) {
        self.prompt = prompt
        self.response = response
        self.label = label
        self.category = category
        self.origin = origin
        self.location = location
    }
}
