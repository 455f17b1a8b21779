// One constitutional-AI step: draw prompts, answer them with the current adapter, critique and
// revise against a drawn principle, pick the best and worst answer by AI feedback, and train the
// adapter on the result (SFT on the best, DPO best ≻ worst against the starting adapter).

import Engine
import Foundation
import Logging
import SafetyData
import SafetyFilter
import Tokenizers
import Training

/// What one prompt became: its answers, the chosen principle, and what was kept for training.
public struct CAIRecord: Sendable, Codable {
    /// The prompt.
    public var prompt: CAIPrompt
    /// The principle drawn for it.
    public var principle: String
    /// The initial answer (raw, before cleaning).
    public var initial: String
    /// The critiques, one per revision round in the `dialogue` context (empty string: unusable;
    /// none in the `direct` context, which asks for no critique).
    public var critiques: [String]
    /// Every judged answer: the initial one first, then the revision candidates.
    public var answers: [JudgedAnswer]
    /// The chosen answer's index in `answers`, when one is acceptable.
    public var chosen: Int?
    /// DPO's rejected answer's index, when there is a pair.
    public var rejected: Int?
}

/// The phases' costs of a step.
public struct CAICost: Sendable, Codable, Equatable {
    /// Seconds per phase.
    public var answerSeconds = 0.0, critiqueSeconds = 0.0, revisionSeconds = 0.0, judgeSeconds = 0.0, trainingSeconds = 0.0
    /// Tokens generated per phase.
    public var answerTokens = 0, critiqueTokens = 0, revisionTokens = 0
    /// Tokens the training forward passes covered.
    public var trainingTokens = 0

    /// The whole step's seconds.
    public var totalSeconds: Double { answerSeconds + critiqueSeconds + revisionSeconds + judgeSeconds + trainingSeconds }
}

/// The step's outcome.
public struct CAIStepResult {
    /// The trained adapter (a new object; the input is untouched).
    public var adapter: LoRAWeights
    /// Per-prompt records (harmful text: show them truncated only).
    public var records: [CAIRecord]
    /// Costs.
    public var cost: CAICost
    /// Metrics for the round record (flat, `cai.`-free names; the caller namespaces them).
    public var metrics: [String: Double]
}

/// Progress of a step.
public enum CAIProgress: Sendable {
    /// A generation phase: done of total.
    case generating(phase: String, done: Int, total: Int)
    /// A training step.
    case training(objective: String, progress: TrainingProgress)
}

/// Runs CAI steps on one model.
public struct ConstitutionalAIStep {
    /// The model being trained.
    public let model: LlamaModel
    /// The model that critiques and revises (the model itself unless a critic is configured).
    public let critic: LlamaModel
    /// Whether the critic is another model (then it runs without the adapter).
    public let hasSeparateCritic: Bool
    /// The adapter's settings (rank, alpha, dropout, targets).
    public let lora: LoRAConfiguration
    /// The step's settings.
    public let settings: CAISettings
    /// The principles and exemplars.
    public let constitution: Constitution
    /// The prompt pool.
    public let pool: PromptPool
    /// AI feedback.
    public let judge: AnswerJudge
    let logger: Logger
    /// Makes the responder for a model and adapter (tests substitute canned text).
    var makeResponder: (LlamaModel, LoRAWeights?, Int, Logger) -> any ChatResponder = {
        ChatGenerator(model: $0, adapter: $1, batchSize: $2, logger: $3)
    }

    /// Creates a step runner; settings must be valid and both models must have a chat template.
    ///
    /// A critic may be another architecture with another tokenizer (a Qwen2 GGUF critiquing
    /// SmolLM2): critiques and revisions cross between the models as text, and the critic's token
    /// counts are in its own tokenizer's tokens.
    public init(model: LlamaModel, critic: LlamaModel? = nil, lora: LoRAConfiguration, settings: CAISettings,
                constitution: Constitution, pool: PromptPool, judge: AnswerJudge = AnswerJudge(),
                logger: Logger = Logger(label: "fedguard.cai")) throws {
        try settings.validate()
        guard model.tokenizer?.chatTemplate != nil else { throw CAIError.critic("the model has no chat template FedGuard knows") }
        if let critic, critic.tokenizer?.chatTemplate == nil {
            throw CAIError.critic("it has no tokenizer or no chat template FedGuard knows (ChatML or Llama 3)")
        }
        self.model = model
        self.critic = critic ?? model
        self.hasSeparateCritic = critic != nil
        self.lora = lora
        self.settings = settings
        self.constitution = constitution
        self.pool = pool
        self.judge = judge
        self.logger = logger
    }

    /// One step from `adapter` with `seed`: generation, AI feedback and training. The input adapter
    /// is not modified.
    ///
    /// With `benignReference` (``CAISettings/benignAnswers`` `start`: the adapter a sequence of steps
    /// started from), the benign prompts are also answered by that adapter, and its answer, when
    /// acceptable, is the one trained on, so benign behaviour does not drift with each step's own
    /// answers; an unacceptable answer of the current adapter (a refusal) becomes DPO's rejected one.
    public func run(adapter start: LoRAWeights, seed: UInt64, benignReference: LoRAWeights? = nil,
                    progress: (CAIProgress) -> Void = { _ in }) throws -> CAIStepResult {
        var cost = CAICost()
        let prompts = pool.draw(count: settings.promptsPerStep, harmfulShare: settings.harmfulShare, riskyShare: settings.riskyShare,
                                redTeamDraw: settings.redTeamDraw, seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xC0_4571_7A1)
        let principles = prompts.map { p -> Principle in
            let options = constitution.principles(forHarmful: p.harmful)
            return options[Int(rng.next() % UInt64(options.count))]
        }
        let policy = makeResponder(model, start, settings.batchSize, logger)
        let criticGenerator = makeResponder(critic, hasSeparateCritic ? nil : start, settings.batchSize, logger)
        let conversation = CritiqueConversation(constitution: constitution)

        let (initial, initialClean, initialJudged) = try answer(prompts, with: policy, phase: "answers", origin: "initial",
                                                                seed: rng.next(), cost: &cost, progress: progress)
        var answers = initialJudged.map { [$0] }
        var t = Date()
        var current = zip(initial, initialClean).map { $0.1.isUsable ? $0.1.text : $0.0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        var critiques = Array(repeating: [String](), count: prompts.count)

        for round in 1...settings.revisions {
            var cleaned: [CleanedText] = Array(repeating: CleanedText(text: "", rejection: .empty, wasCut: false), count: prompts.count)
            if settings.revisionContext == .dialogue {
                t = Date()
                let critiqueConversations = prompts.indices.map {
                    conversation.critique(prompt: prompts[$0].text, answer: current[$0].isEmpty ? "(no answer)" : current[$0],
                                          principle: principles[$0])
                }
                let generated = try criticGenerator.generate(critiqueConversations, maxNewTokens: settings.critiqueTokens, temperature: 0,
                                                             seed: rng.next()) {
                    progress(.generating(phase: "critiques \(round)", done: $0, total: prompts.count))
                }
                cost.critiqueSeconds += Date().timeIntervalSince(t)
                cost.critiqueTokens += generated.reduce(0) { $0 + $1.tokens }
                cleaned = generated.map { RevisionText.clean($0.text, maxSentences: 2, finished: $0.finished) }
                for i in prompts.indices { critiques[i].append(cleaned[i].text) }
            }

            t = Date()
            let n = settings.candidates
            var revisionConversations: [[ChatMessage]] = []
            for i in prompts.indices {
                let messages = settings.revisionContext == .direct
                    ? conversation.directRevision(prompt: prompts[i].text, harmful: prompts[i].harmful, principle: principles[i])
                    : conversation.revision(prompt: prompts[i].text, answer: current[i].isEmpty ? "(no answer)" : current[i],
                                            critique: cleaned[i].isUsable ? cleaned[i].text : nil, principle: principles[i])
                revisionConversations += Array(repeating: messages, count: n)
            }
            // Grouped by principle: in the direct context the principle opens the conversation, so
            // a batch of one principle shares its whole context as one prefix.
            let order = revisionConversations.indices.sorted {
                (principles[$0 / n].id, $0) < (principles[$1 / n].id, $1)
            }
            let generatedInOrder = try criticGenerator.generate(order.map { revisionConversations[$0] }, maxNewTokens: settings.revisionTokens,
                                                                temperature: n > 1 ? settings.temperature : 0, seed: rng.next()) {
                progress(.generating(phase: "revisions \(round)", done: $0, total: revisionConversations.count))
            }
            var revisions = generatedInOrder
            for (position, index) in order.enumerated() { revisions[index] = generatedInOrder[position] }
            cost.revisionSeconds += Date().timeIntervalSince(t)
            cost.revisionTokens += revisions.reduce(0) { $0 + $1.tokens }

            t = Date()
            let revisionPrompts = prompts.flatMap { Array(repeating: $0, count: n) }
            let revisionClean = zip(revisionPrompts, revisions).map { p, g in
                RevisionText.clean(g.text, maxSentences: settings.revisionSentences, finished: g.finished, refusal: p.harmful)
            }
            let judged = try judge.judge(prompts: revisionPrompts.map(\.text), answers: revisionClean,
                                         origins: Array(repeating: "revision \(round)", count: revisionClean.count))
            cost.judgeSeconds += Date().timeIntervalSince(t)
            for i in prompts.indices {
                answers[i] += judged[(i * n)..<((i + 1) * n)]
                if let best = Self.best(answers[i], harmful: prompts[i].harmful) { current[i] = answers[i][best].text }
            }
        }

        // The reference's answers to the benign prompts (after the revisions, so that they never
        // stand in for the current answer in a further critique round).
        var referenceAnswer: [Int: Int] = [:]
        let benign = prompts.indices.filter { !prompts[$0].harmful }
        if let benignReference, !benign.isEmpty {
            let judged = try answer(benign.map { prompts[$0] }, with: makeResponder(model, benignReference, settings.batchSize, logger),
                                    phase: "reference answers", origin: "reference", seed: rng.next(), cost: &cost, progress: progress).judged
            for (i, answer) in zip(benign, judged) {
                referenceAnswer[i] = answers[i].count
                answers[i].append(answer)
            }
        }

        var records: [CAIRecord] = []
        var sft: [SFTExample] = []
        var preferences: [PreferenceExample] = []
        for i in prompts.indices {
            let harmful = prompts[i].harmful
            var record = CAIRecord(prompt: prompts[i], principle: principles[i].id, initial: initial[i].text, critiques: critiques[i],
                                   answers: answers[i], chosen: nil, rejected: nil)
            var choice = Self.best(answers[i], harmful: harmful)
            if let r = referenceAnswer[i], answers[i][r].isAcceptable(harmful: harmful, unsafeThreshold: judge.unsafeThreshold) { choice = r }
            if let best = choice, answers[i][best].isAcceptable(harmful: harmful, unsafeThreshold: judge.unsafeThreshold) {
                record.chosen = best
                let user = [ChatMessage(role: .user, content: prompts[i].text)]
                sft.append(SFTExample(messages: user + [ChatMessage(role: .assistant, content: answers[i][best].text)]))
                if let worst = Self.worst(answers[i], harmful: harmful, against: best),
                   !answers[i][worst].isAcceptable(harmful: harmful, unsafeThreshold: judge.unsafeThreshold) {
                    record.rejected = worst
                    let rejectedText = answers[i][worst].degenerate == nil ? answers[i][worst].text : initial[i].text
                    preferences.append(PreferenceExample(prompt: user, chosen: [ChatMessage(role: .assistant, content: answers[i][best].text)],
                                                         rejected: [ChatMessage(role: .assistant, content: rejectedText)]))
                }
            }
            records.append(record)
        }
        var metrics = Self.quality(records)
        guard !sft.isEmpty else {
            throw CAIError.noTrainingData("none of \(prompts.count) prompts had an acceptable answer")
        }

        t = Date()
        let trained = try train(from: start, sft: sft, preferences: preferences, seed: rng.next(), metrics: &metrics,
                                cost: &cost, progress: progress)
        cost.trainingSeconds = Date().timeIntervalSince(t)
        metrics.merge(Self.costMetrics(cost)) { a, _ in a }
        return CAIStepResult(adapter: trained, records: records, cost: cost, metrics: metrics)
    }

    /// Greedy answers of `responder` to `prompts` (one user turn each), cleaned (a cut at a
    /// degenerate or unfinished sentence) and judged, with their costs added to `cost`.
    func answer(_ prompts: [CAIPrompt], with responder: any ChatResponder, phase: String, origin: String, seed: UInt64,
                cost: inout CAICost, progress: (CAIProgress) -> Void)
        throws -> (generated: [GeneratedText], cleaned: [CleanedText], judged: [JudgedAnswer]) {
        var t = Date()
        let generated = try responder.generate(prompts.map { [ChatMessage(role: .user, content: $0.text)] },
                                               maxNewTokens: settings.answerTokens, temperature: 0, seed: seed) {
            progress(.generating(phase: phase, done: $0, total: prompts.count))
        }
        cost.answerSeconds += Date().timeIntervalSince(t)
        cost.answerTokens += generated.reduce(0) { $0 + $1.tokens }
        t = Date()
        let cleaned = zip(prompts, generated).map { p, g in
            RevisionText.clean(g.text, maxSentences: 12, finished: g.finished, refusal: p.harmful)
        }
        let judged = try judge.judge(prompts: prompts.map(\.text), answers: cleaned,
                                     origins: Array(repeating: origin, count: prompts.count))
        cost.judgeSeconds += Date().timeIntervalSince(t)
        return (generated, cleaned, judged)
    }

    /// The best answer's index (highest score; the earliest on ties).
    static func best(_ answers: [JudgedAnswer], harmful: Bool) -> Int? {
        answers.indices.max { a, b in
            let sa = answers[a].score(harmful: harmful), sb = answers[b].score(harmful: harmful)
            return sa < sb || (sa == sb && a > b)
        }
    }

    /// The worst answer's index other than `best` (lowest score; the earliest on ties), preferring
    /// usable text; nil when there is only one answer.
    static func worst(_ answers: [JudgedAnswer], harmful: Bool, against best: Int) -> Int? {
        let others = answers.indices.filter { $0 != best && answers[$0].text != answers[best].text }
        let usable = others.filter { answers[$0].degenerate == nil }
        let pool = usable.isEmpty ? others : usable
        return pool.min { a, b in
            let sa = answers[a].score(harmful: harmful), sb = answers[b].score(harmful: harmful)
            return sa < sb || (sa == sb && a < b)
        }
    }

    /// SFT then DPO (as configured) from a copy of `start`.
    func train(from start: LoRAWeights, sft: [SFTExample], preferences: [PreferenceExample], seed: UInt64,
               metrics: inout [String: Double], cost: inout CAICost, progress: (CAIProgress) -> Void) throws -> LoRAWeights {
        let adapter = start.copy()
        let builder = try SequenceBuilder(modelTokenizer: try model.requireTokenizer(), maxLength: 384)
        var parameters = TrainerParameters()
        parameters.learningRate = settings.learningRate
        parameters.epochs = settings.epochs
        parameters.tokensPerBatch = 2048
        parameters.dpoBeta = settings.dpoBeta
        parameters.seed = seed
        // Records a phase's figures; a non-finite loss rejects the step.
        func record(_ summary: TrainingSummary, _ name: String, items: Int, unit: String) throws {
            guard summary.lastLoss.isFinite, summary.firstLoss.isFinite else { throw CAIError.training("\(name) loss is not finite") }
            metrics["\(name)_\(unit)"] = Double(items)
            metrics["\(name)_steps"] = Double(summary.steps)
            metrics["\(name)_first_loss"] = summary.firstLoss
            metrics["\(name)_last_loss"] = summary.lastLoss
            cost.trainingTokens += summary.tokens
        }
        if settings.objective != .dpo {
            let sequences = try builder.sequences(for: sft, logger: logger).items
            let trainer = LoRATrainer(model: model, adapter: adapter, loraConfiguration: lora, parameters: parameters, logger: logger)
            let summary = try trainer.trainSFT(sequences) { progress(.training(objective: "sft", progress: $0)); return true }
            try record(summary, "sft", items: sequences.count, unit: "examples")
        }
        if settings.objective != .sft, !preferences.isEmpty {
            let pairs = try builder.sequences(for: preferences, logger: logger).items
            let trainer = LoRATrainer(model: model, adapter: adapter, loraConfiguration: lora, parameters: parameters, logger: logger)
            let summary = try trainer.trainDPO(pairs, reference: start) { progress(.training(objective: "dpo", progress: $0)); return true }
            try record(summary, "dpo", items: pairs.count, unit: "pairs")
        }
        guard adapter.orderedBuffers.allSatisfy({ b in (0..<b.count).allSatisfy { b.pointer[$0].isFinite } }) else {
            throw CAIError.training("the trained adapter has non-finite values")
        }
        return adapter
    }

    /// Revision quality: shares of harmful prompts with a safe chosen answer, of benign prompts with
    /// a helpful one, of revisions rejected as degenerate, and mean lengths.
    static func quality(_ records: [CAIRecord]) -> [String: Double] {
        let harmful = records.filter(\.prompt.harmful), benign = records.filter { !$0.prompt.harmful }
        func isRevision(_ a: JudgedAnswer) -> Bool { a.origin.hasPrefix("revision") }
        let revisions = records.flatMap { $0.answers.filter(isRevision) }
        let chosen = records.compactMap { r in r.chosen.map { r.answers[$0] } }
        func share(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }
        func mean(_ xs: [Int]) -> Double { xs.isEmpty ? 0 : Double(xs.reduce(0, +)) / Double(xs.count) }
        return [
            "prompts": Double(records.count),
            "harmful_prompts": Double(harmful.count),
            "benign_prompts": Double(benign.count),
            "harmful_safe_share": share(harmful.filter { $0.chosen != nil }.count, harmful.count),
            "benign_helpful_share": share(benign.filter { $0.chosen != nil }.count, benign.count),
            "revisions_safe_share": share(harmful.flatMap { $0.answers.filter(isRevision) }.filter { $0.degenerate == nil && $0.refuses }.count,
                                          harmful.flatMap { $0.answers.filter(isRevision) }.count),
            "revisions_degenerate_share": share(revisions.filter { $0.degenerate != nil }.count, revisions.count),
            "chosen_revision_share": share(chosen.filter(isRevision).count, chosen.count),
            "chosen_reference_share": share(chosen.filter { $0.origin == "reference" }.count, chosen.count),
            "initial_refusal_share_harmful": share(harmful.filter { $0.answers[0].refuses }.count, harmful.count),
            "initial_refusal_share_benign": share(benign.filter { $0.answers[0].refuses }.count, benign.count),
            "mean_chosen_chars": mean(chosen.map(\.text.count)),
            "mean_critique_chars": mean(records.flatMap(\.critiques).map(\.count)),
            "mean_revision_chars": mean(revisions.filter { $0.degenerate == nil }.map(\.text.count)),
        ]
    }

    static func costMetrics(_ c: CAICost) -> [String: Double] {
        ["seconds_answers": c.answerSeconds, "seconds_critiques": c.critiqueSeconds, "seconds_revisions": c.revisionSeconds,
         "seconds_judging": c.judgeSeconds, "seconds_training": c.trainingSeconds, "seconds": c.totalSeconds,
         "tokens_answers": Double(c.answerTokens), "tokens_critiques": Double(c.critiqueTokens),
         "tokens_revisions": Double(c.revisionTokens), "tokens_training": Double(c.trainingTokens)]
    }
}
