// Training the embedding judge end to end: embed the labelled pairs, train the head on the train
// split (epoch chosen on validation), choose the threshold on validation (95% recall), and report.

import Foundation
import Logging

/// Progress of ``EmbeddingTraining/train(pairs:encoder:parameters:logger:progress:)``.
public enum EmbeddingTrainingProgress: Sendable {
    /// Pairs of a split embedded so far.
    case features(split: String, done: Int, total: Int)
    /// A head epoch's losses.
    case epoch(Int, loss: Double, validationLoss: Double?)
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
        let (head, summary) = try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: trainData, validation: validationData,
                                                      parameters: parameters) { progress(.epoch($0, loss: $1, validationLoss: $2)) }
        let validationScores = zip(head.predict(features: validationData.features), validation).map {
            JudgeScore(unsafeProbability: $0.0.unsafe, category: $0.0.category)
        }
        let threshold = try FilterThreshold(FilterMetrics.threshold(pairs: validation, scores: validationScores) ?? 0.5)
        let judge = try EmbeddingJudge(encoder: encoder, head: head, calibratedThreshold: threshold.value)
        let metrics = FilterMetrics(pairs: validation, scores: validationScores, threshold: threshold)
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
            "seed": String(parameters.seed), "threshold_rule": FilterMetrics.thresholdRule,
            "validation_recall": String(format: "%.4f", metrics.overall.recall?.proportion ?? 0),
            "validation_precision": String(format: "%.4f", metrics.overall.precision?.proportion ?? 0),
        ]
        return Result(judge: judge, validation: metrics, details: details)
    }
}
