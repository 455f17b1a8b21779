import Engine
import Foundation
import Logging
import SafetyData
import SafetyFilter
import Training

/// A judge just trained, with its validation figures.
struct TrainedJudge {
    /// The judge's description.
    var summary: String
    /// Metrics on the validation split at the chosen threshold.
    var validation: FilterMetrics
    /// Seconds of training (features or fine-tuning, and threshold choice).
    var seconds: Double
}

extension FilterWorkspace {
    /// Whether a trained judge of `kind` is in its default directory.
    func hasJudge(_ kind: JudgeKind) -> Bool {
        let file = kind == .guard ? GuardJudgeFile.fileName : JudgeRecord.fileName
        return FileManager.default.fileExists(atPath: judgeDirectory(kind).appendingPathComponent(file).path)
    }

    /// Trains a judge of `kind` on the train split, chooses its threshold on the validation split
    /// (the highest reaching ``FilterMetrics/targetRecall``) and saves it to `directory`.
    func train(_ kind: JudgeKind, modelURL: URL, seed: UInt64, head: HeadTrainingParameters,
               guard guardParameters: GuardTrainer.Parameters, to directory: URL) throws -> TrainedJudge {
        let data = try data(modelURL: modelURL, seed: seed)
        let started = Date()
        let validation = data.pairs.split(.validation)
        switch kind {
        case .embedding:
            let encoder = try sentenceEncoder()
            let judge = try EmbeddingTraining.train(pairs: data.pairs, encoder: encoder, parameters: head, logger: logger) { event in
                switch event {
                case let .features(split, done, total):
                    Console.progress("embedding \(split) pairs: \(done)/\(total)")
                    if done == total { Console.progressDone() }
                case let .fold(fold, folds):
                    Console.progress("head cross-fitting: fold \(fold)/\(folds)")
                    if fold == folds { Console.progressDone() }
                case let .epoch(epoch, epochs, loss, validationLoss):
                    Console.progress(String(format: "head epoch %d/%d  loss %.4f  validation %.4f", epoch, epochs, loss,
                                            validationLoss ?? .nan))
                    if epoch == epochs { Console.progressDone() }
                }
            }
            try judge.judge.save(to: directory, training: judge.details)
            return TrainedJudge(summary: judge.judge.summary, validation: judge.validation, seconds: Date().timeIntervalSince(started))
        case .guard:
            let model = try ModelLoader.load(from: modelURL, logger: logger)
            _ = try GuardTrainer.train(pairs: data.pairs.split(.train), model: model, modelURL: modelURL, parameters: guardParameters,
                                       saveTo: directory, logger: logger) { p in
                Console.progress(String(format: "guard fine-tune step %d/%d  loss %.4f  %.0f tok/s  ETA %@", p.step, p.totalSteps,
                                        p.loss, p.tokensPerSecond, Console.duration(p.etaSeconds)))
                if p.step == p.totalSteps { Console.progressDone() }
                return true
            }
            let judge = try GuardJudge.load(from: directory, model: model, modelURL: modelURL, logger: logger)
            let (scores, chosen) = try validationThreshold(judge, validation)
            let threshold = try FilterThreshold(chosen ?? 0.5)
            try save(threshold, kind: .guard, directory: directory)
            return TrainedJudge(summary: judge.summary, validation: FilterMetrics(pairs: validation, scores: scores, threshold: threshold),
                                seconds: Date().timeIntervalSince(started))
        case .both:
            // The two judges (trained first where missing), then the mean's threshold on validation.
            for part in [JudgeKind.embedding, .guard] where !hasJudge(part) {
                Console.err("no trained \(part.rawValue) judge in \(judgeDirectory(part).path): training it first")
                _ = try train(part, modelURL: modelURL, seed: seed, head: head, guard: guardParameters, to: judgeDirectory(part))
            }
            let judge = try combinedJudge(modelURL: modelURL, encoder: nil, model: nil)
            let (scores, chosen) = try validationThreshold(judge, validation)
            let threshold = try FilterThreshold(chosen ?? 0.5)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try JudgeRecord(kind: .both, base: judge.summary, threshold: threshold.value, details: [
                "embedding": judgeDirectory(.embedding).path, "guard": judgeDirectory(.guard).path,
                "rule": "mean of P(unsafe); threshold: " + FilterMetrics.thresholdRule,
            ]).write(to: directory)
            return TrainedJudge(summary: judge.summary, validation: FilterMetrics(pairs: validation, scores: scores, threshold: threshold),
                                seconds: Date().timeIntervalSince(started))
        }
    }

    /// Chooses the threshold of the judge in `directory` again on the validation split and saves it;
    /// returns the previous threshold and the validation metrics at the new one.
    func calibrate(_ kind: JudgeKind, directory: URL, modelURL: URL, seed: UInt64) throws -> (previous: Double, validation: FilterMetrics) {
        let validation = try data(modelURL: modelURL, seed: seed).pairs.split(.validation)
        let (judge, previous) = try loadJudge(kind, directory: directory, modelURL: modelURL)
        let (scores, chosen) = try validationThreshold(judge, validation)
        guard let chosen else {
            throw FilterError.data(path: pairsURL(seed: seed).path, reason: "the validation split needs unsafe and safe pairs")
        }
        let threshold = try FilterThreshold(chosen)
        try save(threshold, kind: kind, directory: directory)
        return (previous, FilterMetrics(pairs: validation, scores: scores, threshold: threshold))
    }

    /// `judge`'s scores on `validation` and the threshold chosen on them (nil without both classes).
    func validationThreshold(_ judge: any SafetyJudge, _ validation: [LabelledPair]) throws -> (scores: [JudgeScore], threshold: Double?) {
        let scores = try scoreWithProgress(judge, validation.map(\.conversation), label: "validation pairs")
        return (scores, FilterMetrics.threshold(pairs: validation, scores: scores))
    }

    /// Writes `threshold` into the judge of `kind` saved in `directory`.
    func save(_ threshold: FilterThreshold, kind: JudgeKind, directory: URL) throws {
        switch kind {
        case .guard:
            var file = try GuardJudgeFile.read(from: directory)
            file.threshold = threshold.value
            try file.write(to: directory)
        case .embedding, .both:
            var record = try JudgeRecord.read(from: directory, expecting: kind)
            record.threshold = threshold.value
            record.details["threshold_rule"] = FilterMetrics.thresholdRule
            try record.write(to: directory)
        }
    }

    /// The embedding judge and the fine-tuned guard from their default directories, combined.
    func combinedJudge(modelURL: URL, encoder: URL?, model: LlamaModel?) throws -> CombinedJudge {
        let embedding = try loadJudge(.embedding, directory: judgeDirectory(.embedding), modelURL: modelURL, encoder: encoder).0
        let guardJudge = try loadJudge(.guard, directory: judgeDirectory(.guard), modelURL: modelURL, model: model).0
        return try CombinedJudge([embedding, guardJudge])
    }

    /// Scores in batches of 64 with a progress line.
    func scoreWithProgress(_ judge: any SafetyJudge, _ conversations: [Conversation], label: String) throws -> [JudgeScore] {
        var scores: [JudgeScore] = []
        for start in stride(from: 0, to: conversations.count, by: 64) {
            scores += try judge.score(Array(conversations[start..<min(start + 64, conversations.count)]))
            Console.progress("\(judge.kind.rawValue) judge, \(label): \(scores.count)/\(conversations.count)")
        }
        if !conversations.isEmpty { Console.progressDone() }
        return scores
    }

    /// A trained judge of `kind` from `directory`, and its threshold.
    /// `encoder` is the embedding judge's sentence-transformers directory (nil: all-MiniLM-L6-v2);
    /// `model` the guard's already loaded base model, when there is one.
    func loadJudge(_ kind: JudgeKind, directory: URL, modelURL: URL, encoder: URL? = nil,
                   model: LlamaModel? = nil) throws -> (any SafetyJudge, Double) {
        switch kind {
        case .embedding:
            let judge = try EmbeddingJudge.load(from: directory, encoder: try sentenceEncoder(directory: encoder))
            return (judge, judge.calibratedThreshold)
        case .guard:
            let base = try model ?? ModelLoader.load(from: modelURL, logger: logger)
            let judge = try GuardJudge.load(from: directory, model: base, modelURL: modelURL, logger: logger)
            return (judge, judge.threshold?.value ?? 0.5)
        case .both:
            let record = try JudgeRecord.read(from: directory, expecting: .both)
            return (try combinedJudge(modelURL: modelURL, encoder: encoder, model: model), record.threshold)
        }
    }

    /// The judge `filter eval` runs for a row name: a trained embedding or guard judge, or the
    /// zero-shot guard (`stock`), whose threshold is chosen on the validation split here.
    func judgeForEvaluation(_ name: String, directory: URL?, modelURL: URL, data: FilterData)
        throws -> (judge: any SafetyJudge, threshold: Double) {
        switch name {
        case "embedding": return try loadJudge(.embedding, directory: directory ?? judgeDirectory(.embedding), modelURL: modelURL)
        case "guard": return try loadJudge(.guard, directory: directory ?? judgeDirectory(.guard), modelURL: modelURL)
        case "both": return try loadJudge(.both, directory: directory ?? judgeDirectory(.both), modelURL: modelURL)
        default:
            let model = try ModelLoader.load(from: modelURL, logger: logger)
            let judge = try GuardJudge(model: model, name: modelURL.lastPathComponent + " (zero-shot)", logger: logger)
            return (judge, try validationThreshold(judge, data.pairs.split(.validation)).threshold ?? 0.5)
        }
    }
}
