// Settings of the constitutional-AI step: the run configuration's `cai:` section and the
// `fedguard cai` command's `--set cai.key=value` overrides.

import Foundation
import SafetyData

/// How much CAI runs per round.
public enum CAIMode: String, Sendable, Codable, CaseIterable {
    /// No CAI.
    case off
    /// `prompts` prompts per step.
    case full
    /// `cheap_prompts` prompts per step (the paper's cheap mode: a fixed small number of iterations).
    case cheap
}

/// Where CAI runs in a federated round.
public enum CAIPlacement: String, Sendable, Codable, CaseIterable {
    /// On the server after aggregation (the paper's placement).
    case server
    /// On each client after local training, before its update is sent (a comparison).
    case client
}

/// What the step trains on.
public enum CAIObjective: String, Sendable, Codable, CaseIterable {
    /// SFT on prompt → chosen answer.
    case sft
    /// DPO on chosen ≻ rejected, the reference being the adapter the step started from.
    case dpo
    /// SFT, then DPO.
    case both
}

/// Whose answers to a step's benign prompts become their training targets when several steps run
/// one after another (`fedguard cai --iterations N`).
public enum BenignAnswerSource: String, Sendable, Codable, CaseIterable {
    /// The adapter being trained (each step's own answers: self-training, which drifts over steps).
    case current
    /// The adapter the run started from (the base model, or `--adapter IN`): the helpful model's
    /// own samples mixed into CAI's data, as Bai et al. 2022 did, so that benign behaviour stays
    /// anchored while the red-team answers move. In a federated run a step starts from each round's
    /// aggregate, which is both.
    case start
}

/// The `cai:` section.
public struct CAISettings: Sendable, Equatable, Codable {
    /// off, full or cheap.
    public var mode: CAIMode
    /// server or client.
    public var placement: CAIPlacement
    /// Prompts per step in full mode.
    public var prompts: Int
    /// Prompts per step in cheap mode.
    public var cheapPrompts: Int
    /// Share of red-team prompts among a step's prompts.
    public var harmfulShare: Double
    /// Share of a step's benign prompts drawn from the risky-looking ones (when the pool has any).
    public var riskyShare: Double
    /// How a step's red-team prompts are spread over the pool's sources.
    public var redTeamDraw: RedTeamDraw
    /// Whether the pool also asks its red-team how-to questions and its risky-wording tasks as
    /// imperative requests (see ``PromptPool``'s `load`). Measured (4 steps, the defaults otherwise):
    /// AdvBench 31.7% harmless with 7.5% over-refusal, against 32.9% and 4.4% without; off.
    public var imperativeRewrites: Bool
    /// DoNotAnswer risk areas left out of the red-team pool (``DoNotAnswerLoader/riskAreas``). Two of
    /// the five hold many requests a helpful assistant should answer rather than refuse:
    /// `human_chatbox` ("Do you think I made the right decision?", questions about self-harm that
    /// need care, not a refusal) and `misinformation_harms` (advice on investing an inheritance).
    /// Measured without those two (4 steps, `harmful_share` 0.5): AdvBench 22.9% harmless with 9.5%
    /// over-refusal, against 51.5% and 32.3% with them; the same trade-off, so empty by default.
    public var donotanswerExcluded: [String]
    /// How revisions are asked for: dialogue (critique, then revision) or direct.
    public var revisionContext: RevisionContext
    /// Rounds of critique → revision per prompt.
    public var revisions: Int
    /// Revision candidates sampled per prompt and round (1: one greedy revision, no selection).
    public var candidates: Int
    /// Sampling temperature of the candidates (when `candidates` > 1).
    public var temperature: Double
    /// Most new tokens of an initial answer.
    public var answerTokens: Int
    /// Most new tokens of a critique.
    public var critiqueTokens: Int
    /// Most new tokens of a revision.
    public var revisionTokens: Int
    /// Most sentences kept of a revision.
    public var revisionSentences: Int
    /// Whose answers to benign prompts are trained on when several steps run in sequence.
    public var benignAnswers: BenignAnswerSource
    /// sft, dpo or both.
    public var objective: CAIObjective
    /// Passes over the step's training data (SFT and DPO each).
    public var epochs: Int
    /// Peak learning rate of the step's training.
    public var learningRate: Double
    /// DPO's beta.
    public var dpoBeta: Double
    /// Prompts generated together.
    public var batchSize: Int
    /// Largest L2 norm of the change CAI makes to the global adapter; a larger change is rejected
    /// and the aggregated adapter kept.
    public var maxUpdateNorm: Double
    /// A constitution file; nil: FedGuard's (`constitution.yaml`).
    public var constitution: String?
    /// A model file for critique and revision (any architecture the engine runs, any tokenizer, with a
    /// chat template); nil: the model being trained.
    public var criticModel: String?

    /// Creates settings (the defaults are the chosen configuration).
    public init(mode: CAIMode = .off, placement: CAIPlacement = .server, prompts: Int = 256, cheapPrompts: Int = 24,
                harmfulShare: Double = 0.35, riskyShare: Double = 0.25, redTeamDraw: RedTeamDraw = .proportional,
                imperativeRewrites: Bool = false, donotanswerExcluded: [String] = [],
                revisionContext: RevisionContext = .direct, revisions: Int = 1, candidates: Int = 1, temperature: Double = 0.8,
                answerTokens: Int = 64, critiqueTokens: Int = 48, revisionTokens: Int = 64, revisionSentences: Int = 3,
                benignAnswers: BenignAnswerSource = .current, objective: CAIObjective = .both, epochs: Int = 2, learningRate: Double = 2e-4, dpoBeta: Double = 0.1,
                batchSize: Int = 32, maxUpdateNorm: Double = 10, constitution: String? = nil, criticModel: String? = nil) {
        self.mode = mode
        self.placement = placement
        self.prompts = prompts
        self.cheapPrompts = cheapPrompts
        self.harmfulShare = harmfulShare
        self.riskyShare = riskyShare
        self.redTeamDraw = redTeamDraw
        self.imperativeRewrites = imperativeRewrites
        self.donotanswerExcluded = donotanswerExcluded
        self.revisionContext = revisionContext
        self.revisions = revisions
        self.candidates = candidates
        self.temperature = temperature
        self.answerTokens = answerTokens
        self.critiqueTokens = critiqueTokens
        self.revisionTokens = revisionTokens
        self.revisionSentences = revisionSentences
        self.benignAnswers = benignAnswers
        self.objective = objective
        self.epochs = epochs
        self.learningRate = learningRate
        self.dpoBeta = dpoBeta
        self.batchSize = batchSize
        self.maxUpdateNorm = maxUpdateNorm
        self.constitution = constitution
        self.criticModel = criticModel
    }

    /// Whether CAI runs.
    public var isEnabled: Bool { mode != .off }

    /// Prompts per step for the mode.
    public var promptsPerStep: Int { mode == .cheap ? cheapPrompts : prompts }

    /// Checks every value; the message names the key.
    public func validate() throws(CAIError) {
        func check(_ ok: Bool, _ key: String, _ message: String) throws(CAIError) {
            if !ok { throw .settings(key: "cai.\(key)", reason: message) }
        }
        try check(prompts >= 1, "prompts", "must be at least 1")
        try check(cheapPrompts >= 1, "cheap_prompts", "must be at least 1")
        try check(harmfulShare >= 0 && harmfulShare <= 1, "harmful_share", "must be in [0, 1]")
        try check(riskyShare >= 0 && riskyShare <= 1, "risky_share", "must be in [0, 1]")
        try check(donotanswerExcluded.allSatisfy(DoNotAnswerLoader.riskAreas.contains), "donotanswer_excluded",
                  "must list DoNotAnswer risk areas: " + DoNotAnswerLoader.riskAreas.joined(separator: ", "))
        try check(Set(donotanswerExcluded).count < DoNotAnswerLoader.riskAreas.count, "donotanswer_excluded", "must leave at least one area")
        try check(revisions >= 1 && revisions <= 4, "revisions", "must be 1 to 4")
        try check(candidates >= 1 && candidates <= 16, "candidates", "must be 1 to 16")
        try check(temperature > 0 && temperature <= 2, "temperature", "must be in (0, 2]")
        for (key, value) in [("answer_tokens", answerTokens), ("critique_tokens", critiqueTokens), ("revision_tokens", revisionTokens)] {
            try check(value >= 8 && value <= 512, key, "must be 8 to 512 (a cap on generation length)")
        }
        try check(revisionSentences >= 1, "revision_sentences", "must be at least 1")
        try check(epochs >= 1, "epochs", "must be at least 1")
        try check(learningRate > 0 && learningRate.isFinite, "learning_rate", "must be positive")
        try check(dpoBeta > 0 && dpoBeta.isFinite, "dpo_beta", "must be positive")
        try check(batchSize >= 1, "batch_size", "must be at least 1")
        try check(maxUpdateNorm > 0 && maxUpdateNorm.isFinite, "max_update_norm", "must be positive")
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, placement, prompts, cheapPrompts = "cheap_prompts", harmfulShare = "harmful_share", riskyShare = "risky_share",
             redTeamDraw = "red_team_draw", imperativeRewrites = "imperative_rewrites", donotanswerExcluded = "donotanswer_excluded",
             revisionContext = "revision_context", revisions, candidates,
             temperature, answerTokens = "answer_tokens", critiqueTokens = "critique_tokens", revisionTokens = "revision_tokens",
             revisionSentences = "revision_sentences", benignAnswers = "benign_answers", objective, epochs, learningRate = "learning_rate", dpoBeta = "dpo_beta",
             batchSize = "batch_size", maxUpdateNorm = "max_update_norm", constitution, criticModel = "critic_model"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        mode = try c.decodeIfPresent(CAIMode.self, forKey: .mode) ?? d.mode
        placement = try c.decodeIfPresent(CAIPlacement.self, forKey: .placement) ?? d.placement
        prompts = try c.decodeIfPresent(Int.self, forKey: .prompts) ?? d.prompts
        cheapPrompts = try c.decodeIfPresent(Int.self, forKey: .cheapPrompts) ?? d.cheapPrompts
        harmfulShare = try c.decodeIfPresent(Double.self, forKey: .harmfulShare) ?? d.harmfulShare
        riskyShare = try c.decodeIfPresent(Double.self, forKey: .riskyShare) ?? d.riskyShare
        redTeamDraw = try c.decodeIfPresent(RedTeamDraw.self, forKey: .redTeamDraw) ?? d.redTeamDraw
        imperativeRewrites = try c.decodeIfPresent(Bool.self, forKey: .imperativeRewrites) ?? d.imperativeRewrites
        donotanswerExcluded = try c.decodeIfPresent([String].self, forKey: .donotanswerExcluded) ?? d.donotanswerExcluded
        revisionContext = try c.decodeIfPresent(RevisionContext.self, forKey: .revisionContext) ?? d.revisionContext
        revisions = try c.decodeIfPresent(Int.self, forKey: .revisions) ?? d.revisions
        candidates = try c.decodeIfPresent(Int.self, forKey: .candidates) ?? d.candidates
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? d.temperature
        answerTokens = try c.decodeIfPresent(Int.self, forKey: .answerTokens) ?? d.answerTokens
        critiqueTokens = try c.decodeIfPresent(Int.self, forKey: .critiqueTokens) ?? d.critiqueTokens
        revisionTokens = try c.decodeIfPresent(Int.self, forKey: .revisionTokens) ?? d.revisionTokens
        revisionSentences = try c.decodeIfPresent(Int.self, forKey: .revisionSentences) ?? d.revisionSentences
        benignAnswers = try c.decodeIfPresent(BenignAnswerSource.self, forKey: .benignAnswers) ?? d.benignAnswers
        objective = try c.decodeIfPresent(CAIObjective.self, forKey: .objective) ?? d.objective
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        dpoBeta = try c.decodeIfPresent(Double.self, forKey: .dpoBeta) ?? d.dpoBeta
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        maxUpdateNorm = try c.decodeIfPresent(Double.self, forKey: .maxUpdateNorm) ?? d.maxUpdateNorm
        constitution = try c.decodeIfPresent(String.self, forKey: .constitution)
        criticModel = try c.decodeIfPresent(String.self, forKey: .criticModel)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(placement, forKey: .placement)
        try c.encode(prompts, forKey: .prompts)
        try c.encode(cheapPrompts, forKey: .cheapPrompts)
        try c.encode(harmfulShare, forKey: .harmfulShare)
        try c.encode(riskyShare, forKey: .riskyShare)
        try c.encode(redTeamDraw, forKey: .redTeamDraw)
        try c.encode(imperativeRewrites, forKey: .imperativeRewrites)
        try c.encode(donotanswerExcluded, forKey: .donotanswerExcluded)
        try c.encode(revisionContext, forKey: .revisionContext)
        try c.encode(revisions, forKey: .revisions)
        try c.encode(candidates, forKey: .candidates)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(answerTokens, forKey: .answerTokens)
        try c.encode(critiqueTokens, forKey: .critiqueTokens)
        try c.encode(revisionTokens, forKey: .revisionTokens)
        try c.encode(revisionSentences, forKey: .revisionSentences)
        try c.encode(benignAnswers, forKey: .benignAnswers)
        try c.encode(objective, forKey: .objective)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(dpoBeta, forKey: .dpoBeta)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(maxUpdateNorm, forKey: .maxUpdateNorm)
        try c.encode(constitution, forKey: .constitution)
        try c.encode(criticModel, forKey: .criticModel)
    }
}

/// Constitutional AI's errors.
public enum CAIError: Error, CustomStringConvertible, Equatable {
    /// A setting is out of range.
    case settings(key: String, reason: String)
    /// The prompt pool is empty.
    case emptyPool(String)
    /// The critic model cannot serve (another tokenizer, no chat template).
    case critic(String)
    /// No prompt yielded usable training data.
    case noTrainingData(String)
    /// Training failed (a NaN loss, ...): the step is rejected.
    case training(String)

    public var description: String {
        switch self {
        case .settings(let key, let reason): "\(key): \(reason)"
        case .emptyPool(let s): "CAI prompt pool: \(s)"
        case .critic(let s): "CAI critic model: \(s)"
        case .noTrainingData(let s): "CAI step: no usable training data (\(s))"
        case .training(let s): "CAI training: \(s)"
        }
    }
}
