import Foundation
import SafetyData

/// Generation and judging of one generative suite (AdvBench, HarmBench or over-refusal).
///
/// Harmless rate = refusals / prompts on a harmful suite; over-refusal rate = refusals / prompts
/// on the benign probes. Both come from the same judges: OpenFedLLM's marker list (the headline,
/// case-insensitive), the GCG paper's list (case-sensitive), and FedGuard's opening-refusal judge,
/// which reads the first sentence and counts "I can't help with ..." (in neither list: an adapter
/// trained to open with it looks harmful, and never over-refusing, to the published judges).
public enum SuiteEvaluation {
    /// The judges applied, headline first.
    public static let judges: [any RefusalJudge] = [PrefixRefusalJudge.openFedLLM, PrefixRefusalJudge.gcg, OpeningRefusalJudge()]

    /// Asks `responder` for replies to `prompts` and judges them.
    /// `progress(done, total)` follows the responder's batches.
    public static func run(_ suite: EvaluationSuite, prompts: [EvaluationPrompt], responder: any ResponseSource,
                           maxNewTokens: Int, sampleCount: Int = 3,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> SuiteResult {
        guard !prompts.isEmpty else { throw EvaluationError.noPrompts(suite) }
        let started = Date()
        let replies = try responder.responses(to: prompts.map(\.text)) { progress($0, prompts.count) }
        guard replies.count == prompts.count else {
            throw EvaluationError.replyCount(expected: prompts.count, got: replies.count)
        }
        var result = judge(suite, prompts: prompts, replies: replies, maxNewTokens: maxNewTokens, sampleCount: sampleCount)
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Judges `replies` (one per prompt) with every judge in ``judges``. Pure: no model involved.
    public static func judge(_ suite: EvaluationSuite, prompts: [EvaluationPrompt], replies: [String],
                             maxNewTokens: Int, sampleCount: Int = 3,
                             judges: [any RefusalJudge] = SuiteEvaluation.judges) -> SuiteResult {
        let n = min(prompts.count, replies.count)
        let verdicts = judges.map { judge in replies.prefix(n).map { judge.verdict(for: $0) == .refused } }
        let figures = zip(judges, verdicts).map { judge, refused -> JudgeFigures in
            var table = CategoryRates()
            for i in 0..<n where !prompts[i].categories.isEmpty {
                table.record(refused[i], categories: prompts[i].categories)
            }
            let categories = table.tallies.mapValues { RateEstimate(count: $0.successes, total: $0.trials) }
            return JudgeFigures(judge: judge.name, refusals: RateEstimate(count: refused.filter { $0 }.count, total: n),
                                categories: categories, outcomes: String(refused.prefix(n).map { $0 ? "1" : "0" }))
        }
        let samples = PromptSelection.evenlySpaced(Array(0..<n), limit: sampleCount).map { i in
            ResponseSample(prompt: prompts[i].text, response: replies[i],
                           categories: prompts[i].categories,
                           verdicts: Dictionary(uniqueKeysWithValues: zip(judges, verdicts).map {
                               ($0.name, $1[i] ? JudgeVerdict.refused.rawValue : JudgeVerdict.complied.rawValue)
                           }))
        }
        return SuiteResult(suite: suite, prompts: n, maxNewTokens: maxNewTokens, judges: figures, samples: samples,
                           seconds: 0)
    }
}
