// Cross-fitting the embedding head on the train split: K heads, each trained without one fold of
// prompt groups, give every train pair a score from a head that never saw it, and their summed
// fold losses choose the epoch count. The validation split alone holds ~80 unsafe pairs, so the
// 95%-recall threshold rested on its 4th-lowest unsafe score: on the seed-2 split that one hard
// pair moved the threshold to 0.09 and held-out precision to 62% while the ROC-AUC stayed 0.985.

import Foundation
import SafetyData

/// Out-of-fold scores of a train split and the epoch count they chose.
public struct HeadCrossFit: Sendable {
    /// P(unsafe) of each train pair from the head that did not see its fold, after ``epochs`` updates.
    public var scores: [Double]
    /// The categories those heads gave.
    public var categories: [HazardCategory]
    /// The update count with the lowest pooled fold loss (at least 1).
    public var epochs: Int
    /// That pooled loss (fold losses weighted by fold size).
    public var loss: Double
    /// The folds used.
    public var folds: Int
}

extension EmbeddingHead {
    /// The fold of a prompt group: a seeded hash, so a group's pairs stay together.
    static func fold(group: String, folds: Int, seed: UInt64) -> Int {
        var mixer = SplitMix64(seed: LabelledPairSet.fnv1a(group) ^ seed ^ 0xF01D_5EED)
        return Int(mixer.next() % UInt64(folds))
    }

    /// Cross-fits `folds` heads on `data` with pairs grouped by `groups` (one per pair), each for
    /// `parameters.epochs` epochs with its held-out fold as validation. `progress(fold)` is called
    /// as each fold finishes. Deterministic for a seed.
    public static func crossFit(embeddingWidth: Int, data: HeadTrainingData, groups: [String], folds: Int,
                                parameters: HeadTrainingParameters,
                                progress: (Int) -> Void = { _ in }) throws(FilterError) -> HeadCrossFit {
        let F = featureWidth(embeddingWidth: embeddingWidth), N = data.count
        guard folds >= 2 else { throw .judge("cross-fitting needs at least 2 folds (got \(folds))") }
        guard groups.count == N, data.features.count == N * F else {
            throw .judge("cross-fitting: \(N) labels, \(groups.count) groups, \(data.features.count) feature values")
        }
        let assignment = groups.map { fold(group: $0, folds: folds, seed: parameters.seed) }
        let epochs = max(parameters.epochs, 1)
        var pooledLoss = [Double](repeating: 0, count: epochs + 1)
        // Scores per fold member and update count: members × (epochs + 1).
        var trajectories = [[(unsafe: Double, category: HazardCategory)]](repeating: [], count: N)
        for k in 0..<folds {
            let inFold = (0..<N).filter { assignment[$0] == k }, rest = (0..<N).filter { assignment[$0] != k }
            guard !inFold.isEmpty else { continue }
            let fit = subset(data, rest, width: F), held = subset(data, inFold, width: F)
            guard fit.unsafe.contains(true), fit.unsafe.contains(false) else {
                throw .judge("cross-fitting fold \(k + 1) of \(folds): the other folds lack unsafe or safe pairs")
            }
            let (_, summary) = try train(embeddingWidth: embeddingWidth, data: fit, validation: held, parameters: parameters,
                                         keeping: .last, observe: { _, head in
                for (i, prediction) in zip(inFold, head.predict(features: held.features)) { trajectories[i].append(prediction) }
            })
            for (e, loss) in summary.validationLosses.enumerated() { pooledLoss[e] += loss * Double(inFold.count) / Double(N) }
            progress(k + 1)
        }
        let best = (1...epochs).min { pooledLoss[$0] < pooledLoss[$1] } ?? epochs
        return HeadCrossFit(scores: trajectories.map { $0[best].unsafe }, categories: trajectories.map { $0[best].category },
                            epochs: best, loss: pooledLoss[best], folds: folds)
    }

    /// The rows `indices` of `data`.
    static func subset(_ data: HeadTrainingData, _ indices: [Int], width F: Int) -> HeadTrainingData {
        var features: [Float] = []
        features.reserveCapacity(indices.count * F)
        for i in indices { features += data.features[(i * F)..<((i + 1) * F)] }
        return HeadTrainingData(features: features, unsafe: indices.map { data.unsafe[$0] },
                                categories: indices.map { data.categories[$0] })
    }
}
