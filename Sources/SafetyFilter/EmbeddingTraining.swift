// Training the embedding judge end to end: embed the labelled pairs, cross-fit heads on the train
// split (epoch count and out-of-fold scores), train the head on the whole train split for that
// many epochs, choose the threshold on out-of-sample scores (train out-of-fold and validation,
// 95% recall), and report on validation.

import Foundation
import Logging

/// Progress of ``EmbeddingTraining/train(pairs:encoder:parameters:logger:progress:)``.
public enum EmbeddingTrainingProgress: Sendable {
    /// Pairs of a split embedded so far.
    case features(split: String, done: Int, total: Int)
    /// A cross-fitting fold finished.
    case fold(Int, of: Int)
    /// A head epoch's losses.
    case epoch(Int, of: Int, loss: Double, validationLoss: Double?)
}

/// The embedding judge's training.
public enum EmbeddingTraining {
    /// A trained judge with its validation metrics and a training record for `judge.json`.
    public struct Result {
        /// The judge, at the validation-chosen threshold.
        public var judge: EmbeddingJudge
        /// Metrics on the validation split at that threshold.
        public var validation: FilterMetrics
        /// Training settings and figures.
        public var details: [String: String]
    }

    /// How the threshold is chosen with cross-fitting, for the judge's record.
    public static let crossFittedThresholdRule =
        "the highest with 95% recall on out-of-sample scores: the train split's out-of-fold scores and the validation split"

    /// Pairs embedded per encoder call.
    static let chunk = 64

    /// Trains on `pairs`' train split; test pairs are never read.
    public static func train(pairs: LabelledPairSet, encoder: any TextEncoder, parameters: HeadTrainingParameters,
                             logger: Logger, progress: (EmbeddingTrainingProgress) -> Void = { _ in }) throws -> Result {
        let train = pairs.split(.train), validation = pairs.split(.validation)
        guard !train.isEmpty, !validation.isEmpty else {
            throw FilterError.data(path: "labelled pairs", reason: "\(train.count) train and \(validation.count) validation pairs")
        }
        func data(_ split: [LabelledPair], _ name: String) throws -> HeadTrainingData {
            var features: [Float] = []
            for start in stride(from: 0, to: split.count, by: chunk) {
                let batch = split[start..<min(start + chunk, split.count)]
                features += try EmbeddingJudge.features(batch.map(\.conversation), encoder: encoder).features
                progress(.features(split: name, done: min(start + chunk, split.count), total: split.count))
            }
            return HeadTrainingData(features: features, unsafe: split.map(\.unsafe), categories: split.map(\.category))
        }
        let trainData = try data(train, "train"), validationData = try data(validation, "validation")
        var final = parameters
        var thresholdPairs = validation, outOfFold: [JudgeScore] = []
        var crossFit: HeadCrossFit?
        if parameters.folds >= 2 {
            let fit = try EmbeddingHead.crossFit(embeddingWidth: encoder.dimension, data: trainData, groups: train.map(\.group),
                                                 folds: parameters.folds, parameters: parameters) {
                progress(.fold($0, of: parameters.folds))
            }
            crossFit = fit
            final.epochs = fit.epochs
            outOfFold = zip(fit.scores, fit.categories).map { JudgeScore(unsafeProbability: $0.0, category: $0.1) }
            thresholdPairs = train + validation
        }
        let (head, summary) = try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: trainData, validation: validationData,
                                                      parameters: final, keeping: crossFit == nil ? .lowestValidationLoss : .last,
                                                      progress: { progress(.epoch($0, of: final.epochs, loss: $1, validationLoss: $2)) })
        let validationScores = zip(head.predict(features: validationData.features), validation).map {
            JudgeScore(unsafeProbability: $0.0.unsafe, category: $0.0.category)
        }
        let outOfSampleScores = outOfFold + validationScores
        let chosen = FilterMetrics.threshold(pairs: thresholdPairs, scores: outOfSampleScores)
        let threshold = try FilterThreshold(chosen ?? 0.5)
        let judge = try EmbeddingJudge(encoder: encoder, head: head, calibratedThreshold: threshold.value)
        let metrics = FilterMetrics(pairs: validation, scores: validationScores, threshold: threshold)
        let outOfSample = FilterMetrics(pairs: thresholdPairs, scores: outOfSampleScores, threshold: threshold)
        logger.info("embedding judge trained", metadata: [
            "train": "\(train.count)", "validation": "\(validation.count)", "best_epoch": "\(summary.bestEpoch)",
            "threshold": "\(threshold.value)",
        ])
        let details: [String: String] = [
            "train_pairs": String(train.count), "validation_pairs": String(validation.count),
            "epochs": String(summary.epochs), "best_epoch": String(summary.bestEpoch),
            "train_loss": String(format: "%.5f", summary.trainLoss),
            "validation_loss": summary.validationLoss.map { String(format: "%.5f", $0) } ?? "",
            "learning_rate": String(parameters.learningRate), "weight_decay": String(parameters.weightDecay),
            "input_dropout": String(parameters.inputDropout),
            "seed": String(parameters.seed),
            "threshold_rule": crossFit == nil ? FilterMetrics.thresholdRule : Self.crossFittedThresholdRule,
            "folds": String(crossFit?.folds ?? 0), "cross_fit_loss": crossFit.map { String(format: "%.5f", $0.loss) } ?? "",
            "validation_recall": String(format: "%.4f", metrics.overall.recall?.proportion ?? 0),
            "validation_precision": String(format: "%.4f", metrics.overall.precision?.proportion ?? 0),
            "out_of_sample_pairs": String(thresholdPairs.count),
            "out_of_sample_precision": String(format: "%.4f", outOfSample.overall.precision?.proportion ?? 0),
            "out_of_sample_auc": String(format: "%.4f", outOfSample.rocAUC ?? 0),
        ]
        return Result(judge: judge, validation: metrics, details: details)
    }
}
