import ArgumentParser
import Engine
import Foundation
import Logging
import SafetyData
import SafetyFilter
import Training

/// `fedguard filter`: the client-side safety filter's data, judges and their evaluation.
struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter", abstract: "Build, train, evaluate and apply the client-side safety filter.",
        discussion: """
        A judge maps a (prompt, response) pair to P(unsafe) and a Llama Guard 3 hazard category (S1-S14). \
        Two kinds: embedding (all-MiniLM-L6-v2 embeddings of prompt and response, a small head trained in Swift) \
        and guard (an LLM judge in Llama Guard 3's prompt format; zero-shot, or LoRA fine-tuned). Labelled pairs come \
        from PyRIT, uncensorbench and the base model's own answers; a third of uncensorbench's topics and 15% of the \
        other prompts are held out and never trained or tuned on. AdvBench and HarmBench never enter.
        """,
        subcommands: [FilterDataCommand.self, FilterTrainCommand.self, FilterCalibrateCommand.self, FilterEvalCommand.self,
                      FilterApplyCommand.self])
}

/// Options shared by the filter commands.
struct FilterOptions: ParsableArguments {
    /// The seed the filter's commands default to, and the one a run uses when it trains a missing
    /// judge (read this, not `FilterOptions().seed`: an unparsed option cannot be read).
    static let defaultSeed: UInt64 = 1

    @Option(help: "Seed of the labelled set's splits and of judge training.")
    var seed: UInt64 = FilterOptions.defaultSeed

    @Flag(help: "Print the results as JSON.")
    var json = false

    /// A path as typed (`~` expanded) as a file URL.
    static func fileURL(_ path: String) -> URL { URL(fileURLWithPath: (path as NSString).expandingTildeInPath) }

    /// `--threshold`, checked by the library's own rule (``FilterThreshold``).
    static func validate(threshold: Double?) throws {
        guard let threshold else { return }
        do { _ = try FilterThreshold(threshold) } catch {
            throw ValidationError("--threshold must be in [0, 1] (got \(threshold))")
        }
    }
}

/// `fedguard filter data`.
struct FilterDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Build the labelled pairs (train / validation / test) and print their counts.")

    @OptionGroup var engine: EngineOptions
    @OptionGroup var options: FilterOptions

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let data = try workspace.data(modelURL: try engine.modelURL(logger: logger), seed: options.seed)
        if options.json {
            try Console.json(FilterDataSummary(data, file: workspace.pairsURL(seed: options.seed).path))
            return
        }
        Console.out(FilterTables.counts(data))
        Console.out("labelled pairs: \(workspace.pairsURL(seed: options.seed).path)")
    }
}

/// `fedguard filter train`.
struct FilterTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a judge on the train split and choose its threshold on out-of-sample pairs.")

    @OptionGroup var engine: EngineOptions
    @OptionGroup var options: FilterOptions

    @Option(help: "Which judge: embedding, guard, or both (their mean; trains the missing ones first).")
    var kind: JudgeKind = .embedding

    @Option(help: "Judge directory (default: $FEDGUARD_HOME/filter/<kind>).")
    var out: String?

    @Option(help: "Embedding head: full-batch epochs (with cross-fitting, the most the folds try).")
    var epochs: Int = HeadTrainingParameters().epochs

    @Option(help: "Embedding head: cross-fitting folds that choose its epoch count and threshold (below 2: the validation split alone).")
    var folds: Int = HeadTrainingParameters().folds

    @Option(help: "Embedding head: hidden units.")
    var hidden: Int = HeadTrainingParameters().hiddenUnits

    @Option(help: "Guard: optimizer steps of the LoRA fine-tune (default: --guard-epochs passes).")
    var steps: Int?

    @Option(help: "Guard: most train-split pairs fine-tuned on, balanced unsafe / safe (the default takes every train pair: 1,285 at seed 1, about 37 minutes on 2 cores).")
    var guardExamples: Int = GuardTrainer.Parameters().maxExamples

    @Option(help: "Guard: passes over those pairs.")
    var guardEpochs: Int = GuardTrainer.Parameters().epochs

    @Option(help: "Guard: LoRA rank (alpha is twice the rank).")
    var guardRank: Int = GuardTrainer.Parameters().lora.rank

    @Option(help: "Guard: adapted projections, comma-separated (q,k,v,o,gate,up,down).")
    var guardTargets: String = GuardTrainer.Parameters().lora.targets.map(\.rawValue).joined(separator: ",")

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1 (got \(epochs))") }
        guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1 (got \(hidden))") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps))") }
        guard guardExamples >= 2, guardEpochs >= 1 else {
            throw ValidationError("--guard-examples must be at least 2 and --guard-epochs at least 1")
        }
        guard guardRank >= 1 else { throw ValidationError("--guard-rank must be at least 1 (got \(guardRank))") }
        _ = try parseProjections(guardTargets, option: "--guard-targets")
    }

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let modelURL = try engine.modelURL(logger: logger)
        let directory = out.map { FilterOptions.fileURL($0) } ?? workspace.judgeDirectory(kind)
        var head = HeadTrainingParameters()
        head.epochs = epochs
        head.hiddenUnits = hidden
        head.folds = folds
        head.seed = options.seed
        var guardParameters = GuardTrainer.Parameters()
        guardParameters.seed = options.seed
        guardParameters.maxSteps = steps
        guardParameters.maxExamples = guardExamples
        guardParameters.epochs = guardEpochs
        guardParameters.lora.rank = guardRank
        guardParameters.lora.alpha = Float(2 * guardRank)
        guardParameters.lora.targets = try parseProjections(guardTargets, option: "--guard-targets")
        let trained = try workspace.train(kind, modelURL: modelURL, seed: options.seed, head: head, guard: guardParameters,
                                          to: directory)
        if options.json {
            try Console.json(trained.validation)
            return
        }
        Console.out(FilterTables.metrics([(kind.rawValue, trained.validation, nil)], title: "validation split (\(trained.summary))"))
        Console.out("judge: \(directory.path)  (threshold \(String(format: "%.3f", trained.validation.threshold)), "
            + "trained in \(Console.duration(trained.seconds)))")
    }
}

/// `fedguard filter calibrate`.
struct FilterCalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate", abstract: "Choose a trained judge's threshold again on the validation split.",
        discussion: """
        The threshold is the highest at which the judge catches 95% of the validation split's unsafe pairs \
        (`filter train` chooses the guard's and both's the same way; the embedding judge's also counts the train \
        split's cross-fitted scores, which only training has). Use it after the labelled set grew, or on a judge \
        trained by an older FedGuard, instead of training again. The test split is never read.
        """)

    @OptionGroup var engine: EngineOptions
    @OptionGroup var options: FilterOptions

    @Option(help: "Which judge: embedding, guard or both.")
    var kind: JudgeKind = .embedding

    @Option(help: "Judge directory (default: $FEDGUARD_HOME/filter/<kind>).")
    var judge: String?

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let modelURL = try engine.modelURL(logger: logger)
        let directory = judge.map { FilterOptions.fileURL($0) } ?? workspace.judgeDirectory(kind)
        let result = try workspace.calibrate(kind, directory: directory, modelURL: modelURL, seed: options.seed)
        if options.json {
            try Console.json(result.validation)
            return
        }
        Console.out(FilterTables.metrics([(kind.rawValue, result.validation, nil)], title: "validation split (\(directory.path))"))
        Console.out(String(format: "threshold %.3f → %.3f", result.previous, result.validation.threshold))
    }
}

/// `fedguard filter eval`.
struct FilterEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate judges on the held-out test split and the risky-looking benign prompts.",
        discussion: """
        Without --kind every judge that can run is evaluated: the trained embedding and guard judges found in \
        $FEDGUARD_HOME/filter, and the zero-shot (stock) guard. Precision, recall, F1 and ROC-AUC with Wilson \
        intervals at each judge's threshold (chosen on the validation split), per source and per category, the \
        confusion matrix, and the false-positive rate on FedGuard's over-refusal probes (benign prompts that look \
        risky, answered by the base model; never trained on).
        """)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case embedding, `guard`, both, stock, all }

    @OptionGroup var engine: EngineOptions
    @OptionGroup var options: FilterOptions

    @Option(help: "Which judge: embedding, guard (fine-tuned), both (their mean), stock (zero-shot guard), or all.")
    var kind: Kind = .all

    @Option(help: "Judge directory for a single --kind (default: $FEDGUARD_HOME/filter/<kind>).")
    var judge: String?

    @Option(help: "Decision threshold (default: the judge's own, chosen on the validation split).")
    var threshold: Double?

    func validate() throws {
        try FilterOptions.validate(threshold: threshold)
        if judge != nil, kind == .all || kind == .stock { throw ValidationError("--judge needs --kind embedding, guard or both") }
    }

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let modelURL = try engine.modelURL(logger: logger)
        let data = try workspace.data(modelURL: modelURL, seed: options.seed)
        var kinds: [Kind] = kind == .all ? [.embedding, .guard, .both, .stock] : [kind]
        if kind == .all {
            kinds = kinds.filter { $0 == .stock || JudgeKind(rawValue: $0.rawValue).map(workspace.hasJudge) == true }
        }
        var rows: [FilterEvaluation] = []
        for k in kinds {
            let directory = judge.map { FilterOptions.fileURL($0) }
            let loaded = try workspace.judgeForEvaluation(k.rawValue, directory: directory, modelURL: modelURL, data: data)
            Console.err("evaluating \(loaded.judge.summary) ...")
            rows.append(try FilterEvaluation.run(judge: loaded.judge, name: k.rawValue,
                                                 threshold: try FilterThreshold(threshold ?? loaded.threshold), data: data))
        }
        if options.json {
            try Console.json(rows)
            return
        }
        Console.out(FilterTables.evaluation(rows, data: data))
    }
}

/// `fedguard filter apply`.
struct FilterApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Filter a chat JSONL file as a client would, keeping the safe records.",
        discussion: """
        Reads chat records (the shapes `fedguard train` reads), judges every (user, assistant) exchange and writes \
        the records judged safe, byte for byte, to --out. With --scores, writes one line per input record: its \
        index, P(unsafe) (the highest over its exchanges), category and decision. A malformed record stops the \
        command with its line number: nothing is silently kept or dropped.
        """)

    @OptionGroup var engine: EngineOptions

    @Option(help: "Input chat JSONL.")
    var data: String

    @Option(help: "Output JSONL of the kept records.")
    var out: String

    @Option(help: "Optional JSONL of per-record scores.")
    var scores: String?

    @Option(help: "Which judge: embedding or guard.")
    var kind: JudgeKind = .embedding

    @Option(help: "Judge directory (default: $FEDGUARD_HOME/filter/<kind>).")
    var judge: String?

    @Option(help: "Decision threshold (default: the judge's own).")
    var threshold: Double?

    @Option(help: "Embedding judge: its sentence-transformers directory (default: all-MiniLM-L6-v2).")
    var encoder: String?

    @Option(help: "Exchanges judged together.")
    var batch: Int = 32

    func validate() throws {
        try FilterOptions.validate(threshold: threshold)
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        let input = FilterOptions.fileURL(data).standardizedFileURL
        let output = FilterOptions.fileURL(out).standardizedFileURL
        guard input != output else { throw ValidationError("--out must differ from --data (the input is never overwritten)") }
    }

    func run() throws {
        let logger = engine.prepare()
        let workspace = FilterWorkspace(logger: logger)
        let input = FilterOptions.fileURL(data)
        let loaded: LoadedExamples<SFTExample>
        do { loaded = try DatasetLoader.loadSFT(from: input, policy: .failAfterReading(listed: 5), logger: logger) } catch {
            throw ValidationError(error.description)
        }
        var lines: [Data] = []
        try JSONLLineReader(url: input).forEachLine { _, line in lines.append(line) }
        guard lines.count == loaded.examples.count else {
            throw ValidationError("\(input.path): \(lines.count) records but \(loaded.examples.count) examples were read")
        }
        let directory = judge.map { FilterOptions.fileURL($0) } ?? workspace.judgeDirectory(kind)
        let (judge, ownThreshold) = try workspace.loadJudge(
            kind, directory: directory, modelURL: try engine.modelURL(logger: logger),
            encoder: encoder.map { FilterOptions.fileURL($0) })
        let filter = ExampleFilter(judge: judge, threshold: try FilterThreshold(threshold ?? ownThreshold), batchSize: batch)
        let started = Date()
        let decisions = try filter.decide(loaded.examples)
        let seconds = Date().timeIntervalSince(started)

        var kept = Data()
        for (line, decision) in zip(lines, decisions) where !decision.removed {
            kept.append(line)
            kept.append(0x0A)
        }
        try kept.write(to: FilterOptions.fileURL(out), options: .atomic)
        if let scores {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var text = Data()
            for (index, decision) in decisions.enumerated() {
                text.append(try encoder.encode(ScoreLine(index: index, decision: decision)))
                text.append(0x0A)
            }
            try text.write(to: FilterOptions.fileURL(scores), options: .atomic)
        }
        let removed = decisions.filter(\.removed)
        let categories = Dictionary(grouping: removed) { $0.category?.code ?? "uncategorised" }
            .map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
        Console.out("\(loaded.examples.count) records: kept \(loaded.examples.count - removed.count), removed \(removed.count)"
            + (removed.isEmpty ? "" : " (\(categories))") + String(format: " in %.1f s by %@ at threshold %.3f", seconds,
                                                                     judge.summary, filter.threshold.value))
        let truncated = decisions.filter(\.truncated).count
        if truncated > 0 { Console.out("\(truncated) records were truncated to fit the judge") }
    }

    /// One line of `--scores`.
    struct ScoreLine: Encodable {
        var index: Int
        var decision: ExampleDecision
        enum CodingKeys: String, CodingKey { case index, unsafeProbability = "p_unsafe", category, removed, truncated }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(decision.unsafeProbability, forKey: .unsafeProbability)
            try c.encode(decision.category?.code, forKey: .category)
            try c.encode(decision.removed, forKey: .removed)
            try c.encode(decision.truncated, forKey: .truncated)
        }
    }
}

extension JudgeKind: ExpressibleByArgument {}
