import Engine
import Federation
import Foundation
import Logging
import Testing
import Tokenizers
import Training
@testable import ConstitutionalAI
@testable import Simulation

/// Canned replies: compliant initial answers, a critique, and refusing or complying revisions.
struct CannedCAIResponder: ChatResponder {
    func generate(_ conversations: [[ChatMessage]], maxNewTokens: Int, temperature: Double, seed: UInt64,
                  progress: (Int) -> Void) throws -> [GeneratedText] {
        conversations.enumerated().map { i, messages in
            let text = messages.count == 1 ? "Sure, here is a complete answer with the details you asked for."
                : (messages.last?.content.hasPrefix("Rewrite") == true || messages.first?.content.hasPrefix(CritiqueConversation.directSystem) == true)
                ? (i % 2 == 0 ? "I can't help with that, because it could hurt someone." : "Sure, here it is again.")
                : "The answer could hurt someone."
            return GeneratedText(text: text, finished: true, tokens: 8)
        }
    }
}

@Suite(.serialized) struct ConstitutionalAIHookTests {
    static func hook(model: LlamaModel, lora: LoRAConfiguration, maxUpdateNorm: Double = 10) throws -> ConstitutionalAIHook {
        let settings = CAISettings(mode: .cheap, cheapPrompts: 4, candidates: 2, answerTokens: 12, critiqueTokens: 8,
                                   revisionTokens: 12, batchSize: 4, maxUpdateNorm: maxUpdateNorm)
        let pool = try PromptPool(harmful: (0..<6).map { CAIPrompt(text: "placeholder red-team \($0)", harmful: true, source: "t") },
                                  benign: (0..<6).map { CAIPrompt(text: "placeholder benign \($0)", harmful: false, source: "t") },
                                  benchmarkPrompts: [])
        var step = try ConstitutionalAIStep(model: model, lora: lora, settings: settings, constitution: try Constitution.standard(), pool: pool)
        step.makeResponder = { _, _, _, _ in CannedCAIResponder() }
        return ConstitutionalAIHook(step: step)
    }

    func run(_ name: String, hook: ConstitutionalAIHook?, model: LlamaModel, onClients: Bool = false) throws -> (FederatedRun, URL) {
        let directory = try SimulationFixtures.temporaryDirectory(name)
        let data = try SimulationFixtures.writeClientData(clients: 3, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, rounds: 2, extra: ["evaluation.every=0"])
        let run = try SimulationFixtures.makeRun(configuration, model: model, in: directory,
                                                 hooks: SimulationHooks(clientUpdate: onClients ? hook.map { [$0] } ?? [] : [],
                                                                        server: onClients ? [] : hook.map { [$0] } ?? []))
        _ = try run.run()
        return (run, directory)
    }

    static func records(_ run: FederatedRun) throws -> [[String: Any]] {
        try String(contentsOf: run.directory.recordsURL, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    @Test func caiChangesTheGlobalAdapterDeterministicallyAndRecordsItsMetrics() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let configuration = try SimulationFixtures.configuration(data: URL(fileURLWithPath: "/unused"))
        let lora = configuration.lora.configuration
        let (plain, d0) = try run("plain", hook: nil, model: model)
        let (a, d1) = try run("cai-a", hook: try Self.hook(model: model, lora: lora), model: model)
        let (b, d2) = try run("cai-b", hook: try Self.hook(model: model, lora: lora), model: model)
        defer { for d in [d0, d1, d2] { try? FileManager.default.removeItem(at: d) } }
        #expect(try SimulationFixtures.adapterBytes(a, round: 2) == SimulationFixtures.adapterBytes(b, round: 2))
        #expect(try SimulationFixtures.adapterBytes(a, round: 2) != SimulationFixtures.adapterBytes(plain, round: 2))
        let records = try Self.records(a)
        #expect(records.count == 2)
        for record in records {
            let cai = (record["hooks"] as? [String: Any])?["cai"] as? [String: Double]
            #expect(cai?["rejected"] == 0)
            #expect(cai?["prompts"] == 4)
            #expect((cai?["sft_examples"] ?? 0) >= 1)
            #expect((cai?["update_norm"] ?? 0) > 0)
            #expect(cai?["tokens_answers"] == 32)
        }
    }

    @Test func anUpdatePastTheNormBoundIsRejectedAndTheAggregateKept() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let lora = try SimulationFixtures.configuration(data: URL(fileURLWithPath: "/unused")).lora.configuration
        let (plain, d0) = try run("plain-bound", hook: nil, model: model)
        let (bounded, d1) = try run("bounded", hook: try Self.hook(model: model, lora: lora, maxUpdateNorm: 1e-12), model: model)
        defer { for d in [d0, d1] { try? FileManager.default.removeItem(at: d) } }
        #expect(try SimulationFixtures.adapterBytes(bounded, round: 2) == SimulationFixtures.adapterBytes(plain, round: 2))
        for record in try Self.records(bounded) {
            let cai = (record["hooks"] as? [String: Any])?["cai"] as? [String: Double]
            #expect(cai?["rejected"] == 1)
        }
    }

    @Test func clientPlacementRunsOnEveryClientBeforeItsReply() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let lora = try SimulationFixtures.configuration(data: URL(fileURLWithPath: "/unused")).lora.configuration
        let (plain, d0) = try run("plain-client", hook: nil, model: model)
        let (placed, d1) = try run("client-placed", hook: try Self.hook(model: model, lora: lora), model: model, onClients: true)
        defer { for d in [d0, d1] { try? FileManager.default.removeItem(at: d) } }
        #expect(try SimulationFixtures.adapterBytes(placed, round: 2) != SimulationFixtures.adapterBytes(plain, round: 2))
        for record in try Self.records(placed) {
            let cai = (record["hooks"] as? [String: Any])?["cai"] as? [String: Double]
            #expect(cai?["prompts"] == 8)  // 4 prompts on each of the round's 2 clients, summed
            #expect(cai?["rejected"] == 0)
            #expect(cai?["harmful_safe_share"] == nil)  // shares do not add up over clients: not reported
        }
    }

    /// A run that stops in round 2 right after the CAI step trained (before its result became the
    /// global adapter) and is run again from its checkpoint ends with the uninterrupted run's bytes.
    @Test func aRunInterruptedInTheCAIStepResumesBitIdentically() throws {
        let model = try SimulationFixtures.loadTinyModel()
        let lora = try SimulationFixtures.configuration(data: URL(fileURLWithPath: "/unused")).lora.configuration
        let cai = try Self.hook(model: model, lora: lora)
        let (reference, d0) = try run("cai-reference", hook: cai, model: model)
        let directory = try SimulationFixtures.temporaryDirectory("cai-interrupted")
        defer { for d in [d0, directory] { try? FileManager.default.removeItem(at: d) } }
        let data = try SimulationFixtures.writeClientData(clients: 3, in: directory)
        let configuration = try SimulationFixtures.configuration(data: data, rounds: 2, extra: ["evaluation.every=0"])
        let crashing = try SimulationFixtures.makeRun(configuration, model: model, in: directory,
                                                      hooks: SimulationHooks(server: [CrashAfter(inner: cai, round: 2)]))
        #expect(throws: (any Error).self) { try crashing.run() }
        let resumed = FederatedRun(configuration: crashing.configuration, model: model, baseModelName: "tiny", directory: crashing.directory,
                                   client: crashing.client, hooks: SimulationHooks(server: [cai]), layout: crashing.layout,
                                   logger: Logger(label: "test"))
        _ = try resumed.run()
        #expect(try SimulationFixtures.adapterBytes(resumed, round: 2) == SimulationFixtures.adapterBytes(reference, round: 2))
        #expect(try Self.records(resumed).count == 2)
    }

    @Test func configurationParsesAndValidatesTheCAISection() throws {
        let c = try RunConfiguration.load(yaml: "cai:\n  mode: cheap\n  candidates: 8\n")
        #expect(c.cai.mode == .cheap && c.cai.candidates == 8 && c.cai.promptsPerStep == c.cai.cheapPrompts)
        #expect(RunConfiguration.defaults.cai.mode == .off)
        #expect(throws: ConfigurationError.self) { try RunConfiguration.load(overrides: ["cai.candidates=0"]) }
        #expect(throws: ConfigurationError.self) { try RunConfiguration.load(overrides: ["cai.mode=sometimes"]) }
        // An unknown enum value names the key and the values it takes.
        let draw = #expect(throws: ConfigurationError.self) { try RunConfiguration.load(overrides: ["cai.red_team_draw=sometimes"]) }
        #expect(draw?.description.contains("'cai.red_team_draw'") == true)
        #expect(draw?.description.contains("proportional") == true && draw?.description.contains("even") == true)
        #expect(try RunConfiguration.load(overrides: ["cai.red_team_draw=even"]).cai.redTeamDraw == .even)
        #expect(try RunConfiguration.load(overrides: ["cai.imperative_rewrites=true"]).cai.imperativeRewrites)
        let excluded = try RunConfiguration.load(overrides: ["cai.donotanswer_excluded=[human_chatbox, misinformation_harms]"])
        #expect(excluded.cai.donotanswerExcluded == ["human_chatbox", "misinformation_harms"])
        let unknownArea = #expect(throws: ConfigurationError.self) { try RunConfiguration.load(overrides: ["cai.donotanswer_excluded=[chat]"]) }
        #expect(unknownArea?.description.contains("cai.donotanswer_excluded") == true)
        #expect(unknownArea?.description.contains("malicious_uses") == true)
        #expect(throws: ConfigurationError.self) {
            try RunConfiguration.load(overrides: ["cai.donotanswer_excluded=[discrimination_exclusion_toxicity_hateful_offensive, human_chatbox, information_hazard, malicious_uses, misinformation_harms]"])
        }
        #expect(throws: ConfigurationError.self) { try RunConfiguration.load(overrides: ["cai.unknown_key=1"]) }
        // Round trip through the commented YAML.
        let again = try RunConfiguration.load(yaml: try c.yaml())
        #expect(again == c)
    }
}

/// Runs the inner hook, then fails in `round` (a crash after the CAI step trained).
struct CrashAfter: ServerHook {
    var inner: any ServerHook
    var round: Int
    var name: String { inner.name }
    func afterAggregation(global: inout TensorMap, context: ServerHookContext) throws -> [String: Double] {
        var copy = global
        _ = try inner.afterAggregation(global: &copy, context: context)
        if context.round == round { throw CocoaError(.userCancelled) }
        global = copy
        return [:]
    }
}
