// Training the embedding judge end to end: embed the labelled pairs; for each head of the ensemble
// (seeds seed, seed + 1, ...), cross-fit heads on the train split (epoch count and out-of-fold
// scores) and train the head on the whole train split for that many epochs; choose the threshold
// on the ensemble's out-of-sample scores (train out-of-fold and validation, 95% recall), and
// report on validation.

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
        // Each member of the ensemble: its own cross-fitting (epoch count, out-of-fold scores), then
        // its head on the whole train split; out-of-fold and validation scores are the members' means.
        let members = max(parameters.ensemble, 1)
        var heads: [EmbeddingHead] = [], summaries: [HeadTrainingSummary] = [], crossFits: [HeadCrossFit] = []
        var outOfFoldMembers: [[(unsafe: Double, category: HazardCategory)]] = []
        for m in 0..<members {
            var member = parameters
            member.seed = parameters.seed &+ UInt64(m)
            if parameters.folds >= 2 {
                let fit = try EmbeddingHead.crossFit(embeddingWidth: encoder.dimension, data: trainData, groups: train.map(\.group),
                                                     folds: parameters.folds, parameters: member) {
                    progress(.fold(m * parameters.folds + $0, of: members * parameters.folds))
                }
                crossFits.append(fit)
                member.epochs = fit.epochs
                outOfFoldMembers.append(Array(zip(fit.scores, fit.categories).map { (unsafe: $0.0, category: $0.1) }))
            }
            let (head, summary) = try EmbeddingHead.train(
                embeddingWidth: encoder.dimension, data: trainData, validation: validationData, parameters: member,
                keeping: crossFits.isEmpty ? .lowestValidationLoss : .last,
                progress: { progress(.epoch($0, of: member.epochs, loss: $1, validationLoss: $2)) })
            heads.append(head)
            summaries.append(summary)
        }
        var thresholdPairs = validation, outOfFold: [JudgeScore] = []
        if !crossFits.isEmpty {
            outOfFold = (0..<train.count).map { i in
                let unsafe = outOfFoldMembers.map { $0[i].unsafe }.reduce(0, +) / Double(members)
                // The category most members name (ties: the earlier in S1-S14 order).
                let votes = HazardCategory.allCases.map { c in outOfFoldMembers.filter { $0[i].category == c }.count }
                let best = votes.indices.max { votes[$0] < votes[$1] || (votes[$0] == votes[$1] && $0 > $1) } ?? 0
                return JudgeScore(unsafeProbability: unsafe, category: HazardCategory.allCases[best])
            }
            thresholdPairs = train + validation
        }
        let validationScores = zip(EmbeddingHead.predict(heads: heads, features: validationData.features), validation).map {
            JudgeScore(unsafeProbability: $0.0.unsafe, category: $0.0.category)
        }
        let outOfSampleScores = outOfFold + validationScores
        let chosen = FilterMetrics.threshold(pairs: thresholdPairs, scores: outOfSampleScores)
        let threshold = try FilterThreshold(chosen ?? 0.5)
        let judge = try EmbeddingJudge(encoder: encoder, heads: heads, calibratedThreshold: threshold.value)
        let metrics = FilterMetrics(pairs: validation, scores: validationScores, threshold: threshold)
        let outOfSample = FilterMetrics(pairs: thresholdPairs, scores: outOfSampleScores, threshold: threshold)
        logger.info("embedding judge trained", metadata: [
            "train": "\(train.count)", "validation": "\(validation.count)", "heads": "\(members)",
            "threshold": "\(threshold.value)",
        ])
        let details: [String: String] = [
            "train_pairs": String(train.count), "validation_pairs": String(validation.count),
            "epochs": summaries.map { String($0.epochs) }.joined(separator: ","),
            "best_epoch": summaries.map { String($0.bestEpoch) }.joined(separator: ","),
            "train_loss": summaries.map { String(format: "%.5f", $0.trainLoss) }.joined(separator: ","),
            "validation_loss": summaries.map { $0.validationLoss.map { String(format: "%.5f", $0) } ?? "" }.joined(separator: ","),
            "learning_rate": String(parameters.learningRate), "weight_decay": String(parameters.weightDecay),
            "input_dropout": String(parameters.inputDropout),
            "seed": String(parameters.seed),
            "threshold_rule": crossFits.isEmpty ? FilterMetrics.thresholdRule : Self.crossFittedThresholdRule,
            "folds": String(crossFits.first?.folds ?? 0),
            "cross_fit_loss": crossFits.map { String(format: "%.5f", $0.loss) }.joined(separator: ","),
            "validation_recall": String(format: "%.4f", metrics.overall.recall?.proportion ?? 0),
            "validation_precision": String(format: "%.4f", metrics.overall.precision?.proportion ?? 0),
            "out_of_sample_pairs": String(thresholdPairs.count),
            "out_of_sample_precision": String(format: "%.4f", outOfSample.overall.precision?.proportion ?? 0),
            "out_of_sample_auc": String(format: "%.4f", outOfSample.rocAUC ?? 0),
        ]
        return Result(judge: judge, validation: metrics, details: details)
    }
}
