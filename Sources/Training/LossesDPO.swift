import Engine
import Foundation

/// A preference pair for DPO: a chosen and a rejected completion of the same prompt, each a
/// `TrainingSequence` whose target mask covers the completion.
public struct DPOPair: Sendable, Equatable, Codable {
    /// The preferred sequence.
    public var chosen: TrainingSequence
    /// The dispreferred sequence.
    public var rejected: TrainingSequence

    /// Creates a pair.
    public init(chosen: TrainingSequence, rejected: TrainingSequence) {
        self.chosen = chosen
        self.rejected = rejected
    }

    /// The pair of a data set's preference example.
    public init(_ sequences: PreferenceSequences) {
        self.init(chosen: sequences.chosen, rejected: sequences.rejected)
    }
}

/// The result of one DPO loss evaluation.
public struct DPOResult: Sendable, Equatable {
    /// Mean over pairs of −log σ(β·((π_c − ref_c) − (π_r − ref_r))).
    public var loss: Double
    /// β·(π_c − ref_c) per pair (TRL `rewards/chosen`).
    public var chosenRewards: [Double]
    /// β·(π_r − ref_r) per pair (TRL `rewards/rejected`).
    public var rejectedRewards: [Double]
    /// Fraction of pairs whose chosen reward exceeds the rejected one (TRL `rewards/accuracies`).
    public var accuracy: Double
}

/// Direct Preference Optimization, sigmoid loss, with LoRA gradients.
///
/// loss = mean over pairs of −log σ(β·((π_c − ref_c) − (π_r − ref_r))), where π are the policy's
/// (model + adapter, with LoRA dropout) summed target log-probabilities and ref the reference
/// model's (the base model: the adapter disabled, as TRL does with a PEFT model). The gradients of
/// `lossScale` × loss are ADDED to `gradients`. Pass `referenceLogProbabilities` (chosen, rejected per
/// pair, e.g. precomputed once per dataset) to skip the reference forward. With `sharePrefix` (the
/// default) each pair's chosen and rejected sequences share their prompt's rows (``PackedBatch``):
/// the prompt is computed once per pair, with the same result up to summation order.
/// reference: Rafailov et al. 2023, "Direct Preference Optimization"; TRL `DPOTrainer`, loss_type="sigmoid".
public func dpoLossAndGradients(model: LlamaModel, adapter: LoRAWeights, pairs: [DPOPair], gradients: LoRAWeights,
                                beta: Double = 0.1, dropout: Float = 0, rng: inout SeededGenerator,
                                lossScale: Float = 1,
                                referenceLogProbabilities: [(chosen: Double, rejected: Double)]? = nil,
                                workspace: TrainingWorkspace? = nil, sharePrefix: Bool = true) throws(TrainingInputError) -> DPOResult {
    guard !pairs.isEmpty else { throw .invalidPreference("no pairs") }
    guard beta > 0 && beta.isFinite else { throw .invalidPreference("beta \(beta) must be positive") }
    guard dropout >= 0 && dropout < 1 else { throw .invalidDropout(dropout) }
    try adapter.validate(for: model)
    try gradients.validateAsGradient(of: adapter)
    let N = pairs.count
    // Packed as chosen_0 ... chosen_{N-1}, rejected_0 ... rejected_{N-1}.
    let sequences = pairs.map(\.chosen) + pairs.map(\.rejected)
    for (i, s) in sequences.enumerated() where s.targetCount == 0 {
        throw .invalidPreference("\(i < N ? "chosen" : "rejected") sequence of pair \(i % N) has no target tokens")
    }
    let batch = try PackedBatch(sequences, vocabularySize: model.configuration.vocabularySize,
                                sharing: sharePrefix ? (0..<N).map { [$0, N + $0] } : [])
    let ws = workspace ?? TrainingWorkspace(model: model, tokens: batch.rowCount)

    var reference: [Double]
    if let given = referenceLogProbabilities {
        guard given.count == N else { throw .invalidPreference("\(given.count) reference values for \(N) pairs") }
        reference = given.map(\.chosen) + given.map(\.rejected)
    } else {
        reference = TrainingPass.logProbabilitySums(model: model, adapter: nil, batch: batch, workspace: ws)
    }

    TrainingPass.forward(model: model, adapter: adapter, batch: batch, dropout: dropout, rng: &rng, workspace: ws)
    let policy = TrainingPass.sequenceSums(batch, workspace: ws)

    var loss = 0.0, correct = 0
    var chosenRewards: [Double] = [], rejectedRewards: [Double] = []
    // dLoss/dπ per sequence: with z = β·(Δc − Δr), d(−log σ(z))/dz = −σ(−z).
    var sequenceGradient = Array(repeating: 0.0, count: 2 * N)
    for i in 0..<N {
        let rc = beta * (policy[i] - reference[i]), rr = beta * (policy[N + i] - reference[N + i])
        let z = rc - rr
        loss += softplus(-z)  // −log σ(z)
        let s = sigmoid(-z)
        sequenceGradient[i] = -beta * s / Double(N)
        sequenceGradient[N + i] = beta * s / Double(N)
        chosenRewards.append(rc)
        rejectedRewards.append(rr)
        if rc > rr { correct += 1 }
    }
    // The backward takes weights w_r of Σ −w_r·logprob_r, so w = −dLoss/dπ of the row's sequence.
    let weights = batch.headSequence.map { Float(-sequenceGradient[$0]) * lossScale }
    TrainingPass.backward(model: model, adapter: adapter, gradients: gradients, batch: batch, rowWeights: weights,
                          dropout: dropout, workspace: ws)
    return DPOResult(loss: loss / Double(N), chosenRewards: chosenRewards, rejectedRewards: rejectedRewards,
                     accuracy: Double(correct) / Double(N))
}

/// log(1 + eˣ) without overflow.
private func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }

/// 1 / (1 + e⁻ˣ) without overflow.
private func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
