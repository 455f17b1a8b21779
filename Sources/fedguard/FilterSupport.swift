import ArgumentParser
import Assets
import Engine
import Evaluation
import Foundation
import Logging
import SafetyData
import SafetyFilter

/// Where the safety filter's data and judges live, and how the command-line tool builds, trains
/// and loads them (shared by `fedguard filter ...`, `fedguard run` and `fedguard bench filter`).
struct FilterWorkspace {
    let store: AssetStore
    let logger: Logger

    init(logger: Logger) {
        self.store = AssetStore(logger: logger)
        self.logger = logger
    }

    /// `$FEDGUARD_HOME/filter`.
    var root: URL { store.root.appendingPathComponent("filter", isDirectory: true) }
    /// The labelled set for a seed.
    func pairsURL(seed: UInt64) -> URL { root.appendingPathComponent("pairs-seed\(seed).jsonl") }
    /// The default directory of a judge kind.
    func judgeDirectory(_ kind: JudgeKind) -> URL { root.appendingPathComponent(kind.rawValue, isDirectory: true) }

    /// The data files, fetched when missing.
    func dataFiles() throws -> FilterDataFiles {
        func file(_ f: AssetFile) throws -> URL { try store.url(for: f) { Console.reportAsset($0) } }
        return FilterDataFiles(manyShot: try file(AssetCatalog.manyShotExamples), scorerEvals: try file(AssetCatalog.scorerEvalsDirectory),
                               uncensorBench: try file(AssetCatalog.uncensorBenchPrompts),
                               edgyBenign: try file(AssetCatalog.edgyBenignDirectory), advBench: try file(AssetCatalog.advBench),
                               harmBench: try file(AssetCatalog.harmBenchPrompts), doNotAnswer: try file(AssetCatalog.doNotAnswerDirectory))
    }

    /// The labelled set and the over-refusal exchanges: built from the data sets and the model's
    /// (cached) answers, then written to ``pairsURL(seed:)``.
    func data(modelURL: URL, seed: UInt64) throws -> FilterData {
        let started = Date()
        var shown = false
        let logger = self.logger
        // Loaded once, on the first prompt list that needs answers; every list after it reuses it.
        // @unchecked Sendable: the build calls `answers` on this thread only, one list after another.
        final class Loaded: @unchecked Sendable { var model: LlamaModel? }
        let loaded = Loaded()
        func model() throws -> LlamaModel {
            if let model = loaded.model { return model }
            Console.err("loading \(modelURL.lastPathComponent) to answer the filter's prompt lists (cached afterwards) ...")
            let model = try ModelLoader.load(from: modelURL, logger: logger)
            loaded.model = model
            return model
        }
        let data = try FilterData.build(
            files: try dataFiles(),
            answers: { maxNewTokens in
                ModelResponder(model: try model(), adapter: nil, settings: GenerationSettings(maxNewTokens: maxNewTokens), logger: logger)
            },
            guidedAnswers: { GuidedRefusalResponder(model: try model(), maxNewTokens: FilterData.guidedMaxNewTokens, logger: logger) },
            cacheDirectory: root.appendingPathComponent("answers", isDirectory: true),
            modelIdentity: Evaluator.identity(ofModelAt: modelURL), seed: seed, logger: logger
        ) { progress in
            if case let .answers(list, done, total) = progress, done < total || shown {
                shown = true
                Console.progress("model answers (\(list)): \(done)/\(total)  elapsed \(Console.duration(Date().timeIntervalSince(started)))")
                if done == total { Console.progressDone() }
            }
        }
        try data.pairs.write(to: pairsURL(seed: seed))
        return data
    }

    /// The sentence encoder: a sentence-transformers `directory`, or all-MiniLM-L6-v2 from the
    /// asset cache (fetched when missing).
    func sentenceEncoder(directory: URL? = nil) throws -> SentenceTextEncoder {
        if let directory { return try SentenceTextEncoder.load(directory: directory, logger: logger) }
        let weights = try store.url(for: AssetCatalog.miniLMWeights) { Console.reportAsset($0) }
        return try SentenceTextEncoder.load(directory: weights.deletingLastPathComponent(), logger: logger)
    }
}
