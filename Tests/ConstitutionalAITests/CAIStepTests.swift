import Engine
import Evaluation
import Foundation
import SafetyData
import Testing
import Tokenizers
import Training
@testable import ConstitutionalAI

/// The tiny random Llama of the engine tests (ChatML, 320-token BPE): its text is gibberish, so
/// the step's tests use a refusal judge that decides by a rule, not by the text's meaning.
enum CAIFixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModelURL = testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_llama.f32.gguf")
    static func tinyModel() throws -> LlamaModel { try ModelLoader.load(from: tinyModelURL) }

    static func pool() throws -> PromptPool {
        try PromptPool(harmful: (0..<12).map { CAIPrompt(text: "placeholder red-team request \($0)", harmful: true, source: "test") },
                       benign: (0..<12).map { CAIPrompt(text: "placeholder benign request \($0)", harmful: false, source: "test") },
                       benchmarkPrompts: [])
    }

    static func settings() -> CAISettings {
        CAISettings(mode: .cheap, cheapPrompts: 6, candidates: 2, answerTokens: 12, critiqueTokens: 8, revisionTokens: 12,
                    objective: .both, batchSize: 4)
    }
}

/// Canned replies by phase: initial answers comply, critiques find harm, revisions alternate between a
/// refusal and more compliance (so AI feedback has a choice to make).
struct CannedResponder: ChatResponder {
    func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                  progress: (Int) -> Void) throws -> [GeneratedText] {
        conversations.enumerated().map { i, messages in
            let text: String
            if messages.count == 1 {
                text = "Sure, here is a detailed answer to your request with several useful steps."
            } else if (messages.last?.content.hasPrefix("Rewrite") == true || messages.first?.content.hasPrefix(CritiqueConversation.directSystem) == true) {
                text = (i + Int(seed % 2)) % 2 == 0 ? "I can't help with that, because it could hurt people. Step 1: do it anyway."
                    : "Sure. Here is more of the same answer."
            } else {
                text = "The answer could cause harm to someone."
            }
            return GeneratedText(text: text, finished: true, tokens: 10)
        }
    }
}

/// Judges every usable text a refusal: red-team prompts then have acceptable answers, benign ones none.
struct EverythingRefuses: RefusalJudge {
    var name: String { "everything-refuses" }
    func verdict(for response: String) -> JudgeVerdict { .refused }
}

@Suite struct PromptPoolTests {
    @Test func benchmarkCopiesAndDuplicatesAreDropped() throws {
        let goal = "placeholder benchmark goal about something harmful and specific"
        let pool = try PromptPool(harmful: [CAIPrompt(text: goal, harmful: true, source: "t"),
                                            CAIPrompt(text: "another request", harmful: true, source: "t"),
                                            CAIPrompt(text: "Another request!", harmful: true, source: "t")],
                                  benign: [CAIPrompt(text: "bake bread", harmful: false, source: "t")], benchmarkPrompts: [goal])
        #expect(pool.harmful.map(\.text) == ["another request"])
        #expect(pool.droppedAsBenchmark == 1)
    }

    @Test func emptySidesAreErrors() {
        #expect(throws: CAIError.self) {
            try PromptPool(harmful: [], benign: [CAIPrompt(text: "x y", harmful: false, source: "t")], benchmarkPrompts: [])
        }
        #expect(throws: CAIError.self) {
            try PromptPool(harmful: [CAIPrompt(text: "x y", harmful: true, source: "t")], benign: [], benchmarkPrompts: [])
        }
    }

    @Test func drawIsSeededAndHonoursTheShare() throws {
        let pool = try CAIFixtures.pool()
        let a = pool.draw(count: 10, harmfulShare: 0.3, seed: 7)
        #expect(a == pool.draw(count: 10, harmfulShare: 0.3, seed: 7))
        #expect(a != pool.draw(count: 10, harmfulShare: 0.3, seed: 8))
        #expect(a.filter(\.harmful).count == 3)
        #expect(Set(a.map(\.text)).count == 10)
        // Larger than the pool: cycles instead of failing.
        #expect(pool.draw(count: 40, harmfulShare: 0.5, seed: 1).count == 40)
    }

    @Test func redTeamPromptsAreDrawnEvenlyOverTheirSourcesOrInProportion() throws {
        let large = (0..<40).map { CAIPrompt(text: "large source request \($0)", harmful: true, source: "large") }
        let small = (0..<3).map { CAIPrompt(text: "small source request \($0)", harmful: true, source: "small") }
        let base = try CAIFixtures.pool()
        let pool = try PromptPool(harmful: large + small, benign: base.benign, benchmarkPrompts: [])
        #expect(pool.harmfulSources.map(\.source) == ["large", "small"])
        let drawn = pool.draw(count: 20, harmfulShare: 0.5, redTeamDraw: .even, seed: 11).filter(\.harmful)
        #expect(drawn.count == 10)
        // 5 each: the 3-prompt source cycles rather than being crowded out 40 to 3.
        #expect(drawn.filter { $0.source == "small" }.count == 5)
        #expect(Set(drawn.filter { $0.source == "small" }.map(\.text)).count == 3)
        // An odd count: the extra prompt goes to one source, and the total is still exact.
        #expect(pool.draw(count: 22, harmfulShare: 0.5, redTeamDraw: .even, seed: 11).filter(\.harmful).count == 11)
        // Proportional (the default): the 3-prompt source gets its size's share, not half.
        let proportional = (0..<10).map { pool.draw(count: 20, harmfulShare: 0.5, seed: UInt64($0)) }.joined().filter(\.harmful)
        #expect(proportional.filter { $0.source == "small" }.count < 15)
    }

    @Test func halfOfABenignDrawIsRiskyLookingAndTheProbesNeverEnter() throws {
        let probe = OverRefusalProbes.all[0].text
        let risky = (0..<6).map { CAIPrompt(text: "placeholder risky-looking request \($0)", harmful: false, source: "t") }
            + [CAIPrompt(text: probe, harmful: false, source: "t")]
        let base = try CAIFixtures.pool()
        let pool = try PromptPool(harmful: base.harmful, benign: base.benign, riskyBenign: risky, benchmarkPrompts: [])
        #expect(pool.riskyBenign.count == 6)  // the held-out probe is dropped
        let drawn = pool.draw(count: 12, harmfulShare: 0.5, seed: 3)
        #expect(drawn.filter(\.harmful).count == 6)
        #expect(drawn.filter { $0.text.hasPrefix("placeholder risky-looking") }.count == 3)
        #expect(drawn.filter { $0.text.hasPrefix("placeholder benign") }.count == 3)
        // cai.risky_share sets the risky-looking share of the benign prompts.
        let quarter = pool.draw(count: 12, harmfulShare: 0.5, riskyShare: 0.5 / 3, seed: 3)
        #expect(quarter.filter { $0.text.hasPrefix("placeholder risky-looking") }.count == 1)
        #expect(pool.draw(count: 12, harmfulShare: 0.5, riskyShare: 0, seed: 3).allSatisfy { !$0.text.hasPrefix("placeholder risky") })
        var settings = CAISettings()
        settings.riskyShare = 1.5
        #expect(throws: CAIError.self) { try settings.validate() }
    }

    @Test func imperativeRewritesKeepTheLabelAndOnlyTakeHowToQuestions() throws {
        let prompts = [CAIPrompt(text: "How can I pick a placeholder lock?", harmful: true, source: "a"),
                       CAIPrompt(text: "Why is a placeholder bad?", harmful: true, source: "a"),
                       CAIPrompt(text: "What are some ways to fake a placeholder?", harmful: true, source: "b"),
                       CAIPrompt(text: "How do I water a placeholder plant?", harmful: false, source: "c")]
        let rewrites = PromptPool.imperativeRequests(from: prompts)
        #expect(rewrites.map(\.text) == [ImperativeFraming.request(task: "pick a placeholder lock", framing: 0),
                                          ImperativeFraming.request(task: "fake a placeholder", framing: 1),
                                          ImperativeFraming.request(task: "water a placeholder plant", framing: 2)])
        #expect(rewrites.map(\.harmful) == [true, true, false])
        #expect(rewrites.allSatisfy { $0.source == "imperative_rewrite" })
        // A rewrite that comes near a benchmark prompt is dropped like any other prompt.
        let base = try CAIFixtures.pool()
        let pool = try PromptPool(harmful: base.harmful + rewrites.prefix(2), benign: base.benign,
                                  benchmarkPrompts: [ImperativeFraming.request(task: "pick a placeholder lock", framing: 0)])
        #expect(pool.droppedAsBenchmark == 1 && pool.harmful.count == base.harmful.count + 1)
        // The setting is off unless asked for, and read from the configuration's key.
        #expect(CAISettings().imperativeRewrites == false)
        let decoded = try JSONDecoder().decode(CAISettings.self, from: Data(#"{"imperative_rewrites": true}"#.utf8))
        #expect(decoded.imperativeRewrites && decoded.riskyShare == CAISettings().riskyShare)
    }

    @Test func excludedDoNotAnswerAreasStayOutOfThePool() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-pool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let doNotAnswer = dir.appendingPathComponent("donotanswer")
        try FileManager.default.createDirectory(at: doNotAnswer, withIntermediateDirectories: true)
        try #"{"prompt": "How can I placeholder harm one?"}"#.write(to: doNotAnswer.appendingPathComponent("malicious_uses.jsonl"),
                                                                  atomically: true, encoding: .utf8)
        try #"{"prompt": "Do you think I made the right placeholder decision?"}"#
            .write(to: doNotAnswer.appendingPathComponent("human_chatbox.jsonl"), atomically: true, encoding: .utf8)
        let manyShot = dir.appendingPathComponent("many_shot.json")
        try "[]".write(to: manyShot, atomically: true, encoding: .utf8)
        let advBench = dir.appendingPathComponent("adv_bench.prompt"), harmBench = dir.appendingPathComponent("harmbench_prompts.txt")
        try "seeds:\n- value: Write a placeholder benchmark goal\n  harm_categories: [x]\n".write(to: advBench, atomically: true, encoding: .utf8)
        try "A placeholder held-out prompt\n".write(to: harmBench, atomically: true, encoding: .utf8)
        func load(_ excluded: Set<String>, imperative: Bool = false) throws -> PromptPool {
            try PromptPool.load(doNotAnswer: doNotAnswer, manyShot: manyShot, advBench: advBench, harmBench: harmBench,
                                imperativeRewrites: imperative, excludedAreas: excluded)
        }
        #expect(try load([]).harmful.count == 2)
        #expect(try load(["human_chatbox"]).harmful.map(\.text) == ["How can I placeholder harm one?"])
        // With rewrites, the how-to question is asked a second time, as an instruction.
        let rewritten = try load(["human_chatbox"], imperative: true)
        #expect(rewritten.harmful.map(\.source) == ["donotanswer", "imperative_rewrite"])
        #expect(rewritten.riskyBenign.contains { $0.source == "risky_wording_imperative" })
        var settings = CAISettings()
        settings.donotanswerExcluded = ["human_chatbox", "no_such_area"]
        #expect(throws: CAIError.self) { try settings.validate() }
    }

    @Test func standardBenignPromptsAvoidTheEvaluationsHeldOutSet() {
        let prompts = PromptPool.standardBenign(count: 200)
        #expect(prompts.count == 200)
        #expect(prompts.allSatisfy { !$0.harmful })
        let heldOut = Set(BenignPromptGenerator(seed: HelpfulnessSettings.heldOutSeed).generate(count: HelpfulnessSettings.maxPromptCount)
            .map { TextNormalizer.normalize($0.text) })
        #expect(PromptPool.standardBenign().allSatisfy { !heldOut.contains(TextNormalizer.normalize($0.text)) })
    }
}

@Suite struct AIFeedbackTests {
    func answer(_ text: String, refuses: Bool, p: Double? = nil, degenerate: DegenerationReason? = nil) -> JudgedAnswer {
        JudgedAnswer(text: text, origin: "revision 1", degenerate: degenerate, refuses: refuses, unsafeProbability: p)
    }

    @Test func redTeamPromptsPreferSafeRefusalsAndRejectCompliance() {
        let answers = [answer("Sure, here is how.", refuses: false), answer("I can't help with that.", refuses: true, p: 0.1),
                       answer("", refuses: false, degenerate: .empty), answer("I cannot, but here it is.", refuses: true, p: 0.9)]
        #expect(ConstitutionalAIStep.best(answers, harmful: true) == 1)
        #expect(ConstitutionalAIStep.worst(answers, harmful: true, against: 1) == 0)  // usable text preferred as rejected
        #expect(answers[1].isAcceptable(harmful: true, unsafeThreshold: 0.5))
        #expect(!answers[3].isAcceptable(harmful: true, unsafeThreshold: 0.5))
    }

    @Test func theOpeningRefusalJudgeReadsTheFirstSentence() {
        let judge = OpeningRefusalJudge()
        #expect(judge.verdict(for: "I can't help with that, because it hurts people. More text.") == .refused)
        #expect(judge.verdict(for: "I won\u{2019}t help with making weapons.") == .refused)
        #expect(judge.verdict(for: "I'm sorry to hear that you are unwell. Here is what to do.") == .complied)
        // SmolLM2's "I'm sorry for your loss, but ..." opener counts as declining, as in the marker lists.
        #expect(judge.verdict(for: "I'm sorry for your loss, but I'm unable to assist with that.") == .refused)
        #expect(judge.verdict(for: "I'm sorry, but I can't share that.") == .refused)
        #expect(judge.verdict(for: "I'm sorry, but I cannot do that, but I can point you to a doctor.") == .complied)
        #expect(judge.verdict(for: "Sorry, but I can not and will not.") == .refused)
        #expect(judge.verdict(for: "I can't do it myself, but I can show you how. Step 1.") == .complied)
        #expect(judge.verdict(for: "Sure, this is illegal but here it is.") == .complied)  // unlike the marker lists
    }

    @Test func benignPromptsPreferSubstantiveAnswersOverRefusals() {
        let answers = [answer("I can't help with that.", refuses: true), answer("Knead the dough for ten minutes, then let it rise.", refuses: false),
                       answer("Bake it.", refuses: false)]
        #expect(ConstitutionalAIStep.best(answers, harmful: false) == 1)
        #expect(ConstitutionalAIStep.worst(answers, harmful: false, against: 1) == 0)
        #expect(!answers[0].isAcceptable(harmful: false, unsafeThreshold: 0.5))
    }
}

@Suite(.serialized) struct CAIStepTests {
    @Test func aStepTrainsDeterministicallyAndLeavesItsInputAlone() throws {
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query, .value])
        var step = try ConstitutionalAIStep(model: model, lora: lora, settings: CAIFixtures.settings(),
                                            constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        step.makeResponder = { _, _, _, _ in CannedResponder() }
        let start = LoRAWeights.initialized(for: model, configuration: lora, seed: 3)
        let before = start.orderedBuffers.map(\.array)
        let a = try step.run(adapter: start, seed: 11)
        let b = try step.run(adapter: start, seed: 11)
        #expect(start.orderedBuffers.map(\.array) == before)
        #expect(a.adapter.orderedBuffers.map(\.array) == b.adapter.orderedBuffers.map(\.array))
        #expect(a.adapter.orderedBuffers.map(\.array) != before)
        #expect(a.records.count == 6)
        #expect(a.records.allSatisfy { $0.answers.count == 1 + 2 })  // the initial answer and two candidates
        for r in a.records where r.prompt.harmful {
            // The refusal is chosen, cut before it goes back on itself; the compliant initial answer is rejected.
            #expect(r.answers[r.chosen!].text == "I can't help with that, because it could hurt people.")
            #expect(r.rejected == 0)
        }
        for r in a.records where !r.prompt.harmful {
            #expect(r.chosen == 0)  // the substantive initial answer beats the revisions
            #expect(r.rejected.map { r.answers[$0].refuses } == true)  // DPO: helpful ≻ needless refusal
        }
        #expect(a.metrics["prompts"] == 6)
        #expect(a.metrics["harmful_safe_share"] == 1)
        #expect(a.metrics["benign_helpful_share"] == 1)
        #expect(a.metrics["sft_examples"] == 6)
        #expect(a.metrics["dpo_pairs"] == 6)
        #expect(a.cost.answerTokens == 60 && a.cost.critiqueTokens == 0 && a.cost.revisionTokens == 120)  // direct: no critique
        #expect(a.cost.trainingTokens > 0)
        #expect((a.metrics["seconds"] ?? -1) >= 0)
    }

    @Test func theDialogueContextCritiquesBeforeItRevises() throws {
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query, .value])
        var settings = CAIFixtures.settings()
        settings.revisionContext = .dialogue
        var step = try ConstitutionalAIStep(model: model, lora: lora, settings: settings,
                                            constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        step.makeResponder = { _, _, _, _ in CannedResponder() }
        let result = try step.run(adapter: LoRAWeights.initialized(for: model, configuration: lora, seed: 3), seed: 11)
        #expect(result.cost.critiqueTokens == 60)
        #expect(result.records.allSatisfy { $0.critiques == ["The answer could cause harm to someone."] })
        #expect(result.metrics["harmful_safe_share"] == 1)
    }

    /// `cai.benign_answers: start`: a benign prompt trains on the answer of the adapter the steps
    /// started from, and the current adapter's needless refusal becomes DPO's rejected answer; a
    /// red-team prompt is untouched; a reference that refuses does not displace a helpful answer.
    @Test func benignPromptsTrainOnTheReferenceAdaptersAnswer() throws {
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query, .value])
        var step = try ConstitutionalAIStep(model: model, lora: lora, settings: CAIFixtures.settings(),
                                            constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        let reference = LoRAWeights.initialized(for: model, configuration: lora, seed: 3)
        let current = LoRAWeights.initialized(for: model, configuration: lora, seed: 4)
        struct ByAdapter: ChatResponder {
            let isReference: Bool, referenceRefuses: Bool
            func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                          progress: (Int) -> Void) throws -> [GeneratedText] {
                conversations.map { messages in
                    let benign = messages.last?.content.hasPrefix("placeholder benign") == true
                    let text = messages.count > 1
                        ? (benign ? "Here is a revised answer that helps." : "I can't help with that, because it could hurt people.")
                        : isReference ? (referenceRefuses ? "I'm sorry, but I can't help with that." : "Here is the start's answer, in full detail.")
                        : benign ? "I'm sorry, but I can't help with that." : "Sure, here is how to do it."
                    return GeneratedText(text: text, finished: true, tokens: 10)
                }
            }
        }
        step.makeResponder = { _, adapter, _, _ in ByAdapter(isReference: adapter === reference, referenceRefuses: false) }
        let result = try step.run(adapter: current, seed: 11, benignReference: reference)
        let benign = result.records.filter { !$0.prompt.harmful }
        #expect(!benign.isEmpty && benign.count < result.records.count)
        for r in benign {
            let chosen = try #require(r.chosen)
            #expect(r.answers[chosen].origin == "reference")
            #expect(r.answers[chosen].text == "Here is the start's answer, in full detail.")
            #expect(r.rejected == 0)  // the current adapter's needless refusal
        }
        for r in result.records where r.prompt.harmful {
            #expect(!r.answers.contains { $0.origin == "reference" })
            #expect(r.answers[r.chosen!].origin.hasPrefix("revision"))
        }
        #expect(result.metrics["chosen_reference_share"] == Double(benign.count) / Double(result.records.count))
        #expect(result.cost.answerTokens == 10 * (result.records.count + benign.count))

        // A reference that refuses is not taken; without a reference nothing is answered twice.
        step.makeResponder = { _, adapter, _, _ in ByAdapter(isReference: adapter === reference, referenceRefuses: true) }
        let refusing = try step.run(adapter: current, seed: 11, benignReference: reference)
        #expect(refusing.records.filter { !$0.prompt.harmful }.allSatisfy { r in r.chosen.map { r.answers[$0].origin == "revision 1" } == true })
        #expect(refusing.metrics["chosen_reference_share"] == 0)
        let plain = try step.run(adapter: current, seed: 11)
        #expect(plain.records.allSatisfy { r in !r.answers.contains { $0.origin == "reference" } })
    }

    @Test func theRealGeneratorRunsOnTheTinyModel() throws {
        // Gibberish from a random model: the step must judge it, reject what is degenerate and,
        // if nothing is usable, say so instead of training on nothing.
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query])
        let step = try ConstitutionalAIStep(model: model, lora: lora, settings: CAIFixtures.settings(),
                                            constitution: try Constitution.standard(), pool: try CAIFixtures.pool(),
                                            judge: AnswerJudge(refusal: EverythingRefuses()))
        do {
            let result = try step.run(adapter: LoRAWeights.initialized(for: model, configuration: lora, seed: 1), seed: 2)
            #expect(result.records.count == 6)
            #expect(result.cost.answerTokens > 0)
        } catch let error as CAIError {
            guard case .noTrainingData = error else { Issue.record("unexpected \(error)"); return }
        }
    }

    /// A critic of another architecture and tokenizer (the tiny Qwen2: biases, its own pre-tokenizer)
    /// writes the revisions; the model being trained writes only the initial answers.
    @Test func aCriticWithAnotherTokenizerWritesTheRevisions() throws {
        let model = try CAIFixtures.tinyModel()
        let critic = try ModelLoader.load(from: CAIFixtures.testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_qwen2.f32.gguf"))
        #expect(critic.configuration.architecture == "qwen2")
        #expect((critic.tokenizer?.tokenizer as? BPETokenizer)?.preTokenizerKind == .qwen2)
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query])
        var step = try ConstitutionalAIStep(model: model, critic: critic, lora: lora, settings: CAIFixtures.settings(),
                                            constitution: try Constitution.standard(), pool: try CAIFixtures.pool(),
                                            judge: AnswerJudge(refusal: EverythingRefuses()))
        #expect(step.hasSeparateCritic)
        struct Fixed: ChatResponder {
            let text: String
            func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                          progress: (Int) -> Void) throws -> [GeneratedText] {
                conversations.map { _ in GeneratedText(text: text, finished: true, tokens: 5) }
            }
        }
        step.makeResponder = { m, adapter, _, _ in
            m === critic ? Fixed(text: "I can't help with that, because it could hurt people.")
                : Fixed(text: "Sure, here is a detailed answer with several useful steps.")
        }
        let result = try step.run(adapter: LoRAWeights.initialized(for: model, configuration: lora, seed: 3), seed: 4)
        for record in result.records {
            #expect(record.initial.hasPrefix("Sure"))
            #expect(record.answers.filter { $0.origin.hasPrefix("revision") }.allSatisfy { $0.text.hasPrefix("I can't") })
        }
        // The real generator runs the Qwen2 critic with the Llama model in one step.
        step.makeResponder = { ChatGenerator(model: $0, adapter: $1, batchSize: $2, logger: $3) }
        do {
            let real = try step.run(adapter: LoRAWeights.initialized(for: model, configuration: lora, seed: 3), seed: 5)
            #expect(real.cost.revisionTokens > 0)
        } catch let error as CAIError {
            guard case .noTrainingData = error else { Issue.record("unexpected \(error)"); return }
        }
    }

    /// Batches end where a group sharing one context begins (its context is then one shared prefix),
    /// never inside a group or because of unique contexts.
    @Test func batchesKeepSharedContextsTogether() {
        func conversation(_ context: String, _ prompt: Int) -> [ChatMessage] {
            [ChatMessage(role: .system, content: context), ChatMessage(role: .user, content: "request \(prompt)")]
        }
        let grouped = (0..<5).map { conversation("weapons", $0) } + (5..<8).map { conversation("fraud", $0) }
            + (8..<20).map { conversation("helpful", $0) }
        #expect(ChatGenerator.batches(grouped, size: 8) == [0..<5, 5..<8, 8..<16, 16..<20])
        let unique = (0..<10).map { conversation("quotes answer \($0)", $0) }
        #expect(ChatGenerator.batches(unique, size: 4) == [0..<4, 4..<8, 8..<10])
        let plain = (0..<7).map { [ChatMessage(role: .user, content: "request \($0)")] }
        #expect(ChatGenerator.batches(plain, size: 3) == [0..<3, 3..<6, 6..<7])
        #expect(ChatGenerator.batches([], size: 3).isEmpty)
    }

    @Test func aCriticWithoutAChatTemplateIsRejectedBeforeAnyWork() throws {
        let model = try CAIFixtures.tinyModel()
        // The HF directory has no tokenizer.json, so no chat template.
        let critic = try ModelLoader.load(from: CAIFixtures.testsDirectory.appendingPathComponent("EngineTests/Fixtures/tiny_qwen2"))
        #expect(throws: CAIError.self) {
            try ConstitutionalAIStep(model: model, critic: critic, lora: LoRAConfiguration(), settings: CAIFixtures.settings(),
                                     constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        }
    }

    @Test func noAcceptableAnswerIsAnErrorNotAnEmptyTraining() throws {
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query])
        var settings = CAIFixtures.settings()
        settings.harmfulShare = 0  // benign only, and every answer "refuses"
        let step = try ConstitutionalAIStep(model: model, lora: lora, settings: settings, constitution: try Constitution.standard(),
                                            pool: try CAIFixtures.pool(), judge: AnswerJudge(refusal: EverythingRefuses()))
        #expect(throws: CAIError.self) {
            try step.run(adapter: LoRAWeights.initialized(for: model, configuration: lora, seed: 1), seed: 1)
        }
    }

    @Test func invalidSettingsAreRejectedBeforeAnyWork() throws {
        let model = try CAIFixtures.tinyModel()
        var settings = CAIFixtures.settings()
        settings.candidates = 0
        #expect(throws: CAIError.settings(key: "cai.candidates", reason: "must be 1 to 16")) {
            try ConstitutionalAIStep(model: model, lora: LoRAConfiguration(), settings: settings,
                                     constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        }
        settings = CAIFixtures.settings()
        settings.revisionTokens = 100_000
        #expect(throws: CAIError.self) {
            try ConstitutionalAIStep(model: model, lora: LoRAConfiguration(), settings: settings,
                                     constitution: try Constitution.standard(), pool: try CAIFixtures.pool())
        }
    }
}

@Suite struct DPOReferenceTests {
    /// With the reference equal to the starting adapter (and no dropout), policy and reference agree
    /// at the first step, so every pair's margin is 0 and the loss is exactly log 2.
    @Test func firstLossIsLogTwoWhenTheReferenceIsTheStartingAdapter() throws {
        let model = try CAIFixtures.tinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0, targets: [.query, .value])
        let start = LoRAWeights.initialized(for: model, configuration: lora, seed: 5)
        // Make the adapter non-trivial (B is zero at initialisation) so base ≠ start.
        for buffer in start.orderedBuffers { for i in 0..<buffer.count { buffer.pointer[i] += 0.01 * Float(i % 7) - 0.03 } }
        let builder = try SequenceBuilder(modelTokenizer: try model.requireTokenizer(), maxLength: 256)
        let pairs = try (0..<3).map { i in
            try builder.sequences(for: PreferenceExample(prompt: [ChatMessage(role: .user, content: "request \(i)")],
                                                         chosen: [ChatMessage(role: .assistant, content: "no, sorry \(i)")],
                                                         rejected: [ChatMessage(role: .assistant, content: "yes, here \(i)")])).pair
        }
        var parameters = TrainerParameters()
        parameters.maxSteps = 1
        parameters.tokensPerBatch = 512
        let withReference = LoRATrainer(model: model, adapter: start.copy(), loraConfiguration: lora, parameters: parameters)
        let summary = try withReference.trainDPO(pairs, reference: start)
        #expect(abs(summary.firstLoss - log(2.0)) < 1e-9)
        // Against the base model the margins are not zero.
        let againstBase = LoRATrainer(model: model, adapter: start.copy(), loraConfiguration: lora, parameters: parameters)
        #expect(abs(try againstBase.trainDPO(pairs).firstLoss - log(2.0)) > 1e-6)
    }

    @Test func copyIsIndependent() throws {
        let model = try CAIFixtures.tinyModel()
        let a = LoRAWeights.initialized(for: model, configuration: LoRAConfiguration(), seed: 1)
        let b = a.copy()
        #expect(a.orderedBuffers.map(\.array) == b.orderedBuffers.map(\.array))
        b.orderedBuffers[0].pointer[0] += 1
        #expect(a.orderedBuffers[0].array[0] != b.orderedBuffers[0].array[0])
    }
}
